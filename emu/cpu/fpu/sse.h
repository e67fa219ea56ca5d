#pragma once
// SSE/SSE2/SSE4.1 scalar and packed float32/float64 helpers: pure soft-float functions of their operands and
// MXCSR (RC, FTZ, DAZ, masks), bit-exact with hardware. T is u32 (float32 bits) or u64 (float64 bits); `a` is
// the first source (destination) operand, `b` the second. Results carry MXCSR flag bits 0-5.
// Chosen over host intrinsics so the library never touches host MXCSR and the tests have an independent oracle.
#include <array>
#include <cstddef>

#include "emu/cpu/fpu/fpu_types.h"

namespace emu::cpu::fpu::sse {

template <typename T>
SseResult<T> Add(T a, T b, u32 mxcsr);
template <typename T>
SseResult<T> Sub(T a, T b, u32 mxcsr);
template <typename T>
SseResult<T> Mul(T a, T b, u32 mxcsr);
template <typename T>
SseResult<T> Div(T a, T b, u32 mxcsr);
template <typename T>
SseResult<T> Sqrt(T a, u32 mxcsr);
// MINSS/MAXSS family: b is returned unchanged when either is a NaN (IE) or both are zeros.
template <typename T>
SseResult<T> Min(T a, T b, u32 mxcsr);
template <typename T>
SseResult<T> Max(T a, T b, u32 mxcsr);

// CMPSS/CMPPS predicates 0-7 (EQ LT LE UNORD NEQ NLT NLE ORD; imm8[2:0]): all-ones or zero.
template <typename T>
SseResult<T> Compare(T a, T b, unsigned predicate, u32 mxcsr);
// COMISS/UCOMISS (quiet): value holds RFLAGS ZF, PF, CF (unordered: all three).
template <typename T>
SseResult<u32> CompareFlags(T a, T b, bool quiet, u32 mxcsr);

// CVTSI2SS/SD and CVTDQ2PS/PD (value is the sign-extended source integer).
template <typename T>
SseResult<T> FromInt(i64 value, u32 mxcsr);
// CVTSS2SI/CVTSD2SI (MXCSR.RC) and the truncating CVTT forms, into 32 or 64 bits; NaN or out of range gives IE and
// the integer indefinite (only the sign bit set), returned sign-extended.
template <typename T>
SseResult<i64> ToInt(T a, unsigned bits, bool truncate, u32 mxcsr);
// CVTSS2SD (exact) and CVTSD2SS (rounded).
SseResult<u64> Float32ToFloat64(u32 a, u32 mxcsr);
SseResult<u32> Float64ToFloat32(u64 a, u32 mxcsr);
// ROUNDSS/SD/PS/PD: imm8[1:0] rounding mode, imm8[2] use MXCSR.RC instead, imm8[3] suppress PE.
template <typename T>
SseResult<T> RoundToIntegral(T a, u8 imm, u32 mxcsr);

// The flags an instruction reports, given the OR of its lanes' flags: when a pre-computation exception (IE, DE,
// ZE) is unmasked anywhere, #XM is raised before any result exists and only those flags are set. If the returned
// flags contain an unmasked exception, the caller raises #XM and writes no destination.
constexpr u32 ReportedFlags(u32 flags, u32 mxcsr) {
    constexpr u32 kPre = status::IE | status::DE | status::ZE;
    const u32 unmasked = ~(mxcsr >> mxcsr::kMaskShift) & status::kExceptions;
    return (flags & kPre & unmasked) ? flags & kPre : flags;
}

// Packed forms: apply a lane operation to every lane and OR the flags. For example
// MapLanes(a, b, [&](u32 x, u32 y) { return Add(x, y, mxcsr); }) is ADDPS.
template <typename Out, typename In, std::size_t N, typename Op>
SseResult<std::array<Out, N>> MapLanes(const std::array<In, N>& a, Op op) {
    SseResult<std::array<Out, N>> r{};
    for (std::size_t i = 0; i < N; ++i) {
        const auto lane = op(a[i]);
        r.value[i] = static_cast<Out>(lane.value);
        r.flags |= lane.flags;
    }
    return r;
}
template <typename T, std::size_t N, typename Op>
SseResult<std::array<T, N>> MapLanes(const std::array<T, N>& a, const std::array<T, N>& b, Op op) {
    SseResult<std::array<T, N>> r{};
    for (std::size_t i = 0; i < N; ++i) {
        const SseResult<T> lane = op(a[i], b[i]);
        r.value[i] = lane.value;
        r.flags |= lane.flags;
    }
    return r;
}

}  // namespace emu::cpu::fpu::sse
