#pragma once
// The architectural state of one x86-64 vCPU. Plain data, standard layout: the interpreter and the JIT
// both address fields by offsetof(), so keep it free of virtual functions and owning pointers.
#include <array>
#include <cstddef>

#include "emu/common/types.h"

namespace emu::cpu {

enum class Gpr : u8 { Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15 };
enum class SegReg : u8 { Es, Cs, Ss, Ds, Fs, Gs, Count };
inline constexpr unsigned kNumSegRegs = static_cast<unsigned>(SegReg::Count);

// RFLAGS bits (SDM Vol. 1 3.4.3).
namespace rflags {
inline constexpr u64 CF = 1u << 0;
inline constexpr u64 Reserved1 = 1u << 1;  // always 1
inline constexpr u64 PF = 1u << 2;
inline constexpr u64 AF = 1u << 4;
inline constexpr u64 ZF = 1u << 6;
inline constexpr u64 SF = 1u << 7;
inline constexpr u64 TF = 1u << 8;
inline constexpr u64 IF = 1u << 9;
inline constexpr u64 DF = 1u << 10;
inline constexpr u64 OF = 1u << 11;
inline constexpr u64 IOPL = 3u << 12;
inline constexpr u64 NT = 1u << 14;
inline constexpr u64 RF = 1u << 16;
inline constexpr u64 VM = 1u << 17;
inline constexpr u64 AC = 1u << 18;
inline constexpr u64 VIF = 1u << 19;
inline constexpr u64 VIP = 1u << 20;
inline constexpr u64 ID = 1u << 21;
inline constexpr u64 Arith = CF | PF | AF | ZF | SF | OF;  // the six status flags
}  // namespace rflags

namespace cr0 {
inline constexpr u64 PE = 1u << 0, MP = 1u << 1, EM = 1u << 2, TS = 1u << 3, ET = 1u << 4, NE = 1u << 5;
inline constexpr u64 WP = 1u << 16, AM = 1u << 18, NW = 1u << 29, CD = 1u << 30, PG = 1u << 31;
}  // namespace cr0
namespace cr4 {
inline constexpr u64 VME = 1u << 0, PVI = 1u << 1, TSD = 1u << 2, DE = 1u << 3, PSE = 1u << 4, PAE = 1u << 5;
inline constexpr u64 MCE = 1u << 6, PGE = 1u << 7, PCE = 1u << 8, OSFXSR = 1u << 9, OSXMMEXCPT = 1u << 10;
inline constexpr u64 UMIP = 1u << 11, LA57 = 1u << 12, FSGSBASE = 1u << 16, PCIDE = 1u << 17;
inline constexpr u64 OSXSAVE = 1u << 18, SMEP = 1u << 20, SMAP = 1u << 21, PKE = 1u << 22;
}  // namespace cr4
namespace efer {
inline constexpr u64 SCE = 1u << 0, LME = 1u << 8, LMA = 1u << 10, NXE = 1u << 11;
}  // namespace efer

// A segment register with its hidden descriptor cache.
struct Segment {
    u16 selector = 0;
    u64 base = 0;
    u32 limit = 0;  // byte-granular (already scaled by G)
    // Descriptor attribute bits as in VMX "access rights": type[3:0], S[4], DPL[6:5], P[7], AVL[12], L[13],
    // D/B[14], G[15], unusable[16].
    u32 attr = 0;
};

struct DescriptorTable {
    u64 base = 0;
    u16 limit = 0;
};

// An x87 80-bit register: 64-bit significand (explicit integer bit) and sign+15-bit exponent.
struct Float80 {
    u64 significand = 0;
    u16 sign_exponent = 0;
};

union alignas(16) Xmm {
    u8 b[16];
    u16 w[8];
    u32 d[4];
    u64 q[2];
};

struct X87State {
    std::array<Float80, 8> st{};  // physical registers R0..R7 (not stack-relative)
    u16 fcw = 0x037F;             // FNINIT value
    u16 fsw = 0;                  // TOP lives in bits 13:11
    u16 ftw = 0xFFFF;             // full 2-bit-per-register tag word; 11 = empty
    u16 fop = 0;
    u64 fip = 0, fdp = 0;
    u16 fcs = 0, fds = 0;
};

enum class CpuMode : u8 { Real, Protected16, Protected32, Virtual8086, Compat16, Compat32, Long64 };

struct CpuState {
    std::array<u64, 16> gpr{};
    u64 rip = 0;
    u64 rflags = rflags::Reserved1;

    std::array<Segment, kNumSegRegs> seg{};
    Segment ldtr{}, tr{};
    DescriptorTable gdtr{}, idtr{};

    u64 cr0 = cr0::ET | cr0::NW | cr0::CD;
    u64 cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
    u64 efer = 0;
    u64 xcr0 = 1;
    // Protection-key rights for user pages (SDM Vol. 3 4.6.2): AD = bit 2i, WD = bit 2i+1 for key i. Reset: 0.
    u32 pkru = 0;
    std::array<u64, 8> dr{0, 0, 0, 0, 0xFFFF0FF0, 0x400, 0xFFFF0FF0, 0x400};

    // MSRs that the CPU core itself consumes; the rest live with the system code.
    u64 star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0;
    u64 sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    u64 tsc_aux = 0, pat = 0x0007040600070406ull, apic_base = 0xFEE00900ull;

    X87State x87{};
    std::array<Xmm, 16> xmm{};
    u32 mxcsr = 0x1F80;

    // Blocks interrupts for one instruction after STI / MOV SS / POP SS.
    bool interrupt_shadow = false;
    bool halted = false;
    // NMI delivered and not yet ended by IRET (SDM Vol. 3 6.7.1).
    bool nmi_blocked = false;

    // MSRs the guest writes and reads back but the core does not consume (emu/cpu/system/msr.cpp).
    u64 tsc_offset = 0;                           // guest TSC = host clock + tsc_offset
    u64 misc_enable = 0x1801;                     // fast strings; BTS and PEBS unavailable
    u64 mtrr_def_type = 0;
    std::array<u64, 16> mtrr_var{};               // PHYSBASE0, PHYSMASK0, ..., PHYSMASK7
    std::array<u64, 11> mtrr_fixed{};             // 64K_00000, 16K_80000, 16K_A0000, 4K_C0000..4K_F8000

    // This processor's place in the machine: its initial (x2)APIC ID, which CPUID reports (leaves 1, 0xB, 0x1F,
    // 0x8000001E). Set by the machine when it creates the vCPU; an INIT keeps it.
    u32 initial_apic_id = 0;

    u64& reg(Gpr r) { return gpr[static_cast<unsigned>(r)]; }
    u64 reg(Gpr r) const { return gpr[static_cast<unsigned>(r)]; }
    Segment& segment(SegReg s) { return seg[static_cast<unsigned>(s)]; }
    const Segment& segment(SegReg s) const { return seg[static_cast<unsigned>(s)]; }

    u8 cpl() const { return static_cast<u8>((seg[static_cast<unsigned>(SegReg::Cs)].attr >> 5) & 3); }
    bool long_mode_active() const { return efer & efer::LMA; }
    bool cs_long() const { return (seg[static_cast<unsigned>(SegReg::Cs)].attr >> 13) & 1; }
    bool cs_default32() const { return (seg[static_cast<unsigned>(SegReg::Cs)].attr >> 14) & 1; }
    CpuMode mode() const {
        if (!(cr0 & cr0::PE)) return CpuMode::Real;
        if (long_mode_active()) return cs_long() ? CpuMode::Long64 : (cs_default32() ? CpuMode::Compat32 : CpuMode::Compat16);
        if (rflags & rflags::VM) return CpuMode::Virtual8086;
        return cs_default32() ? CpuMode::Protected32 : CpuMode::Protected16;
    }
};

static_assert(std::is_standard_layout_v<CpuState>);

}  // namespace emu::cpu
