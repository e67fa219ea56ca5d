#pragma once
// Hardware task switching in 32-bit protected mode (SDM Vol. 3 chapter 8; Vol. 2 JMP, CALL, INT n, IRET): far JMP or
// CALL to a TSS descriptor or through a task gate, an interrupt or exception through a task gate in the IDT, and IRET
// with NT = 1 back to the task in the link field. The old task's state goes to its TSS, the busy bits and the link
// field follow the entry (JMP clears the old busy bit, CALL and events nest: NT and the back link, IRET unnests),
// TR, CR0.TS, CR3 (with paging on), LDTR, EFLAGS, EIP, the GPRs and the segments come from the new TSS, and the
// TSS's T bit raises a #DB trap in the new task (DR6.BT).
//
// Checks come in the order of the SDM's pseudocode and Table 8-2. Those before the switch raise with nothing
// changed; those after the new task's state is loaded (segment descriptors: #TS, #NP, #SS; EIP beyond the CS limit:
// #GP(0)) are faults of the new task. Only 32-bit TSSs: a 16-bit TSS as a target is #GP(selector) (not modelled).
// In IA-32e mode there are no task switches: a far JMP/CALL naming a TSS or task gate is #GP(selector)
// (segments.cpp), IRET with NT = 1 is #GP(0) and a task gate in the IDT is #GP (exceptions.cpp).
#include <optional>

#include "emu/cpu/system/descriptors.h"

namespace emu::cpu::system {

// Far JMP/CALL: nullopt when `selector` names neither a task gate nor a TSS (or in IA-32e mode), for the ordinary far
// transfer. Otherwise the switch; `next_rip` is the EIP saved in the old TSS. A fault in the new task is delivered
// there. Returns the RIP to go on at.
std::optional<SysResult<u64>> FarTaskSwitch(CpuState& s, MemoryInterface& m, u16 selector, bool call, u64 next_rip);

// IRET with NT = 1 outside IA-32e mode: back to the task named by the current TSS's link field. Returns the RIP to
// go on at; a fault in the new task is delivered there.
SysResult<u64> TaskReturn(CpuState& s, MemoryInterface& m, u64 next_rip);

// An interrupt or exception through `gate`, a present task gate of the IDT whose DPL the caller checked: switches
// with nesting (s.rip is the EIP saved in the old TSS) and pushes `error_code` on the new task's stack if `push_code`.
// A fault after the new task's state is loaded is delivered in the new task.
Status EventTaskSwitch(CpuState& s, MemoryInterface& m, const Descriptor& gate, u32 ext, bool push_code,
                       u32 error_code);

}  // namespace emu::cpu::system
