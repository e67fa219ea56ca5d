// Data movement on MMX/XMM registers: MOVD/MOVQ, full-width and scalar moves, half moves, MOVMSK*, MASKMOV*,
// SSE3 duplicates, shuffles, unpacks, PEXTRW/PINSRW (SDM Vol. 2).
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

namespace {
bool Is(const Exec& x, Mnemonic m) { return x.in.mnemonic == m; }
}  // namespace

// MOVD/MOVQ between GPR/memory and MMX/XMM, MMX-to-MMX MOVQ, the XMM MOVQ forms (which zero bits 127:64 of an
// XMM destination) and MOVQ2DQ/MOVDQ2Q.
void Movd(Exec& x) {
    Vec src;
    if (!x.Load(1, &src)) return;
    Vec r;
    std::memcpy(r.b, src.b, 4);
    x.Store(0, r);
}

void Movq(Exec& x) {
    Vec src;
    if (!x.Load(1, &src)) return;
    Vec r;
    r.Set<u64>(0, src.Q(0));
    x.Store(0, r);
}

void Movfull(Exec& x) {
    Vec v;
    if (!x.Load(1, &v, x.AlignOf(1))) return;
    x.Store(0, v, x.AlignOf(0));
}

// MOVSS/MOVSD: register to register merges the low element; a load zeroes the rest; a store writes the element.
void Movscalar(Exec& x) {
    const unsigned n = Is(x, Mnemonic::MOVSS) ? 4 : 8;
    Vec src;
    if (!x.Load(1, &src)) return;
    if (x.IsMem(0)) {
        x.Store(0, src);
        return;
    }
    Vec d = x.IsMem(1) ? Vec{} : x.Xmm(x.op(0).reg);
    std::memcpy(d.b, src.b, n);
    x.SetXmm(x.op(0).reg, d);
}

void Movhalf(Exec& x) {
    const bool high_form = Is(x, Mnemonic::MOVHPS) || Is(x, Mnemonic::MOVHPD);
    const bool high_dst = (high_form && !x.IsMem(0)) || Is(x, Mnemonic::MOVLHPS);
    const bool high_src = (high_form && x.IsMem(0)) || Is(x, Mnemonic::MOVHLPS);
    Vec src;
    if (!x.Load(1, &src)) return;
    const u64 v = src.Q(high_src ? 1 : 0);
    if (x.IsMem(0)) {
        Vec out;
        out.Set<u64>(0, v);
        x.Store(0, out);
        return;
    }
    Vec d = x.Xmm(x.op(0).reg);
    d.Set<u64>(high_dst ? 1 : 0, v);
    x.SetXmm(x.op(0).reg, d);
}

void Movmsk(Exec& x) {
    Vec src;
    if (!x.Load(1, &src)) return;
    const unsigned elem = Is(x, Mnemonic::MOVMSKPS) ? 4 : Is(x, Mnemonic::MOVMSKPD) ? 8 : 1;
    const unsigned n = (Is(x, Mnemonic::PMOVMSKB) ? x.width() : 16) / elem;
    u64 mask = 0;
    for (unsigned i = 0; i < n; ++i) mask |= u64{static_cast<u8>(src.b[i * elem + elem - 1] >> 7)} << i;
    Vec r;
    r.Set<u64>(0, mask);
    x.Store(0, r);
}

// MASKMOVQ/MASKMOVDQU: bytes of the first operand whose mask byte has bit 7 set go to DS:[rDI]. The whole range
// is read first so a fault leaves memory unchanged.
void Maskmov(Exec& x) {
    Vec data;
    Vec mask;
    if (!x.Load(0, &data) || !x.Load(1, &mask)) return;
    const unsigned n = x.width();
    bool any = false;
    for (unsigned i = 0; i < n; ++i) any = any || (mask.b[i] & 0x80);
    if (!any) return;
    u8 mem[16];
    if (!x.LoadMem(0, mem, n)) return;
    for (unsigned i = 0; i < n; ++i) {
        if (mask.b[i] & 0x80) mem[i] = data.b[i];
    }
    x.StoreMem(0, mem, n);
}

void Movdup(Exec& x) {
    Vec s;
    if (!x.Load(1, &s, x.AlignOf(1))) return;
    Vec r;
    if (Is(x, Mnemonic::MOVDDUP)) {
        r.Set<u64>(0, s.Q(0));
        r.Set<u64>(1, s.Q(0));
    } else {
        const unsigned odd = Is(x, Mnemonic::MOVSHDUP) ? 1 : 0;
        for (unsigned i = 0; i < 4; ++i) r.Set<u32>(i, s.Get<u32>((i & ~1u) + odd));
    }
    x.Store(0, r);
}

void Shuffle(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    const u8 imm = x.in.imm;
    Vec r;
    switch (x.in.mnemonic) {
        case Mnemonic::SHUFPS:
            for (unsigned i = 0; i < 4; ++i) r.Set<u32>(i, (i < 2 ? d : s).Get<u32>((imm >> (2 * i)) & 3));
            break;
        case Mnemonic::SHUFPD:
            r.Set<u64>(0, d.Q(imm & 1));
            r.Set<u64>(1, s.Q((imm >> 1) & 1));
            break;
        case Mnemonic::PSHUFW:
            for (unsigned i = 0; i < 4; ++i) r.Set<u16>(i, s.Get<u16>((imm >> (2 * i)) & 3));
            break;
        case Mnemonic::PSHUFD:
            for (unsigned i = 0; i < 4; ++i) r.Set<u32>(i, s.Get<u32>((imm >> (2 * i)) & 3));
            break;
        case Mnemonic::PSHUFHW:
            r.Set<u64>(0, s.Q(0));
            for (unsigned i = 0; i < 4; ++i) r.Set<u16>(4 + i, s.Get<u16>(4 + ((imm >> (2 * i)) & 3)));
            break;
        default:  // PSHUFLW
            r.Set<u64>(1, s.Q(1));
            for (unsigned i = 0; i < 4; ++i) r.Set<u16>(i, s.Get<u16>((imm >> (2 * i)) & 3));
            break;
    }
    x.Store(0, r);
}

namespace {
struct UnpackSpec {
    unsigned elem;
    bool high;
};
UnpackSpec UnpackOf(Mnemonic m) {
    switch (m) {
        case Mnemonic::PUNPCKLBW: return {1, false};
        case Mnemonic::PUNPCKLWD: return {2, false};
        case Mnemonic::PUNPCKLDQ: case Mnemonic::UNPCKLPS: return {4, false};
        case Mnemonic::PUNPCKLQDQ: case Mnemonic::UNPCKLPD: return {8, false};
        case Mnemonic::PUNPCKHBW: return {1, true};
        case Mnemonic::PUNPCKHWD: return {2, true};
        case Mnemonic::PUNPCKHDQ: case Mnemonic::UNPCKHPS: return {4, true};
        default: return {8, true};
    }
}
}  // namespace

void Unpack(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s, x.AlignOf(1))) return;
    const UnpackSpec spec = UnpackOf(x.in.mnemonic);
    const unsigned w = x.width();
    const unsigned n = w / 2 / spec.elem;
    const unsigned base = spec.high ? w / 2 : 0;
    Vec r;
    for (unsigned i = 0; i < n; ++i) {
        std::memcpy(r.b + 2 * i * spec.elem, d.b + base + i * spec.elem, spec.elem);
        std::memcpy(r.b + (2 * i + 1) * spec.elem, s.b + base + i * spec.elem, spec.elem);
    }
    x.Store(0, r);
}

void Pextrw(Exec& x) {
    Vec s;
    if (!x.Load(1, &s)) return;
    Vec r;
    r.Set<u64>(0, s.Get<u16>(x.in.imm & (x.width() / 2 - 1)));
    x.Store(0, r);
}

void Pinsrw(Exec& x) {
    Vec d;
    Vec s;
    if (!x.Load(0, &d) || !x.Load(1, &s)) return;
    d.Set<u16>(x.in.imm & (x.width() / 2 - 1), s.Get<u16>(0));
    x.Store(0, d);
}

}  // namespace emu::cpu::simd
