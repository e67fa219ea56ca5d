#pragma once
// Runs test snippets on the host CPU inside a sandboxed child process. The child maps the code page and
// the data area at the fixed addresses of case.h, loads the 16 GPRs and RFLAGS from a control block,
// jumps to the snippet, and stores GPRs and RFLAGS back when the snippet jumps to the exit stub. A
// signal (SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP) becomes an exception outcome whose vector and error
// code come from the kernel's trap number (REG_TRAPNO, REG_ERR, REG_CR2), with the registers at the fault.
// One persistent child runs batches of cases (thousands per second); a child that hangs or dies is
// replaced and the case that killed it is reported as Timeout or Crashed.
#include <memory>
#include <span>
#include <string>

#include "emu/common/result.h"
#include "tests/diff/case.h"

namespace emu::diff {

enum class NativeError : u8 {
    SharedMemory,  //!< could not map the memory shared with the child
    Fork,          //!< could not start the child process
    ChildSetup,    //!< the child could not map its code/data pages at the fixed addresses
    Pipe,          //!< the pipe to the child broke
};

std::string_view NativeErrorMessage(NativeError error);

// Host behaviours that no CPUID bit reports, each measured once in a throwaway child process (for
// HostFeatures::Detect, generator.h, which says what each one changes).
struct HostProbes {
    bool ptwrite = false;                            // F3 0F AE /4 runs instead of raising #UD
    bool x87_suppressed_store_skips_checks = false;  // FSTP m32 to an unmapped page, #IS unmasked: no #PF
    bool mmx_store_fault_sets_top = false;           // MOVQ m64, mm to an unmapped page: TOP = 0 at the #PF
    bool x87_m80_store_split = false;                // FSTP m80 with 8 bytes before an unmapped page: those stored
    bool rep_a32_zero_count_clears_rcx = false;      // 67 F2 AE with ECX = 0 clears RCX[63:32]
    bool fxsave_ss_canonical_first = false;          // FXSAVE [rbp], non-canonical and misaligned: #SS, not #GP
};
HostProbes ProbeHost();

class NativeRunner {
public:
    // `pristine` is the data area's initial pattern (kDataSize bytes).
    static Result<std::unique_ptr<NativeRunner>, NativeError> Start(std::span<const u8> pristine);
    ~NativeRunner();
    NativeRunner(const NativeRunner&) = delete;
    NativeRunner& operator=(const NativeRunner&) = delete;

    // Runs every case; results.size() must equal cases.size().
    Result<void, NativeError> Run(std::span<const CaseInput> cases, std::span<CaseResult> results);

    // Milliseconds the parent waits for one batch before killing the child.
    void set_timeout_ms(int ms) { timeout_ms_ = ms; }

private:
    struct Shared;
    NativeRunner() = default;
    Result<void, NativeError> SpawnChild();
    void KillChild();

    Shared* shared_ = nullptr;
    int child_pid_ = -1;
    int to_child_ = -1;
    int from_child_ = -1;
    int timeout_ms_ = 5000;
};

}  // namespace emu::diff
