#pragma once
// Runs test snippets on the emulator's Vcpu, in 64-bit mode at CPL 3 over a FlatMemory laid out like the
// native sandbox (seen through an InjectingMemory, which logs the data accesses and can fail one of them), and
// reports the outcome in the native runner's terms. The snippet is followed by HLT: the run ends there
// (StopReason::Halted, or the #GP(0) that HLT raises at CPL 3; both count as completion).
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "emu/cpu/vcpu.h"
#include "tests/diff/case.h"
#include "tests/diff/flat_memory.h"
#include "tests/diff/injecting_memory.h"

namespace emu::diff {

class EmuRunner {
public:
    EmuRunner(std::span<const u8> pristine, cpu::Backend backend = cpu::Backend::Interpreter);

    // Changes the 64-bit CPL 3 start state before a run (another CPU mode, say); the snippet still starts at RIP.
    using StateAdjust = std::function<void(cpu::CpuState&)>;

    // Runs one case; `injection` makes its k-th data access fault (see injecting_memory.h). The reference stays
    // valid until the next Run, as do the accessors below, which describe the same run.
    const CaseResult& Run(const CaseInput& input, FaultInjection injection = {}, const StateAdjust& adjust = {});

    const CaseResult& result() const { return result_; }
    // The CPU state where the run stopped (result() holds the parts the host can be compared on).
    const cpu::CpuState& state() const { return vcpu_.state(); }
    std::span<const DataAccess> accesses() const { return front_.log(); }
    bool injected() const { return front_.injected(); }
    u64 instructions() const { return instructions_; }
    cpu::Backend backend() const { return backend_; }

    // Instructions a case may retire before it counts as a runaway (REP iterations included).
    static constexpr u64 kMaxInstructions = 100000;
    void SetInstructionLimit(u64 limit) { instruction_limit_ = limit; }

private:
    void SetUpState(const CaseInput& input);

    cpu::Backend backend_;
    std::vector<u8> pristine_;
    FlatMemory memory_;
    InjectingMemory front_{memory_};
    cpu::Vcpu vcpu_;
    CaseResult result_;
    u64 instructions_ = 0;
    u64 instruction_limit_ = kMaxInstructions;
};

// "interp" or "jit", the column names of the testers' reports.
std::string_view BackendName(cpu::Backend backend);

}  // namespace emu::diff
