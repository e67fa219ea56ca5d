// Shifts and rotates: SHL SHR SAR ROL ROR RCL RCR SHLD SHRD. The count is masked to 5 bits (6 with 64-bit
// operands); a masked count of 0 changes no flag. The destination is written even for count 0, which
// zero-extends a 32-bit register in 64-bit mode as hardware does.
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/system/cpuid.h"
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

// SHLD/SHRD dst, src, count: shift dst, filling from src. A 16-bit form with a count of 17-31 leaves a result and
// flags the SDM calls undefined; real CPUs produce definite values, which differ between vendors (DoubleShift16Big),
// so a form whose count may be that large goes through helpers that reproduce the emulated vendor's.
bool Translator::DoubleShift(const DecodedInsn& insn, bool left) {
    const Operand& dst = insn.operands[0];
    const Value a = Read(dst, true);
    const Value b = Read(insn.operands[1]);
    const Value count = ShiftCount(ir_, insn, 2, insn.num_operands > 2 ? Read(insn.operands[2]) : Value());
    if (dst.size == 2 && !(count.is_imm() && count.imm() <= 16)) {
        const Value high = ir_.Shl(ir_.ZeroExtend(b, Type::U64), ir::Emitter::Imm8(16));
        const Value pair = ir_.Or(ir_.ZeroExtend(a, Type::U64), high);
        const Value how = ir::Emitter::Imm64(left ? 1 : 0);
        Write(dst, ir_.Truncate(ir_.CallHelper(kDoubleShift16Helper, pair, ir_.ZeroExtend(count, Type::U64), how),
                                Type::U16));
        ir_.CallHelper(kDoubleShift16FlagsHelper, pair, ir_.ZeroExtend(count, Type::U64), how);
        return true;
    }
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

// 16-bit SHLD/SHRD of d (destination) and s (source) by a masked count c of 0-31, as the emulated vendor's CPUs
// do it. Counts up to 16 follow the SDM (and the translator's inline form: ir::ComputeFlags). Above 16:
// - Intel (P6 and later): the 48-bit d:s:d is shifted, so SHLD gives (s << (c - 16)) | (d >> (32 - c)) and SHRD
//   (s >> (c - 16)) | (d << (32 - c)); CF is the bit of s shifted out last (bit 32 - c for SHLD, c - 17 for SHRD),
//   OF = CF ^ bit 15 (SHLD) or bit 14 ^ bit 15 (SHRD), AF = 0 (Bochs's model of these CPUs, cpu/shift16.cc, which
//   states the CF rule as matching hardware).
// - AMD: s is rotated by c - 16 (SHLD left, SHRD right), CF = 0, OF = 0 (SHLD) or bit 14 ^ bit 15 (SHRD), AF = 1:
//   measured on an AMD EPYC (family 19h) host, which diff-cpu compares against when the emulated vendor is AMD.
// SF, ZF and PF follow the result for both.
struct Shift16 {
    u16 result;
    u64 rflags;
};

Shift16 DoubleShift16Big(u64 rflags, u16 d, u16 s, unsigned c, bool left) {
    const bool amd = system::CpuVendor() == system::Vendor::Amd;
    const unsigned k = c - 16;
    u16 r;
    bool cf;
    if (amd) {
        r = static_cast<u16>(left ? (s << k) | (s >> (16 - k)) : (s >> k) | (s << (16 - k)));
        cf = false;
    } else {
        r = static_cast<u16>(left ? (s << k) | (d >> (32 - c)) : (s >> k) | (d << (32 - c)));
        cf = left ? (s >> (32 - c)) & 1 : (s >> (c - 17)) & 1;
    }
    const bool msb = r >> 15;
    const bool of = left ? (amd ? false : cf != msb) : msb != ((r >> 14) & 1);
    u64 f = rflags & ~rflags::Arith;
    if (cf) f |= rflags::CF;
    if (of) f |= rflags::OF;
    if (amd) f |= rflags::AF;
    if (msb) f |= rflags::SF;
    if (r == 0) f |= rflags::ZF;
    if (ir::ParityEven(r)) f |= rflags::PF;
    return {r, f};
}

// (d | s << 16, masked count, left): the result and the new RFLAGS.
Shift16 DoubleShift16(u64 rflags, u64 pair, u64 count, u64 left) {
    const u16 d = static_cast<u16>(pair), s = static_cast<u16>(pair >> 16);
    const unsigned c = static_cast<unsigned>(count);
    if (c == 0) return {d, rflags};
    if (c > 16) return DoubleShift16Big(rflags, d, s, c, left != 0);
    const u32 joined = left ? (u32{d} << 16) | s : (u32{s} << 16) | d;
    const u16 r = static_cast<u16>(left ? (joined << c) >> 16 : joined >> c);
    return {r, ir::ComputeFlags(left ? ir::FlagOp::Shl : ir::FlagOp::Shr, ir::Type::U16, d, c, r, false, rflags)};
}

u64 DoubleShift16Result(ir::HelperEnv& env, u64 pair, u64 count, u64 left) {
    return DoubleShift16(env.state.rflags, pair, count, left).result;
}

u64 DoubleShift16Flags(ir::HelperEnv& env, u64 pair, u64 count, u64 left) {
    env.state.rflags = DoubleShift16(env.state.rflags, pair, count, left).rflags;
    return 0;
}

}  // namespace

const ir::HelperInfo kDoubleShift16Helper{"DoubleShift16", &DoubleShift16Result};
const ir::HelperInfo kDoubleShift16FlagsHelper{"DoubleShift16Flags", &DoubleShift16Flags};
const ir::HelperInfo kRotateCarryHelper{"RotateCarry", &RotateCarryResult};
const ir::HelperInfo kRotateCarryFlagsHelper{"RotateCarryFlags", &RotateCarryFlags};

}  // namespace emu::cpu::translate
