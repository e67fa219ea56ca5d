#pragma once
// Small fixtures shared by the device tests: port access helpers, an IRQ line that records edges, and an event
// loop stand-in that runs the TimerQueue against a ManualClock.
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/timer/clock.h"
#include "devices/timer/timer_queue.h"

namespace emu::devices::test {

inline void Out8(IoDevice& dev, u64 offset, u8 value) { dev.Write(offset, std::span<const u8>(&value, 1)); }

inline u8 In8(IoDevice& dev, u64 offset) {
    u8 value = 0;
    dev.Read(offset, std::span<u8>(&value, 1));
    return value;
}

class RecordingIrqLine final : public IrqLine {
public:
    void SetLevel(bool asserted) override {
        if (asserted && !level) ++rising_edges;
        level = asserted;
    }
    bool level = false;
    int rising_edges = 0;
};

// The machine's event loop in miniature: time advances to each deadline in turn and due timers run there.
struct TimerEnv {
    ManualClock clock;
    TimerQueue timers{clock};

    // Runs every timer due up to ns, calling after_each() after each batch (the "guest reacts" hook).
    template <typename Fn>
    void RunUntil(u64 ns, Fn&& after_each) {
        for (;;) {
            const auto next = timers.NextDeadline();
            if (!next || *next > ns) break;
            clock.Set(std::max(*next, clock.NowNs()));
            timers.RunDue();
            after_each();
        }
        clock.Set(ns);
        timers.RunDue();
        after_each();
    }
    void RunUntil(u64 ns) {
        RunUntil(ns, [] {});
    }
};

}  // namespace emu::devices::test
