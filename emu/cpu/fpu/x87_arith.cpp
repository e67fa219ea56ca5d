// x87 basic arithmetic: FADD/FSUB/FMUL/FDIV/FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM/FPREM1 and compares.
// Special operands follow SDM Vol. 1 Tables 4-7 and 8-10 and the per-instruction tables in Vol. 2.
#include <algorithm>

#include "emu/cpu/fpu/x87.h"
#include "emu/cpu/fpu/x87_internal.h"

namespace emu::cpu::fpu {

using namespace x87;

namespace {

u16 DenormalFlag(const Operand& a) { return a.denormal ? status::DE : 0; }
u16 DenormalFlag(const Operand& a, const Operand& b) { return DenormalFlag(a) | DenormalFlag(b); }

// A finite ST0 that the instruction returns as it is (FSCALE by +-0, FPREM/FPREM1 by +-inf: SDM Vol. 2 FSCALE and
// FPREM result tables): a pseudo-denormal comes back normalised, a denormal stays denormal with no underflow
// response even when UE is unmasked. That is Intel's behaviour; AMD (`amd`, measured on an EPYC family 19h) sends
// the operand through the result path and applies the unmasked-underflow bias adjustment (UE, ES, the significand
// scaled by 2^24576) (tests/unit/cpu/fpu_test.cpp).
X87Result Unchanged(const Operand& a, u16 fcw, u16 de, bool amd) {
    return RoundTo(core::ToWide(a.u), core::kExtended, amd ? fcw : static_cast<u16>(fcw | status::UE), de);
}

X87Result AddSigned(const X87Operand& fa, const X87Operand& fb, bool negate_b, u16 fcw) {
    const Operand a = Classify(fa);
    Operand b = Classify(fb);
    if (const Early e = HandleNaNs(a, b); e.decided) return e.result;
    b.u.sign ^= negate_b;
    const u16 de = DenormalFlag(a, b);
    if (a.kind == Kind::Inf || b.kind == Kind::Inf) {
        if (a.kind == Kind::Inf && b.kind == Kind::Inf && a.u.sign != b.u.sign) return Invalid();
        return {Infinity(a.kind == Kind::Inf ? a.u.sign : b.u.sign), de};
    }
    return RoundTo(core::Add(a.u, b.u, fcw::Rc(fcw)), PrecisionFormat(fcw), fcw, de);
}

}  // namespace

X87Result Add(const X87Operand& a, const X87Operand& b, u16 fcw) { return Checked(AddSigned(a, b, false, fcw), fcw); }
X87Result Sub(const X87Operand& a, const X87Operand& b, u16 fcw) { return Checked(AddSigned(a, b, true, fcw), fcw); }

static X87Result MulImpl(const X87Operand& fa, const X87Operand& fb, u16 fcw) {
    const Operand a = Classify(fa), b = Classify(fb);
    if (const Early e = HandleNaNs(a, b); e.decided) return e.result;
    const u16 de = DenormalFlag(a, b);
    const bool sign = a.u.sign != b.u.sign;
    if (a.kind == Kind::Inf || b.kind == Kind::Inf) {
        if (a.kind == Kind::Zero || b.kind == Kind::Zero) return Invalid();
        return {Infinity(sign), de};
    }
    return RoundTo(core::Mul(a.u, b.u), PrecisionFormat(fcw), fcw, de);
}

X87Result Mul(const X87Operand& fa, const X87Operand& fb, u16 fcw) { return Checked(MulImpl(fa, fb, fcw), fcw); }

static X87Result DivImpl(const X87Operand& fa, const X87Operand& fb, u16 fcw) {
    const Operand a = Classify(fa), b = Classify(fb);
    if (const Early e = HandleNaNs(a, b); e.decided) return e.result;
    const u16 de = DenormalFlag(a, b);
    const bool sign = a.u.sign != b.u.sign;
    if (a.kind == Kind::Inf) {
        if (b.kind == Kind::Inf) return Invalid();
        return {Infinity(sign), de};
    }
    if (b.kind == Kind::Inf) return {Zero(sign), de};
    if (b.kind == Kind::Zero) {
        if (a.kind == Kind::Zero) return Invalid();
        return {Infinity(sign), status::ZE};  // divide-by-zero outranks the denormal operand exception
    }
    return RoundTo(core::Div(a.u, b.u), PrecisionFormat(fcw), fcw, de);
}

X87Result Div(const X87Operand& fa, const X87Operand& fb, u16 fcw) { return Checked(DivImpl(fa, fb, fcw), fcw); }

static X87Result SqrtImpl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const Early e = HandleNaN(a); e.decided) return e.result;
    const u16 de = DenormalFlag(a);
    if (a.kind == Kind::Zero) return {fa, 0};
    if (a.u.sign) return Invalid();
    if (a.kind == Kind::Inf) return {fa, 0};
    return RoundTo(core::Sqrt(a.u), PrecisionFormat(fcw), fcw, de);
}

X87Result Sqrt(const Float80& fa, u16 fcw) { return Checked(SqrtImpl(fa, fcw), fcw); }

static X87Result RoundToIntegerImpl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const Early e = HandleNaN(a); e.decided) return e.result;
    if (a.kind != Kind::Finite || a.u.exp >= 63) return {fa, DenormalFlag(a)};
    const core::IntegerRounding r = core::RoundToInteger(a.u, fcw::Rc(fcw));
    u16 st = DenormalFlag(a);
    if (r.inexact) st |= status::PE;
    if (r.up) st |= status::C1;
    return {PackExact(core::FromInteger(a.u.sign, r.magnitude)), st};
}

X87Result RoundToInteger(const Float80& fa, u16 fcw) { return Checked(RoundToIntegerImpl(fa, fcw), fcw); }

static X87Result ScaleImpl(const Float80& fst0, const Float80& fst1, u16 fcw, bool amd) {
    const Operand a = Classify(fst0), b = Classify(fst1);
    if (const Early e = HandleNaNs(a, b); e.decided) return e.result;
    const u16 de = DenormalFlag(a, b);
    if (b.kind == Kind::Inf) {
        // Scaling by +inf makes every nonzero value infinite, by -inf every finite value zero.
        if (b.u.sign) return a.kind == Kind::Inf ? Invalid() : X87Result{Zero(a.u.sign), de};
        return a.kind == Kind::Zero ? Invalid() : X87Result{Infinity(a.u.sign), de};
    }
    if (a.kind != Kind::Finite) return {fst0, de};
    if (b.kind == Kind::Zero) return Unchanged(a, fcw, de, amd);
    // trunc(ST1), clamped far beyond any exponent that can still produce a finite result.
    i64 n = 0;
    if (b.kind == Kind::Finite && b.u.exp >= 0) {
        n = b.u.exp >= 20 ? i64{1} << 20 : static_cast<i64>(b.u.sig >> (63 - b.u.exp));
        if (b.u.sign) n = -n;
    }
    core::Wide w = core::ToWide(a.u);
    w.exp += static_cast<i32>(n);
    return RoundTo(w, core::kExtended, fcw, de);
}

X87Result Scale(const Float80& fst0, const Float80& fst1, u16 fcw, bool amd) {
    return Checked(ScaleImpl(fst0, fst1, fcw, amd), fcw);
}

static X87Pair ExtractImpl(const Float80& fa) {
    const Operand a = Classify(fa);
    if (const Early e = HandleNaN(a); e.decided) return {e.result.value, e.result.value, e.result.status};
    switch (a.kind) {
        case Kind::Zero: return {Infinity(true), fa, status::ZE};
        case Kind::Inf: return {Infinity(false), fa, 0};
        default: break;
    }
    return {FromInt(a.u.exp), MakeFloat80(a.u.sign, kBias, a.u.sig), DenormalFlag(a)};
}

namespace {

// N of the SDM's incomplete-reduction step ("an implementation-dependent number between 32 and 63").
u32 PartialReductionBits(i32 d) { return 32 + static_cast<u32>(d % 32); }

// FPREM/FPREM1 (SDM Vol. 2 FPREM pseudo-code). The remainder is always exact.
X87Result Remainder(const Float80& fst0, const Float80& fst1, u16 fcw, bool ieee, bool amd) {
    const Operand a = Classify(fst0), b = Classify(fst1);
    if (const Early e = HandleNaNs(a, b); e.decided) return e.result;
    if (a.kind == Kind::Inf || b.kind == Kind::Zero) return Invalid();
    const u16 de = DenormalFlag(a, b);
    if (a.kind == Kind::Zero) return {fst0, de};
    if (b.kind == Kind::Inf) return Unchanged(a, fcw, de, amd);
    // A dividend smaller than the divisor is the remainder: it goes through the result path, so a denormal raises
    // UE (with the bias adjustment) when underflow is unmasked (Intel and AMD).
    const i32 d = a.u.exp - b.u.exp;
    if (d < (ieee ? -1 : 0)) return RoundTo(core::ToWide(a.u), core::kExtended, fcw, de);
    // Dividend and divisor as integers in a common unit 2^unit_exp. An incomplete reduction (exponent difference
    // of 64 or more) only removes the top quotient bits: ST0 - ST1 * QQ * 2^(D - N).
    const bool partial = d >= 64;
    u128 num = 0, den = b.u.sig;
    i32 unit_exp = b.u.exp - 63;
    if (partial) {
        const u32 n = PartialReductionBits(d);
        num = u128{a.u.sig} << n;
        unit_exp = a.u.exp - 63 - static_cast<i32>(n);
    } else if (d >= 0) {
        num = u128{a.u.sig} << d;
    } else {
        num = a.u.sig;
        den = u128{b.u.sig} << 1;
        unit_exp = a.u.exp - 63;
    }
    u128 q = num / den, r = num % den;
    bool flip = false;
    if (ieee && !partial && (2 * r > den || (2 * r == den && (q & 1)))) {
        r = den - r;
        ++q;
        flip = true;
    }
    u16 st = de;
    if (partial) {
        st |= status::C2;  // the quotient bits are only reported once the reduction completes
    } else {
        if (q & 4) st |= status::C0;
        if (q & 2) st |= status::C3;
        if (q & 1) st |= status::C1;
    }
    if (r == 0) return {Zero(a.u.sign), st};
    return RoundTo(core::Normalize(a.u.sign != flip, unit_exp + 127, r), core::kExtended, fcw, st);
}

}  // namespace

X87Pair Extract(const Float80& a, u16 fcw) { return Checked(ExtractImpl(a), fcw); }

X87Result PartialRemainder(const Float80& st0, const Float80& st1, u16 fcw, bool amd) {
    return Checked(Remainder(st0, st1, fcw, false, amd), fcw);
}
X87Result PartialRemainderIeee(const Float80& st0, const Float80& st1, u16 fcw, bool amd) {
    return Checked(Remainder(st0, st1, fcw, true, amd), fcw);
}

u16 Compare(const X87Operand& fa, const X87Operand& fb, bool quiet) {
    constexpr u16 kUnordered = status::C0 | status::C2 | status::C3;
    const Operand a = Classify(fa), b = Classify(fb);
    if (a.kind == Kind::Unsupported || b.kind == Kind::Unsupported) return kUnordered | status::IE;
    if (IsNaN(a.kind) || IsNaN(b.kind)) {
        const bool signal = !quiet || a.kind == Kind::SNaN || b.kind == Kind::SNaN;
        return kUnordered | (signal ? status::IE : 0);
    }
    const u16 de = DenormalFlag(a, b);
    const int cmp = core::CompareValues(a.kind, a.u, b.kind, b.u);
    if (cmp == 0) return de | status::C3;
    return de | (cmp < 0 ? status::C0 : 0);
}

u16 Examine(const Float80& fa) {
    const Operand a = Classify(fa);
    u16 c = a.u.sign ? status::C1 : 0;
    switch (a.kind) {
        case Kind::Unsupported: break;
        case Kind::QNaN:
        case Kind::SNaN: c |= status::C0; break;
        case Kind::Inf: c |= status::C2 | status::C0; break;
        case Kind::Zero: c |= status::C3; break;
        case Kind::Finite: c |= a.denormal ? status::C3 | status::C2 : status::C2; break;
    }
    return c;
}

Float80 LoadConstant(Constant c, u16 fcw) {
    // 128-bit values (checked against integer series computations), rounded to 64 bits with FCW.RC. Rounding the
    // SDM's 66-bit internal values instead gets FLDLG2 wrong in round-to-nearest on the host.
    static constexpr core::Wide kValues[] = {
        {false, 0, u128{1} << 127},
        {false, 1, (u128{0xD49A784BCD1B8AFEull} << 64) | 0x492BF6FF4DAFDB4Cull},
        {false, 0, (u128{0xB8AA3B295C17F0BBull} << 64) | 0xBE87FED0691D3E88ull},
        {false, 1, (u128{0xC90FDAA22168C234ull} << 64) | 0xC4C6628B80DC1CD1ull},
        {false, -2, (u128{0x9A209A84FBCFF798ull} << 64) | 0x8F8959AC0B7C9178ull},
        {false, -1, (u128{0xB17217F7D1CF79ABull} << 64) | 0xC9E3B39803F2F6AFull},
        {false, 0, 0},
    };
    return RoundTo(kValues[static_cast<unsigned>(c)], core::kExtended, fcw | status::kExceptions, 0).value;
}

}  // namespace emu::cpu::fpu
