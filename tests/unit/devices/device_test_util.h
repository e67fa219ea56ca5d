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

// Little-endian accesses of n (1-8) bytes, as the bus hands them to a device.
inline u64 InN(IoDevice& dev, u64 offset, size_t n) {
    u8 bytes[8] = {};
    dev.Read(offset, std::span<u8>(bytes, n));
    return LoadLe(std::span<const u8>(bytes, n));
}
inline void OutN(IoDevice& dev, u64 offset, size_t n, u64 value) {
    u8 bytes[8] = {};
    StoreLe(std::span<u8>(bytes, n), value);
    dev.Write(offset, std::span<const u8>(bytes, n));
}
inline u16 In16(IoDevice& dev, u64 offset) { return static_cast<u16>(InN(dev, offset, 2)); }
inline u32 In32(IoDevice& dev, u64 offset) { return static_cast<u32>(InN(dev, offset, 4)); }
inline u64 In64(IoDevice& dev, u64 offset) { return InN(dev, offset, 8); }
inline void Out16(IoDevice& dev, u64 offset, u16 value) { OutN(dev, offset, 2, value); }
inline void Out32(IoDevice& dev, u64 offset, u32 value) { OutN(dev, offset, 4, value); }
inline void Out64(IoDevice& dev, u64 offset, u64 value) { OutN(dev, offset, 8, value); }

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
