#pragma once
// Deadlines for device timers, driven by the machine's event loop: devices never poll from the CPU loop.
//
// The machine's I/O thread sleeps until NextDeadline() (re-armed through the wakeup callback when an earlier
// deadline is scheduled) and then calls RunDue(). Tests drive it with a ManualClock.
//
// Threads: an internal mutex guards the queue; callbacks run with it released, so a callback may schedule or
// cancel timers. Lock order: a device may hold its own lock while calling ScheduleAt/Cancel; the queue never
// calls a device with its lock held. Because a callback may already be running when Cancel() is called from
// another thread, devices also check a generation number of their own inside the callback.
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "devices/timer/clock.h"
#include "emu/common/types.h"

namespace emu::devices {

using TimerId = u64;
inline constexpr TimerId kNoTimer = 0;

class TimerQueue {
public:
    explicit TimerQueue(const Clock& clock) : clock_(clock) {}

    const Clock& clock() const { return clock_; }

    // Runs callback once, from RunDue(), at or after deadline_ns. Returns a non-zero id for Cancel().
    TimerId ScheduleAt(u64 deadline_ns, std::function<void()> callback);
    // Returns false if the timer already ran or was cancelled.
    bool Cancel(TimerId id);

    std::optional<u64> NextDeadline() const;
    // Runs every callback whose deadline is <= the clock's now, earliest first (ties in scheduling order),
    // including ones that those callbacks schedule at or before now. Returns how many ran.
    size_t RunDue();

    // Called (without the queue lock) when a newly scheduled timer becomes the earliest deadline. It runs on
    // the scheduling thread, possibly with a device lock held: it must only signal the event loop.
    void SetWakeup(std::function<void()> wakeup);

private:
    using Key = std::pair<u64, TimerId>;  // (deadline, id): ids grow, so ties run in scheduling order

    const Clock& clock_;
    mutable std::mutex mutex_;
    std::map<Key, std::function<void()>> timers_;
    std::unordered_map<TimerId, u64> deadlines_;
    TimerId next_id_ = 1;
    std::function<void()> wakeup_;
};

}  // namespace emu::devices
