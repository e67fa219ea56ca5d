#include "emu/cpu/system/syscall.h"

#include <utility>

#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/system/descriptors.h"

namespace emu::cpu::system {
namespace {

// The flat segments these instructions load without reading the GDT (SDM: "fixed values").
constexpr u32 kFlatCode = 0xB | attr::S | attr::P | attr::G;  // execute/read, accessed
constexpr u32 kFlatData = 0x3 | attr::S | attr::P | attr::G | attr::DB;  // read/write, accessed

Segment FlatCode(u16 selector, unsigned dpl, bool long64) {
    return Segment{selector, 0, 0xFFFFFFFF, kFlatCode | attr::Dpl(dpl) | (long64 ? attr::L : attr::DB)};
}
Segment FlatData(u16 selector, unsigned dpl) { return Segment{selector, 0, 0xFFFFFFFF, kFlatData | attr::Dpl(dpl)}; }

// SYSCALL and SYSRET in IA-32e mode: Intel only in 64-bit mode (#UD in compatibility mode, SDM SYSCALL); AMD in
// compatibility mode too, where SYSCALL enters 64-bit mode at CSTAR (AMD APM Vol. 3 SYSCALL).
bool SyscallEnabled(const CpuState& s) {
    const bool mode_ok = CpuVendor() == Vendor::Amd ? s.long_mode_active() : s.mode() == CpuMode::Long64;
    return mode_ok && (s.efer & efer::SCE);
}

// SYSENTER and SYSEXIT in IA-32e mode: Intel only; AMD raises #UD in long mode (AMD APM Vol. 3 SYSENTER).
bool SysenterRefused(const CpuState& s) { return CpuVendor() == Vendor::Amd && s.long_mode_active(); }

}  // namespace

SysResult<u64> Syscall(CpuState& s, u64 next_rip) {
    if (!SyscallEnabled(s)) return Ud();
    const u16 cs = static_cast<u16>((s.star >> 32) & 0xFFFC);
    const bool from_compat = s.mode() != CpuMode::Long64;
    s.reg(Gpr::Rcx) = next_rip;
    s.reg(Gpr::R11) = s.rflags & ~rflags::RF;
    s.rflags = (s.rflags & ~(s.sfmask | rflags::RF)) | rflags::Reserved1;
    s.segment(SegReg::Cs) = FlatCode(cs, 0, true);
    s.segment(SegReg::Ss) = FlatData(static_cast<u16>(cs + 8), 0);
    return from_compat ? s.cstar : s.lstar;
}

SysResult<u64> Sysret(CpuState& s, unsigned op_size) {
    if (!SyscallEnabled(s)) return Ud();
    if (s.cpl() != 0) return Gp(0);
    const bool to64 = op_size == 8;
    const u64 rip = to64 ? s.reg(Gpr::Rcx) : s.reg(Gpr::Rcx) & 0xFFFFFFFF;
    if (!IsCanonical(rip)) return Gp(0);  // Intel faults at CPL 0 (the AMD behaviour differs)
    const u16 base = static_cast<u16>(s.star >> 48);
    // RFLAGS <- (R11 & 3C7FD7H) | 2: VM, RF and reserved bits cannot be set this way.
    s.rflags = (s.reg(Gpr::R11) & 0x3C7FD7) | rflags::Reserved1;
    s.segment(SegReg::Cs) = FlatCode(static_cast<u16>((to64 ? base + 16 : base) | 3), 3, to64);
    s.segment(SegReg::Ss) = FlatData(static_cast<u16>((base + 8) | 3), 3);
    return rip;
}

SysResult<u64> Sysenter(CpuState& s) {
    if (SysenterRefused(s)) return Ud();
    if (s.mode() == CpuMode::Real || (s.sysenter_cs & 0xFFFC) == 0) return Gp(0);
    const bool ia32e = s.long_mode_active();
    const u16 cs = static_cast<u16>(s.sysenter_cs & 0xFFFC);
    s.rflags &= ~(rflags::VM | rflags::IF | rflags::RF);
    s.segment(SegReg::Cs) = FlatCode(cs, 0, ia32e);
    s.segment(SegReg::Ss) = FlatData(static_cast<u16>(cs + 8), 0);
    s.reg(Gpr::Rsp) = ia32e ? s.sysenter_esp : s.sysenter_esp & 0xFFFFFFFF;
    return ia32e ? s.sysenter_eip : s.sysenter_eip & 0xFFFFFFFF;
}

SysResult<u64> Sysexit(CpuState& s, unsigned op_size) {
    if (SysenterRefused(s)) return Ud();
    const CpuMode mode = s.mode();
    if (mode == CpuMode::Real || mode == CpuMode::Virtual8086 || (s.sysenter_cs & 0xFFFC) == 0 || s.cpl() != 0) {
        return Gp(0);
    }
    const bool to64 = op_size == 8;
    const u64 rip = to64 ? s.reg(Gpr::Rdx) : s.reg(Gpr::Rdx) & 0xFFFFFFFF;
    const u64 rsp = to64 ? s.reg(Gpr::Rcx) : s.reg(Gpr::Rcx) & 0xFFFFFFFF;
    if (to64 && (!IsCanonical(rip) || !IsCanonical(rsp))) return Gp(0);
    const u16 base = static_cast<u16>(s.sysenter_cs);
    s.segment(SegReg::Cs) = FlatCode(static_cast<u16>((base + (to64 ? 32 : 16)) | 3), 3, to64);
    s.segment(SegReg::Ss) = FlatData(static_cast<u16>((base + (to64 ? 40 : 24)) | 3), 3);
    s.reg(Gpr::Rsp) = rsp;
    return rip;
}

Status Swapgs(CpuState& s) {
    if (s.mode() != CpuMode::Long64) return Ud();
    if (s.cpl() != 0) return Gp(0);
    std::swap(s.segment(SegReg::Gs).base, s.kernel_gs_base);
    return {};
}

}  // namespace emu::cpu::system
