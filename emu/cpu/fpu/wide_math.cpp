// Working arithmetic for the transcendentals (see wide_math.h).
#include "emu/cpu/fpu/wide_math.h"

#include <utility>

namespace emu::cpu::fpu::wide {

int CompareMagnitude(const Wide& a, const Wide& b) {
    if (a.sig == 0 || b.sig == 0) return (a.sig != 0) - (b.sig != 0);
    if (a.exp != b.exp) return a.exp > b.exp ? 1 : -1;
    return (a.sig > b.sig) - (a.sig < b.sig);
}

Wide Add(const Wide& a_in, const Wide& b_in) {
    if (a_in.sig == 0) return b_in;
    if (b_in.sig == 0) return a_in;
    Wide a = a_in, b = b_in;
    if (CompareMagnitude(a, b) < 0) std::swap(a, b);
    // One bit of headroom for the carry; bits shifted out of the smaller operand are jammed into bit 0 so a
    // negligible term still nudges the sum in its direction (this decides directed rounding of e.g. sin(tiny)).
    const u32 d = static_cast<u32>(a.exp - b.exp);
    const u128 wa = a.sig >> 1;
    const u128 wb = core::ShiftRightJam(b.sig, d + 1 > 200 ? 200 : d + 1);
    const u128 sum = a.sign == b.sign ? wa + wb : wa - wb;
    if (sum == 0) return kZero;
    return core::Normalize(a.sign, a.exp + 1, sum);
}

Wide Mul(const Wide& a, const Wide& b) {
    if (a.sig == 0 || b.sig == 0) return kZero;
    const u64 ah = static_cast<u64>(a.sig >> 64), al = static_cast<u64>(a.sig);
    const u64 bh = static_cast<u64>(b.sig >> 64), bl = static_cast<u64>(b.sig);
    const u128 m1 = u128{ah} * bl, m2 = u128{al} * bh;
    const u128 mid = (m1 >> 1) + (m2 >> 1);  // halved to avoid overflow: loses one low bit
    const u128 hi = u128{ah} * bh + (mid >> 63);
    return core::Normalize(a.sign != b.sign, a.exp + b.exp + 1, hi);
}

Wide Div(const Wide& a, const Wide& b) {
    if (a.sig == 0) return kZero;
    // Restoring division of 127-bit significands: 128 quotient bits, the first set iff a.sig >= b.sig.
    u128 rem = a.sig >> 1;
    const u128 d = b.sig >> 1;
    u128 q = 0;
    for (int i = 0; i < 128; ++i) {
        q <<= 1;
        if (rem >= d) {
            rem -= d;
            q |= 1;
        }
        rem <<= 1;
    }
    return core::Normalize(a.sign != b.sign, a.exp - b.exp, q);
}

}  // namespace emu::cpu::fpu::wide
