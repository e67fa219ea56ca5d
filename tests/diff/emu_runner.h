#pragma once
// Runs test snippets on the emulator's Vcpu, in 64-bit mode at CPL 3 over a FlatMemory laid out like the
// native sandbox, and reports the outcome in the native runner's terms. The snippet is followed by HLT:
// the run ends there (StopReason::Halted, or the #GP(0) that HLT raises at CPL 3; both count as completion).
#include <memory>
#include <span>

#include "emu/cpu/vcpu.h"
#include "tests/diff/case.h"
#include "tests/diff/flat_memory.h"

namespace emu::diff {

class EmuRunner {
public:
    EmuRunner(std::span<const u8> pristine, cpu::Backend backend = cpu::Backend::Interpreter);

    CaseResult Run(const CaseInput& input);

    // Instructions a case may retire before it counts as a runaway (REP iterations included).
    static constexpr u64 kMaxInstructions = 100000;

private:
    void SetUpState(const CaseInput& input);

    std::vector<u8> pristine_;
    FlatMemory memory_;
    cpu::Vcpu vcpu_;
};

}  // namespace emu::diff
