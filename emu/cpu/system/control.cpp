#include "emu/cpu/system/control.h"

#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/system/debug.h"

namespace emu::cpu::system {
namespace {

constexpr u64 kCr0Defined = cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::ET | cr0::NE | cr0::WP | cr0::AM |
                            cr0::NW | cr0::CD | cr0::PG;
// CR0 bits whose change invalidates cached translations (paging on/off, write protection, caching).
constexpr u64 kCr0PagingBits = cr0::PE | cr0::PG | cr0::WP | cr0::CD | cr0::NW;
constexpr u64 kCr4AlwaysWritable = cr4::TSD | cr4::DE | cr4::PSE | cr4::PAE | cr4::MCE | cr4::PGE | cr4::PCE |
                                   cr4::OSFXSR | cr4::OSXMMEXCPT;
// CR4 bits that exist only when CPUID advertises their feature (SDM Vol. 3 2.5: setting one otherwise is #GP). Asked
// at each write rather than cached: the selected CPU model (-cpu) decides.
u64 Cr4Writable() {
    return kCr4AlwaysWritable | (HasFeature("xsave") ? cr4::OSXSAVE : 0) |
           (HasFeature("fsgsbase") ? cr4::FSGSBASE : 0) | (HasFeature("smep") ? cr4::SMEP : 0) |
           (HasFeature("smap") ? cr4::SMAP : 0) | (HasFeature("umip") ? cr4::UMIP : 0) |
           (HasFeature("pcid") ? cr4::PCIDE : 0) | (HasFeature("pku") ? cr4::PKE : 0);
}
constexpr u64 kCr4PagingBits =
    cr4::PSE | cr4::PAE | cr4::PGE | cr4::PCIDE | cr4::SMEP | cr4::SMAP | cr4::PKE | cr4::LA57;
constexpr unsigned kMaxPhysAddrBits = 40;  // CPUID 0x80000008: EAX[7:0]
constexpr u64 kPcidMask = 0xFFF;
constexpr u64 kCr3NoFlush = u64{1} << 63;

// The CR0 and CR4 bits whose change reloads the PAE PDPTEs when PAE paging is in use afterwards (SDM Vol. 3 4.4.1).
constexpr u64 kCr0PdpteBits = cr0::CD | cr0::NW | cr0::PG;
constexpr u64 kCr4PdpteBits = cr4::PAE | cr4::PGE | cr4::PSE | cr4::SMEP;

// With these register values, is PAE paging (not 4-level paging) in use? Then a CR write that reloads the PDPTEs
// must find them valid (#GP(0) otherwise, checked after every other condition and before the register changes).
bool PdpteLoadFails(MemoryInterface& m, u64 cr0_value, u64 cr3_value, u64 cr4_value, u64 efer_value) {
    const bool pae = (cr0_value & cr0::PG) && (cr4_value & cr4::PAE) && !(efer_value & efer::LMA);
    return pae && !m.LoadPdptes(cr3_value);
}

Status WriteCr0(CpuState& s, MemoryInterface& m, u64 value) {
    if (value >> 32) return Gp(0);
    // Reserved bits 31:0 are ignored; ET is hardwired to 1 (SDM Vol. 3 2.5).
    value = (value & kCr0Defined) | cr0::ET;
    if ((value & cr0::PG) && !(value & cr0::PE)) return Gp(0);
    if ((value & cr0::NW) && !(value & cr0::CD)) return Gp(0);
    const u64 old = s.cr0;
    u64 efer = s.efer;
    if ((value & cr0::PG) && !(old & cr0::PG) && (efer & efer::LME)) {
        if (!(s.cr4 & cr4::PAE)) return Gp(0);  // IA-32e mode needs PAE paging (SDM Vol. 3 10.8.5)
        efer |= efer::LMA;
    }
    if (!(value & cr0::PG) && (s.cr4 & cr4::PCIDE)) return Gp(0);  // SDM Vol. 3 4.10.1: PCIDE needs paging on
    if (!(value & cr0::PG) && (old & cr0::PG) && (efer & efer::LMA)) {
        if (s.mode() == CpuMode::Long64) return Gp(0);  // paging cannot be turned off in 64-bit mode
        efer &= ~efer::LMA;
    }
    if (((old ^ value) & kCr0PdpteBits) && PdpteLoadFails(m, value, s.cr3, s.cr4, efer)) return Gp(0);
    s.cr0 = value;
    s.efer = efer;
    if ((old ^ value) & kCr0PagingBits) m.FlushTlb(~u64{0}, true);
    return {};
}

Status WriteCr4(CpuState& s, MemoryInterface& m, u64 value) {
    if (value & ~Cr4Writable()) return Gp(0);
    if ((s.efer & efer::LMA) && !(value & cr4::PAE)) return Gp(0);
    const u64 old = s.cr4;
    // Setting PCIDE needs IA-32e mode and PCID 0 in CR3 (SDM Vol. 3 4.10.1, MOV CR4).
    if ((value & ~old & cr4::PCIDE) && (!(s.efer & efer::LMA) || (s.cr3 & kPcidMask))) return Gp(0);
    if (((old ^ value) & kCr4PdpteBits) && PdpteLoadFails(m, s.cr0, s.cr3, value, s.efer)) return Gp(0);
    s.cr4 = value;
    if ((old ^ value) & kCr4PagingBits) m.FlushTlb(~u64{0}, true);
    return {};
}

Status WriteCr3(CpuState& s, MemoryInterface& m, u64 value) {
    // With CR4.PCIDE, bits 11:0 are the PCID and bit 63 asks to keep the PCID's translations; bit 63 is not stored
    // (SDM Vol. 3 4.10.4.1, MOV CR3). The TLB is flushed anyway: it is not tagged by PCID, so the previous address
    // space's entries must go, and flushing more than asked is what a cache may always do.
    if (s.cr4 & cr4::PCIDE) value &= ~kCr3NoFlush;
    if (s.long_mode_active() && (value >> kMaxPhysAddrBits)) return Gp(0);
    const u64 cr3 = s.long_mode_active() ? value : value & 0xFFFFFFFF;
    if (PdpteLoadFails(m, s.cr0, cr3, s.cr4, s.efer)) return Gp(0);
    s.cr3 = cr3;
    m.FlushTlb(~u64{0}, false);
    return {};
}

bool Cr8Allowed(const CpuState& s) { return s.mode() == CpuMode::Long64; }

// DR4 and DR5 alias DR6 and DR7 when CR4.DE is clear; DR8-DR15 do not exist. Returns ~0u for #UD.
unsigned DebugIndex(const CpuState& s, unsigned n) {
    if (n > 7) return ~0u;
    if (n == 4 || n == 5) return (s.cr4 & cr4::DE) ? ~0u : n + 2;
    return n;
}

}  // namespace

u64 Cr4WritableBits() { return Cr4Writable(); }

Status WriteControlRegister(CpuState& s, MemoryInterface& m, unsigned n, u64 value) {
    if (n == 1 || (n >= 5 && n != 8) || (n == 8 && !Cr8Allowed(s))) return Ud();
    if (s.cpl() != 0) return Gp(0);
    switch (n) {
        case 0: return WriteCr0(s, m, value);
        case 2: s.cr2 = value; return {};
        case 3: return WriteCr3(s, m, value);
        case 4: return WriteCr4(s, m, value);
        default:  // CR8: the task-priority class, bits 3:0
            if (value >> 4) return Gp(0);
            s.cr8 = value;
            return {};
    }
}

SysResult<u64> ReadControlRegister(const CpuState& s, unsigned n) {
    if (n == 1 || (n >= 5 && n != 8) || (n == 8 && !Cr8Allowed(s))) return Ud();
    if (s.cpl() != 0) return Gp(0);
    switch (n) {
        case 0: return s.cr0;
        case 2: return s.cr2;
        case 3: return s.cr3;
        case 4: return s.cr4;
        default: return s.cr8;
    }
}

Status WriteDebugRegister(CpuState& s, unsigned n, u64 value) {
    const unsigned i = DebugIndex(s, n);
    if (i == ~0u) return Ud();
    if (s.cpl() != 0) return Gp(0);
    EMU_SYS_TRY(GeneralDetect(s));
    const bool long64 = s.mode() == CpuMode::Long64;
    if (!long64) value &= 0xFFFFFFFF;
    if (i >= 6 && (value >> 32)) return Gp(0);
    if (i == 6) value = (value & 0xE00F) | dr6::Init;    // reserved bits read as 1 (SDM Vol. 3 18.2.3)
    if (i == 7) value = (value & 0xFFFF23FF) | 0x400;    // bit 10 reads as 1, 11/12/14/15 as 0
    s.dr[i] = value;
    return {};
}

SysResult<u64> ReadDebugRegister(CpuState& s, unsigned n) {
    const unsigned i = DebugIndex(s, n);
    if (i == ~0u) return Ud();
    if (s.cpl() != 0) return Gp(0);
    EMU_SYS_TRY(GeneralDetect(s));
    return s.dr[i];
}

Status Clts(CpuState& s) {
    if (s.cpl() != 0) return Gp(0);
    s.cr0 &= ~cr0::TS;
    return {};
}

Status Lmsw(CpuState& s, MemoryInterface& m, u16 value) {
    if (s.cpl() != 0) return Gp(0);
    // LMSW loads PE, MP, EM and TS; it can set PE but not clear it.
    const u64 low = cr0::PE | cr0::MP | cr0::EM | cr0::TS;
    const u64 next = (s.cr0 & ~(low & ~cr0::PE)) | (value & low);
    return WriteCr0(s, m, next);
}

Status Invlpg(CpuState& s, MemoryInterface& m, u64 linear) {
    if (s.cpl() != 0) return Gp(0);
    m.FlushTlb(linear & ~kPageMask, true);
    return {};
}

Status InvpcidAllowed(const CpuState& s) {
    if (!HasFeature("invpcid")) return Ud();
    if (s.cpl() != 0) return Gp(0);
    return {};
}

Status Invpcid(CpuState& s, MemoryInterface& m, u64 type, u64 pcid_word, u64 linear) {
    EMU_SYS_TRY(InvpcidAllowed(s));
    // Descriptor bits 63:12 are reserved; a PCID other than 0 needs CR4.PCIDE for the single-PCID types; type 0
    // needs a canonical address (SDM Vol. 2 INVPCID).
    if (type > 3 || (pcid_word & ~kPcidMask)) return Gp(0);
    if (type <= 1 && pcid_word != 0 && !(s.cr4 & cr4::PCIDE)) return Gp(0);
    if (type == 0 && !IsCanonical(linear)) return Gp(0);
    // The TLB is not tagged by PCID: type 0 drops the page whatever its PCID, the others what a MOV CR3 (1, 3) or a
    // CR4.PGE toggle (2) would.
    if (type == 0) {
        m.FlushTlb(linear & ~kPageMask, true);
    } else {
        m.FlushTlb(~u64{0}, type == 2);
    }
    return {};
}

Status CacheInvalidate(const CpuState& s) {
    if (s.cpl() != 0) return Gp(0);
    return {};
}

u64 Smsw(const CpuState& s) { return s.cr0; }

Status Rdpkru(CpuState& s) {
    if (!(s.cr4 & cr4::PKE)) return Ud();
    if (s.reg(Gpr::Rcx) & 0xFFFFFFFF) return Gp(0);
    s.reg(Gpr::Rax) = s.pkru;  // EDX:EAX = PKRU; the upper halves of RAX and RDX are cleared
    s.reg(Gpr::Rdx) = 0;
    return {};
}

Status Wrpkru(CpuState& s, MemoryInterface& m) {
    if (!(s.cr4 & cr4::PKE)) return Ud();
    if ((s.reg(Gpr::Rcx) & 0xFFFFFFFF) || (s.reg(Gpr::Rdx) & 0xFFFFFFFF)) return Gp(0);
    SetPkru(s, m, static_cast<u32>(s.reg(Gpr::Rax)));
    return {};
}

Status CheckUmip(const CpuState& s) {
    if ((s.cr4 & cr4::UMIP) && s.cpl() != 0) return Gp(0);
    return {};
}

}  // namespace emu::cpu::system
