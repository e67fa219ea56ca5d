#pragma once
// Model-specific registers (SDM Vol. 4; Vol. 2 RDMSR/WRMSR). RDMSR/WRMSR need CPL 0; an MSR not listed in
// msr.cpp, a write to a read-only one, or a value with reserved bits set raises #GP(0).
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

namespace msr {
inline constexpr u32 Tsc = 0x10, PlatformId = 0x17, ApicBase = 0x1B, BiosSignId = 0x8B, MtrrCap = 0xFE, ArchCapabilities = 0x10A;
inline constexpr u32 SysenterCs = 0x174, SysenterEsp = 0x175, SysenterEip = 0x176;
inline constexpr u32 McgCap = 0x179, McgStatus = 0x17A, MiscEnable = 0x1A0;
inline constexpr u32 MtrrPhysBase0 = 0x200, MtrrPhysMaskLast = 0x20F;
inline constexpr u32 MtrrFix64k = 0x250, MtrrFix16k80 = 0x258, MtrrFix16kA0 = 0x259, MtrrFix4kC0 = 0x268,
                     MtrrFix4kF8 = 0x26F;
inline constexpr u32 Pat = 0x277, MtrrDefType = 0x2FF;
inline constexpr u32 TscDeadline = 0x6E0;
inline constexpr u32 X2apicFirst = 0x800, X2apicLast = 0x8FF;  // the x2APIC registers (SDM Vol. 3 11.12.1)
inline constexpr u32 Efer = 0xC0000080, Star = 0xC0000081, Lstar = 0xC0000082, Cstar = 0xC0000083,
                     Sfmask = 0xC0000084;
inline constexpr u32 AmdSyscfg = 0xC0010010, AmdIntPending = 0xC0010055;  // AMD only (APM Vol. 2 A.7; BKDG 0Fh)
inline constexpr u32 FsBase = 0xC0000100, GsBase = 0xC0000101, KernelGsBase = 0xC0000102, TscAux = 0xC0000103;
}  // namespace msr

SysResult<u64> ReadMsr(const CpuState& s, MemoryInterface& m, u32 index);
Status WriteMsr(CpuState& s, MemoryInterface& m, u32 index, u64 value);

// The guest's time-stamp counter: the platform's clock (1 GHz, MemoryInterface::ClockNs) plus the offset WRMSR(TSC)
// sets; the local APIC's TSC-deadline timer counts the same.
u64 GuestTsc(const CpuState& s, MemoryInterface& m);

}  // namespace emu::cpu::system
