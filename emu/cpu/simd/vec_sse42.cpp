// SSE4.2 packed string compares PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM (SDM Vol. 2 4.1 "Imm8 Control Byte
// Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM"). Operand 0 (XMM register) is src1, operand 1
// (XMM or unaligned m128) is src2; i indexes src1, j indexes src2.
#include <bit>

#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

using M = Mnemonic;

namespace {

enum class Aggregation : u8 { EqualAny, Ranges, EqualEach, EqualOrdered };

struct StrFormat {
    unsigned n;  // elements: 16 bytes or 8 words
    bool is_signed;
};

i32 Element(const Vec& v, unsigned i, const StrFormat& f) {
    if (f.n == 16) return f.is_signed ? i32{v.Get<i8>(i)} : i32{v.Get<u8>(i)};
    return f.is_signed ? i32{v.Get<i16>(i)} : i32{v.Get<u16>(i)};
}

// Explicit length (EAX/EDX, RAX/RDX with REX.W): its absolute value, saturated to n.
unsigned ExplicitLength(u64 reg, unsigned op_size, unsigned n) {
    const i64 v = op_size == 8 ? static_cast<i64>(reg) : i64{static_cast<i32>(reg)};
    const u64 magnitude = v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v);
    return magnitude < n ? static_cast<unsigned>(magnitude) : n;
}

// Implicit length: the index of the first zero element, or n.
unsigned ImplicitLength(const Vec& v, const StrFormat& f) {
    for (unsigned i = 0; i < f.n; ++i) {
        if (Element(v, i, f) == 0) return i;
    }
    return f.n;
}

// BoolRes[i][j] with the overrides for invalid elements (the SDM's table "Comparison Result for Each Element Pair").
bool Compare(Aggregation agg, const Vec& a, unsigned i, unsigned len1, const Vec& b, unsigned j, unsigned len2,
             const StrFormat& f) {
    const bool valid1 = i < len1, valid2 = j < len2;
    if (!valid1 || !valid2) {
        if (agg == Aggregation::EqualOrdered) return !valid1;
        return agg == Aggregation::EqualEach && !valid1 && !valid2;
    }
    const i32 x = Element(a, i, f), y = Element(b, j, f);
    if (agg != Aggregation::Ranges) return x == y;
    return (i & 1) ? y <= x : y >= x;  // even i: lower bound, odd i: upper bound
}

u32 Aggregate(Aggregation agg, const Vec& a, unsigned len1, const Vec& b, unsigned len2, const StrFormat& f) {
    const unsigned n = f.n;
    u32 res = 0;
    for (unsigned j = 0; j < n; ++j) {
        bool bit = false;
        switch (agg) {
            case Aggregation::EqualAny:
                for (unsigned i = 0; i < n && !bit; ++i) bit = Compare(agg, a, i, len1, b, j, len2, f);
                break;
            case Aggregation::Ranges:
                for (unsigned i = 0; i + 1 < n && !bit; i += 2) {
                    bit = Compare(agg, a, i, len1, b, j, len2, f) && Compare(agg, a, i + 1, len1, b, j, len2, f);
                }
                break;
            case Aggregation::EqualEach: bit = Compare(agg, a, j, len1, b, j, len2, f); break;
            case Aggregation::EqualOrdered:
                bit = true;
                for (unsigned i = 0; i + j < n && bit; ++i) bit = Compare(agg, a, i, len1, b, i + j, len2, f);
                break;
        }
        if (bit) res |= 1u << j;
    }
    return res;
}

// IntRes2 from IntRes1 by imm8[5:4]: 01 negates every bit, 11 only those of valid src2 elements.
u32 Polarity(u32 res, unsigned imm, unsigned len2, unsigned n) {
    const u32 all = (1u << n) - 1;
    switch ((imm >> 4) & 3) {
        case 1: return ~res & all;
        case 3: return res ^ ((1u << len2) - 1);
        default: return res;
    }
}

Vec MaskOf(u32 res, unsigned imm, const StrFormat& f) {
    Vec r;
    if (!(imm & 0x40)) {
        r.Set<u16>(0, static_cast<u16>(res));
        return r;
    }
    for (unsigned i = 0; i < f.n; ++i) {
        if (!((res >> i) & 1)) continue;
        if (f.n == 16) r.Set<u8>(i, 0xFF);
        else r.Set<u16>(i, 0xFFFF);
    }
    return r;
}

}  // namespace

void PcmpStr(Exec& x) {
    Vec a;
    Vec b;
    if (!x.Load(0, &a) || !x.Load(1, &b)) return;
    const unsigned imm = x.in.imm;
    const StrFormat f{(imm & 1) ? 8u : 16u, (imm & 2) != 0};
    const M m = x.in.mnemonic;
    const bool explicit_len = m == M::PCMPESTRI || m == M::PCMPESTRM;
    const unsigned len1 = explicit_len ? ExplicitLength(x.Gpr(0), x.in.op_size, f.n) : ImplicitLength(a, f);
    const unsigned len2 = explicit_len ? ExplicitLength(x.Gpr(2), x.in.op_size, f.n) : ImplicitLength(b, f);
    const u32 res = Polarity(Aggregate(static_cast<Aggregation>((imm >> 2) & 3), a, len1, b, len2, f), imm, len2, f.n);
    if (m == M::PCMPESTRI || m == M::PCMPISTRI) {
        const unsigned index = res == 0 ? f.n : (imm & 0x40) ? 31 - std::countl_zero(res) : std::countr_zero(res);
        x.s.gpr[1] = index;  // ECX, zero-extended into RCX
    } else {
        x.SetXmm(0, MaskOf(res, imm, f));
    }
    // CF: a match; ZF/SF: src2/src1 ends inside the vector; OF: IntRes2[0]; AF = PF = 0.
    const u64 fl = (res ? rflags::CF : 0) | (len2 < f.n ? rflags::ZF : 0) | (len1 < f.n ? rflags::SF : 0) |
             ((res & 1) ? rflags::OF : 0);
    x.s.rflags = (x.s.rflags & ~rflags::Arith) | fl;
}

}  // namespace emu::cpu::simd
