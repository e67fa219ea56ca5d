// TimerQueue: the event-loop-facing timer interface the devices schedule on.
#include <catch2/catch.hpp>

#include <vector>

#include "devices/timer/timer_queue.h"

using namespace emu;
using namespace emu::devices;

TEST_CASE("timers run in deadline order, only once due, and not after Cancel", "[devices][timer]") {
    ManualClock clock;
    TimerQueue queue(clock);
    std::vector<int> ran;
    queue.ScheduleAt(300, [&] { ran.push_back(3); });
    const TimerId cancelled = queue.ScheduleAt(200, [&] { ran.push_back(2); });
    queue.ScheduleAt(100, [&] { ran.push_back(1); });
    CHECK(queue.NextDeadline() == 100u);
    CHECK(queue.Cancel(cancelled));
    CHECK_FALSE(queue.Cancel(cancelled));
    clock.Set(99);
    CHECK(queue.RunDue() == 0);
    clock.Set(1000);
    CHECK(queue.RunDue() == 2);
    CHECK(ran == std::vector<int>{1, 3});
    CHECK_FALSE(queue.NextDeadline().has_value());
}

TEST_CASE("a callback may reschedule, and the wakeup fires for a new earliest deadline", "[devices][timer]") {
    ManualClock clock;
    TimerQueue queue(clock);
    int wakeups = 0;
    queue.SetWakeup([&] { ++wakeups; });
    int ticks = 0;
    std::function<void()> tick = [&] {
        if (++ticks < 3) queue.ScheduleAt(clock.NowNs() + 10, tick);
    };
    queue.ScheduleAt(10, tick);
    queue.ScheduleAt(50, [] {});  // not the earliest: no wakeup
    CHECK(wakeups == 1);
    for (u64 t = 10; t <= 30; t += 10) {
        clock.Set(t);
        queue.RunDue();
    }
    CHECK(ticks == 3);
}
