#pragma once
// The HPET at 0xFED00000 (IA-PC HPET specification 1.0a) with QEMU's `pc` parameters: 3 timers, a 64-bit main
// counter at 100 MHz (10 ns), legacy replacement routing, vendor 0x8086. FSB (MSI) delivery is not supported.
//
// The counter is computed from the Clock; each timer's next comparator match is one TimerQueue event.
// Comparator semantics follow the spec and QEMU: in periodic mode a comparator write sets the period (the
// accumulator), and also the comparator when Tn_VAL_SET_CNF is set (which then clears); on each match the
// period is added to the comparator (matches missed while the host was busy coalesce into one interrupt).
// 32-bit mode compares the low 32 bits and wraps there.
// Interrupts: legacy replacement routes timer 0 to ISA IRQ0 and timer 1 to IRQ8 (the machine's ISA lines,
// which reach both the 8259 and, through the MADT override, I/O APIC pin 2 / 8); otherwise Tn_INT_ROUTE_CNF
// selects an I/O APIC input. Level-triggered timers set their GINTR_STA bit and hold the line until the guest
// writes 1 to it; edge-triggered ones pulse.
//
// Threads: one mutex guards the state; lines are driven with it held (lock order HPET -> PIC/I/O APIC,
// HPET -> queue). The legacy callback runs without the lock.
#include <array>
#include <functional>
#include <mutex>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/timer/hpet_state.h"
#include "devices/timer/timer_queue.h"

namespace emu::devices {

struct HpetIrqs {
    std::array<IrqLine*, 24> gsi{};  // I/O APIC inputs (null: not wired)
    IrqLine* irq0 = nullptr;         // legacy replacement targets: ISA IRQ0 and IRQ8
    IrqLine* irq8 = nullptr;
};

class Hpet final : public IoDevice {
public:
    Hpet(TimerQueue& timers, const HpetIrqs& irqs);
    // Cancels its timers. Destroy only once no thread runs TimerQueue::RunDue() any more.
    ~Hpet();
    Hpet(const Hpet&) = delete;
    Hpet& operator=(const Hpet&) = delete;

    // MMIO: insert at hpet::kBase, hpet::kSize bytes. 32- and 64-bit accesses.
    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    // Called with the new LEG_RT_CNF value when it changes: the machine silences the PIT's IRQ0 and the RTC's
    // IRQ8 while the HPET owns them (as QEMU does).
    void SetLegacyCallback(std::function<void(bool)> callback);

    void Reset();
    HpetState SaveState() const;
    void RestoreState(const HpetState& state);

private:
    static constexpr unsigned kOutputs = 26;  // 24 GSIs, then IRQ0 and IRQ8
    // All Locked functions: call with mutex_ held.
    u64 ReadRegisterLocked(u64 reg, u64 now) const;
    void WriteRegisterLocked(u64 reg, u64 value, u64 mask, u64 now);
    void WriteTimerLocked(unsigned n, u64 reg, u64 value, u64 mask);
    u64 CounterLocked(u64 now) const;
    bool EnabledLocked() const { return state_.config & hpet::kEnable; }
    int OutputLocked(unsigned n) const;  // the output a timer drives, or -1
    void DriveLinesLocked();             // level outputs follow GINTR_STA
    void FireLocked(unsigned n, u64 now);
    void ScheduleLocked(unsigned n);
    void ScheduleAllLocked();
    void OnTimer(unsigned n, u64 generation);

    TimerQueue& timers_;
    std::array<IrqLine*, kOutputs> outputs_{};
    NullIrqLine null_line_;
    mutable std::mutex mutex_;
    HpetState state_;
    std::array<bool, kOutputs> levels_{};
    std::array<TimerId, hpet::kNumTimers> timer_ids_{};
    std::array<u64, hpet::kNumTimers> generations_{};
    std::function<void(bool)> legacy_callback_;
};

}  // namespace emu::devices
