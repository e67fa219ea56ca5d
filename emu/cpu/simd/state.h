#pragma once
// Constants of the SIMD state the rest of the emulator (CPUID leaf 0xD, reset) must agree with.
#include "emu/common/types.h"

namespace emu::cpu::simd {

// MXCSR bits that exist (FXSAVE's MXCSR_MASK): flags, DAZ, masks, RC, FTZ. Setting others is #GP.
inline constexpr u32 kMxcsrMask = 0x0000FFFF;

// XCR0 components: x87 (bit 0), SSE (bit 1), AVX (bit 2, not supported), PKRU (bit 9). x87 and SSE are always
// supported, PKRU when the CPU model advertises pku (system::SupportedXcr0).
inline constexpr u64 kXcr0X87 = 1, kXcr0Sse = 2, kXcr0Avx = 4, kXcr0Pkru = u64{1} << 9;
inline constexpr u64 kXcr0Supported = kXcr0X87 | kXcr0Sse;
// XSAVE area size for x87 and SSE: the 512-byte legacy area plus the 64-byte header.
inline constexpr u32 kXsaveAreaSize = 576;
// PKRU's 8 bytes in the standard form sit where Intel's processors put them (after the AVX, MPX and AVX-512 areas
// emu64 does not have), the offset software such as gdb assumes. The area with PKRU ends after them.
inline constexpr u32 kXsavePkruOffset = 2688;
inline constexpr u32 kXsavePkruSize = 8;
inline constexpr u32 kXsaveAreaSizeWithPkru = kXsavePkruOffset + kXsavePkruSize;

}  // namespace emu::cpu::simd
