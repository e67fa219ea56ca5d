#pragma once
// The reference IR backend: executes a Block instruction by instruction against CpuState and a
// MemoryInterface. Clarity over speed; every other backend must agree with it.
#include <atomic>
#include <optional>
#include <vector>

#include "emu/cpu/ir/block.h"
#include "emu/cpu/ir/helper.h"
#include "emu/cpu/memory_interface.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::interp {

enum class ExitKind : u8 {
    Continue,          // the block ended normally; state.rip is the next instruction
    Halted,            // HLT: state.rip is after it, state.halted set
    Exception,         // `fault` is set; state.rip is the faulting instruction (or the next one for INT n)
    InstructionLimit,  // the budget ran out before the next guest instruction; state.rip is that instruction
};

struct ExecResult {
    ExitKind kind = ExitKind::Continue;
    u64 instructions = 0;  // guest instructions retired
    std::optional<ir::Fault> fault;
};

class Interpreter {
public:
    // Runs `block`, retiring at most `budget` guest instructions. Stopping inside a block is only precise for
    // blocks that have not been through the passes (they drop writes a later instruction overwrites); the
    // Vcpu instead translates blocks no longer than its budget.
    //
    // `code_written`, if given, is the vCPU's exit word: when an instruction that stored (or called a helper) leaves a
    // kMidBlock bit (exit_request.h) set, the block ends before the next instruction, which may be one the store
    // rewrote, or because a device asked the vCPU to stop.
    ExecResult Execute(const ir::Block& block, CpuState& state, MemoryInterface& memory, u64 budget = ~u64{0},
                       const std::atomic<u32>* code_written = nullptr);

private:
    std::vector<u64> values_;  // one slot per IR instruction, reused across calls
};

}  // namespace emu::cpu::interp
