#pragma once
// Exception and interrupt delivery (SDM Vol. 3 chapter 6) and IRET. Real mode through the IVT; protected
// mode through 16/32-bit interrupt and trap gates with a stack switch from the TSS; long mode through 64-bit
// gates with IST, 16-byte stack alignment and SS := NULL on a privilege change. The #DF rules (contributory,
// page-fault and benign classes, Table 6-5) and the triple fault are applied by DeliverEvent.
//
// A task gate in a 32-bit IDT switches tasks (task_switch.h); IRET with NT = 1 returns to the previous task there
// (the translator calls TaskReturn). Not modelled: VME/PVI virtual interrupts; machine-check banks. (DR6 is written by the raiser: emu/cpu/system/debug.h.)
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

enum class EventKind : u8 {
    Exception,    // raised by the processor: error code as given, EXT = 1 in faults during delivery
    External,     // INTR or NMI from outside: no error code, EXT = 1
    SoftwareInt,  // INT n, INT3, INTO: gate DPL must be >= CPL, no error code, EXT = 0
    Icebp,        // INT1 (F1): a #DB trap without the DPL check, EXT = 1
};

struct Event {
    u8 vector = 0;
    EventKind kind = EventKind::Exception;
    bool has_error_code = false;
    u32 error_code = 0;
    u64 cr2 = 0;  // #PF: loaded into CR2 before delivery
    // Push RFLAGS with RF = 1 so that IRET restarts the instruction without its instruction breakpoint: fault-class
    // exceptions other than an instruction-breakpoint #DB (SDM Vol. 3 18.3.1.1). DeliverEvent sets it for the
    // exceptions raised during delivery.
    bool resume_flag = false;
    // INT n, INT3, INTO: the instruction's own RIP. A fault while delivering one is a fault of the instruction
    // (SDM Vol. 3 6.5): it saves this RIP, so a handler that fixes the gate or the stack returns to retry it.
    u64 instruction_rip = 0;
};

enum class DeliveryResult : u8 {
    Delivered,    // the handler is entered: state is at its first instruction
    TripleFault,  // shutdown (a fault while delivering #DF)
};

// Delivers `event`; state.rip is the return address to push (the faulting instruction for faults, the
// next one for traps and INT n). A fault during delivery is handled per Table 6-5: delivered serially, as
// #DF, or as a triple fault.
DeliveryResult DeliverEvent(CpuState& s, MemoryInterface& m, const Event& event);

// One delivery attempt without #DF escalation: the exception delivery itself raised (state unchanged then).
Status DeliverOnce(CpuState& s, MemoryInterface& m, const Event& event);

// Vectors whose exception is a fault (the saved RIP is the faulting instruction): #DE #BR #UD #NM #TS #NP #SS #GP
// #PF #MF #AC #XM. #DB is a fault only for instruction breakpoints and general detect; the caller knows which.
bool IsFaultVector(u8 vector);

// The #DF class of a vector (Table 6-4).
enum class ExceptionClass : u8 { Benign, Contributory, PageFault, DoubleFault };
ExceptionClass ClassOf(u8 vector);

// IRET/IRETD/IRETQ in protected, compatibility and 64-bit mode (real and virtual-8086 mode IRET are plain
// pops that the translator emits). `op_size` is 2, 4 or 8. Returns the new RIP; CS, SS, RSP, RFLAGS and
// the data segments are updated; nothing changes on a fault. With NT = 1 it is #GP(0) (the IA-32e rule): outside
// IA-32e mode the translator calls TaskReturn (task_switch.h) instead.
SysResult<u64> InterruptReturn(CpuState& s, MemoryInterface& m, unsigned op_size);

}  // namespace emu::cpu::system
