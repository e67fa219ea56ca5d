#pragma once
// Public types shared by the x87 and SSE helpers: exception/condition bits, rounding modes, results.
#include "emu/common/types.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::fpu {

// Exception flags and condition codes at their FSW positions (SDM Vol. 1 8.1.3). Bits 0-5 are also the MXCSR
// flag bits (SDM Vol. 1 10.2.3), so SSE helpers return the same values.
namespace status {
inline constexpr u16 IE = 1u << 0;  // invalid operation
inline constexpr u16 DE = 1u << 1;  // denormal operand
inline constexpr u16 ZE = 1u << 2;  // divide by zero
inline constexpr u16 OE = 1u << 3;  // overflow
inline constexpr u16 UE = 1u << 4;  // underflow
inline constexpr u16 PE = 1u << 5;  // precision (inexact)
inline constexpr u16 C0 = 1u << 8;
inline constexpr u16 C1 = 1u << 9;  // x87: set when the inexact result was rounded up in magnitude
inline constexpr u16 C2 = 1u << 10;
inline constexpr u16 C3 = 1u << 14;
inline constexpr u16 kExceptions = 0x3F;
inline constexpr u16 kConditions = C0 | C1 | C2 | C3;
}  // namespace status

// Rounding control, encoded as in FCW.RC, MXCSR.RC and ROUNDSS imm8[1:0].
enum class Rounding : u8 { Nearest = 0, Down = 1, Up = 2, Zero = 3 };

// FCW fields (SDM Vol. 1 8.1.5). The exception masks are bits 0-5 in the same order as the status bits.
namespace fcw {
inline constexpr u16 kMaskAll = 0x3F;
inline constexpr unsigned kPcShift = 8;  // 00 = 24 bits, 10 = 53 bits, 11 = 64 bits (01 reserved: acts as 64)
inline constexpr unsigned kRcShift = 10;
inline constexpr u16 kDefault = 0x037F;  // FNINIT
constexpr Rounding Rc(u16 cw) { return static_cast<Rounding>((cw >> kRcShift) & 3); }
}  // namespace fcw

// MXCSR fields (SDM Vol. 1 10.2.3).
namespace mxcsr {
inline constexpr u32 kMaskShift = 7;  // IM..PM at bits 7-12
inline constexpr u32 DAZ = 1u << 6;
inline constexpr u32 kRcShift = 13;
inline constexpr u32 FTZ = 1u << 15;
inline constexpr u32 kDefault = 0x1F80;
constexpr Rounding Rc(u32 csr) { return static_cast<Rounding>((csr >> kRcShift) & 3); }
}  // namespace mxcsr

// Result of an x87 helper. `status` holds exception flags and condition codes in FSW positions; the caller ORs
// the exception bits into FSW (they are sticky), replaces C0-C3 and raises #MF if an unmasked exception is
// flagged. When IE, ZE or DE is flagged and unmasked, the hardware leaves the destination unchanged: the caller
// must not store `value` then. Unmasked OE/UE results already carry the SDM's 24576 exponent bias adjustment.
template <typename T>
struct X87Out {
    T value;
    u16 status = 0;
};
using X87Result = X87Out<Float80>;

// Two results (FXTRACT, FSINCOS, FPTAN): `first` replaces ST(0), `second` is pushed.
struct X87Pair {
    Float80 first;
    Float80 second;
    u16 status = 0;
};

// Result of an SSE helper: `flags` are MXCSR flag bits 0-5. With any unmasked flag the caller raises #XM and
// must not write the destination (for packed ops: no element).
template <typename T>
struct SseResult {
    T value;
    u32 flags = 0;
};

constexpr bool SameBits(const Float80& a, const Float80& b) {
    return a.significand == b.significand && a.sign_exponent == b.sign_exponent;
}

}  // namespace emu::cpu::fpu
