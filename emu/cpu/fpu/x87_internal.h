#pragma once
// Operand classification, NaN rules and result packing shared by the x87 helper files. Internal to emu/cpu/fpu.
#include "emu/cpu/fpu/core.h"
#include "emu/cpu/fpu/x87.h"

namespace emu::cpu::fpu::x87 {

using core::Kind;

struct Operand {
    Kind kind = Kind::Zero;
    bool denormal = false;  // denormal or pseudo-denormal: raises DE when used
    core::Unpacked u;       // valid for Zero and Finite (sign valid for all kinds)
    Float80 raw;
};

inline constexpr i32 kBias = 16383;
inline constexpr u16 kMaxExp = 0x7FFF;
inline constexpr Float80 kIndefinite{0xC000000000000000ull, 0xFFFF};  // "real indefinite" QNaN
inline constexpr Float80 kOne{u64{1} << 63, 0x3FFF};
inline constexpr u64 kIntegerBit = u64{1} << 63;
inline constexpr u64 kQuietBit = u64{1} << 62;

Operand Classify(const Float80& f);
inline Operand Classify(const X87Operand& o) {
    Operand r = Classify(o.value);
    r.denormal |= o.denormal_source;
    return r;
}
using core::IsNaN;
constexpr Float80 MakeFloat80(bool sign, u16 biased_exp, u64 sig) {
    return {sig, static_cast<u16>((sign ? 0x8000 : 0) | biased_exp)};
}
constexpr Float80 Infinity(bool sign) { return MakeFloat80(sign, kMaxExp, kIntegerBit); }
constexpr Float80 Zero(bool sign) { return MakeFloat80(sign, 0, 0); }
constexpr Float80 Quiet(const Float80& nan) { return {nan.significand | kQuietBit, nan.sign_exponent}; }

Float80 Pack(const core::Rounded& r);
// Packs a finite unpacked value that is exactly representable with a 64-bit significand.
Float80 PackExact(const core::Unpacked& u);

// Result of an operation with NaN or unsupported operands, or nullopt-like `decided == false` to continue.
struct Early {
    bool decided = false;
    X87Result result;
};
// Two operands: unsupported -> IE + indefinite; NaNs -> x87 selection (SDM Vol. 1 Table 4-7).
Early HandleNaNs(const Operand& a, const Operand& b);
Early HandleNaN(const Operand& a);
constexpr X87Result Invalid() { return {kIndefinite, status::IE}; }

// An unmasked pre-computation exception (IE, ZE, DE) aborts the instruction: only that flag is reported and the
// destination and condition codes stay as they were.
constexpr X87Result Checked(const X87Result& r, u16 fcw) {
    const u16 fault = r.status & ~fcw & (status::IE | status::ZE | status::DE);
    return fault ? X87Result{r.value, fault} : r;
}
constexpr X87Pair Checked(const X87Pair& r, u16 fcw) {
    const u16 fault = r.status & ~fcw & (status::IE | status::ZE | status::DE);
    return fault ? X87Pair{r.first, r.second, fault} : r;
}

core::Format PrecisionFormat(u16 fcw);
core::RoundOptions Options(u16 fcw);
// Rounds w into the destination format given by FCW.PC (or `f`), merging `status` (e.g. DE).
X87Result RoundTo(const core::Wide& w, const core::Format& f, u16 fcw, u16 status);

}  // namespace emu::cpu::fpu::x87
