// Shifts and rotates: SHL SHR SAR ROL ROR RCL RCR SHLD SHRD. The count is masked to 5 bits (6 with 64-bit
// operands); a masked count of 0 changes no flag. The destination is written even for count 0, which
// zero-extends a 32-bit register in 64-bit mode as hardware does.
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::FlagOp;
using ir::Opcode;
using ir::Type;
using ir::Value;

namespace {

Opcode ShiftOpcode(FlagOp kind) {
    switch (kind) {
        case FlagOp::Shl: return Opcode::Shl;
        case FlagOp::Shr: return Opcode::Shr;
        case FlagOp::Sar: return Opcode::Sar;
        case FlagOp::Rol: return Opcode::Rol;
        default: return Opcode::Ror;
    }
}

}  // namespace

// The masked count of a shift: operand `index` (an immediate, CL, or absent for the by-1 forms).
static Value ShiftCount(ir::Emitter& ir, const DecodedInsn& insn, unsigned index, Value count_operand) {
    const u64 mask = insn.operands[0].size == 8 ? 0x3F : 0x1F;
    if (insn.num_operands <= index) return ir::Emitter::Imm8(1);
    return ir.And(ir.Resize(count_operand, Type::U8), ir::Emitter::Imm8(mask));
}

bool Translator::ShiftOp(const DecodedInsn& insn, FlagOp kind) {
    const Operand& dst = insn.operands[0];
    const Value a = Read(dst, true);
    const Value count = ShiftCount(ir_, insn, 1, insn.num_operands > 1 ? Read(insn.operands[1]) : Value());
    const Value r = ir_.Op(ShiftOpcode(kind), a.type(), {a, count});
    Write(dst, r);
    ir_.SetFlags(kind, a, ir_.ZeroExtend(count, a.type()), r);
    return true;
}

bool Translator::SHL(const DecodedInsn& insn) { return ShiftOp(insn, FlagOp::Shl); }
bool Translator::SHR(const DecodedInsn& insn) { return ShiftOp(insn, FlagOp::Shr); }
bool Translator::SAR(const DecodedInsn& insn) { return ShiftOp(insn, FlagOp::Sar); }
bool Translator::ROL(const DecodedInsn& insn) { return ShiftOp(insn, FlagOp::Rol); }
bool Translator::ROR(const DecodedInsn& insn) { return ShiftOp(insn, FlagOp::Ror); }

// RCL/RCR rotate through CF, a (width + 1)-bit rotation: helpers compute the result and, after the
// destination is written, the flags.
bool Translator::RotateThroughCarry(const DecodedInsn& insn, bool left) {
    const Operand& dst = insn.operands[0];
    const Value a = Read(dst, true);
    const Value count = ShiftCount(ir_, insn, 1, insn.num_operands > 1 ? Read(insn.operands[1]) : Value());
    const Value how = ir::Emitter::Imm64(dst.size | (left ? 0x100 : 0));
    Write(dst, ir_.Truncate(ir_.CallHelper(kRotateCarryHelper, a, count, how), a.type()));
    ir_.CallHelper(kRotateCarryFlagsHelper, a, count, how);
    return true;
}

bool Translator::RCL(const DecodedInsn& insn) { return RotateThroughCarry(insn, true); }
bool Translator::RCR(const DecodedInsn& insn) { return RotateThroughCarry(insn, false); }

// SHLD/SHRD dst, src, count: shift dst, filling from src. A count above the width is undefined (SDM); we
// produce what the formula gives and the differential tester masks it.
bool Translator::DoubleShift(const DecodedInsn& insn, bool left) {
    const Operand& dst = insn.operands[0];
    const Value a = Read(dst, true);
    const Value b = Read(insn.operands[1]);
    const Value count = ShiftCount(ir_, insn, 2, insn.num_operands > 2 ? Read(insn.operands[2]) : Value());
    const Value rest = ir_.Sub(ir::Emitter::Imm8(dst.size * 8), count);
    const Value r = left ? ir_.Or(ir_.Shl(a, count), ir_.Shr(b, rest)) : ir_.Or(ir_.Shr(a, count), ir_.Shl(b, rest));
    Write(dst, r);
    ir_.SetFlags(left ? FlagOp::Shl : FlagOp::Shr, a, ir_.ZeroExtend(count, a.type()), r);
    return true;
}

bool Translator::SHLD(const DecodedInsn& insn) { return DoubleShift(insn, true); }
bool Translator::SHRD(const DecodedInsn& insn) { return DoubleShift(insn, false); }

// --- Helpers

namespace {

struct Rcx {
    u64 result;
    bool cf;
    bool of;
};

Rcx RotateCarry(const CpuState& state, u64 value, u64 count, u64 how) {
    const unsigned bits = static_cast<unsigned>(how & 0xFF) * 8;
    const bool left = how & 0x100;
    const u64 mask = bits == 64 ? ~u64{0} : (u64{1} << bits) - 1;
    u64 v = value & mask;
    bool cf = state.rflags & rflags::CF;
    const unsigned n = static_cast<unsigned>(count % (bits + 1));
    for (unsigned i = 0; i < n; ++i) {  // at most 64 steps: clarity over speed
        if (left) {
            const bool out = (v >> (bits - 1)) & 1;
            v = ((v << 1) | cf) & mask;
            cf = out;
        } else {
            const bool out = v & 1;
            v = (v >> 1) | (u64{cf} << (bits - 1));
            cf = out;
        }
    }
    const bool msb = (v >> (bits - 1)) & 1;
    const bool of = left ? (msb != cf) : (msb != ((v >> (bits - 2)) & 1));
    return {v, cf, of};
}

u64 RotateCarryResult(ir::HelperEnv& env, u64 value, u64 count, u64 how) {
    return RotateCarry(env.state, value, count, how).result;
}

u64 RotateCarryFlags(ir::HelperEnv& env, u64 value, u64 count, u64 how) {
    if (count == 0) return 0;  // a masked count of 0 leaves the flags
    const Rcx r = RotateCarry(env.state, value, count, how);
    env.state.rflags = (env.state.rflags & ~(rflags::CF | rflags::OF)) | (r.cf ? rflags::CF : 0) |
                       (r.of ? rflags::OF : 0);
    return 0;
}

}  // namespace

const ir::HelperInfo kRotateCarryHelper{"RotateCarry", &RotateCarryResult};
const ir::HelperInfo kRotateCarryFlagsHelper{"RotateCarryFlags", &RotateCarryFlags};

}  // namespace emu::cpu::translate
