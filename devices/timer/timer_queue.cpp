#include "devices/timer/timer_queue.h"

namespace emu::devices {

TimerId TimerQueue::ScheduleAt(u64 deadline_ns, std::function<void()> callback) {
    std::function<void()> wakeup;
    TimerId id;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
        const Key key{deadline_ns, id};
        timers_.emplace(key, std::move(callback));
        deadlines_.emplace(id, deadline_ns);
        if (timers_.begin()->first == key) wakeup = wakeup_;
    }
    if (wakeup) wakeup();
    return id;
}

bool TimerQueue::Cancel(TimerId id) {
    std::lock_guard lock(mutex_);
    const auto it = deadlines_.find(id);
    if (it == deadlines_.end()) return false;
    timers_.erase(Key{it->second, id});
    deadlines_.erase(it);
    return true;
}

std::optional<u64> TimerQueue::NextDeadline() const {
    std::lock_guard lock(mutex_);
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first.first;
}

size_t TimerQueue::RunDue() {
    size_t ran = 0;
    for (;;) {
        std::function<void()> callback;
        {
            std::lock_guard lock(mutex_);
            if (timers_.empty()) break;
            const auto it = timers_.begin();
            if (it->first.first > clock_.NowNs()) break;
            callback = std::move(it->second);
            deadlines_.erase(it->first.second);
            timers_.erase(it);
        }
        callback();
        ++ran;
    }
    return ran;
}

void TimerQueue::SetWakeup(std::function<void()> wakeup) {
    std::lock_guard lock(mutex_);
    wakeup_ = std::move(wakeup);
}

}  // namespace emu::devices
