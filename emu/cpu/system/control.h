#pragma once
// Control and debug registers (SDM Vol. 3 2.5, 17.2; Vol. 2 MOV CR, MOV DR, CLTS, LMSW, SMSW, INVLPG) and the
// other CPL-0 instructions without operands (INVD, WBINVD). Writes that change paging call
// MemoryInterface::FlushTlb: CR3 -> FlushTlb(~0, false); a paging-mode bit of CR0/CR4 -> FlushTlb(~0, true);
// INVLPG -> FlushTlb(page, true). A write that leaves PAE paging in use calls MemoryInterface::LoadPdptes first
// (CR3 always; CR0 when CD, NW or PG change; CR4 when PAE, PGE, PSE or SMEP change: SDM Vol. 3 4.4.1); a refused
// load is #GP(0) with the register unchanged.
//
// CR4 bits are accepted only for features CPUID advertises or the core implements regardless (VME PVI TSD DE
// PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT); the others (PCIDE, SMEP, SMAP, UMIP, LA57, FSGSBASE, OSXSAVE) are reserved
// (#GP) unless the CPU model advertises their feature.
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

// MOV CRn, value. `n` is the register number (CR8 only in 64-bit mode; 1, 5-7, 9-15 are #UD).
Status WriteControlRegister(CpuState& s, MemoryInterface& m, unsigned n, u64 value);
// MOV value, CRn.
SysResult<u64> ReadControlRegister(const CpuState& s, unsigned n);

// MOV DRn. DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); CPL > 0 is #GP(0); with DR7.GD set any access is a
// #DB fault with DR6.BD (checked in that order, as the SDM's MOV DR operation lists them).
Status WriteDebugRegister(CpuState& s, unsigned n, u64 value);
SysResult<u64> ReadDebugRegister(CpuState& s, unsigned n);

// CLTS, LMSW (sets PE MP EM TS; cannot clear PE), INVLPG, INVD/WBINVD (no-ops). CPL 0.
Status Clts(CpuState& s);
Status Lmsw(CpuState& s, MemoryInterface& m, u16 value);
Status Invlpg(CpuState& s, MemoryInterface& m, u64 linear);
Status CacheInvalidate(const CpuState& s);
// INVPCID (SDM Vol. 2): #UD without the feature, #GP(0) at CPL > 0 (InvpcidAllowed, checked before the descriptor is
// read), then the type (0-3) and the 16-byte descriptor's PCID word and linear address are checked and flushed.
Status InvpcidAllowed(const CpuState& s);
Status Invpcid(CpuState& s, MemoryInterface& m, u64 type, u64 pcid_word, u64 linear);

// RDPKRU / WRPKRU (SDM Vol. 2): #UD unless CR4.PKE; #GP(0) unless ECX = 0 (and EDX = 0 for WRPKRU). RDPKRU
// loads EDX:EAX (zero-extended into RDX:RAX); WRPKRU writes EAX to PKRU through SetPkru (memory_interface.h).
Status Rdpkru(CpuState& s);
Status Wrpkru(CpuState& s, MemoryInterface& m);

// SMSW: CR0's low bits (all of CR0 for a register destination; the caller truncates).
u64 Smsw(const CpuState& s);

// User-mode instruction prevention (SDM Vol. 3 2.5, CR4.UMIP): SGDT, SIDT, SLDT, SMSW and STR are #GP(0) when
// CR4.UMIP is set and CPL > 0 (virtual-8086 mode included), checked before their operand is touched.
Status CheckUmip(const CpuState& s);

// The CR4 bits a guest may set.
u64 Cr4WritableBits();

}  // namespace emu::cpu::system
