#pragma once
// Constants of the SIMD state the rest of the emulator (CPUID leaf 0xD, reset) must agree with.
#include "emu/common/types.h"

namespace emu::cpu::simd {

// MXCSR bits that exist (FXSAVE's MXCSR_MASK): flags, DAZ, masks, RC, FTZ. Setting others is #GP.
inline constexpr u32 kMxcsrMask = 0x0000FFFF;

// XCR0 components: x87 (bit 0), SSE (bit 1), AVX (bit 2, not supported).
inline constexpr u64 kXcr0X87 = 1, kXcr0Sse = 2, kXcr0Avx = 4;
inline constexpr u64 kXcr0Supported = kXcr0X87 | kXcr0Sse;
// XSAVE area size for the supported components: the 512-byte legacy area plus the 64-byte header.
inline constexpr u32 kXsaveAreaSize = 576;

}  // namespace emu::cpu::simd
