// The x87 register stack: TOP, the full tag word, stack faults and status merging (SDM Vol. 1 8.1-8.5).
#include "emu/common/bits.h"
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd::x87 {

using fpu::status::C1;

unsigned Top(const CpuState& s) { return (s.x87.fsw >> 11) & 7; }
void SetTop(CpuState& s, unsigned top) { s.x87.fsw = static_cast<u16>((s.x87.fsw & ~0x3800u) | ((top & 7) << 11)); }
unsigned Phys(const CpuState& s, unsigned i) { return (Top(s) + i) & 7; }
bool IsEmpty(const CpuState& s, unsigned i) { return ((s.x87.ftw >> (2 * Phys(s, i))) & 3) == 3; }
Float80& St(CpuState& s, unsigned i) { return s.x87.st[Phys(s, i)]; }

void SetTagPhys(CpuState& s, unsigned phys, unsigned tag) {
    s.x87.ftw = static_cast<u16>((s.x87.ftw & ~(3u << (2 * phys))) | ((tag & 3) << (2 * phys)));
}

// 00 valid, 01 zero, 10 special (NaN, infinity, denormal, unsupported), 11 empty.
unsigned TagOf(const Float80& v) {
    const unsigned exp = v.sign_exponent & 0x7FFF;
    if (exp == 0) return v.significand == 0 ? 1 : 2;
    if (exp == 0x7FFF || !(v.significand >> 63)) return 2;
    return 0;
}

void SetSt(CpuState& s, unsigned i, const Float80& v) {
    St(s, i) = v;
    SetTagPhys(s, Phys(s, i), TagOf(v));
}

void Pop(CpuState& s) {
    SetTagPhys(s, Phys(s, 0), 3);
    SetTop(s, Top(s) + 1);
}

void Push(CpuState& s, const Float80& v) {
    SetTop(s, Top(s) - 1);
    SetSt(s, 0, v);
}

void ApplyStatus(CpuState& s, u16 status, u16 defined) {
    u16 fsw = static_cast<u16>((s.x87.fsw & ~defined) | (status & defined));
    fsw |= status & (fpu::status::kExceptions | kSf);
    if (fsw & ~s.x87.fcw & fpu::status::kExceptions) fsw |= kEs | kBusy;
    s.x87.fsw = fsw;
}

bool MayStore(const CpuState& s, u16 status) {
    const u16 blocking = fpu::status::IE | fpu::status::DE | fpu::status::ZE;
    return !(status & blocking & ~s.x87.fcw);
}

bool StackFault(CpuState& s, bool overflow) {
    ApplyStatus(s, static_cast<u16>(fpu::status::IE | kSf | (overflow ? C1 : 0)));
    return s.x87.fcw & fpu::status::IE;
}

u8 AbridgedTag(u16 ftw) {
    u8 t = 0;
    for (unsigned i = 0; i < 8; ++i) {
        if (((ftw >> (2 * i)) & 3) != 3) t = static_cast<u8>(t | (1u << i));
    }
    return t;
}

u16 FullTag(const CpuState& s, u8 abridged) {
    u16 ftw = 0;
    for (unsigned i = 0; i < 8; ++i) {
        const unsigned tag = (abridged >> i) & 1 ? TagOf(s.x87.st[i]) : 3;
        ftw = static_cast<u16>(ftw | (tag << (2 * i)));
    }
    return ftw;
}

u64 EffectiveAddress(const Exec& x) {
    const bool flat = x.s.mode() == CpuMode::Long64 && x.in.seg < static_cast<u8>(SegReg::Fs);
    const u64 base = flat ? 0 : x.s.seg[x.in.seg].base;
    const u64 ea = x.linear - base;
    return x.in.addr_size == 8 ? ea : ea & LowMask(x.in.addr_size * 8u);
}

void UpdatePointers(Exec& x) {
    x.s.x87.fip = x.rip;
    // FCS/FDS are recorded in 64-bit mode too (host behaviour, AMD: a 32-bit FXSAVE or FNSTENV shows them). The
    // emulated CPUID does not set the FCS/FDS deprecation bit (CPUID.(7,0):EBX[13]) that would make them 0.
    x.s.x87.fcs = x.s.segment(SegReg::Cs).selector;
    x.s.x87.fop = static_cast<u16>((u16{x.in.opcode_low} << 8) | x.in.imm);
    if (x.IsMem(0) || x.IsMem(1)) {
        x.s.x87.fdp = EffectiveAddress(x);
        x.s.x87.fds = x.s.seg[x.in.seg & 7].selector;
    }
}

}  // namespace emu::cpu::simd::x87
