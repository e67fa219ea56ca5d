#pragma once
// Bit-manipulation helpers shared by the decoder, the CPU and the MMU.
#include <bit>

#include "emu/common/types.h"

namespace emu {

// Mask of the low `bits` bits; bits may be 0..64.
constexpr u64 LowMask(unsigned bits) { return bits >= 64 ? ~u64{0} : (u64{1} << bits) - 1; }

// Bits [hi:lo] of value, inclusive, as in the Intel SDM's notation.
constexpr u64 Bits(u64 value, unsigned hi, unsigned lo) { return (value >> lo) & LowMask(hi - lo + 1); }

constexpr bool Bit(u64 value, unsigned n) { return (value >> n) & 1; }

// Sign-extends the low `bits` bits of value to 64 bits.
constexpr u64 SignExtend(u64 value, unsigned bits) {
    if (bits >= 64) return value;
    const u64 sign = u64{1} << (bits - 1);
    value &= LowMask(bits);
    return (value ^ sign) - sign;
}

constexpr u64 AlignDown(u64 value, u64 align) { return value & ~(align - 1); }
constexpr u64 AlignUp(u64 value, u64 align) { return (value + align - 1) & ~(align - 1); }
constexpr bool IsAligned(u64 value, u64 align) { return (value & (align - 1)) == 0; }

// True if a 64-bit linear address is canonical for the given number of implemented bits (48 or 57).
constexpr bool IsCanonical(u64 address, unsigned va_bits = 48) { return SignExtend(address, va_bits) == address; }

}  // namespace emu
