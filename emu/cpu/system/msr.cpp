#include "emu/cpu/system/msr.h"

#include "emu/cpu/system/cpuid.h"

namespace emu::cpu::system {
namespace {

constexpr unsigned kMaxPhysAddrBits = 40;  // CPUID 0x80000008: EAX[7:0]
constexpr u64 kPhysMask = (u64{1} << kMaxPhysAddrBits) - 1;
// MTRRcap: 8 variable ranges, fixed ranges supported (bit 8), write-combining (bit 10); no SMRR.
constexpr u64 kMtrrCap = 8 | (1u << 8) | (1u << 10);
constexpr u64 kEferWritable = efer::SCE | efer::LME | efer::NXE;

// Memory types valid in MTRRs (UC WC WT WP WB) and, adding UC- (7), in the PAT (SDM Vol. 3 12.11, 12.12).
bool ValidMtrrType(u64 t) { return t == 0 || t == 1 || t == 4 || t == 5 || t == 6; }
bool ValidPatType(u64 t) { return ValidMtrrType(t) || t == 7; }

bool AllBytes(u64 v, bool (*valid)(u64)) {
    for (unsigned i = 0; i < 8; ++i) {
        if (!valid((v >> (8 * i)) & 0xFF)) return false;
    }
    return true;
}

// Fixed-range MTRR index 0-10 of an MSR, or -1.
int FixedIndex(u32 index) {
    if (index == msr::MtrrFix64k) return 0;
    if (index == msr::MtrrFix16k80) return 1;
    if (index == msr::MtrrFix16kA0) return 2;
    if (index >= msr::MtrrFix4kC0 && index <= msr::MtrrFix4kF8) return static_cast<int>(3 + index - msr::MtrrFix4kC0);
    return -1;
}

bool VariableMtrrValid(u32 index, u64 v) {
    if ((index & 1) == 0) return ValidMtrrType(v & 0xFF) && (v & ~(kPhysMask & ~u64{0xFFF}) & ~u64{0xFF}) == 0;
    return (v & ~(kPhysMask & ~u64{0xFFF}) & ~u64{0x800}) == 0;  // PHYSMASK: mask bits and V (bit 11)
}

Status WriteEfer(CpuState& s, MemoryInterface& m, u64 value) {
    if (value & ~(kEferWritable | efer::LMA)) return Gp(0);
    // LME cannot change while paging is on (SDM Vol. 3 10.8.5); LMA is read-only (writes are ignored).
    if ((s.cr0 & cr0::PG) && ((value ^ s.efer) & efer::LME)) return Gp(0);
    const u64 next = (value & kEferWritable) | (s.efer & efer::LMA);
    if ((next ^ s.efer) & efer::NXE) m.FlushTlb(~u64{0}, true);
    s.efer = next;
    return {};
}

Status WriteCanonical(u64& field, u64 value) {
    if (!IsCanonical(value)) return Gp(0);
    field = value;
    return {};
}

// IA32_ARCH_CAPABILITIES (read-only): an interpreter executes nothing speculatively, so every "not affected" bit
// is true: RDCL_NO (Meltdown), SSB_NO, MDS_NO, IF_PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO,
// PBRSB_NO, GDS_NO, RFDS_NO. Linux then skips page-table isolation and buffer clearing, which cost a CR3 switch
// and a VERW on every kernel entry and exit.
constexpr u64 kArchCapabilities = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 13) |
                                  (1u << 14) | (1u << 15) | (1u << 24) | (1u << 26) | (1u << 27);

// IA32_APIC_BASE (SDM Vol. 3 11.4.4, 11.12.5): BSP (bit 8) is read-only; EN (bit 11), EXTD (bit 10, with x2APIC) and
// the base below MAXPHYADDR are writable. EXTD without EN, x2APIC back to xAPIC without disabling first, and
// disabled straight to x2APIC are illegal transitions (#GP).
Status WriteApicBase(CpuState& s, MemoryInterface& m, u64 value) {
    constexpr u64 kBsp = 1u << 8, kExtd = 1u << 10, kEnable = 1u << 11;
    const u64 extd = HasFeature("x2apic") ? kExtd : 0;
    if (value & ~((kPhysMask & ~u64{0xFFF}) | kEnable | extd | kBsp)) return Gp(0);
    const bool was_x2 = s.apic_base & kExtd, was_on = s.apic_base & kEnable;
    const bool x2 = value & kExtd, on = value & kEnable;
    if (x2 && !on) return Gp(0);
    if (was_x2 && on && !x2) return Gp(0);
    if (!was_on && x2) return Gp(0);
    value = (value & ~kBsp) | (s.apic_base & kBsp);
    // The local APIC (a platform device) follows: its MMIO window moves, goes away or is replaced by the MSRs.
    if (!m.WritePlatformMsr(msr::ApicBase, value)) return Gp(0);
    s.apic_base = value;
    return {};
}

// The MSRs the local APIC answers: its x2APIC registers in x2APIC mode, IA32_TSC_DEADLINE with the TSC-deadline
// timer. Anywhere else they do not exist (#GP).
bool PlatformMsrReachable(const CpuState& s, u32 index) {
    if (index >= msr::X2apicFirst && index <= msr::X2apicLast) return (s.apic_base & (1u << 10)) != 0;
    return index == msr::TscDeadline && HasFeature("tsc_deadline_timer");
}

}  // namespace

u64 GuestTsc(const CpuState& s, MemoryInterface& m) { return m.ClockNs() + s.tsc_offset; }

SysResult<u64> ReadMsr(const CpuState& s, MemoryInterface& m, u32 index) {
    if (s.cpl() != 0) return Gp(0);
    if (PlatformMsrReachable(s, index)) {
        if (const std::optional<u64> value = m.ReadPlatformMsr(index)) return *value;
        return Gp(0);
    }
    if (index >= msr::MtrrPhysBase0 && index <= msr::MtrrPhysMaskLast) return s.mtrr_var[index - msr::MtrrPhysBase0];
    if (const int f = FixedIndex(index); f >= 0) return s.mtrr_fixed[static_cast<unsigned>(f)];
    switch (index) {
        case msr::Tsc: return GuestTsc(s, m);
        case msr::ApicBase: return s.apic_base;
        case msr::BiosSignId: return 0;  // microcode revision 0
        case msr::PlatformId:
            // Intel's platform ID (bits 52:50, which microcode updates match): 0. Linux's microcode driver reads it on
            // family 6 model 5 and later; AMD CPUs have no such MSR.
            if (CpuVendor() != Vendor::Intel) return Gp(0);
            return 0;
        case msr::ArchCapabilities: return kArchCapabilities;
        case msr::MtrrCap: return kMtrrCap;
        case msr::SysenterCs: return s.sysenter_cs;
        case msr::SysenterEsp: return s.sysenter_esp;
        case msr::SysenterEip: return s.sysenter_eip;
        case msr::McgCap:
        case msr::McgStatus: return 0;  // no machine-check banks
        case msr::MiscEnable: return s.misc_enable;
        case msr::Pat: return s.pat;
        case msr::MtrrDefType: return s.mtrr_def_type;
        case msr::Efer: return s.efer;
        case msr::Star: return s.star;
        case msr::Lstar: return s.lstar;
        case msr::Cstar: return s.cstar;
        case msr::Sfmask: return s.sfmask;
        case msr::FsBase: return s.segment(SegReg::Fs).base;
        case msr::GsBase: return s.segment(SegReg::Gs).base;
        case msr::KernelGsBase: return s.kernel_gs_base;
        case msr::TscAux: return s.tsc_aux;
        case msr::AmdSyscfg:
        case msr::AmdIntPending:
            // AMD's SYSCFG (no fixed-MTRR RdMem/WrMem extensions, no SME) and interrupt-pending message register
            // (C1E off), both 0. Linux reads them on the AMD families that have them (the fixed-range MTRRs of
            // 0Fh-11h, the C1E erratum of family 0Fh); Intel CPUs have neither.
            if (CpuVendor() != Vendor::Amd) return Gp(0);
            return 0;
        default: return Gp(0);
    }
}

Status WriteMsr(CpuState& s, MemoryInterface& m, u32 index, u64 value) {
    if (s.cpl() != 0) return Gp(0);
    if (index >= msr::MtrrPhysBase0 && index <= msr::MtrrPhysMaskLast) {
        if (!VariableMtrrValid(index, value)) return Gp(0);
        s.mtrr_var[index - msr::MtrrPhysBase0] = value;
        return {};
    }
    if (const int f = FixedIndex(index); f >= 0) {
        if (!AllBytes(value, ValidMtrrType)) return Gp(0);
        s.mtrr_fixed[static_cast<unsigned>(f)] = value;
        return {};
    }
    if (PlatformMsrReachable(s, index)) return m.WritePlatformMsr(index, value) ? Status{} : Gp(0);
    switch (index) {
        case msr::Tsc:
            s.tsc_offset = value - m.ClockNs();
            m.SetTscOffset(static_cast<i64>(s.tsc_offset));
            return {};
        case msr::ApicBase: return WriteApicBase(s, m, value);
        case msr::BiosSignId: return {};  // writing 0 before CPUID(1) is how the revision is read
        case msr::SysenterCs: s.sysenter_cs = value & 0xFFFF; return {};
        case msr::SysenterEsp: return WriteCanonical(s.sysenter_esp, value);
        case msr::SysenterEip: return WriteCanonical(s.sysenter_eip, value);
        case msr::McgStatus:
            if (value != 0) return Gp(0);
            return {};
        case msr::MiscEnable: s.misc_enable = value; return {};
        case msr::Pat:
            if (!AllBytes(value, ValidPatType)) return Gp(0);
            s.pat = value;
            m.FlushTlb(~u64{0}, true);
            return {};
        case msr::MtrrDefType:
            if ((value & ~u64{0xCFF}) || !ValidMtrrType(value & 0xFF)) return Gp(0);
            s.mtrr_def_type = value;
            return {};
        case msr::Efer: return WriteEfer(s, m, value);
        case msr::Star: s.star = value; return {};
        case msr::Lstar: return WriteCanonical(s.lstar, value);
        case msr::Cstar: return WriteCanonical(s.cstar, value);
        case msr::Sfmask: s.sfmask = value & 0xFFFFFFFF; return {};  // bits 63:32 are reserved and ignored
        case msr::FsBase: return WriteCanonical(s.segment(SegReg::Fs).base, value);
        case msr::GsBase: return WriteCanonical(s.segment(SegReg::Gs).base, value);
        case msr::KernelGsBase: return WriteCanonical(s.kernel_gs_base, value);
        case msr::TscAux:
            if (value >> 32) return Gp(0);
            s.tsc_aux = value;
            return {};
        default: return Gp(0);  // unknown, or read-only (MTRRcap, MCG_CAP)
    }
}

}  // namespace emu::cpu::system
