#pragma once
// One virtual CPU: decode -> IR -> backend, with exceptions and (later) interrupts. This header is the
// contract used by the machine, the bare-metal runner and the differential tester.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "emu/common/types.h"
#include "emu/cpu/debugger_targets.h"
#include "emu/cpu/memory_interface.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu {

// Which backend runs translated blocks: the IR interpreter (the reference) or the JIT (host x86-64 code).
enum class Backend : u8 { Interpreter, Jit };

// JIT settings (ignored by the interpreter).
struct JitOptions {
    // The code cache's size in bytes (-accel tcg,tb-size=MiB); when full it is flushed whole.
    size_t code_cache_bytes = size_t{64} << 20;
    // Write /tmp/perf-<pid>.map lines so `perf report` names translated blocks by guest RIP.
    bool perf_map = false;
    // Both backends: the heap bytes translated blocks may hold (their IR, which the interpreter keeps, and records;
    // block_cache.h); when full, every block is dropped.
    size_t block_cache_bytes = size_t{256} << 20;
};

// Exception vectors (SDM Vol. 3 6.3.1).
namespace vec {
inline constexpr u8 DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11,
                    SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19;
}

struct ExceptionInfo {
    u8 vector = 0;
    bool has_error_code = false;
    u32 error_code = 0;
    u64 cr2 = 0;     // for #PF
    u64 rip = 0;     // guest RIP of the faulting instruction (state.rip is left there too)
};

enum class StopReason : u8 {
    Halted,           // HLT executed with no interrupt to wake it (state.rip is after the HLT)
    InstructionLimit, // max_instructions retired
    Exception,        // an exception that could not be delivered: IDTR.limit == 0 (bare runs) or
                      // delivery itself failed into a triple fault; see RunResult::exception
    TripleFault,      // shutdown condition
    Stopped,          // RequestStop() was called (another thread, a device, the debugger)
    Breakpoint,       // RIP reached a debugger breakpoint (the instruction there has not run)
    Watchpoint,       // an instruction touched a debugger watchpoint (it has run); see RunResult::watchpoint
};

struct RunResult {
    StopReason reason = StopReason::Halted;
    u64 instructions = 0;                  // guest instructions retired during this call
    std::optional<ExceptionInfo> exception;
    std::optional<DebuggerWatchpoint> watchpoint;  // StopReason::Watchpoint: the one hit
};

// The interrupt controller as the CPU sees it: the INTR and NMI pins. Vcpu::Run polls it at block boundaries
// (from the vCPU thread: implementations guard their own state). A maskable interrupt is taken when
// RFLAGS.IF = 1 and no interrupt shadow (STI, MOV SS) is active; an NMI unless one is being handled (until
// IRET). Either wakes a halted vCPU.
class InterruptSource {
public:
    virtual ~InterruptSource() = default;
    // INTR is asserted.
    virtual bool HasInterrupt() = 0;
    // The interrupt-acknowledge cycle: the vector to deliver (the controller moves it to in-service).
    virtual u8 Acknowledge() = 0;
    // An NMI is pending; AcknowledgeNmi() consumes it.
    virtual bool HasNmi() { return false; }
    virtual void AcknowledgeNmi() {}
};

class Vcpu {
public:
    Vcpu(MemoryInterface& memory, Backend backend = Backend::Interpreter, JitOptions jit = {});
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    CpuState& state();
    const CpuState& state() const;

    // Runs until HLT, an undeliverable exception, a stop request or max_instructions. With `overshoot`, the run may
    // retire up to one block more than max_instructions (a time slice needs no exact end): the last block of the
    // slice then runs translated instead of being cut short on the interpreter.
    RunResult Run(u64 max_instructions = ~u64{0}, bool overshoot = false);

    // Asks Run() to return at the next block boundary; callable from any thread.
    void RequestStop();

    // Makes running code leave translated code at the next block entry so that Run() polls the interrupt
    // source again (an interrupt became pending). Callable from any thread; lock-free.
    void Kick();

    Backend backend() const;

    // Drops every translated block (after a bulk memory load, for example).
    void InvalidateAllCode();
    // The heap bytes the translated blocks hold now (JitOptions::block_cache_bytes bounds it).
    size_t BlockCacheBytes() const;

    // An external debugger's breakpoints and watchpoints (debugger_targets.h). Call between runs: every translation is
    // dropped, so that no translated block runs past a new breakpoint.
    void SetDebuggerTargets(DebuggerTargets targets);
    // The next run starts at a debugger breakpoint it must not stop at again (continuing or stepping from it).
    void SkipBreakpointOnce();
    // Runs one instruction without taking external interrupts (a debugger's single step, as QEMU's default).
    RunResult Step();

    // Where external interrupts come from (null: none, the default). Not owned; set before Run().
    void SetInterruptSource(InterruptSource* source);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Resets `state` to the architectural power-on state (SDM Vol. 3 10.1.1): real mode at F000:FFF0.
void ResetState(CpuState& state);

}  // namespace emu::cpu
