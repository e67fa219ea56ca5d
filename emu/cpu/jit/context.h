#pragma once
// The state translated code reads and writes besides CpuState: one per vCPU, pinned in a host register while
// translated code runs (jit/x64/abi.h). Field offsets are read by the emitter with offsetof, so keep it standard
// layout.
#include <atomic>
#include <cstddef>
#include <optional>

#include "emu/common/types.h"
#include "emu/cpu/exit_request.h"
#include "emu/cpu/ir/helper.h"
#include "emu/cpu/memory_interface.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::jit {

namespace exit_bit = cpu::exit_bit;

// Why translated code returned to the dispatcher (the value in eax at the epilogue).
enum class JitExit : u32 {
    Continue = 0,   // state.rip is the next instruction
    Halted = 1,     // HLT: state.rip is after it, state.halted set
    Exception = 2,  // JitContext::fault holds it; state.rip is the faulting instruction (or the next, for INT n)
    Link = 3,       // a direct exit not yet chained: state.rip is its target, exit_slot names it
    Entry = 4,      // a block entry found exit_request set or the budget too small: state.rip is that block's start
    Dispatcher = 5, // ExitToDispatcher: state.rip is the next instruction, and state later blocks depend on changed
};

struct ExitSlot;

struct JitContext {
    CpuState* state = nullptr;
    MemoryInterface* memory = nullptr;
    // Set by other threads (Vcpu::Kick) and by the memory path (self-modifying code); cleared by the dispatcher.
    std::atomic<u32> exit_request{0};
    u32 fault_pending = 0;  // set by a slow path that raised; translated code tests it after each call
    // Set by the dispatcher while an interrupt is pending that RFLAGS.IF (or a shadow) holds back: the exit after STI
    // or POPF then leaves for the dispatcher instead of going on. A newly pending interrupt sets exit_request.
    u32 masked_interrupt = 0;
    // Guest instructions translated code may still retire before it must return (blocks subtract their length at
    // entry and add back what they did not run when they leave early). Held in a register (x64::kBudget) from the
    // entry thunk to the epilogue: C code called from translated code must not use this copy.
    u64 budget = 0;
    ExitSlot* exit_slot = nullptr;  // JitExit::Link: the exit taken
    // Status flags a block's conditional exit left unmerged (merging costs more than the branch they end with), or 0:
    // the OF bit in bit 0, LAHF's byte (SF ZF AF PF CF at their RFLAGS positions) in bits 8-15 and the RFLAGS mask of
    // the flags it replaces in bits 16-27. While it is set, those bits of the RFLAGS register in translated code are
    // stale; the epilogue applies it, so it is 0 whenever translated code is not running (x64/emitter.cpp). A cache
    // line of its own: most block exits write it, and other threads write exit_request.
    alignas(64) u32 deferred_flags = 0;
    // Inline SSE arithmetic loads the guest's MXCSR through memory and gives the host back the ABI's default.
    static constexpr u32 kHostMxcsr = 0x1F80;
    u32 mxcsr_scratch = 0;
    std::optional<ir::Fault> fault;
    // MemoryInterface::InlineTlb for supervisor and user accesses (null: none), for helpers' memory accesses.
    const mmu::TlbEntry* tlb_supervisor = nullptr;
    const mmu::TlbEntry* tlb_user = nullptr;
};
static_assert(std::is_standard_layout_v<JitContext>);

// Slow paths called from translated code (System V ABI). On a fault they record it in ctx (fault, fault_pending = 1)
// and return 0; the caller's code then leaves through the faulting instruction's exception exit.
extern "C" {
u64 JitLoadSlow(JitContext* ctx, u64 linear, u32 size_and_flags);
void JitStoreSlow(JitContext* ctx, u64 linear, u64 value, u32 size_and_flags);
u64 JitCallHelper(JitContext* ctx, const ir::HelperInfo* helper, u64 a, u64 b, u64 c);
void JitRaise(JitContext* ctx, u32 vector, u32 error_code);
u64 JitComputeFlags(u32 kind_and_type, u64 a, u64 b, u64 result, u64 carry_in, u64 old_rflags);
}

// size_and_flags: the access size in bytes in bits 0-7, ir::mem_flags in bits 8 and up.
constexpr u32 PackAccess(unsigned size, unsigned flags) { return size | (flags << 8); }

}  // namespace emu::cpu::jit
