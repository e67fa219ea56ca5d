#include "devices/platform/acpi_pm.h"

#include "devices/platform/acpi_pm_regs.h"
#include "emu/common/log.h"

namespace emu::devices {

AcpiPm::AcpiPm(TimerQueue& timers, IrqLine& sci, std::function<void()> on_power_off)
    : timers_(timers), sci_(sci), on_power_off_(std::move(on_power_off)) {
    Reset();
}

AcpiPm::~AcpiPm() {
    std::lock_guard lock(mutex_);
    timers_.Cancel(timer_);
    ++generation_;
}

void AcpiPm::Reset() {
    std::lock_guard lock(mutex_);
    state_ = AcpiPmState{};
    state_.tmr_epoch = TicksLocked() >> acpi_pm::kTimerMsb;
    UpdateSciLocked();
    ScheduleLocked();
}

AcpiPmState AcpiPm::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void AcpiPm::RestoreState(const AcpiPmState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    UpdateSciLocked();
    ScheduleLocked();
}

u64 AcpiPm::TicksLocked() const { return TicksIn(timers_.clock().NowNs(), acpi_pm::kTimerHz); }

u32 AcpiPm::TimerValue() const {
    std::lock_guard lock(mutex_);
    return static_cast<u32>(TicksLocked() & acpi_pm::kTimerMask);
}

u16 AcpiPm::StatusLocked() const {
    const bool tmr = (TicksLocked() >> acpi_pm::kTimerMsb) != state_.tmr_epoch;
    return static_cast<u16>(state_.status | (tmr ? acpi_pm::kTmr : 0));
}

void AcpiPm::UpdateSciLocked() {
    const bool level = (StatusLocked() & state_.enable) != 0;
    if (level == sci_level_) return;
    sci_level_ = level;
    sci_.SetLevel(level);
}

// While TMR_EN is set and TMR_STS clear, the next change of timer bit 23 must raise the SCI.
void AcpiPm::ScheduleLocked() {
    timers_.Cancel(timer_);
    timer_ = kNoTimer;
    const u64 generation = ++generation_;
    if (!(state_.enable & acpi_pm::kTmr) || (StatusLocked() & acpi_pm::kTmr)) return;
    const u64 next_ticks = (state_.tmr_epoch + 1) << acpi_pm::kTimerMsb;
    timer_ = timers_.ScheduleAt(NsForTicks(next_ticks, acpi_pm::kTimerHz), [this, generation] { OnTimer(generation); });
}

void AcpiPm::OnTimer(u64 generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    timer_ = kNoTimer;
    UpdateSciLocked();
}

u8 AcpiPm::ReadByteLocked(u64 offset) const {
    switch (offset) {
    case 0:
    case 1: return static_cast<u8>(StatusLocked() >> (8 * offset));
    case 2:
    case 3: return static_cast<u8>(state_.enable >> (8 * (offset - 2)));
    case 4:
    case 5: return static_cast<u8>((state_.control | acpi_pm::kSciEn) >> (8 * (offset - 4)));
    case 8:
    case 9:
    case 10:
    case 11: return static_cast<u8>((TicksLocked() & acpi_pm::kTimerMask) >> (8 * (offset - 8)));
    default: return 0;
    }
}

bool AcpiPm::WriteByteLocked(u64 offset, u8 value) {
    switch (offset) {
    case 0:
    case 1: {
        const u16 clear = static_cast<u16>(u16{value} << (8 * offset));  // write 1 to clear
        state_.status &= static_cast<u16>(~clear);
        if (clear & acpi_pm::kTmr) state_.tmr_epoch = TicksLocked() >> acpi_pm::kTimerMsb;
        break;
    }
    case 2:
    case 3: {
        const unsigned shift = 8 * static_cast<unsigned>(offset - 2);
        state_.enable = static_cast<u16>(((state_.enable & ~(0xFFu << shift)) | (u32{value} << shift)) &
                                         acpi_pm::kEnableBits);
        break;
    }
    case 4:
    case 5: {
        const unsigned shift = 8 * static_cast<unsigned>(offset - 4);
        const u16 written = static_cast<u16>((state_.control & ~(0xFFu << shift)) | (u32{value} << shift));
        state_.control = static_cast<u16>(written & ~acpi_pm::kSlpEn);  // SLP_EN is write-only
        if (offset == 5 && (written & acpi_pm::kSlpEn)) {
            const u8 typ = static_cast<u8>((written & acpi_pm::kSlpTypMask) >> acpi_pm::kSlpTypShift);
            if (typ == acpi_pm::kSlpTypS5) return true;
            if (log::Enabled(log::Category::Unimp))
                log::Log(log::Category::Unimp, "acpi-pm: sleep type {} requested; only S5 is supported", typ);
        }
        break;
    }
    default: break;  // the PM timer is read-only
    }
    return false;
}

void AcpiPm::Read(u64 offset, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) data[i] = ReadByteLocked(offset + i);
}

void AcpiPm::Write(u64 offset, std::span<const u8> data) {
    bool power_off = false;
    {
        std::lock_guard lock(mutex_);
        for (size_t i = 0; i < data.size(); ++i) power_off |= WriteByteLocked(offset + i, data[i]);
        UpdateSciLocked();
        ScheduleLocked();
    }
    if (power_off && on_power_off_) on_power_off_();
}

void AcpiPm::PressPowerButton() {
    std::lock_guard lock(mutex_);
    state_.status |= acpi_pm::kPwrBtn;
    UpdateSciLocked();
}

}  // namespace emu::devices
