#pragma once
// Time sources for the timer devices. Devices never read host time directly: the machine passes a Clock, so
// tests (ManualClock) and, later, record/replay or icount runs are deterministic.
#include <atomic>
#include <chrono>

#include "emu/common/types.h"

namespace emu::devices {

inline constexpr u64 kNsPerSec = 1'000'000'000;

class Clock {
public:
    virtual ~Clock() = default;
    // Monotonic nanoseconds; the epoch is arbitrary but fixed for the clock's lifetime.
    virtual u64 NowNs() const = 0;
};

// The host's monotonic clock, counted from construction (so guest-visible times start near zero).
class HostClock final : public Clock {
public:
    HostClock() : start_(std::chrono::steady_clock::now()) {}
    u64 NowNs() const override { return ElapsedNs() + offset_.load(std::memory_order_acquire); }
    // Makes NowNs() read now_ns at this instant and go on from there: a restored snapshot's devices continue on the
    // timeline they were saved on. Devices must be restored (their timers re-armed) right after.
    void Rebase(u64 now_ns) { offset_.store(now_ns - ElapsedNs(), std::memory_order_release); }

private:
    u64 ElapsedNs() const {
        const auto elapsed = std::chrono::steady_clock::now() - start_;
        return static_cast<u64>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    }

    std::chrono::steady_clock::time_point start_;
    std::atomic<u64> offset_{0};  // modulo 2^64: a rebase to an earlier time wraps and adds back correctly
};

// A clock that moves only when told to (tests, deterministic runs).
class ManualClock final : public Clock {
public:
    explicit ManualClock(u64 start_ns = 0) : now_(start_ns) {}
    u64 NowNs() const override { return now_.load(std::memory_order_acquire); }
    void Set(u64 ns) { now_.store(ns, std::memory_order_release); }
    void Advance(u64 ns) { now_.fetch_add(ns, std::memory_order_acq_rel); }

private:
    std::atomic<u64> now_;
};

// Converts between a counter running at hz and nanoseconds without overflow (u128 intermediates).
// TicksIn(ns): ticks completed in ns. NsForTicks(ticks): the first instant at which `ticks` have completed.
constexpr u64 TicksIn(u64 ns, u64 hz) { return static_cast<u64>(static_cast<u128>(ns) * hz / kNsPerSec); }
constexpr u64 NsForTicks(u64 ticks, u64 hz) {
    return static_cast<u64>((static_cast<u128>(ticks) * kNsPerSec + hz - 1) / hz);
}

}  // namespace emu::devices
