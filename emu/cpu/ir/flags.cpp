#include "emu/cpu/ir/flags.h"

namespace emu::cpu::ir {
namespace {

using namespace rflags;

// SF, ZF and PF from a result of width `type`.
u64 ResultFlags(Type type, u64 result) {
    const u64 msb = u64{1} << (BitsOf(type) - 1);
    u64 f = 0;
    if (result & msb) f |= SF;
    if ((result & MaskOf(type)) == 0) f |= ZF;
    if (ParityEven(result)) f |= PF;
    return f;
}

bool Msb(Type type, u64 v) { return (v >> (BitsOf(type) - 1)) & 1; }

u64 AddFlags(Type type, u64 a, u64 b, u64 r, bool cin) {
    u64 f = ResultFlags(type, r);
    if (r < a || (cin && r == a)) f |= CF;
    if (Msb(type, (a ^ r) & (b ^ r))) f |= OF;
    if ((a ^ b ^ r) & 0x10) f |= AF;
    return f;
}

u64 SubFlags(Type type, u64 a, u64 b, u64 r, bool cin) {
    u64 f = ResultFlags(type, r);
    if (a < b || (cin && a == b)) f |= CF;
    if (Msb(type, (a ^ b) & (a ^ r))) f |= OF;
    if ((a ^ b ^ r) & 0x10) f |= AF;
    return f;
}

// Shifts: CF is the last bit shifted out; OF (defined for count 1) is "the sign changed", which is the SDM's
// formula for SHL/SHR/SAR/SHLD/SHRD at count 1 and what we also produce for larger counts.
u64 ShiftFlags(FlagOp op, Type type, u64 a, u64 count, u64 r) {
    const unsigned bits = BitsOf(type);
    u64 f = ResultFlags(type, r);
    bool cf = false;
    if (op == FlagOp::Shl) {
        cf = count <= bits && ((a >> (bits - count)) & 1);
    } else if (op == FlagOp::Shr) {
        cf = count <= bits && ((a >> (count - 1)) & 1);
    } else {  // Sar: beyond the width every bit shifted out is the sign
        cf = count <= bits ? ((a >> (count - 1)) & 1) : Msb(type, a);
    }
    if (cf) f |= CF;
    if (Msb(type, a ^ r)) f |= OF;
    return f;
}

u64 RotateFlags(FlagOp op, Type type, u64 r) {
    const unsigned bits = BitsOf(type);
    u64 f = 0;
    if (op == FlagOp::Rol) {
        if (r & 1) f |= CF;
        if (Msb(type, r) != (r & 1)) f |= OF;
    } else {
        if (Msb(type, r)) f |= CF;
        if (Msb(type, r) != ((r >> (bits - 2)) & 1)) f |= OF;
    }
    return f;
}

}  // namespace

u64 FlagsWrittenBy(FlagOp op) {
    switch (op) {
        case FlagOp::Inc:
        case FlagOp::Dec: return Arith & ~CF;
        case FlagOp::Rol:
        case FlagOp::Ror: return CF | OF;
        default: return Arith;
    }
}

bool WritesConditionally(FlagOp op) { return op >= FlagOp::Shl && op <= FlagOp::Ror; }

u64 ComputeFlags(FlagOp op, Type type, u64 a, u64 b, u64 r, bool carry_in, u64 old_rflags) {
    u64 f = 0;
    switch (op) {
        case FlagOp::Add: f = AddFlags(type, a, b, r, false); break;
        case FlagOp::Adc: f = AddFlags(type, a, b, r, carry_in); break;
        case FlagOp::Sub: f = SubFlags(type, a, b, r, false); break;
        case FlagOp::Sbb: f = SubFlags(type, a, b, r, carry_in); break;
        case FlagOp::Logic: f = ResultFlags(type, r); break;
        case FlagOp::Inc: f = AddFlags(type, a, 1, r, false); break;
        case FlagOp::Dec: f = SubFlags(type, a, 1, r, false); break;
        case FlagOp::Neg: f = SubFlags(type, 0, a, r, false); break;
        case FlagOp::Shl:
        case FlagOp::Shr:
        case FlagOp::Sar:
            if (b == 0) return old_rflags;
            f = ShiftFlags(op, type, a, b, r);
            break;
        case FlagOp::Rol:
        case FlagOp::Ror:
            if (b == 0) return old_rflags;
            f = RotateFlags(op, type, r);
            break;
        case FlagOp::Count: return old_rflags;
    }
    const u64 written = FlagsWrittenBy(op);
    return (old_rflags & ~written) | (f & written);
}

bool EvalCond(unsigned cc, u64 f) {
    bool r = false;
    switch (cc >> 1) {
        case 0: r = f & OF; break;
        case 1: r = f & CF; break;
        case 2: r = f & ZF; break;
        case 3: r = f & (CF | ZF); break;
        case 4: r = f & SF; break;
        case 5: r = f & PF; break;
        case 6: r = !(f & SF) != !(f & OF); break;
        case 7: r = (f & ZF) || (!(f & SF) != !(f & OF)); break;
    }
    return (cc & 1) ? !r : r;
}

u64 FlagsReadByCond(unsigned cc) {
    static constexpr u64 kRead[8] = {OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF};
    return kRead[(cc >> 1) & 7];
}

}  // namespace emu::cpu::ir
