#pragma once
// x87, MMX, SSE..SSSE3 and the FXSAVE/XSAVE state instructions, executed by C++ helpers. The translator packs
// the decoded instruction into one SimdInsn and emits a single CallHelper(kSimdHelper, packed, linear, rip);
// the helper checks CR0/CR4 (#NM, #UD), pending x87 exceptions (#MF), reads its operands (memory first, so a
// fault changes nothing), computes with emu/cpu/fpu, and writes registers, memory, FSW and MXCSR.
// Which mnemonics live here is listed once, in ops.inc.
#include "emu/common/types.h"
#include "emu/cpu/decoder/decoded_insn.h"
#include "emu/cpu/ir/helper.h"

namespace emu::cpu::simd {

enum class OperandType : u8 { None, Reg, Mem };

// One register or memory operand as the helper sees it. For X87 registers `reg` is i of ST(i).
struct OperandDesc {
    OperandType type = OperandType::None;
    RegClass cls = RegClass::Gpr;
    u8 reg = 0;
    u8 size = 0;  // bytes: 0, 1, 2, 4, 8, 10 or 16 (the decoder's operand size)
};

// A decoded SIMD/x87 instruction, packed into the first helper argument.
struct SimdInsn {
    Mnemonic mnemonic = Mnemonic::Invalid;
    OperandDesc op[2];
    u8 imm = 0;          // the imm8 operand (SSE) or the ModRM byte (x87, for FOP)
    u8 opcode_low = 0;   // low 3 bits of the primary opcode byte (x87, for FOP)
    u8 seg = 3;          // segment of the memory operand (SegReg numbering)
    u8 addr_size = 8;    // 2, 4 or 8
    u8 op_size = 4;      // 2, 4 or 8 (8 = REX.W: FXSAVE64, MOVQ forms, CVT* to 64-bit)
    bool amd = false;    // the CPU model's vendor is AMD: its x87 behaviour where the vendors differ (fpu::Scale)

    u64 Pack() const;
    static SimdInsn Unpack(u64 packed);
};

// Whether `m` is executed by this library (listed in ops.inc).
bool Handles(Mnemonic m);

// The CPUID feature (cpuid.cpp's name) an instruction needs beyond SSE2 (sse3, ssse3, sse4_1, sse4_2), or
// nullptr: without it the instruction is #UD.
const char* RequiredFeature(Mnemonic m);

// True for the forms whose memory operand is implicit DS:rDI (MASKMOVQ, MASKMOVDQU): the translator passes
// that linear address.
bool ImplicitDiOperand(Mnemonic m);

// (SimdInsn::Pack(), linear address of the memory operand or 0, RIP of the instruction).
extern const ir::HelperInfo kSimdHelper;

}  // namespace emu::cpu::simd
