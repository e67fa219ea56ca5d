#pragma once
// Operand values for the x87/SSE templates, biased to the values where floating point changes behaviour:
// signed zeros, denormals, the smallest/largest normals, infinities, QNaN/SNaN and the default NaN, integer
// and rounding boundaries, and for the x87 the encodings only the 80-bit format has (pseudo-denormals,
// unnormals, pseudo-infinities and pseudo-NaNs, which are invalid operands: SDM Vol. 1 8.2.2, Table 8-3).
#include <array>

#include "emu/common/types.h"
#include "tests/diff/case.h"
#include "tests/diff/rng.h"

namespace emu::diff::gen {

u32 FpValue32(Rng& rng);
u64 FpValue64(Rng& rng);
// An 80-bit value: significand in `sig`, sign and exponent in `se`.
void FpValue80(Rng& rng, u64& sig, u16& se);
// A signed integer of `bits` (16, 32, 64) near the boundaries x87/SSE conversions care about.
u64 IntValue(Rng& rng, unsigned bits);
// 10 bytes of packed BCD (sign byte 00 or 80), occasionally with invalid digits.
void BcdValue(Rng& rng, u8* out);
// 16 bytes of vector data: lanes of f32, f64, or integer specials.
void VecValue(Rng& rng, u8* out);

// A random x87/SSE state (FXSAVE64 image): FCW with every precision/rounding control and mostly masked
// exceptions, FSW with a random TOP and condition codes (ES consistent with the flags and masks), random tags
// over special values, MXCSR with every rounding mode, FTZ/DAZ and mostly masked exceptions, XMM lanes.
void RandomFpState(Rng& rng, std::array<u8, kFxSize>& image);

}  // namespace emu::diff::gen
