#include "emu/debug/run_control.h"

#include <chrono>

namespace emu::debug {

void RunControl::AddListener(Listener listener) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(listener));
}

void RunControl::RequestPause() {
    {
        std::lock_guard lock(mutex_);
        if (parked_ || shutdown_) return;
        pause_requested_ = true;
    }
    if (stopper_) stopper_();
}

bool RunControl::WaitPaused(int timeout_ms) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return parked_ || shutdown_; });
    return parked_ && !shutdown_;
}

bool RunControl::Paused() const {
    std::lock_guard lock(mutex_);
    return parked_;
}

StopEvent RunControl::LastStop() const {
    std::lock_guard lock(mutex_);
    return last_stop_;
}

void RunControl::Resume(ResumeMode mode, unsigned step_cpu) {
    {
        std::lock_guard lock(mutex_);
        if (!parked_) return;
        resume_ = mode;
        resume_cpu_ = step_cpu;
        pause_requested_ = false;
        // The resuming thread gives up the state now: a WaitPaused from here on waits for the next stop.
        parked_ = false;
    }
    changed_.notify_all();
    Notify(nullptr);
}

void RunControl::Shutdown() {
    {
        std::lock_guard lock(mutex_);
        shutdown_ = true;
    }
    changed_.notify_all();
}

bool RunControl::ShuttingDown() const {
    std::lock_guard lock(mutex_);
    return shutdown_;
}

bool RunControl::PauseRequested() const {
    std::lock_guard lock(mutex_);
    return pause_requested_;
}

ResumeMode RunControl::Park(const StopEvent& stop, unsigned* step_cpu) {
    std::unique_lock lock(mutex_);
    if (shutdown_) return ResumeMode::Continue;
    parked_ = true;
    pause_requested_ = false;
    resume_.reset();
    last_stop_ = stop;
    // Listeners hear of the stop before anyone can resume it (they run under the lock: they must not call back).
    for (const Listener& l : listeners_) l(&stop);
    changed_.notify_all();
    changed_.wait(lock, [&] { return resume_.has_value() || shutdown_; });
    parked_ = false;
    const ResumeMode mode = resume_.value_or(ResumeMode::Continue);
    resume_.reset();
    if (step_cpu) *step_cpu = resume_cpu_;
    return mode;
}

void RunControl::Notify(const StopEvent* stop) {
    std::lock_guard lock(mutex_);
    for (const Listener& l : listeners_) l(stop);
}

}  // namespace emu::debug
