#pragma once
// Format-independent soft-float core shared by the x87 and SSE helpers: exact arithmetic on unpacked values
// into a 128-bit significand, then one rounding routine parameterised by precision and exponent range.
// Internal to emu/cpu/fpu.
#include <bit>

#include "emu/cpu/fpu/fpu_types.h"

namespace emu::cpu::fpu::core {

// Operand classes. Unsupported: x87 unnormals, pseudo-NaNs and pseudo-infinities, which the 387 and later reject
// (SDM Vol. 1 8.2.2).
enum class Kind : u8 { Zero, Finite, Inf, QNaN, SNaN, Unsupported };
constexpr bool IsNaN(Kind k) { return k == Kind::QNaN || k == Kind::SNaN; }

// A finite value (-1)^sign * sig * 2^(exp - 63). Nonzero values are normalised (bit 63 set); zero has sig == 0.
struct Unpacked {
    bool sign = false;
    i32 exp = 0;
    u64 sig = 0;
};

// An exact (or sticky-rounded) intermediate: (-1)^sign * sig * 2^(exp - 127), bit 127 of sig set, bit 0 ORs in
// every bit shifted out. sig == 0 means an exact zero of the given sign.
struct Wide {
    bool sign = false;
    i32 exp = 0;
    u128 sig = 0;
};

// Destination format: significand bits including the integer bit, and the unbiased exponent range of normals.
struct Format {
    u32 precision;
    i32 emin;
    i32 emax;
};
inline constexpr Format kExtended{64, -16382, 16383};
inline constexpr Format kDouble{53, -1022, 1023};
inline constexpr Format kSingle{24, -126, 127};

struct RoundOptions {
    Rounding rc = Rounding::Nearest;
    bool oe_unmasked = false;
    bool ue_unmasked = false;
    // x87 unmasked overflow/underflow deliver the result with the exponent adjusted by this (SDM Vol. 1 8.5.4);
    // 0 for SSE, whose unmasked exceptions deliver no result.
    i32 bias_adjust = 0;
    bool ftz = false;  // SSE MXCSR.FTZ: masked underflow flushes to zero
};

// A rounded result in x87 register layout: normals have bit 63 set and exp in [emin, emax] (or adjusted by the
// bias); denormals have exp == emin and bit 63 clear; zero has sig == 0; `inf` marks an infinity.
struct Rounded {
    bool sign = false;
    bool inf = false;
    i32 exp = 0;
    u64 sig = 0;
    u16 status = 0;  // OE UE PE and C1 (rounded up)
};

constexpr u128 ShiftRightJam(u128 x, u32 n) {
    if (n == 0) return x;
    if (n >= 128) return x != 0;
    return (x >> n) | ((x & ((u128{1} << n) - 1)) != 0);
}

constexpr u32 Clz128(u128 x) {
    const u64 hi = static_cast<u64>(x >> 64);
    return hi ? std::countl_zero(hi) : 64 + std::countl_zero(static_cast<u64>(x));
}

// Normalises a nonzero sig so bit 127 is set.
constexpr Wide Normalize(bool sign, i32 exp, u128 sig) {
    const u32 lz = Clz128(sig);
    return {sign, exp - static_cast<i32>(lz), sig << lz};
}

constexpr Wide ToWide(const Unpacked& u) { return {u.sign, u.exp, u128{u.sig} << 64}; }

// Exact sum a + b; the sign of an exact zero follows IEEE 754 for the rounding mode.
Wide Add(const Unpacked& a, const Unpacked& b, Rounding rc);
Wide Mul(const Unpacked& a, const Unpacked& b);
// b must be nonzero.
Wide Div(const Unpacked& a, const Unpacked& b);
// a must be positive (or zero).
Wide Sqrt(const Unpacked& a);

Rounded Round(const Wide& w, const Format& f, const RoundOptions& o);

// Rounds |w| to an integer. `up` is true when the magnitude was increased. Magnitudes of 2^64 and more set
// `overflow` (value then undefined).
struct IntegerRounding {
    u64 magnitude = 0;
    bool inexact = false;
    bool up = false;
    bool overflow = false;
};
IntegerRounding RoundToInteger(const Unpacked& u, Rounding rc);

// Unpacks an integer magnitude (sign separate) into a normalised value.
constexpr Unpacked FromInteger(bool sign, u64 magnitude) {
    if (magnitude == 0) return {sign, 0, 0};
    const int lz = std::countl_zero(magnitude);
    return {sign, 63 - lz, magnitude << lz};
}

// Orders two non-NaN operands of kind Zero, Finite or Inf: -1, 0 or 1 (±0 compare equal).
int CompareValues(Kind ka, const Unpacked& a, Kind kb, const Unpacked& b);

// True if rounding mode rc rounds away from zero for a value of the given sign (for overflow results).
constexpr bool RoundsAway(Rounding rc, bool sign) {
    return rc == Rounding::Nearest || (rc == Rounding::Up && !sign) || (rc == Rounding::Down && sign);
}

}  // namespace emu::cpu::fpu::core
