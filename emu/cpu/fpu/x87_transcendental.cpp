// x87 transcendentals: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1.
// Method: every result is computed in software with 128-bit significands (wide_math.h): exact argument
// reduction against the x87's 66-bit pi, then Taylor/atanh series summed to ~2^-120, and one final rounding to 64 bits
// with FCW.RC. No host FPU or libm is involved. Hardware results are only specified to about 1 ulp, so these
// agree with the host x87 to within 1 ulp rather than bit for bit (tests/unit/cpu/fpu_test.cpp). Where the SDM
// leaves results undefined (F2XM1 outside [-1, 1], FYL2XP1 outside its range) we follow the AMD host we test on.
#include <array>

#include "emu/cpu/fpu/wide_math.h"
#include "emu/cpu/fpu/x87.h"
#include "emu/cpu/fpu/x87_internal.h"

namespace emu::cpu::fpu {

using namespace x87;
using wide::Wide;

namespace {

constexpr i32 kSeriesCutoff = 130;  // stop once a term is 2^-130 below the running sum

// ===== argument reduction =====

// A 256-bit magnitude as little-endian 64-bit limbs.
using U256 = std::array<u64, 4>;

U256 ShiftedU64(u64 m, u32 shift) {
    U256 r{};
    const u32 limb = shift / 64, bit = shift % 64;
    r[limb] = m << bit;
    if (bit && limb + 1 < 4) r[limb + 1] = m >> (64 - bit);
    return r;
}

U256 MulPi(u64 q) {
    // q * pi * 2^190, with kPiLimbs most significant first.
    U256 r{};
    u128 carry = 0;
    for (int i = 0; i < 3; ++i) {
        const u128 p = u128{q} * wide::kPiLimbs[2 - i] + carry;
        r[i] = static_cast<u64>(p);
        carry = p >> 64;
    }
    r[3] = static_cast<u64>(carry);
    return r;
}

bool Less(const U256& a, const U256& b) {
    for (int i = 3; i >= 0; --i)
        if (a[i] != b[i]) return a[i] < b[i];
    return false;
}

U256 SubU256(const U256& a, const U256& b) {
    U256 r{};
    u64 borrow = 0;
    for (int i = 0; i < 4; ++i) {
        const u64 d = a[i] - b[i];
        const u64 d2 = d - borrow;
        borrow = (a[i] < b[i]) || (d < borrow);
        r[i] = d2;
    }
    return r;
}

// value = mag * 2^-191
Wide FromU256(bool sign, const U256& mag) {
    int top = 3;
    while (top >= 0 && mag[top] == 0) --top;
    if (top < 0) return wide::kZero;
    const u128 hi = top >= 1 ? (u128{mag[top]} << 64) | mag[top - 1] : u128{mag[0]};
    const u64 next = top >= 2 ? mag[top - 2] : 0;
    const u32 lz = core::Clz128(hi);
    const u128 sig = (lz > 0 && lz < 64) ? (hi << lz) | (next >> (64 - lz)) : hi << lz;
    const i32 msb = (top >= 1 ? 64 * (top - 1) : 0) + 127 - static_cast<i32>(lz);  // bit index of the leading one
    return {sign, msb - 191, sig};
}

struct Reduced {
    Wide r;  // |r| <= pi/4 (slightly more when q was rounded the other way)
    u64 q;   // quadrant count
};

// x = q * pi/2 + r for a positive finite x < 2^63, computed exactly for the x87's 66-bit pi.
Reduced ReduceHalfPi(const core::Unpacked& x) {
    const Wide wx = core::ToWide(x);
    const Wide quarter_pi = wide::Scale2(wide::kPi, -2);
    if (wide::CompareMagnitude(wx, quarter_pi) <= 0) return {wx, 0};
    const Wide t = wide::Div(wx, wide::Scale2(wide::kPi, -1));  // >= 0.5, < 2^63
    // q = t rounded to nearest (t >= 0.5, so t.exp >= -1).
    const u64 q = t.exp < 0 ? 1 : static_cast<u64>(((t.sig >> (126 - t.exp)) + 1) >> 1);
    // X = x * 2^191 = sig << (exp + 128); Q = q * (pi/2) * 2^191 = q * pi * 2^190.
    const U256 big_x = ShiftedU64(x.sig, static_cast<u32>(x.exp + 128));
    const U256 big_q = MulPi(q);
    const bool neg = Less(big_x, big_q);
    return {FromU256(neg, neg ? SubU256(big_q, big_x) : SubU256(big_x, big_q)), q};
}

// ===== series =====

struct SinCosValue {
    Wide sin, cos;
};

SinCosValue SinCosSeries(const Wide& r) {
    const Wide r2 = wide::Mul(r, r);
    Wide s = r, c = wide::kOne, ts = r, tc = wide::kOne;
    for (u64 k = 1; k < 40; ++k) {
        ts = wide::Neg(wide::Div(wide::Mul(ts, r2), wide::FromU64((2 * k) * (2 * k + 1))));
        tc = wide::Neg(wide::Div(wide::Mul(tc, r2), wide::FromU64((2 * k - 1) * (2 * k))));
        s = wide::Add(s, ts);
        c = wide::Add(c, tc);
        if (wide::IsZero(ts) || ts.exp < s.exp - kSeriesCutoff) break;
    }
    return {s, c};
}

// sin and cos of a finite x with |x| < 2^63.
SinCosValue SinCosOf(const core::Unpacked& x) {
    const Reduced red = ReduceHalfPi({false, x.exp, x.sig});
    const SinCosValue v = SinCosSeries(red.r);
    SinCosValue out;
    switch (red.q & 3) {
        case 0: out = v; break;
        case 1: out = {v.cos, wide::Neg(v.sin)}; break;
        case 2: out = {wide::Neg(v.sin), wide::Neg(v.cos)}; break;
        default: out = {wide::Neg(v.cos), v.sin}; break;
    }
    if (x.sign) out.sin = wide::Neg(out.sin);
    return out;
}

// 2 * atanh(s) = ln((1 + s) / (1 - s)) for |s| <= 0.18.
Wide TwoAtanh(const Wide& s) {
    const Wide s2 = wide::Mul(s, s);
    Wide sum = s, power = s;
    for (u64 k = 1; k < 80; ++k) {
        power = wide::Mul(power, s2);
        const Wide term = wide::Div(power, wide::FromU64(2 * k + 1));
        sum = wide::Add(sum, term);
        if (wide::IsZero(term) || term.exp < sum.exp - kSeriesCutoff) break;
    }
    return wide::Scale2(sum, 1);
}

// log2 of a positive finite value.
Wide Log2OfWide(const Wide& x) {
    const u128 kSqrt2 = (u128{0xB504F333F9DE6484ull} << 64) | 0x597D89B3754ABE9Full;  // sqrt(2) * 2^127
    i32 e = x.exp;
    Wide m{false, 0, x.sig};
    if (x.sig > kSqrt2) {
        m.exp = -1;
        ++e;
    }
    const Wide s = wide::Div(wide::Sub(m, wide::kOne), wide::Add(m, wide::kOne));
    return wide::Add(wide::FromI64(e), wide::Div(TwoAtanh(s), wide::kLn2));
}

Wide Log2Of(const core::Unpacked& x) { return Log2OfWide(core::ToWide(x)); }

// atan(t) for 0 <= t <= 1.
Wide AtanUnit(const Wide& t) {
    // Above tan(pi/8), use atan(t) = pi/4 + atan((t - 1) / (t + 1)).
    const Wide kTanPi8{false, -2, (u128{0xD413CCCFE7799211ull} << 64) | 0x65F626CDD52AFA7Cull};
    Wide base = wide::kZero, u = t;
    if (wide::CompareMagnitude(t, kTanPi8) > 0) {
        base = wide::Scale2(wide::kPi, -2);
        u = wide::Div(wide::Sub(t, wide::kOne), wide::Add(t, wide::kOne));
    }
    const Wide u2 = wide::Mul(u, u);
    Wide sum = u, power = u;
    for (u64 k = 1; k < 120; ++k) {
        power = wide::Neg(wide::Mul(power, u2));
        const Wide term = wide::Div(power, wide::FromU64(2 * k + 1));
        sum = wide::Add(sum, term);
        if (wide::IsZero(term) || term.exp < sum.exp - kSeriesCutoff) break;
    }
    return wide::Add(base, sum);
}

// Rounds a computed value. The true result of a transcendental at a nonzero finite argument is irrational, so
// unless `exact`, a sticky bit marks it inexact even when its 128 computed bits happen to be representable.
X87Result Finish(Wide w, u16 fcw, u16 st, bool zero_sign = false, bool exact = false) {
    if (wide::IsZero(w)) return {Zero(zero_sign), st};
    if (!exact) w.sig |= 1;
    return RoundTo(w, core::kExtended, fcw, st);
}

u16 DenormalFlag(const Operand& a) { return a.denormal ? status::DE : 0; }

// Shared front end of FSIN/FCOS/FSINCOS/FPTAN: NaN/invalid/out-of-range handling.
struct TrigInput {
    bool decided = false;
    X87Pair result;
};

TrigInput TrigFrontEnd(const Float80& fa, const Operand& a) {
    if (const Early e = HandleNaN(a); e.decided) return {true, {e.result.value, e.result.value, e.result.status}};
    if (a.kind == Kind::Inf) return {true, {kIndefinite, kIndefinite, status::IE}};
    if (a.kind == Kind::Finite && a.u.exp >= 63) return {true, {fa, fa, status::C2}};  // |x| >= 2^63: unchanged
    return {};
}

}  // namespace

static X87Result SinImpl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const TrigInput t = TrigFrontEnd(fa, a); t.decided) return {t.result.first, t.result.status};
    if (a.kind == Kind::Zero) return {fa, 0};
    return Finish(SinCosOf(a.u).sin, fcw, DenormalFlag(a), a.u.sign);
}

X87Result Sin(const Float80& fa, u16 fcw) { return Checked(SinImpl(fa, fcw), fcw); }

static X87Result CosImpl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const TrigInput t = TrigFrontEnd(fa, a); t.decided) return {t.result.first, t.result.status};
    if (a.kind == Kind::Zero) return {kOne, 0};
    return Finish(SinCosOf(a.u).cos, fcw, DenormalFlag(a));
}

X87Result Cos(const Float80& fa, u16 fcw) { return Checked(CosImpl(fa, fcw), fcw); }

static X87Pair SinCosImpl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const TrigInput t = TrigFrontEnd(fa, a); t.decided) return t.result;
    if (a.kind == Kind::Zero) return {fa, kOne, 0};
    const SinCosValue v = SinCosOf(a.u);
    const X87Result s = Finish(v.sin, fcw, DenormalFlag(a), a.u.sign);
    const X87Result c = Finish(v.cos, fcw, DenormalFlag(a));
    // Both results report their exceptions; C1 reflects the last rounding (the pushed cosine).
    return {s.value, c.value, static_cast<u16>(((s.status | c.status) & ~status::C1) | (c.status & status::C1))};
}

X87Pair SinCos(const Float80& fa, u16 fcw) { return Checked(SinCosImpl(fa, fcw), fcw); }

static X87Pair TanImpl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const TrigInput t = TrigFrontEnd(fa, a); t.decided) return t.result;  // C2 set: nothing is pushed
    if (a.kind == Kind::Zero) return {fa, kOne, 0};
    const SinCosValue v = SinCosOf(a.u);
    const X87Result r = Finish(wide::Div(v.sin, v.cos), fcw, DenormalFlag(a), a.u.sign);
    return {r.value, kOne, r.status};
}

X87Pair Tan(const Float80& fa, u16 fcw) { return Checked(TanImpl(fa, fcw), fcw); }

static X87Result Atan2Impl(const Float80& fy, const Float80& fx, u16 fcw) {
    const Operand y = Classify(fy), x = Classify(fx);
    if (const Early e = HandleNaNs(y, x); e.decided) return e.result;
    const u16 de = DenormalFlag(y) | DenormalFlag(x);
    const Wide pi = wide::kPi, half_pi = wide::Scale2(wide::kPi, -1);
    // Signed zeros and infinities (SDM Vol. 2 FPATAN table): the angle of (x, y) with the IEEE conventions.
    Wide angle;
    if (y.kind == Kind::Zero) {
        if (!x.u.sign) return {Zero(y.u.sign), de};
        angle = pi;
    } else if (x.kind == Kind::Zero) {
        angle = half_pi;
    } else if (y.kind == Kind::Inf && x.kind == Kind::Inf) {
        angle = x.u.sign ? wide::Scale2(wide::Mul(pi, wide::FromU64(3)), -2) : wide::Scale2(pi, -2);
    } else if (y.kind == Kind::Inf) {
        angle = half_pi;
    } else if (x.kind == Kind::Inf) {
        if (!x.u.sign) return {Zero(y.u.sign), de};
        angle = pi;
    } else {
        const Wide ay = wide::Abs(core::ToWide(y.u)), ax = wide::Abs(core::ToWide(x.u));
        const bool swap = wide::CompareMagnitude(ay, ax) > 0;
        angle = AtanUnit(swap ? wide::Div(ax, ay) : wide::Div(ay, ax));
        if (swap) angle = wide::Sub(half_pi, angle);
        if (x.u.sign) angle = wide::Sub(pi, angle);
    }
    if (y.u.sign) angle = wide::Neg(angle);
    return Finish(angle, fcw, de, y.u.sign);
}

X87Result Atan2(const Float80& fy, const Float80& fx, u16 fcw) { return Checked(Atan2Impl(fy, fx, fcw), fcw); }

static X87Result Exp2M1Impl(const Float80& fa, u16 fcw) {
    const Operand a = Classify(fa);
    if (const Early e = HandleNaN(a); e.decided) return e.result;
    if (a.kind == Kind::Zero) return {fa, 0};
    if (a.kind == Kind::Inf) return {a.u.sign ? Float80{kOne.significand, 0xBFFF} : fa, 0};
    // Outside [-1, 1] the SDM leaves the result undefined; the host (AMD) returns the operand with PE.
    if (a.u.exp > 0 || (a.u.exp == 0 && a.u.sig != kIntegerBit)) return {fa, status::PE};
    const bool exact = a.u.exp == 0;  // 2^1 - 1 = 1 and 2^-1 - 1 = -0.5
    const Wide t = wide::Mul(core::ToWide(a.u), wide::kLn2);
    Wide sum = t, term = t;
    for (u64 k = 2; k < 200; ++k) {
        term = wide::Div(wide::Mul(term, t), wide::FromU64(k));
        sum = wide::Add(sum, term);
        if (wide::IsZero(term) || term.exp < sum.exp - kSeriesCutoff) break;
    }
    return Finish(sum, fcw, DenormalFlag(a), a.u.sign, exact);
}

X87Result Exp2M1(const Float80& fa, u16 fcw) { return Checked(Exp2M1Impl(fa, fcw), fcw); }

namespace {

// y * L where L = log2(...) is given by its kind: the product rules of FYL2X/FYL2XP1 (0 * inf is invalid).
X87Result ScaledLog(const Operand& y, Kind l_kind, bool l_sign, const Wide& l, u16 fcw, u16 st, bool exact = false) {
    const bool sign = y.u.sign != l_sign;
    if (l_kind == Kind::Inf) {
        if (y.kind == Kind::Zero) return Invalid();
        return {Infinity(sign), st};
    }
    if (y.kind == Kind::Inf) {
        if (l_kind == Kind::Zero) return Invalid();
        return {Infinity(sign), st};
    }
    if (l_kind == Kind::Zero || y.kind == Kind::Zero) return {Zero(sign), st};
    Wide product = wide::Mul(wide::Abs(core::ToWide(y.u)), l);
    product.sign = sign;
    return Finish(product, fcw, st, sign, exact);
}

}  // namespace

static X87Result YLog2XImpl(const Float80& fy, const Float80& fx, u16 fcw) {
    const Operand y = Classify(fy), x = Classify(fx);
    if (const Early e = HandleNaNs(y, x); e.decided) return e.result;
    const u16 de = DenormalFlag(y) | DenormalFlag(x);
    if (x.kind == Kind::Zero) {
        // log2(0) = -inf: a finite nonzero y divides by zero.
        if (y.kind == Kind::Zero) return Invalid();
        return {Infinity(!y.u.sign), y.kind == Kind::Inf ? de : status::ZE};
    }
    if (x.u.sign) return Invalid();
    if (x.kind == Kind::Inf) return ScaledLog(y, Kind::Inf, false, {}, fcw, de);
    const Wide l = Log2Of(x.u);
    if (wide::IsZero(l)) return ScaledLog(y, Kind::Zero, false, l, fcw, de);
    // log2 of a power of two is its exponent, exactly, and y times it is exact in 128 bits: rounded as it is, it gives
    // the representable result itself under every rounding mode (a sticky bit would push round-up and round-down one
    // ulp off). The hardware reports it inexact all the same, and so a tiny (denormal) result as underflowing too;
    // but not a zero or infinite y, whose product is zero or infinity without a multiplication (host behaviour).
    const bool power_of_two = x.u.sig == kIntegerBit;
    X87Result r = ScaledLog(y, Kind::Finite, l.sign, wide::Abs(l), fcw, de, power_of_two);
    if (power_of_two && y.kind == Kind::Finite) {
        r.status |= status::PE;
        if ((r.value.sign_exponent & 0x7FFF) == 0 && r.value.significand != 0) r.status |= status::UE;
    }
    return r;
}

X87Result YLog2X(const Float80& fy, const Float80& fx, u16 fcw) { return Checked(YLog2XImpl(fy, fx, fcw), fcw); }

static X87Result YLog2XP1Impl(const Float80& fy, const Float80& fx, u16 fcw) {
    const Operand y = Classify(fy), x = Classify(fx);
    if (const Early e = HandleNaNs(y, x); e.decided) return e.result;
    const u16 de = DenormalFlag(y) | DenormalFlag(x);
    if (x.kind == Kind::Zero) return ScaledLog(y, Kind::Zero, x.u.sign, {}, fcw, de);
    if (x.kind == Kind::Inf) {
        if (x.u.sign) return Invalid();
        return ScaledLog(y, Kind::Inf, false, {}, fcw, de);
    }
    // The SDM defines FYL2XP1 for |x| < 1 - sqrt(2)/2; beyond it the host (AMD) still computes the logarithm
    // for x > -1 and returns x unchanged otherwise.
    const Wide wx = core::ToWide(x.u);
    if (x.u.sign && x.u.exp >= 0) {
        // Observed on the host for x <= -1: a zero or infinite y is scaled as if log2 were negative; any other y
        // leaves x.
        if (y.kind == Kind::Zero || y.kind == Kind::Inf) return ScaledLog(y, Kind::Finite, true, wide::kOne, fcw, de);
        return {fx, static_cast<u16>(status::PE | de)};
    }
    Wide l;
    if (x.u.exp < -2) {
        // log2(1 + x) = 2 atanh(x / (2 + x)) / ln 2, accurate for small x where 1 + x would lose bits.
        const Wide s = wide::Div(wx, wide::Add(wide::FromU64(2), wx));
        l = wide::Div(TwoAtanh(s), wide::kLn2);
    } else {
        l = Log2OfWide(wide::Add(wide::kOne, wx));
    }
    return ScaledLog(y, Kind::Finite, l.sign, wide::Abs(l), fcw, de);
}

X87Result YLog2XP1(const Float80& fy, const Float80& fx, u16 fcw) { return Checked(YLog2XP1Impl(fy, fx, fcw), fcw); }

}  // namespace emu::cpu::fpu
