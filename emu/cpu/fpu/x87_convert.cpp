// x87 conversions: FILD/FIST/FISTTP, FLD/FST m32fp/m64fp and FBLD/FBSTP.
#include "emu/cpu/fpu/ieee.h"
#include "emu/cpu/fpu/x87.h"
#include "emu/cpu/fpu/x87_internal.h"

namespace emu::cpu::fpu {

using namespace x87;

Float80 FromInt(i64 value) {
    const bool sign = value < 0;
    const u64 magnitude = sign ? u64{0} - static_cast<u64>(value) : static_cast<u64>(value);
    return PackExact(core::FromInteger(sign, magnitude));
}

namespace {

// Rounds a finite or zero operand to an integer of at most `limit` magnitude (`limit + 1` allowed when negative);
// nullopt-like `ok == false` means out of range.
struct IntegerOut {
    bool ok = false;
    u64 magnitude = 0;
    u16 status = 0;
};

IntegerOut ToInteger(const Operand& a, Rounding rc, u64 positive_limit) {
    IntegerOut out;
    if (a.kind == Kind::Zero) {
        out.ok = true;
        return out;
    }
    if (a.kind != Kind::Finite) return out;
    const core::IntegerRounding r = core::RoundToInteger(a.u, rc);
    const u64 limit = positive_limit + (a.u.sign ? 1 : 0);
    if (r.overflow || r.magnitude > limit) return out;
    out.ok = true;
    out.magnitude = r.magnitude;
    // Integer stores do not report denormal operands (they are simply inexact).
    out.status = static_cast<u16>((r.inexact ? status::PE : 0) | (r.up ? status::C1 : 0));
    return out;
}

}  // namespace

X87Out<i64> ToInt(const Float80& fa, u16 fcw, unsigned bits, bool truncate) {
    bits = (bits == 16 || bits == 32) ? bits : 64;  // the only widths; anything else is treated as 64
    const Operand a = Classify(fa);
    const i64 indefinite = static_cast<i64>(~u64{0} << (bits - 1));  // sign-extended 0x8000...
    const IntegerOut r = ToInteger(a, truncate ? Rounding::Zero : fcw::Rc(fcw), (u64{1} << (bits - 1)) - 1);
    if (!r.ok) return {indefinite, status::IE};
    const i64 value = a.u.sign ? static_cast<i64>(u64{0} - r.magnitude) : static_cast<i64>(r.magnitude);
    return {value, r.status};
}

namespace {

template <typename T>
X87Out<T> ToIeee(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    switch (a.kind) {
        case Kind::Unsupported: return {ieee::kDefaultNaN<T>, status::IE};
        case Kind::QNaN:
        case Kind::SNaN:
            return {ieee::NaNFromPayload<T>(a.u.sign, fa.significand << 1 >> 1),
                    a.kind == Kind::SNaN ? status::IE : u16{0}};
        case Kind::Zero: return {ieee::Zero<T>(a.u.sign), 0};
        case Kind::Inf: return {ieee::Infinity<T>(a.u.sign), 0};
        default: break;
    }
    core::RoundOptions o = Options(fcw);
    o.bias_adjust = 0;  // an unmasked OE/UE on a memory store leaves the destination unchanged
    const core::Rounded r = core::Round(core::ToWide(a.u), ieee::Traits<T>::kFormat, o);
    // An unmasked overflow/underflow aborts the store before the precision exception is reported.
    if (const u16 fault = r.status & (status::OE | status::UE) & ~fcw) return {0, fault};
    return {ieee::Pack<T>(r), r.status};  // denormal sources do not raise DE on stores
}

template <typename T>
X87Operand Widen(T bits) {
    const ieee::Operand o = ieee::Unpack(bits);
    switch (o.kind) {
        case Kind::Zero: return {Zero(o.u.sign)};
        case Kind::Inf: return {Infinity(o.u.sign)};
        case Kind::QNaN:
        case Kind::SNaN: return {MakeFloat80(o.u.sign, kMaxExp, kIntegerBit | ieee::PayloadOf(bits))};
        default: return {PackExact(o.u), o.denormal};
    }
}

// FLD m32fp/m64fp: the widened value, with the load's own exceptions (SNaN -> IE and quieted, denormal -> DE).
template <typename T>
X87Result FromIeee(T bits) {
    const X87Operand w = Widen(bits);
    if (Classify(w.value).kind == Kind::SNaN) return {Quiet(w.value), status::IE};
    return {w.value, w.denormal_source ? status::DE : u16{0}};
}

}  // namespace

X87Operand WidenFloat32(u32 bits) { return Widen(bits); }
X87Operand WidenFloat64(u64 bits) { return Widen(bits); }

X87Result FromFloat32(u32 bits) { return FromIeee(bits); }
X87Result FromFloat64(u64 bits) { return FromIeee(bits); }
X87Out<u32> ToFloat32(const Float80& a, u16 fcw) { return ToIeee<u32>(a, fcw); }
X87Out<u64> ToFloat64(const Float80& a, u16 fcw) { return ToIeee<u64>(a, fcw); }

Float80 FromBcd(const Bcd& bcd) {
    // Digits that are not 0-9 give an undefined result on hardware; they are weighted as-is here.
    u64 magnitude = 0;
    for (int i = 8; i >= 0; --i) magnitude = magnitude * 100 + (bcd[i] >> 4) * 10 + (bcd[i] & 0xF);
    return PackExact(core::FromInteger((bcd[9] & 0x80) != 0, magnitude));
}

X87Out<Bcd> ToBcd(const Float80& fa, u16 fcw) {
    constexpr u64 kMaxBcd = 999'999'999'999'999'999ull;
    constexpr Bcd kIndefinite{0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF};
    const Operand a = Classify(fa);
    IntegerOut r = ToInteger(a, fcw::Rc(fcw), kMaxBcd);
    if (!r.ok || r.magnitude > kMaxBcd) return {kIndefinite, status::IE};
    Bcd out{};
    for (int i = 0; i < 9; ++i) {
        const u64 two = r.magnitude % 100;
        r.magnitude /= 100;
        out[i] = static_cast<u8>(((two / 10) << 4) | (two % 10));
    }
    out[9] = a.u.sign ? 0x80 : 0;
    return {out, r.status};
}

}  // namespace emu::cpu::fpu
