#pragma once
// Stopping and starting the vCPU from other threads (the gdb stub, the monitor) at an instruction boundary.
//
// The vCPU thread's loop asks PauseRequested() between runs (a request also makes the running vCPU leave translated
// code through the exit-request word, see SetStopper) and then calls Park(), which blocks until another thread calls
// Resume(). While the vCPU is parked, the thread that saw Paused() may read and change its state and guest memory:
// Park and Resume pass through one mutex, which orders those accesses with the vCPU's own.
//
// Stops are reported to listeners (the gdb stub waits for the one that ends a continue; QMP sends STOP and RESUME).
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "emu/cpu/debugger_targets.h"

namespace emu::debug {

enum class StopCause : u8 {
    Paused,      // someone asked (gdb's Ctrl-C, the monitor's stop, -S at start-up)
    Breakpoint,  // a debugger breakpoint
    Watchpoint,  // a debugger watchpoint (see StopEvent::watchpoint)
    Stepped,     // a debugger single step finished
};

struct StopEvent {
    StopCause cause = StopCause::Paused;
    std::optional<cpu::DebuggerWatchpoint> watchpoint;
    unsigned cpu = 0;  // the vCPU that stopped (the one that ran last, for a pause)
};

enum class ResumeMode : u8 { Continue, Step };

class RunControl {
public:
    // How a pause request reaches a running vCPU (Vcpu::RequestStop). Set before the vCPU thread starts.
    void SetStopper(std::function<void()> stop) { stopper_ = std::move(stop); }
    // Called with every stop (on the vCPU thread, before it blocks) and every resume (on the resuming thread).
    // Listeners must not call back into this object.
    using Listener = std::function<void(const StopEvent* stop)>;  // null: resumed
    void AddListener(Listener listener);

    // ---- any thread
    // Asks the vCPU to park at the next instruction boundary (nothing happens if it already is).
    void RequestPause();
    // Waits until the vCPU is parked: false if `timeout_ms` passed first or the machine is ending.
    bool WaitPaused(int timeout_ms);
    bool Paused() const;
    // The stop the vCPU is parked with (call while Paused()).
    StopEvent LastStop() const;
    // Lets a parked vCPU go on (ResumeMode::Step: one instruction of vCPU `step_cpu`, then it parks again with
    // StopCause::Stepped).
    void Resume(ResumeMode mode = ResumeMode::Continue, unsigned step_cpu = 0);
    // The machine is ending: Park returns at once from now on and waiters give up.
    void Shutdown();
    bool ShuttingDown() const;

    // ---- the vCPU thread
    bool PauseRequested() const;
    // Blocks until Resume() or Shutdown(); returns how to go on (and in *step_cpu, which vCPU a step is for).
    ResumeMode Park(const StopEvent& stop, unsigned* step_cpu = nullptr);

private:
    void Notify(const StopEvent* stop);

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::function<void()> stopper_;
    std::vector<Listener> listeners_;
    bool pause_requested_ = false;
    bool parked_ = false;
    bool shutdown_ = false;
    std::optional<ResumeMode> resume_;
    unsigned resume_cpu_ = 0;
    StopEvent last_stop_;
};

}  // namespace emu::debug
