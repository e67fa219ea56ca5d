#pragma once
// Status-flag semantics shared by every backend: which flags a SetFlags kind writes, how it computes them,
// and which flags a condition code reads. The interpreter calls these directly; the JIT may use host
// flags instead but must agree with them.
#include "emu/common/types.h"
#include "emu/cpu/ir/types.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::ir {

// SetFlags kinds. Formulas follow the SDM's "Flags Affected" sections; see ComputeFlags for the values
// chosen where the SDM says "undefined".
enum class FlagOp : u8 {
    Add,    // a + b
    Adc,    // a + b + carry_in
    Sub,    // a - b (also CMP)
    Sbb,    // a - b - carry_in
    Logic,  // AND/OR/XOR/TEST: CF = OF = 0, AF = 0 (undefined), SF/ZF/PF from the result
    Inc,    // a + 1: as Add, CF untouched
    Dec,    // a - 1: as Sub, CF untouched
    Neg,    // 0 - a (a is the source): CF = (a != 0)
    Shl,    // a << b, b = masked count; b == 0 writes nothing. Also SHLD (a = destination).
    Shr,    // a >> b; also SHRD
    Sar,    // signed a >> b
    Rol,    // CF and OF only
    Ror,    // CF and OF only
    Count
};

// Flags a kind may write (the status flags it does not leave alone).
u64 FlagsWrittenBy(FlagOp op);
// True if the kind writes its flags only for some operand values (shifts and rotates with count 0).
bool WritesConditionally(FlagOp op);

// New RFLAGS after `op` on operands of type `type` (U8..U64, values zero-extended). `b` is the masked count
// for shifts and rotates.
u64 ComputeFlags(FlagOp op, Type type, u64 a, u64 b, u64 result, bool carry_in, u64 old_rflags);

// Condition codes 0-15 (the low nibble of Jcc/SETcc/CMOVcc): O NO B AE E NE BE A S NS P NP L GE LE G.
bool EvalCond(unsigned cc, u64 rflags);
// Flags a condition reads.
u64 FlagsReadByCond(unsigned cc);

// Even parity of the low byte (PF).
constexpr bool ParityEven(u64 value) {
    u8 v = static_cast<u8>(value);
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return !(v & 1);
}

}  // namespace emu::cpu::ir
