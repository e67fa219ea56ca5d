#pragma once
// The ACPI power-management fixed hardware, QEMU PIIX4 style at port 0x600 (see acpi_pm_regs.h): PM1 status and
// enable (timer overflow, power button), PM1 control (SLP_TYP/SLP_EN: S5 powers off), and the 24-bit
// 3.579545 MHz PM timer derived from the Clock. The SCI (IRQ 9, level) is asserted while any enabled status
// bit is set. The hardware is always in ACPI mode (the FADT has no SMI_CMD), so SCI_EN reads 1. Sleep states
// other than S5 are not supported (logged and ignored).
//
// Threads: one mutex guards the state; the SCI is driven with it held (lock order PM -> PIC/I/O APIC); the
// power-off callback runs on the vCPU thread with no lock held.
#include <functional>
#include <mutex>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/platform/acpi_pm_state.h"
#include "devices/timer/timer_queue.h"

namespace emu::devices {

class AcpiPm final : public IoDevice {
public:
    // on_power_off: the guest entered S5 (the machine exits with status 0).
    AcpiPm(TimerQueue& timers, IrqLine& sci, std::function<void()> on_power_off);
    // Cancels its timer. Destroy only once no thread runs TimerQueue::RunDue() any more.
    ~AcpiPm();
    AcpiPm(const AcpiPm&) = delete;
    AcpiPm& operator=(const AcpiPm&) = delete;

    // Insert at acpi_pm::kBase, acpi_pm::kPorts ports.
    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    // The host asks for an orderly shutdown: sets PWRBTN_STS (SCI if the guest enabled it).
    void PressPowerButton();
    u32 TimerValue() const;

    void Reset();
    AcpiPmState SaveState() const;
    void RestoreState(const AcpiPmState& state);

private:
    // All Locked functions: call with mutex_ held.
    u64 TicksLocked() const;
    u16 StatusLocked() const;
    u8 ReadByteLocked(u64 offset) const;
    bool WriteByteLocked(u64 offset, u8 value);  // returns true on an S5 request
    void UpdateSciLocked();
    void ScheduleLocked();
    void OnTimer(u64 generation);

    TimerQueue& timers_;
    IrqLine& sci_;
    std::function<void()> on_power_off_;
    mutable std::mutex mutex_;
    AcpiPmState state_;
    bool sci_level_ = false;
    TimerId timer_ = kNoTimer;
    u64 generation_ = 0;
};

}  // namespace emu::devices
