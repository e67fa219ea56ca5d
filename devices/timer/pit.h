#pragma once
// Intel 8254 PIT at 0x40-0x43 plus the PC's port 0x61 (gate of counter 2, speaker data, OUT2 and the DRAM
// refresh toggle that Linux's TSC calibration reads).
//
// The counters are not ticked: a counter's value and OUT level are computed from the clock when read, and the
// only timer event is the next OUT transition of counter 0, which drives IRQ0. Modes 0-5, lobyte/hibyte/lohi
// access, BCD, the counter-latch and read-back commands are implemented from the 8254 datasheet.
// Simplifications: a count takes effect when written (no extra load clock), and a new count in modes 2/3
// restarts the period at once instead of at the end of the current one.
//
// Threads: one mutex guards the state; IRQ0 is driven with it held (lock order PIT -> PIC, PIT -> queue).
#include <mutex>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/timer/pit_state.h"
#include "devices/timer/timer_queue.h"

namespace emu::devices {

class Pit {
public:
    // irq0 receives counter 0's OUT level.
    Pit(TimerQueue& timers, IrqLine& irq0);
    // Cancels its timer. Destroy only once no thread runs TimerQueue::RunDue() any more: a callback already
    // taken off the queue would otherwise run on a dead object.
    ~Pit();
    Pit(const Pit&) = delete;
    Pit& operator=(const Pit&) = delete;

    // Bus attachments: Ports() at pit::kBase (4 ports), PortB() at pit::kPortB (1 port).
    IoDevice& Ports() { return ports_; }
    IoDevice& PortB() { return port_b_; }

    // Power-on state: mode 0 with no count loaded (OUT and IRQ0 low), gate 2 low.
    void Reset();
    PitState SaveState() const;
    void RestoreState(const PitState& state);

private:
    u8 ReadPortLocked(u64 port, u64 now);
    void WritePortLocked(u64 port, u8 value, u64 now);
    void ControlWordLocked(u8 value, u64 now);
    void WriteCounterLocked(unsigned index, u8 value, u64 now);
    u8 ReadCounterLocked(unsigned index, u64 now);
    void LoadCountLocked(unsigned index, u32 count, u64 now);
    void SetGateLocked(unsigned index, bool level, u64 now);
    void LatchCountLocked(unsigned index, u64 now);
    void LatchStatusLocked(unsigned index, u64 now);
    // Drives IRQ0 to counter 0's OUT and schedules its next transition.
    void UpdateIrqLocked(u64 now);
    void OnTimer(u64 generation, bool target_level);

    TimerQueue& timers_;
    IrqLine& irq0_;
    mutable std::mutex mutex_;
    PitState state_;
    TimerId timer_ = kNoTimer;
    u64 generation_ = 0;  // bumped on every reschedule, so a stale callback does nothing
    IoDeviceThunk ports_;
    IoDeviceThunk port_b_;
};

}  // namespace emu::devices
