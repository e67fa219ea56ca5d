// Integer SIMD on MMX (8 bytes) and XMM (16 bytes) registers: MMX, the SSE/SSE2 integer additions, the bitwise
// float logic, shifts and SSSE3 (SDM Vol. 2). Every op is a pure function of (dst, src, width, imm).
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

namespace {

template <typename T>
T Sat(i64 v) {
    constexpr i64 lo = static_cast<i64>(std::numeric_limits<T>::min());
    constexpr i64 hi = static_cast<i64>(std::numeric_limits<T>::max());
    return static_cast<T>(std::clamp(v, lo, hi));
}

// r[i] = f(d[i], s[i]) over lanes of T.
template <typename T, typename F>
Vec Map(const Vec& d, const Vec& s, unsigned w, F f) {
    Vec r;
    for (unsigned i = 0; i < w / sizeof(T); ++i) r.Set<T>(i, static_cast<T>(f(d.Get<T>(i), s.Get<T>(i))));
    return r;
}

template <typename T>
Vec AddSat(const Vec& d, const Vec& s, unsigned w, bool sub) {
    return Map<T>(d, s, w, [sub](T a, T b) { return Sat<T>(sub ? i64{a} - i64{b} : i64{a} + i64{b}); });
}

template <typename T>
Vec CmpEq(const Vec& d, const Vec& s, unsigned w) {
    return Map<T>(d, s, w, [](T a, T b) { return a == b ? static_cast<T>(~T{0}) : T{0}; });
}
template <typename T>
Vec CmpGt(const Vec& d, const Vec& s, unsigned w) {
    return Map<T>(d, s, w, [](T a, T b) { return a > b ? static_cast<T>(-1) : T{0}; });
}

// Narrowing packs: d's elements then s's, saturated to Out.
template <typename In, typename Out>
Vec Pack(const Vec& d, const Vec& s, unsigned w) {
    Vec r;
    const unsigned n = w / sizeof(In);
    for (unsigned i = 0; i < n; ++i) {
        r.Set<Out>(i, Sat<Out>(d.Get<In>(i)));
        r.Set<Out>(n + i, Sat<Out>(s.Get<In>(i)));
    }
    return r;
}

// Horizontal pairs: d's adjacent pairs, then s's.
template <typename T, typename F>
Vec Horizontal(const Vec& d, const Vec& s, unsigned w, F f) {
    Vec r;
    const unsigned half = w / sizeof(T) / 2;
    for (unsigned i = 0; i < half; ++i) {
        r.Set<T>(i, static_cast<T>(f(d.Get<T>(2 * i), d.Get<T>(2 * i + 1))));
        r.Set<T>(half + i, static_cast<T>(f(s.Get<T>(2 * i), s.Get<T>(2 * i + 1))));
    }
    return r;
}

template <typename T>
Vec Sign(const Vec& d, const Vec& s, unsigned w) {
    // Negated as unsigned: PSIGND of INT32_MIN gives INT32_MIN (two's complement wrap), and -a would overflow an int.
    using U = std::make_unsigned_t<T>;
    return Map<T>(d, s, w, [](T a, T b) {
        return b < 0 ? static_cast<T>(U(0) - static_cast<U>(a)) : b == 0 ? T{0} : a;
    });
}
template <typename T>
Vec Abs(const Vec& s, unsigned w) {
    return Map<T>(s, s, w, [](T, T b) { return static_cast<T>(b < 0 ? -static_cast<i64>(b) : b); });
}

Vec Madd(const Vec& d, const Vec& s, unsigned w) {
    Vec r;
    for (unsigned i = 0; i < w / 4; ++i) {
        const i64 v = i64{d.Get<i16>(2 * i)} * s.Get<i16>(2 * i) + i64{d.Get<i16>(2 * i + 1)} * s.Get<i16>(2 * i + 1);
        r.Set<u32>(i, static_cast<u32>(v));
    }
    return r;
}

Vec MaddUbs(const Vec& d, const Vec& s, unsigned w) {
    Vec r;
    for (unsigned i = 0; i < w / 2; ++i) {
        const i64 v = i64{d.Get<u8>(2 * i)} * s.Get<i8>(2 * i) + i64{d.Get<u8>(2 * i + 1)} * s.Get<i8>(2 * i + 1);
        r.Set<i16>(i, Sat<i16>(v));
    }
    return r;
}

Vec Sad(const Vec& d, const Vec& s, unsigned w) {
    Vec r;
    for (unsigned g = 0; g < w / 8; ++g) {
        u64 sum = 0;
        for (unsigned i = 0; i < 8; ++i) sum += static_cast<u64>(std::abs(int{d.b[8 * g + i]} - int{s.b[8 * g + i]}));
        r.Set<u64>(g, sum);
    }
    return r;
}

Vec MulUdq(const Vec& d, const Vec& s, unsigned w) {
    Vec r;
    for (unsigned i = 0; i < w / 8; ++i) r.Set<u64>(i, u64{d.Get<u32>(2 * i)} * s.Get<u32>(2 * i));
    return r;
}

Vec ShuffleBytes(const Vec& d, const Vec& s, unsigned w) {
    Vec r;
    for (unsigned i = 0; i < w; ++i) r.b[i] = (s.b[i] & 0x80) ? 0 : d.b[s.b[i] & (w - 1)];
    return r;
}

// PALIGNR: the concatenation d:s shifted right by imm bytes.
Vec Align(const Vec& d, const Vec& s, unsigned w, unsigned imm) {
    u8 cat[32] = {};
    std::memcpy(cat, s.b, w);
    std::memcpy(cat + w, d.b, w);
    Vec r;
    for (unsigned i = 0; i < w; ++i) r.b[i] = imm + i < 2 * w ? cat[imm + i] : 0;
    return r;
}

Vec Compute(Mnemonic m, const Vec& d, const Vec& s, unsigned w, unsigned imm) {
    using M = Mnemonic;
    switch (m) {
        case M::PADDB: return Map<u8>(d, s, w, [](u8 a, u8 b) { return a + b; });
        case M::PADDW: return Map<u16>(d, s, w, [](u16 a, u16 b) { return a + b; });
        case M::PADDD: return Map<u32>(d, s, w, [](u32 a, u32 b) { return a + b; });
        case M::PADDQ: return Map<u64>(d, s, w, [](u64 a, u64 b) { return a + b; });
        case M::PSUBB: return Map<u8>(d, s, w, [](u8 a, u8 b) { return a - b; });
        case M::PSUBW: return Map<u16>(d, s, w, [](u16 a, u16 b) { return a - b; });
        case M::PSUBD: return Map<u32>(d, s, w, [](u32 a, u32 b) { return a - b; });
        case M::PSUBQ: return Map<u64>(d, s, w, [](u64 a, u64 b) { return a - b; });
        case M::PADDSB: return AddSat<i8>(d, s, w, false);
        case M::PADDSW: return AddSat<i16>(d, s, w, false);
        case M::PADDUSB: return AddSat<u8>(d, s, w, false);
        case M::PADDUSW: return AddSat<u16>(d, s, w, false);
        case M::PSUBSB: return AddSat<i8>(d, s, w, true);
        case M::PSUBSW: return AddSat<i16>(d, s, w, true);
        case M::PSUBUSB: return AddSat<u8>(d, s, w, true);
        case M::PSUBUSW: return AddSat<u16>(d, s, w, true);
        case M::PAND: case M::ANDPS: case M::ANDPD: return Map<u64>(d, s, w, [](u64 a, u64 b) { return a & b; });
        case M::PANDN: case M::ANDNPS: case M::ANDNPD: return Map<u64>(d, s, w, [](u64 a, u64 b) { return ~a & b; });
        case M::POR: case M::ORPS: case M::ORPD: return Map<u64>(d, s, w, [](u64 a, u64 b) { return a | b; });
        case M::PXOR: case M::XORPS: case M::XORPD: return Map<u64>(d, s, w, [](u64 a, u64 b) { return a ^ b; });
        case M::PCMPEQB: return CmpEq<u8>(d, s, w);
        case M::PCMPEQW: return CmpEq<u16>(d, s, w);
        case M::PCMPEQD: return CmpEq<u32>(d, s, w);
        case M::PCMPGTB: return CmpGt<i8>(d, s, w);
        case M::PCMPGTW: return CmpGt<i16>(d, s, w);
        case M::PCMPGTD: return CmpGt<i32>(d, s, w);
        case M::PMULLW: return Map<i16>(d, s, w, [](i16 a, i16 b) { return i32{a} * b; });
        case M::PMULHW: return Map<i16>(d, s, w, [](i16 a, i16 b) { return (i32{a} * b) >> 16; });
        case M::PMULHUW: return Map<u16>(d, s, w, [](u16 a, u16 b) { return (u32{a} * b) >> 16; });
        case M::PMULHRSW:
            return Map<i16>(d, s, w, [](i16 a, i16 b) { return (((i32{a} * b) >> 14) + 1) >> 1; });
        case M::PMULUDQ: return MulUdq(d, s, w);
        case M::PMADDWD: return Madd(d, s, w);
        case M::PMADDUBSW: return MaddUbs(d, s, w);
        case M::PAVGB: return Map<u8>(d, s, w, [](u8 a, u8 b) { return (unsigned{a} + b + 1) >> 1; });
        case M::PAVGW: return Map<u16>(d, s, w, [](u16 a, u16 b) { return (unsigned{a} + b + 1) >> 1; });
        case M::PMAXSW: return Map<i16>(d, s, w, [](i16 a, i16 b) { return std::max(a, b); });
        case M::PMINSW: return Map<i16>(d, s, w, [](i16 a, i16 b) { return std::min(a, b); });
        case M::PMAXUB: return Map<u8>(d, s, w, [](u8 a, u8 b) { return std::max(a, b); });
        case M::PMINUB: return Map<u8>(d, s, w, [](u8 a, u8 b) { return std::min(a, b); });
        case M::PSADBW: return Sad(d, s, w);
        case M::PACKSSWB: return Pack<i16, i8>(d, s, w);
        case M::PACKSSDW: return Pack<i32, i16>(d, s, w);
        case M::PACKUSWB: return Pack<i16, u8>(d, s, w);
        case M::PSHUFB: return ShuffleBytes(d, s, w);
        case M::PHADDW: return Horizontal<u16>(d, s, w, [](u16 a, u16 b) { return a + b; });
        case M::PHADDD: return Horizontal<u32>(d, s, w, [](u32 a, u32 b) { return a + b; });
        case M::PHADDSW: return Horizontal<i16>(d, s, w, [](i16 a, i16 b) { return Sat<i16>(i64{a} + b); });
        case M::PHSUBW: return Horizontal<u16>(d, s, w, [](u16 a, u16 b) { return a - b; });
        case M::PHSUBD: return Horizontal<u32>(d, s, w, [](u32 a, u32 b) { return a - b; });
        case M::PHSUBSW: return Horizontal<i16>(d, s, w, [](i16 a, i16 b) { return Sat<i16>(i64{a} - b); });
        case M::PSIGNB: return Sign<i8>(d, s, w);
        case M::PSIGNW: return Sign<i16>(d, s, w);
        case M::PSIGND: return Sign<i32>(d, s, w);
        case M::PABSB: return Abs<i8>(s, w);
        case M::PABSW: return Abs<i16>(s, w);
        case M::PABSD: return Abs<i32>(s, w);
        default: return Align(d, s, w, imm);  // PALIGNR
    }
}

template <typename T>
Vec ShiftLanes(const Vec& d, unsigned w, u64 count, int kind) {
    Vec r;
    constexpr unsigned bits = 8 * sizeof(T);
    for (unsigned i = 0; i < w / sizeof(T); ++i) {
        const T v = d.Get<T>(i);
        T out = 0;
        if (kind == 0) out = count >= bits ? T{0} : static_cast<T>(v << count);
        else if (kind == 1) out = count >= bits ? T{0} : static_cast<T>(v >> count);
        else out = static_cast<T>(static_cast<std::make_signed_t<T>>(v) >> std::min<u64>(count, bits - 1));
        r.Set<T>(i, out);
    }
    return r;
}

}  // namespace

void IntBinary(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    x.Store(0, Compute(x.in.mnemonic, d, s, x.width(), x.in.imm));
}

// PSLL/PSRL/PSRA with an immediate count or a count in the low 64 bits of the source; PSLLDQ/PSRLDQ by bytes.
void Shift(Exec& x) {
    Vec d;
    if (!x.Load(0, &d)) return;
    u64 count = x.in.imm;
    if (x.op(1).type != OperandType::None) {
        Vec s;
        if (!x.Load(1, &s, x.AlignOf(1))) return;
        count = s.Q(0);
    }
    const unsigned w = x.width();
    using M = Mnemonic;
    Vec r;
    switch (x.in.mnemonic) {
        case M::PSLLW: r = ShiftLanes<u16>(d, w, count, 0); break;
        case M::PSLLD: r = ShiftLanes<u32>(d, w, count, 0); break;
        case M::PSLLQ: r = ShiftLanes<u64>(d, w, count, 0); break;
        case M::PSRLW: r = ShiftLanes<u16>(d, w, count, 1); break;
        case M::PSRLD: r = ShiftLanes<u32>(d, w, count, 1); break;
        case M::PSRLQ: r = ShiftLanes<u64>(d, w, count, 1); break;
        case M::PSRAW: r = ShiftLanes<u16>(d, w, count, 2); break;
        case M::PSRAD: r = ShiftLanes<u32>(d, w, count, 2); break;
        case M::PSLLDQ:
            for (unsigned i = 0; i < 16; ++i) r.b[i] = i >= count ? d.b[i - count] : 0;
            break;
        default:  // PSRLDQ
            for (unsigned i = 0; i < 16; ++i) r.b[i] = i + count < 16 ? d.b[i + count] : 0;
            break;
    }
    x.Store(0, r);
}

}  // namespace emu::cpu::simd
