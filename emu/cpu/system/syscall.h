#pragma once
// Fast system calls (SDM Vol. 2 SYSCALL, SYSRET, SYSENTER, SYSEXIT, SWAPGS), Intel behaviour: SYSCALL and
// SYSRET are #UD outside 64-bit mode or with EFER.SCE = 0 (AMD's legacy/compat SYSCALL through CSTAR is not
// modelled); SYSRET to a non-canonical RCX is #GP(0) at CPL 0.
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

// Each returns the new RIP; `next_rip` is the address after the instruction. `op_size` 8 selects the 64-bit
// forms of SYSRET and SYSEXIT (REX.W), 4 the 32-bit ones.
SysResult<u64> Syscall(CpuState& s, u64 next_rip);
SysResult<u64> Sysret(CpuState& s, unsigned op_size);
SysResult<u64> Sysenter(CpuState& s);
SysResult<u64> Sysexit(CpuState& s, unsigned op_size);

// SWAPGS: exchanges GS.base and IA32_KERNEL_GS_BASE. 64-bit mode (else #UD), CPL 0 (else #GP(0)).
Status Swapgs(CpuState& s);

}  // namespace emu::cpu::system
