// SSE4.1 (and SSE4.2's PCMPGTQ) on XMM registers (SDM Vol. 2). The string compares are in vec_sse42.cpp.
#include <algorithm>

#include "emu/cpu/fpu/sse.h"
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

namespace sse = fpu::sse;
using M = Mnemonic;

namespace {

template <typename T, typename F>
Vec Lanes(const Vec& d, const Vec& s, F f) {
    Vec r;
    for (unsigned i = 0; i < 16 / sizeof(T); ++i) r.Set<T>(i, static_cast<T>(f(d.Get<T>(i), s.Get<T>(i))));
    return r;
}

// PMOVSX/PMOVZX: the low elements of s widened from From to To.
template <typename From, typename To>
Vec Widen(const Vec& s) {
    Vec r;
    for (unsigned i = 0; i < 16 / sizeof(To); ++i) r.Set<To>(i, static_cast<To>(s.Get<From>(i)));
    return r;
}

// Blends by a per-lane selector: lane i of s where pick(i), else of d.
template <typename T, typename P>
Vec Blend(const Vec& d, const Vec& s, P pick) {
    Vec r = d;
    for (unsigned i = 0; i < 16 / sizeof(T); ++i) {
        if (pick(i)) r.Set<T>(i, s.Get<T>(i));
    }
    return r;
}

Vec MinPos(const Vec& s) {
    unsigned best = 0;
    for (unsigned i = 1; i < 8; ++i) {
        if (s.Get<u16>(i) < s.Get<u16>(best)) best = i;
    }
    Vec r;
    r.Set<u16>(0, s.Get<u16>(best));
    r.Set<u16>(1, static_cast<u16>(best));
    return r;
}

Vec Mpsad(const Vec& d, const Vec& s, unsigned imm) {
    const unsigned doff = (imm & 4) ? 4 : 0;
    const unsigned soff = (imm & 3) * 4;
    Vec r;
    for (unsigned i = 0; i < 8; ++i) {
        unsigned sum = 0;
        for (unsigned j = 0; j < 4; ++j) {
            sum += static_cast<unsigned>(std::abs(int{d.b[doff + i + j]} - int{s.b[soff + j]}));
        }
        r.Set<u16>(i, static_cast<u16>(sum));
    }
    return r;
}

Vec IntOp(M m, const Vec& d, const Vec& s, const Vec& xmm0, unsigned imm) {
    switch (m) {
        case M::PBLENDVB: return Blend<u8>(d, s, [&](unsigned i) { return xmm0.b[i] & 0x80; });
        case M::BLENDVPS: return Blend<u32>(d, s, [&](unsigned i) { return xmm0.Get<u32>(i) >> 31; });
        case M::BLENDVPD: return Blend<u64>(d, s, [&](unsigned i) { return xmm0.Get<u64>(i) >> 63; });
        case M::BLENDPS: return Blend<u32>(d, s, [&](unsigned i) { return (imm >> i) & 1; });
        case M::BLENDPD: return Blend<u64>(d, s, [&](unsigned i) { return (imm >> i) & 1; });
        case M::PBLENDW: return Blend<u16>(d, s, [&](unsigned i) { return (imm >> i) & 1; });
        case M::PMOVSXBW: return Widen<i8, i16>(s);
        case M::PMOVSXBD: return Widen<i8, i32>(s);
        case M::PMOVSXBQ: return Widen<i8, i64>(s);
        case M::PMOVSXWD: return Widen<i16, i32>(s);
        case M::PMOVSXWQ: return Widen<i16, i64>(s);
        case M::PMOVSXDQ: return Widen<i32, i64>(s);
        case M::PMOVZXBW: return Widen<u8, u16>(s);
        case M::PMOVZXBD: return Widen<u8, u32>(s);
        case M::PMOVZXBQ: return Widen<u8, u64>(s);
        case M::PMOVZXWD: return Widen<u16, u32>(s);
        case M::PMOVZXWQ: return Widen<u16, u64>(s);
        case M::PMOVZXDQ: return Widen<u32, u64>(s);
        case M::PMULDQ: {
            Vec r;
            for (unsigned i = 0; i < 2; ++i) r.Set<i64>(i, i64{d.Get<i32>(2 * i)} * s.Get<i32>(2 * i));
            return r;
        }
        case M::PMULLD: return Lanes<u32>(d, s, [](u32 a, u32 b) { return a * b; });
        case M::PCMPEQQ: return Lanes<u64>(d, s, [](u64 a, u64 b) { return a == b ? ~u64{0} : 0; });
        case M::PCMPGTQ: return Lanes<i64>(d, s, [](i64 a, i64 b) { return a > b ? -1 : 0; });
        case M::PACKUSDW: {
            Vec r;
            for (unsigned i = 0; i < 4; ++i) {
                r.Set<u16>(i, static_cast<u16>(std::clamp<i32>(d.Get<i32>(i), 0, 0xFFFF)));
                r.Set<u16>(4 + i, static_cast<u16>(std::clamp<i32>(s.Get<i32>(i), 0, 0xFFFF)));
            }
            return r;
        }
        case M::PMINSB: return Lanes<i8>(d, s, [](i8 a, i8 b) { return std::min(a, b); });
        case M::PMINSD: return Lanes<i32>(d, s, [](i32 a, i32 b) { return std::min(a, b); });
        case M::PMINUW: return Lanes<u16>(d, s, [](u16 a, u16 b) { return std::min(a, b); });
        case M::PMINUD: return Lanes<u32>(d, s, [](u32 a, u32 b) { return std::min(a, b); });
        case M::PMAXSB: return Lanes<i8>(d, s, [](i8 a, i8 b) { return std::max(a, b); });
        case M::PMAXSD: return Lanes<i32>(d, s, [](i32 a, i32 b) { return std::max(a, b); });
        case M::PMAXUW: return Lanes<u16>(d, s, [](u16 a, u16 b) { return std::max(a, b); });
        case M::PMAXUD: return Lanes<u32>(d, s, [](u32 a, u32 b) { return std::max(a, b); });
        case M::PHMINPOSUW: return MinPos(s);
        default: return Mpsad(d, s, imm);  // MPSADBW
    }
}

}  // namespace

void Sse41Int(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    x.Store(0, IntOp(x.in.mnemonic, d, s, x.Xmm(0), x.in.imm));
}

void Ptest(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    const bool zf = !((d.Q(0) & s.Q(0)) | (d.Q(1) & s.Q(1)));
    const bool cf = !((~d.Q(0) & s.Q(0)) | (~d.Q(1) & s.Q(1)));
    x.s.rflags = (x.s.rflags & ~rflags::Arith) | (zf ? rflags::ZF : 0) | (cf ? rflags::CF : 0);
}

// PEXTRB/PEXTRD/PEXTRQ/EXTRACTPS: an element of the XMM source into a GPR (zero-extended) or memory.
void Extract(Exec& x) {
    Vec s;
    if (!x.Load(1, &s)) return;
    const unsigned elem = x.in.mnemonic == M::PEXTRB ? 1 : x.in.mnemonic == M::PEXTRQ ? 8 : 4;
    const unsigned i = x.in.imm & (16 / elem - 1);
    Vec r;
    std::memcpy(r.b, s.b + i * elem, elem);
    x.Store(0, r);
}

// PINSRB/PINSRD/PINSRQ/INSERTPS.
void Insert(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s)) return;
    const u8 imm = x.in.imm;
    if (x.in.mnemonic == M::INSERTPS) {
        const u32 v = x.IsMem(1) ? s.Get<u32>(0) : s.Get<u32>(imm >> 6);
        d.Set<u32>((imm >> 4) & 3, v);
        for (unsigned i = 0; i < 4; ++i) {
            if ((imm >> i) & 1) d.Set<u32>(i, 0);
        }
    } else {
        const unsigned elem = x.in.mnemonic == M::PINSRB ? 1 : x.in.mnemonic == M::PINSRQ ? 8 : 4;
        std::memcpy(d.b + (imm & (16 / elem - 1)) * elem, s.b, elem);
    }
    x.Store(0, d);
}

namespace {

// The functions below return the flags to report (fpu::sse::ReportedFlags applied).
template <typename T>
void RoundLanes(const Vec& s, unsigned n, u8 imm, u32 csr, Vec* r, u32* flags) {
    u32 raised = 0;
    for (unsigned i = 0; i < n; ++i) {
        const fpu::SseResult<T> v = sse::RoundToIntegral<T>(s.Get<T>(i), imm, csr);
        r->Set<T>(i, v.value);
        raised |= v.flags;
    }
    *flags = sse::ReportedFlags(raised, csr);
}

// Adds one stage's flags to those reported so far; true when the instruction goes on (nothing unmasked yet).
bool Stage(u32 raised, u32 csr, u32* flags) {
    *flags |= sse::ReportedFlags(raised, csr);
    return !(*flags & ~(csr >> fpu::mxcsr::kMaskShift) & fpu::status::kExceptions);
}

// DPPS/DPPD: products of the lanes selected by imm[7:4], summed pairwise, written to the lanes imm[3:0] selects.
// The multiplies, the pairwise adds and the final add are stages whose exceptions are determined in that order
// (SDM Vol. 2 DPPS): each completed stage's flags are reported, and an unmasked one ends the instruction, so a
// later stage's flags (say DE of a denormal product) are not. Checked against the host.
template <typename T>
void DotProduct(const Vec& d, const Vec& s, u8 imm, u32 csr, Vec* r, u32* flags) {
    constexpr unsigned n = 16 / sizeof(T);
    T prod[n] = {};
    u32 raised = 0;
    for (unsigned i = 0; i < n; ++i) {
        if ((imm >> (4 + i)) & 1) {
            const fpu::SseResult<T> p = sse::Mul<T>(d.Get<T>(i), s.Get<T>(i), csr);
            prod[i] = p.value;
            raised |= p.flags;
        }
    }
    if (!Stage(raised, csr, flags)) return;
    fpu::SseResult<T> sum = sse::Add<T>(prod[0], prod[1], csr);
    if constexpr (n == 4) {
        const fpu::SseResult<T> hi = sse::Add<T>(prod[2], prod[3], csr);
        if (!Stage(sum.flags | hi.flags, csr, flags)) return;
        sum = sse::Add<T>(sum.value, hi.value, csr);
    }
    if (!Stage(sum.flags, csr, flags)) return;
    *r = Vec{};
    for (unsigned i = 0; i < n; ++i) {
        if ((imm >> i) & 1) r->Set<T>(i, sum.value);
    }
}

}  // namespace

void Sse41Float(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    const u32 csr = x.s.mxcsr;
    const u8 imm = x.in.imm;
    Vec r = d;
    u32 flags = 0;
    switch (x.in.mnemonic) {
        case M::ROUNDPS: RoundLanes<u32>(s, 4, imm, csr, &r, &flags); break;
        case M::ROUNDPD: RoundLanes<u64>(s, 2, imm, csr, &r, &flags); break;
        case M::ROUNDSS: RoundLanes<u32>(s, 1, imm, csr, &r, &flags); break;
        case M::ROUNDSD: RoundLanes<u64>(s, 1, imm, csr, &r, &flags); break;
        case M::DPPS: DotProduct<u32>(d, s, imm, csr, &r, &flags); break;
        default: DotProduct<u64>(d, s, imm, csr, &r, &flags); break;  // DPPD
    }
    if (!x.SseFlags(flags)) return;
    x.Store(0, r);
}

}  // namespace emu::cpu::simd
