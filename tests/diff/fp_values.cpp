#include "tests/diff/fp_values.h"

#include <cstring>

namespace emu::diff::gen {

namespace {
// A normal-range value of a format with `exp_bits` and `frac_bits`: mostly near 1.0 (exponent within +-40),
// sometimes anywhere; integers and halves (rounding ties) now and then.
u64 RandomNormal(Rng& rng, unsigned exp_bits, unsigned frac_bits) {
    const u64 bias = (u64{1} << (exp_bits - 1)) - 1;
    const u64 max_exp = (u64{1} << exp_bits) - 2;
    u64 exp;
    switch (rng.Below(4)) {
        case 0: exp = 1 + rng.Below(max_exp); break;
        case 1: exp = bias + rng.Below(64); break;  // integers up to 2^63 and beyond
        default: exp = bias - 40 + rng.Below(80); break;
    }
    u64 frac = rng.Next() & ((u64{1} << frac_bits) - 1);
    if (rng.Chance(1, 4)) frac &= ~((u64{1} << (frac_bits > 20 ? frac_bits - 20 : 0)) - 1);  // short significands
    return (rng.Chance(1, 2) ? u64{1} << (exp_bits + frac_bits) : 0) | exp << frac_bits | frac;
}
}  // namespace

u32 FpValue32(Rng& rng) {
    static constexpr std::array<u32, 24> kSpecial{
        0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF,
        0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00001, 0xFF800001, 0x3F800000, 0xBF800000,
        0x4F000000, 0xCF000000, 0x5F000000, 0x3F000000, 0x3FC00000, 0x4B400001, 0x46FFFE00, 0xC7000000};
    switch (rng.Below(3)) {
        case 0: return rng.Pick(kSpecial);
        case 1: return static_cast<u32>(rng.Next());
        default: return static_cast<u32>(RandomNormal(rng, 8, 23));
    }
}

u64 FpValue64(Rng& rng) {
    static constexpr std::array<u64, 24> kSpecial{
        0, 0x8000000000000000, 1, 0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF,
        0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF4000000000001,
        0xFFF0000000000001, 0x3FF0000000000000, 0xBFF0000000000000, 0x41E0000000000000, 0xC1E0000000000000,
        0x43E0000000000000, 0xC3E0000000000000, 0x3FE0000000000000, 0x4338000000000001, 0x40DFFFC000000000,
        0xC0E0000000000000, 0x47EFFFFFE0000000, 0x3810000000000000};
    switch (rng.Below(3)) {
        case 0: return rng.Pick(kSpecial);
        case 1: return rng.Next();
        default: return RandomNormal(rng, 11, 52);
    }
}

void FpValue80(Rng& rng, u64& sig, u16& se) {
    const u16 sign = rng.Chance(1, 2) ? 0x8000 : 0;
    const u64 j = u64{1} << 63;
    switch (rng.Below(16)) {
        case 0: sig = 0; se = sign; return;                                               // +-0
        case 1: sig = rng.Next() >> 1; se = sign; return;                                 // denormal
        case 2: sig = j | (rng.Next() >> 1); se = sign; return;                           // pseudo-denormal
        case 3: sig = rng.Next() >> 1; se = static_cast<u16>(sign | (1 + rng.Below(0x7FFE))); return;  // unnormal
        case 4: sig = j; se = sign | 0x7FFF; return;                                      // +-inf
        case 5: sig = j | (u64{1} << 62) | (rng.Chance(1, 2) ? 0 : rng.Next() >> 2); se = sign | 0x7FFF; return;
        case 6: sig = j | (rng.Next() >> 2) | 1; se = sign | 0x7FFF; return;             // SNaN
        case 7: sig = rng.Chance(1, 2) ? 0 : rng.Next() >> 1; se = sign | 0x7FFF; return;  // pseudo-inf/NaN
        case 8: {  // a float or double widened: exact in the narrower formats
            const u64 d = FpValue64(rng);
            const u64 e = (d >> 52) & 0x7FF;
            if (e == 0 || e == 0x7FF) break;
            sig = j | (d & 0xFFFFFFFFFFFFF) << 11;
            se = static_cast<u16>((d >> 63 ? 0x8000 : 0) | (e - 1023 + 16383));
            return;
        }
        case 9: sig = j | (rng.Next() >> 1); se = static_cast<u16>(sign | (rng.Chance(1, 2) ? 1 : 0x7FFE)); return;
        default: break;
    }
    sig = j | (rng.Next() >> 1);
    if (rng.Chance(1, 4)) sig &= ~u64{0} << 40;  // short significands: exact in float/double, ties
    const u64 exp = rng.Chance(1, 4) ? 1 + rng.Below(0x7FFE) : 0x3FFF - 40 + rng.Below(rng.Chance(1, 2) ? 80 : 104);
    se = static_cast<u16>(sign | exp);
}

u64 IntValue(Rng& rng, unsigned bits) {
    const u64 mask = bits == 64 ? ~u64{0} : (u64{1} << bits) - 1;
    const u64 sign = u64{1} << (bits - 1);
    const std::array<u64, 10> special{0, 1, mask, sign, sign - 1, sign + 1, mask - 1, 2, 10, 0x8001};
    switch (rng.Below(3)) {
        case 0: return rng.Pick(special) & mask;
        case 1: return (rng.Chance(1, 2) ? rng.Below(1000) : -rng.Below(1000)) & mask;
        default: return rng.Next() & mask;
    }
}

void BcdValue(Rng& rng, u8* out) {
    const unsigned digits = static_cast<unsigned>(rng.Below(19)) + 1;
    std::memset(out, 0, 10);
    for (unsigned i = 0; i < digits; ++i) {
        const unsigned d = static_cast<unsigned>(rng.Chance(1, 30) ? 10 + rng.Below(6) : rng.Below(10));
        out[i / 2] = static_cast<u8>(out[i / 2] | d << (4 * (i & 1)));
    }
    out[9] = rng.Chance(1, 2) ? 0x80 : 0;
    if (rng.Chance(1, 20)) out[9] = static_cast<u8>(rng.Next());
}

void VecValue(Rng& rng, u8* out) {
    switch (rng.Below(5)) {
        case 0:
        case 1:
            for (unsigned i = 0; i < 4; ++i) {
                const u32 v = FpValue32(rng);
                std::memcpy(out + 4 * i, &v, 4);
            }
            return;
        case 2:
            for (unsigned i = 0; i < 2; ++i) {
                const u64 v = FpValue64(rng);
                std::memcpy(out + 8 * i, &v, 8);
            }
            return;
        case 3: {
            const unsigned lane = std::array<unsigned, 4>{1, 2, 4, 8}[rng.Below(4)];
            for (unsigned i = 0; i < 16 / lane; ++i) {
                const u64 v = IntValue(rng, lane == 1 ? 16 : lane * 8);
                std::memcpy(out + lane * i, &v, lane);
            }
            return;
        }
        default:
            for (unsigned i = 0; i < 2; ++i) {
                const u64 v = rng.Next();
                std::memcpy(out + 8 * i, &v, 8);
            }
            return;
    }
}

void RandomFpState(Rng& rng, std::array<u8, kFxSize>& image) {
    image.fill(0);
    // FCW: precision control 00 (single), 10 (double), 11 (extended); 01 is reserved (SDM Vol. 1 8.1.5.2).
    const u16 pc = std::array<u16, 4>{0, 2, 3, 3}[rng.Below(4)];
    const u16 fmask = rng.Chance(3, 4) ? 0x3F : static_cast<u16>(rng.Next() & 0x3F);
    const u16 fcw = static_cast<u16>(0x40 | fmask | pc << 8 | rng.Below(4) << 10);
    // FSW: exception flags (sticky) rarely set; ES and B mirror an unmasked one, as after real execution.
    u16 flags = rng.Chance(1, 4) ? static_cast<u16>(rng.Next() & 0x7F) : 0;
    if (flags & 0x40) flags |= 1;  // SF comes with IE
    const bool es = (flags & ~fmask & 0x3F) != 0;
    const u16 fsw = static_cast<u16>(flags | (es ? 0x8080 : 0) | (rng.Next() & 0x4700) | rng.Below(8) << 11);
    std::memcpy(image.data() + fx::kFcw, &fcw, 2);
    std::memcpy(image.data() + fx::kFsw, &fsw, 2);
    // Tags: each register empty with probability 1/4 (overflow/underflow), or all empty now and then.
    u8 tags = 0;
    for (unsigned i = 0; i < 8; ++i)
        if (!rng.Chance(1, 4)) tags = static_cast<u8>(tags | 1u << i);
    if (rng.Chance(1, 16)) tags = 0;
    image[fx::kFtw] = tags;
    for (unsigned i = 0; i < 8; ++i) {
        u64 sig;
        u16 se;
        FpValue80(rng, sig, se);
        std::memcpy(image.data() + fx::kSt + 16 * i, &sig, 8);
        std::memcpy(image.data() + fx::kSt + 16 * i + 8, &se, 2);
    }
    u32 mxcsr = rng.Chance(3, 4) ? 0x1F80 : static_cast<u32>((rng.Next() & 0x3F) << 7);
    mxcsr |= static_cast<u32>(rng.Below(4) << 13);           // RC
    if (rng.Chance(1, 4)) mxcsr |= 0x8000;                   // FTZ
    if (rng.Chance(1, 4)) mxcsr |= 0x40;                     // DAZ
    if (rng.Chance(1, 4)) mxcsr |= static_cast<u32>(rng.Next() & 0x3F);
    std::memcpy(image.data() + fx::kMxcsr, &mxcsr, 4);
    for (unsigned i = 0; i < 16; ++i) VecValue(rng, image.data() + fx::kXmm + 16 * i);
}

}  // namespace emu::diff::gen
