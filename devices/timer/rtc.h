#pragma once
// Motorola MC146818 RTC and CMOS RAM at 0x70 (index, bit 7 = NMI disable) / 0x71 (data).
//
// The time of day is computed from the Clock when read (base wall time + elapsed whole seconds), in BCD or
// binary and 12/24-hour form per register B. UIP is high during the 244 us before each update; SET freezes
// the time registers so the guest can write them, and clearing SET restarts the clock from them. Register C's
// PF/UF/AF flags are accounted lazily from the clock; a timer event is scheduled only when an enabled flag
// can raise IRQ8 (and the line is not already high), so an idle RTC costs nothing. Daylight saving and the
// square-wave output are not modelled; an alarm is checked against the latest second boundary only.
//
// Threads: one mutex guards the state; IRQ8 is driven with it held (lock order RTC -> PIC, RTC -> queue).
#include <mutex>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/timer/rtc_state.h"
#include "devices/timer/timer_queue.h"

namespace emu::devices {

class Rtc {
public:
    // unix_seconds: the wall time the RTC shows at the clock's current instant (the machine passes the host
    // time, or a fixed value for reproducible runs).
    Rtc(TimerQueue& timers, IrqLine& irq8, i64 unix_seconds);
    // Cancels its timer. Destroy only once no thread runs TimerQueue::RunDue() any more: a callback already
    // taken off the queue would otherwise run on a dead object.
    ~Rtc();
    Rtc(const Rtc&) = delete;
    Rtc& operator=(const Rtc&) = delete;

    // Bus attachment: Ports() at rtc::kBase (2 ports).
    IoDevice& Ports() { return ports_; }

    // Machine-side CMOS access (fills NVRAM fields; not for the clock registers 0x00-0x0D).
    u8 ReadCmos(u8 index) const;
    void WriteCmos(u8 index, u8 value);
    // Fills the memory-size fields (0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5B-0x5D) for a RAM layout.
    void SetMemorySize(u64 below_4g_bytes, u64 above_4g_bytes);
    void SetTime(i64 unix_seconds);
    // The guest's current wall time in Unix seconds.
    i64 Time() const;
    // Bit 7 of the last index written: the PC's NMI mask.
    bool NmiMasked() const;

    RtcState SaveState() const;
    void RestoreState(const RtcState& state);

private:
    u8 ReadDataLocked(u64 now);
    void WriteDataLocked(u8 value, u64 now);
    i64 TimeLocked(u64 now) const;
    bool UpdateInProgressLocked(u64 now) const;
    // Writes the current time into the clock registers, in the format register B selects.
    void FreezeLocked(u64 now);
    // Restarts the clock from the clock registers; the next update comes one second after `phase_ns`.
    void ThawLocked(u64 phase_ns);
    // Accounts PF/UF/AF up to now and drives IRQ8.
    void UpdateFlagsLocked(u64 now);
    void RescheduleLocked(u64 now);
    void OnTimer(u64 generation);

    TimerQueue& timers_;
    IrqLine& irq8_;
    mutable std::mutex mutex_;
    RtcState state_;
    TimerId timer_ = kNoTimer;
    u64 generation_ = 0;
    IoDeviceThunk ports_;
};

}  // namespace emu::devices
