#pragma once
// Working arithmetic for the transcendentals: core::Wide values (128-bit significand) with truncating add, mul and
// div, about 125 good bits per operation, far beyond the 64 bits the results are rounded to. Internal.
#include "emu/cpu/fpu/core.h"

namespace emu::cpu::fpu::wide {

using core::Wide;

inline constexpr Wide kZero{};
constexpr bool IsZero(const Wide& w) { return w.sig == 0; }
constexpr Wide Neg(Wide w) {
    w.sign = !w.sign;
    return w;
}
constexpr Wide Abs(Wide w) {
    w.sign = false;
    return w;
}
constexpr Wide Scale2(Wide w, i32 n) {
    if (w.sig) w.exp += n;
    return w;
}
constexpr Wide FromU64(u64 v) { return v ? core::Normalize(false, 127, v) : kZero; }
constexpr Wide FromI64(i64 v) {
    return v < 0 ? Neg(FromU64(u64{0} - static_cast<u64>(v))) : FromU64(static_cast<u64>(v));
}

Wide Add(const Wide& a, const Wide& b);
inline Wide Sub(const Wide& a, const Wide& b) { return Add(a, Neg(b)); }
Wide Mul(const Wide& a, const Wide& b);
Wide Div(const Wide& a, const Wide& b);
// -1, 0, 1 by magnitude.
int CompareMagnitude(const Wide& a, const Wide& b);

// Constants, verified against integer Machin/series computations.
inline constexpr Wide kPi{false, 1, (u128{0xC90FDAA22168C234ull} << 64) | 0xC4C6628B80DC1CD1ull};
inline constexpr Wide kLn2{false, -1, (u128{0xB17217F7D1CF79ABull} << 64) | 0xC9E3B39803F2F6AFull};
inline constexpr Wide kOne{false, 0, u128{1} << 127};
// The x87 reduces FSIN/FCOS/FSINCOS/FPTAN arguments with pi rounded to 66 bits (SDM Vol. 1 8.3.10), which makes
// results for large arguments differ from the true function; matching it is what keeps us within 1 ulp of
// hardware. As pi * 2^190, a 192-bit integer (three 64-bit limbs, most significant first); the full-precision
// value would be C90FDAA22168C234 C4C6628B80DC1CD1 29024E088A67CC74.
inline constexpr u64 kPiLimbs[3] = {0xC90FDAA22168C234ull, 0xC000000000000000ull, 0};

}  // namespace emu::cpu::fpu::wide
