// SSE/SSE2/SSE3 floating point: arithmetic, compares, COMIS/UCOMIS, conversions (emu/cpu/fpu/sse.h does the
// arithmetic) and RCP/RSQRT (SDM Vol. 2). Exceptions: lanes' flags are ORed, filtered by
// fpu::sse::ReportedFlags, and an unmasked one raises #XM/#UD with no destination written.
#include <immintrin.h>

#include "emu/cpu/fpu/sse.h"
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

namespace sse = fpu::sse;
using M = Mnemonic;

namespace {

enum class FOp : u8 { Add, Sub, Mul, Div, Min, Max, Sqrt, Cmp, AddSub, HAdd, HSub };

struct FloatSpec {
    FOp op;
    bool dbl;
    bool scalar;
};

FloatSpec FloatOf(M m) {
    switch (m) {
        case M::ADDPS: return {FOp::Add, false, false};
        case M::ADDSS: return {FOp::Add, false, true};
        case M::ADDPD: return {FOp::Add, true, false};
        case M::ADDSD: return {FOp::Add, true, true};
        case M::SUBPS: return {FOp::Sub, false, false};
        case M::SUBSS: return {FOp::Sub, false, true};
        case M::SUBPD: return {FOp::Sub, true, false};
        case M::SUBSD: return {FOp::Sub, true, true};
        case M::MULPS: return {FOp::Mul, false, false};
        case M::MULSS: return {FOp::Mul, false, true};
        case M::MULPD: return {FOp::Mul, true, false};
        case M::MULSD: return {FOp::Mul, true, true};
        case M::DIVPS: return {FOp::Div, false, false};
        case M::DIVSS: return {FOp::Div, false, true};
        case M::DIVPD: return {FOp::Div, true, false};
        case M::DIVSD: return {FOp::Div, true, true};
        case M::MINPS: return {FOp::Min, false, false};
        case M::MINSS: return {FOp::Min, false, true};
        case M::MINPD: return {FOp::Min, true, false};
        case M::MINSD: return {FOp::Min, true, true};
        case M::MAXPS: return {FOp::Max, false, false};
        case M::MAXSS: return {FOp::Max, false, true};
        case M::MAXPD: return {FOp::Max, true, false};
        case M::MAXSD: return {FOp::Max, true, true};
        case M::SQRTPS: return {FOp::Sqrt, false, false};
        case M::SQRTSS: return {FOp::Sqrt, false, true};
        case M::SQRTPD: return {FOp::Sqrt, true, false};
        case M::SQRTSD: return {FOp::Sqrt, true, true};
        case M::CMPPS: return {FOp::Cmp, false, false};
        case M::CMPSS: return {FOp::Cmp, false, true};
        case M::CMPPD: return {FOp::Cmp, true, false};
        case M::CMPSD: return {FOp::Cmp, true, true};
        case M::ADDSUBPS: return {FOp::AddSub, false, false};
        case M::ADDSUBPD: return {FOp::AddSub, true, false};
        case M::HADDPS: return {FOp::HAdd, false, false};
        case M::HADDPD: return {FOp::HAdd, true, false};
        case M::HSUBPS: return {FOp::HSub, false, false};
        default: return {FOp::HSub, true, false};
    }
}

template <typename T>
fpu::SseResult<T> Lane(FOp op, T a, T b, unsigned imm, u32 csr) {
    switch (op) {
        case FOp::Add: return sse::Add<T>(a, b, csr);
        case FOp::Sub: return sse::Sub<T>(a, b, csr);
        case FOp::Mul: return sse::Mul<T>(a, b, csr);
        case FOp::Div: return sse::Div<T>(a, b, csr);
        case FOp::Min: return sse::Min<T>(a, b, csr);
        case FOp::Max: return sse::Max<T>(a, b, csr);
        case FOp::Sqrt: return sse::Sqrt<T>(b, csr);
        default: return sse::Compare<T>(a, b, imm & 7, csr);
    }
}

template <typename T>
bool Arith(const FloatSpec& spec, const Vec& d, const Vec& s, unsigned imm, u32 csr, Vec* r, u32* flags) {
    constexpr unsigned n = 16 / sizeof(T);
    *r = d;
    const auto put = [&](unsigned i, fpu::SseResult<T> v) {
        r->Set<T>(i, v.value);
        *flags |= v.flags;
    };
    switch (spec.op) {
        case FOp::AddSub:
            for (unsigned i = 0; i < n; ++i) {
                const T a = d.Get<T>(i);
                const T b = s.Get<T>(i);
                put(i, (i & 1) ? sse::Add<T>(a, b, csr) : sse::Sub<T>(a, b, csr));
            }
            return true;
        case FOp::HAdd:
        case FOp::HSub: {
            const bool add = spec.op == FOp::HAdd;
            for (unsigned i = 0; i < n / 2; ++i) {
                const auto h = [&](const Vec& v) {
                    return add ? sse::Add<T>(v.Get<T>(2 * i), v.Get<T>(2 * i + 1), csr)
                               : sse::Sub<T>(v.Get<T>(2 * i), v.Get<T>(2 * i + 1), csr);
                };
                put(i, h(d));
                put(n / 2 + i, h(s));
            }
            return true;
        }
        default:
            for (unsigned i = 0; i < (spec.scalar ? 1 : n); ++i) {
                put(i, Lane<T>(spec.op, d.Get<T>(i), s.Get<T>(i), imm, csr));
            }
            return true;
    }
}

}  // namespace

void FloatArith(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    const FloatSpec spec = FloatOf(x.in.mnemonic);
    Vec r;
    u32 flags = 0;
    if (spec.dbl) Arith<u64>(spec, d, s, x.in.imm, x.s.mxcsr, &r, &flags);
    else Arith<u32>(spec, d, s, x.in.imm, x.s.mxcsr, &r, &flags);
    if (!x.SseFlags(sse::ReportedFlags(flags, x.s.mxcsr))) return;
    x.Store(0, r);
}

// RCPPS/RCPSS/RSQRTPS/RSQRTSS: 12-bit approximations whose exact bits are implementation-specific; the host's
// instructions give the host's table (MXCSR.DAZ applied here: the host runs with DAZ clear).
void Approx(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    const bool rsqrt = x.in.mnemonic == M::RSQRTPS || x.in.mnemonic == M::RSQRTSS;
    const bool scalar = x.in.mnemonic == M::RCPSS || x.in.mnemonic == M::RSQRTSS;
    if (x.s.mxcsr & fpu::mxcsr::DAZ) {
        for (unsigned i = 0; i < 4; ++i) {
            const u32 v = s.Get<u32>(i);
            if ((v & 0x7F800000) == 0) s.Set<u32>(i, v & 0x80000000);
        }
    }
    __m128 in;
    std::memcpy(&in, s.b, 16);
    const __m128 out = rsqrt ? _mm_rsqrt_ps(in) : _mm_rcp_ps(in);
    Vec r = d;
    std::memcpy(r.b, &out, scalar ? 4 : 16);
    x.Store(0, r);
}

void Comis(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s)) return;
    const bool quiet = x.in.mnemonic == M::UCOMISS || x.in.mnemonic == M::UCOMISD;
    const bool dbl = x.in.mnemonic == M::COMISD || x.in.mnemonic == M::UCOMISD;
    const fpu::SseResult<u32> r = dbl ? sse::CompareFlags<u64>(d.Q(0), s.Q(0), quiet, x.s.mxcsr)
                                      : sse::CompareFlags<u32>(d.Get<u32>(0), s.Get<u32>(0), quiet, x.s.mxcsr);
    if (!x.SseFlags(sse::ReportedFlags(r.flags, x.s.mxcsr))) return;
    x.s.rflags = (x.s.rflags & ~rflags::Arith) | (r.value & (rflags::ZF | rflags::PF | rflags::CF));
}

namespace {

// Float-to-integer lanes: `n` lanes of T from s into 32-bit integers at r.
template <typename T>
void ToInts(const Vec& s, unsigned n, bool truncate, u32 csr, Vec* r, u32* flags) {
    for (unsigned i = 0; i < n; ++i) {
        const fpu::SseResult<i64> v = sse::ToInt<T>(s.Get<T>(i), 32, truncate, csr);
        r->Set<u32>(i, static_cast<u32>(v.value));
        *flags |= v.flags;
    }
}
template <typename T>
void FromInts(const Vec& s, unsigned n, u32 csr, Vec* r, u32* flags) {
    for (unsigned i = 0; i < n; ++i) {
        const fpu::SseResult<T> v = sse::FromInt<T>(s.Get<i32>(i), csr);
        r->Set<T>(i, v.value);
        *flags |= v.flags;
    }
}

bool IsTruncating(M m) {
    return m == M::CVTTSS2SI || m == M::CVTTSD2SI || m == M::CVTTPS2DQ || m == M::CVTTPD2DQ ||
           m == M::CVTTPS2PI || m == M::CVTTPD2PI;
}

// Computes the conversion into r (starting from the destination's old value).
void ConvertInto(Exec& x, const Vec& s, Vec* r, u32* flags) {
    const u32 csr = x.s.mxcsr;
    const bool t = IsTruncating(x.in.mnemonic);
    switch (x.in.mnemonic) {
        case M::CVTSI2SS:
        case M::CVTSI2SD: {
            const i64 v = x.op(1).size == 8 ? s.Get<i64>(0) : s.Get<i32>(0);
            if (x.in.mnemonic == M::CVTSI2SS) {
                const auto c = sse::FromInt<u32>(v, csr);
                r->Set<u32>(0, c.value), *flags |= c.flags;
            } else {
                const auto c = sse::FromInt<u64>(v, csr);
                r->Set<u64>(0, c.value), *flags |= c.flags;
            }
            return;
        }
        case M::CVTSS2SI: case M::CVTTSS2SI: case M::CVTSD2SI: case M::CVTTSD2SI: {
            const bool dbl = x.in.mnemonic == M::CVTSD2SI || x.in.mnemonic == M::CVTTSD2SI;
            const unsigned bits = x.op(0).size * 8;
            const auto c = dbl ? sse::ToInt<u64>(s.Q(0), bits, t, csr) : sse::ToInt<u32>(s.Get<u32>(0), bits, t, csr);
            *r = Vec{};
            r->Set<u64>(0, static_cast<u64>(c.value)), *flags |= c.flags;
            return;
        }
        case M::CVTSS2SD: {
            const auto c = sse::Float32ToFloat64(s.Get<u32>(0), csr);
            r->Set<u64>(0, c.value), *flags |= c.flags;
            return;
        }
        case M::CVTSD2SS: {
            const auto c = sse::Float64ToFloat32(s.Q(0), csr);
            r->Set<u32>(0, c.value), *flags |= c.flags;
            return;
        }
        case M::CVTPS2PD:
            for (unsigned i = 0; i < 2; ++i) {
                const auto c = sse::Float32ToFloat64(s.Get<u32>(i), csr);
                r->Set<u64>(i, c.value), *flags |= c.flags;
            }
            return;
        case M::CVTPD2PS:
            *r = Vec{};
            for (unsigned i = 0; i < 2; ++i) {
                const auto c = sse::Float64ToFloat32(s.Q(i), csr);
                r->Set<u32>(i, c.value), *flags |= c.flags;
            }
            return;
        case M::CVTDQ2PS: return FromInts<u32>(s, 4, csr, r, flags);
        case M::CVTPI2PS: return FromInts<u32>(s, 2, csr, r, flags);
        case M::CVTDQ2PD: case M::CVTPI2PD: return FromInts<u64>(s, 2, csr, r, flags);
        case M::CVTPS2DQ: case M::CVTTPS2DQ: return ToInts<u32>(s, 4, t, csr, r, flags);
        case M::CVTPS2PI: case M::CVTTPS2PI: return ToInts<u32>(s, 2, t, csr, r, flags);
        case M::CVTPD2DQ: case M::CVTTPD2DQ:
            *r = Vec{};
            return ToInts<u64>(s, 2, t, csr, r, flags);
        default:  // CVTPD2PI, CVTTPD2PI
            return ToInts<u64>(s, 2, t, csr, r, flags);
    }
}

}  // namespace

void Convert(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    Vec r = d;
    u32 flags = 0;
    ConvertInto(x, s, &r, &flags);
    if (!x.SseFlags(sse::ReportedFlags(flags, x.s.mxcsr))) return;
    x.Store(0, r);
}

}  // namespace emu::cpu::simd
