// Soft-float core. Every operation first produces a Wide with at least 63 bits below the widest precision (64),
// so one sticky bit at bit 0 is enough for correct rounding in every mode.
#include "emu/cpu/fpu/core.h"

#include <utility>

namespace emu::cpu::fpu::core {

Wide Add(const Unpacked& a_in, const Unpacked& b_in, Rounding rc) {
    if (a_in.sig == 0 && b_in.sig == 0) {
        const bool sign = a_in.sign == b_in.sign ? a_in.sign : rc == Rounding::Down;
        return {sign, 0, 0};
    }
    if (a_in.sig == 0) return ToWide(b_in);
    if (b_in.sig == 0) return ToWide(a_in);
    Unpacked a = a_in, b = b_in;
    if (a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig)) std::swap(a, b);
    // Significands sit at bit 126, leaving one bit of headroom for the carry of an addition.
    const u128 wa = u128{a.sig} << 63;
    const u128 wb = ShiftRightJam(u128{b.sig} << 63, static_cast<u32>(a.exp - b.exp) > 200 ? 200 : a.exp - b.exp);
    const u128 sum = a.sign == b.sign ? wa + wb : wa - wb;
    if (sum == 0) return {rc == Rounding::Down, 0, 0};
    return Normalize(a.sign, a.exp + 1, sum);
}

Wide Mul(const Unpacked& a, const Unpacked& b) {
    const bool sign = a.sign != b.sign;
    if (a.sig == 0 || b.sig == 0) return {sign, 0, 0};
    return Normalize(sign, a.exp + b.exp + 1, u128{a.sig} * b.sig);
}

Wide Div(const Unpacked& a, const Unpacked& b) {
    const bool sign = a.sign != b.sign;
    if (a.sig == 0) return {sign, 0, 0};
    // Long division in two 64-bit digits: the first digit is in [2^63, 2^64) by choice of the shift.
    const u32 shift = a.sig >= b.sig ? 63 : 64;
    const u128 n = u128{a.sig} << shift;
    const u64 q1 = static_cast<u64>(n / b.sig);
    const u64 r1 = static_cast<u64>(n % b.sig);
    const u128 n2 = u128{r1} << 64;
    const u64 q2 = static_cast<u64>(n2 / b.sig);
    const bool sticky = (n2 % b.sig) != 0;
    const u128 q = (u128{q1} << 64) | q2 | sticky;
    return {sign, a.exp - b.exp + 63 - static_cast<i32>(shift), q};
}

Wide Sqrt(const Unpacked& a) {
    if (a.sig == 0) return {a.sign, 0, 0};
    // a = m * 2^t with t even; the root of N = m * 2^72 has 68-69 bits, enough for a 64-bit result plus guard bits.
    i32 t = a.exp - 63;
    u128 m = a.sig;
    if (t & 1) {
        m <<= 1;
        t -= 1;
    }
    u128 root = 0, rem = 0;
    for (int i = 68; i >= 0; --i) {
        const u32 pair = 2 * i >= 72 ? static_cast<u32>(m >> (2 * i - 72)) & 3 : 0;
        rem = (rem << 2) | pair;
        const u128 trial = (root << 2) | 1;
        root <<= 1;
        if (rem >= trial) {
            rem -= trial;
            root |= 1;
        }
    }
    const Wide w = Normalize(false, (t - 72) / 2 + 127, root);
    return {false, w.exp, w.sig | (rem != 0)};
}

namespace {

struct Kept {
    u128 kept;  // the rounded top `bits` bits (may carry into bit `bits`)
    bool inexact;
    bool up;
};

Kept RoundTop(u128 sig, u32 bits, Rounding rc, bool sign) {
    const u32 drop = 128 - bits;
    const u128 kept = sig >> drop;
    const u128 rem = sig & ((u128{1} << drop) - 1);
    const u128 half = u128{1} << (drop - 1);
    bool inc = false;
    switch (rc) {
        case Rounding::Nearest: inc = rem > half || (rem == half && (kept & 1)); break;
        case Rounding::Down: inc = sign && rem != 0; break;
        case Rounding::Up: inc = !sign && rem != 0; break;
        case Rounding::Zero: break;
    }
    return {kept + inc, rem != 0, inc};
}

}  // namespace

Rounded Round(const Wide& w, const Format& f, const RoundOptions& o) {
    Rounded r{w.sign, false, 0, 0, 0};
    if (w.sig == 0) return r;
    const u32 p = f.precision;
    // Rounding with an unbounded exponent decides overflow and (tininess after rounding) underflow.
    Kept k = RoundTop(w.sig, p, o.rc, w.sign);
    i32 exp = w.exp;
    if (k.kept >> p) {
        k.kept >>= 1;
        ++exp;
    }
    const auto inexact_flags = [&r](const Kept& kk) {
        if (kk.inexact) r.status |= status::PE;
        if (kk.up) r.status |= status::C1;
    };
    if (exp > f.emax) {
        // An x87 result still out of range after the bias adjustment (only FSCALE gets there) is delivered as
        // infinity whatever the rounding mode.
        if (o.oe_unmasked && o.bias_adjust != 0 && exp - o.bias_adjust > f.emax) {
            r.status |= status::OE | status::PE | status::C1;
            r.inf = true;
            return r;
        }
        if (o.oe_unmasked) {
            r.status |= status::OE;
            inexact_flags(k);
            r.exp = exp - o.bias_adjust;
            r.sig = static_cast<u64>(k.kept << (64 - p));
            return r;
        }
        r.status |= status::OE | status::PE;
        if (RoundsAway(o.rc, w.sign)) {
            r.inf = true;
            r.status |= status::C1;
        } else {
            r.exp = f.emax;
            r.sig = ~u64{0} << (64 - p);
        }
        return r;
    }
    if (w.exp >= f.emin) {
        inexact_flags(k);
        r.exp = exp;
        r.sig = static_cast<u64>(k.kept << (64 - p));
        return r;
    }
    const bool tiny = exp < f.emin;
    // Massive x87 underflow (FSCALE only): a signed zero.
    if (tiny && o.ue_unmasked && o.bias_adjust != 0 && exp + o.bias_adjust < f.emin) {
        r.status |= status::UE | status::PE;
        return r;
    }
    if (tiny && o.ue_unmasked && o.bias_adjust != 0) {
        r.status |= status::UE;
        inexact_flags(k);
        r.exp = exp + o.bias_adjust;
        r.sig = static_cast<u64>(k.kept << (64 - p));
        return r;
    }
    // SSE with underflow unmasked: #XM and no result; PE reflects rounding with an unbounded exponent, as for x87.
    if (tiny && o.ue_unmasked) {
        r.status |= status::UE;
        if (k.inexact) r.status |= status::PE;
        return r;
    }
    if (tiny && o.ftz) {
        r.status |= status::UE | status::PE;
        return r;
    }
    // Denormalise, then round at the same bit position of the register (the x87 keeps the precision-control
    // rounding point fixed in the significand for denormals).
    const Kept d = RoundTop(ShiftRightJam(w.sig, static_cast<u32>(f.emin - w.exp)), p, o.rc, w.sign);
    inexact_flags(d);
    if (tiny && d.inexact) r.status |= status::UE;
    r.exp = f.emin;
    r.sig = static_cast<u64>(d.kept << (64 - p));
    return r;
}

int CompareValues(Kind ka, const Unpacked& a, Kind kb, const Unpacked& b) {
    // Order by (sign class, magnitude); infinities lie beyond every finite value.
    const auto cls = [](Kind k, const Unpacked& u) {
        return k == Kind::Zero ? 0 : (u.sign ? -1 : 1) * (k == Kind::Inf ? 2 : 1);
    };
    const int ca = cls(ka, a), cb = cls(kb, b);
    if (ca != cb) return ca < cb ? -1 : 1;
    if (ca != 1 && ca != -1) return 0;
    const int mag = a.exp != b.exp ? (a.exp > b.exp ? 1 : -1) : (a.sig > b.sig) - (a.sig < b.sig);
    return ca * mag;
}

IntegerRounding RoundToInteger(const Unpacked& u, Rounding rc) {
    IntegerRounding r;
    if (u.sig == 0) return r;
    if (u.exp >= 64) {
        r.overflow = true;
        return r;
    }
    if (u.exp >= 63) {
        r.magnitude = u.sig;
        return r;
    }
    // Place the binary point between bit 64 and bit 63 of a 128-bit value, then keep the integer part.
    const u32 frac_bits = static_cast<u32>(63 - u.exp);
    const u128 wide = frac_bits >= 128 ? u128{1} : ShiftRightJam(u128{u.sig} << 64, frac_bits);
    const u128 integer = wide >> 64;
    const u64 frac = static_cast<u64>(wide);
    const u64 half = u64{1} << 63;
    bool inc = false;
    switch (rc) {
        case Rounding::Nearest: inc = frac > half || (frac == half && (integer & 1)); break;
        case Rounding::Down: inc = u.sign && frac != 0; break;
        case Rounding::Up: inc = !u.sign && frac != 0; break;
        case Rounding::Zero: break;
    }
    const u128 result = integer + inc;
    r.inexact = frac != 0;
    r.up = inc;
    r.overflow = (result >> 64) != 0;
    r.magnitude = static_cast<u64>(result);
    return r;
}

}  // namespace emu::cpu::fpu::core
