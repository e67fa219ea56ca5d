#include "devices/timer/hpet.h"

#include "emu/common/bits.h"
#include "emu/common/log.h"

namespace emu::devices {
namespace {

constexpr unsigned kIrq0Output = 24;
constexpr unsigned kIrq8Output = 25;

u64 Width(const HpetTimerState& t) { return (t.config & hpet::kTn32Bit) ? 0xFFFFFFFF : ~u64{0}; }
u64 Merge(u64 old, u64 value, u64 mask) { return (old & ~mask) | (value & mask); }

}  // namespace

Hpet::Hpet(TimerQueue& timers, const HpetIrqs& irqs) : timers_(timers) {
    for (unsigned i = 0; i < 24; ++i) outputs_[i] = irqs.gsi[i] ? irqs.gsi[i] : &null_line_;
    outputs_[kIrq0Output] = irqs.irq0 ? irqs.irq0 : &null_line_;
    outputs_[kIrq8Output] = irqs.irq8 ? irqs.irq8 : &null_line_;
    Reset();
}

Hpet::~Hpet() {
    std::lock_guard lock(mutex_);
    for (unsigned n = 0; n < hpet::kNumTimers; ++n) {
        timers_.Cancel(timer_ids_[n]);
        ++generations_[n];
    }
}

void Hpet::Reset() {
    std::function<void(bool)> callback;
    {
        std::lock_guard lock(mutex_);
        if (state_.config & hpet::kLegacyReplacement) callback = legacy_callback_;
        state_ = HpetState{};
        DriveLinesLocked();
        ScheduleAllLocked();
    }
    if (callback) callback(false);
}

HpetState Hpet::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Hpet::RestoreState(const HpetState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    DriveLinesLocked();
    ScheduleAllLocked();
}

void Hpet::SetLegacyCallback(std::function<void(bool)> callback) {
    std::lock_guard lock(mutex_);
    legacy_callback_ = std::move(callback);
}

u64 Hpet::CounterLocked(u64 now) const {
    if (!EnabledLocked()) return state_.counter_base;
    return state_.counter_base + TicksIn(now - state_.enabled_ns, hpet::kHz);
}

int Hpet::OutputLocked(unsigned n) const {
    if (state_.config & hpet::kLegacyReplacement) {
        if (n == 0) return kIrq0Output;
        if (n == 1) return kIrq8Output;
    }
    return static_cast<int>((state_.timers[n].config & hpet::kTnRouteMask) >> hpet::kTnRouteShift);
}

void Hpet::DriveLinesLocked() {
    std::array<bool, kOutputs> want{};
    for (unsigned n = 0; n < hpet::kNumTimers; ++n) {
        const u64 config = state_.timers[n].config;
        const bool active = (state_.int_status >> n) & 1;
        if (active && (config & hpet::kTnLevel) && (config & hpet::kTnIntEnable)) want[OutputLocked(n)] = true;
    }
    for (unsigned k = 0; k < kOutputs; ++k) {
        if (want[k] == levels_[k]) continue;
        levels_[k] = want[k];
        outputs_[k]->SetLevel(want[k]);
    }
}

void Hpet::FireLocked(unsigned n, u64 now) {
    HpetTimerState& t = state_.timers[n];
    const u64 width = Width(t);
    if ((t.config & hpet::kTnPeriodic) && t.period != 0) {
        // Add the period until the comparator is ahead of the counter again.
        const u64 period = t.period & width;
        const u64 behind = (CounterLocked(now) - t.comparator) & width;
        t.comparator = (t.comparator + period * (behind / std::max<u64>(period, 1) + 1)) & width;
    }
    if (!(t.config & hpet::kTnIntEnable)) return;
    if (t.config & hpet::kTnLevel) {
        state_.int_status |= u64{1} << n;
        DriveLinesLocked();
    } else {
        const int out = OutputLocked(n);
        if (!levels_[out]) outputs_[out]->Pulse();
    }
}

void Hpet::ScheduleLocked(unsigned n) {
    if (timer_ids_[n] != kNoTimer) timers_.Cancel(timer_ids_[n]);
    timer_ids_[n] = kNoTimer;
    const u64 generation = ++generations_[n];
    if (!EnabledLocked()) return;
    const HpetTimerState& t = state_.timers[n];
    const u64 width = Width(t);
    const u64 now = timers_.clock().NowNs();
    const u64 counter = CounterLocked(now);
    u128 delta = (t.comparator - counter) & width;
    if (delta == 0) delta = u128{width} + 1;  // just matched: the next match is a full wrap away
    const u128 ticks = u128{counter - state_.counter_base} + delta;
    if (ticks > (~u64{0} / 16)) return;  // centuries away: never in practice
    const u64 deadline = state_.enabled_ns + NsForTicks(static_cast<u64>(ticks), hpet::kHz);
    timer_ids_[n] = timers_.ScheduleAt(deadline, [this, n, generation] { OnTimer(n, generation); });
}

void Hpet::ScheduleAllLocked() {
    for (unsigned n = 0; n < hpet::kNumTimers; ++n) ScheduleLocked(n);
}

void Hpet::OnTimer(unsigned n, u64 generation) {
    std::lock_guard lock(mutex_);
    if (generation != generations_[n]) return;
    timer_ids_[n] = kNoTimer;
    FireLocked(n, timers_.clock().NowNs());
    ScheduleLocked(n);
}

u64 Hpet::ReadRegisterLocked(u64 reg, u64 now) const {
    switch (reg) {
    case hpet::kCapabilities: return hpet::kCapabilitiesValue;
    case hpet::kConfig: return state_.config;
    case hpet::kIntStatus: return state_.int_status;
    case hpet::kCounter: return CounterLocked(now);
    default: break;
    }
    if (reg < hpet::kTimerBase || reg >= hpet::kTimerBase + hpet::kNumTimers * hpet::kTimerStride) return 0;
    const HpetTimerState& t = state_.timers[(reg - hpet::kTimerBase) / hpet::kTimerStride];
    switch ((reg - hpet::kTimerBase) % hpet::kTimerStride) {
    case hpet::kTimerConfig:
        return t.config | hpet::kTnPeriodicCap | hpet::kTnSize64Cap | (u64{hpet::kRouteCap} << 32);
    case hpet::kTimerComparator: return t.comparator;
    default: return 0;  // FSB route: not supported
    }
}

void Hpet::WriteRegisterLocked(u64 reg, u64 value, u64 mask, u64 now) {
    switch (reg) {
    case hpet::kConfig: {
        const u64 old = state_.config;
        const u64 next = Merge(old, value, mask) & (hpet::kEnable | hpet::kLegacyReplacement);
        if ((old ^ next) & hpet::kEnable) {
            // Freeze or restart the counter where it is.
            state_.counter_base = CounterLocked(now);
            state_.enabled_ns = now;
        }
        state_.config = next;
        DriveLinesLocked();
        ScheduleAllLocked();
        return;
    }
    case hpet::kIntStatus:
        state_.int_status &= ~(value & mask);  // write 1 to clear
        DriveLinesLocked();
        return;
    case hpet::kCounter:
        if (EnabledLocked() && log::Enabled(log::Category::GuestErrors))
            log::Log(log::Category::GuestErrors, "hpet: main counter written while enabled");
        state_.counter_base = Merge(CounterLocked(now), value, mask);
        state_.enabled_ns = now;
        ScheduleAllLocked();
        return;
    default: break;
    }
    if (reg >= hpet::kTimerBase && reg < hpet::kTimerBase + hpet::kNumTimers * hpet::kTimerStride) {
        WriteTimerLocked(static_cast<unsigned>((reg - hpet::kTimerBase) / hpet::kTimerStride),
                         (reg - hpet::kTimerBase) % hpet::kTimerStride, value, mask);
    }
}

void Hpet::WriteTimerLocked(unsigned n, u64 reg, u64 value, u64 mask) {
    HpetTimerState& t = state_.timers[n];
    if (reg == hpet::kTimerConfig) {
        u64 next = Merge(t.config, value, mask) & hpet::kTnWritable;
        const unsigned route = static_cast<unsigned>((next & hpet::kTnRouteMask) >> hpet::kTnRouteShift);
        if (!((hpet::kRouteCap >> route) & 1)) {  // a route the timer cannot use: keep the old one
            next = (next & ~hpet::kTnRouteMask) | (t.config & hpet::kTnRouteMask);
        }
        t.config = next;
        if (t.config & hpet::kTn32Bit) {
            t.comparator &= 0xFFFFFFFF;
            t.period &= 0xFFFFFFFF;
        }
        if (!(t.config & hpet::kTnLevel)) state_.int_status &= ~(u64{1} << n);
        DriveLinesLocked();
        ScheduleLocked(n);
        return;
    }
    if (reg == hpet::kTimerComparator) {
        if (t.config & hpet::kTn32Bit) mask &= 0xFFFFFFFF;
        const bool periodic = t.config & hpet::kTnPeriodic;
        if (!periodic || (t.config & hpet::kTnValSet)) t.comparator = Merge(t.comparator, value, mask);
        if (periodic) t.period = Merge(t.period, value, mask);
        t.config &= ~hpet::kTnValSet;
        ScheduleLocked(n);
    }
}

void Hpet::Read(u64 offset, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    const u64 reg = offset & ~u64{7};
    const u64 shift = 8 * (offset - reg);
    StoreLe(data, ReadRegisterLocked(reg, timers_.clock().NowNs()) >> shift);
}

void Hpet::Write(u64 offset, std::span<const u8> data) {
    const u64 reg = offset & ~u64{7};
    const u64 shift = 8 * (offset - reg);
    if (shift + 8 * data.size() > 64) return;  // straddles two registers: not a valid access
    std::function<void(bool)> callback;
    bool legacy;
    {
        std::lock_guard lock(mutex_);
        const bool legacy_was = state_.config & hpet::kLegacyReplacement;
        WriteRegisterLocked(reg, LoadLe(data) << shift, LowMask(8 * static_cast<unsigned>(data.size())) << shift,
                            timers_.clock().NowNs());
        legacy = state_.config & hpet::kLegacyReplacement;
        if (legacy != legacy_was) callback = legacy_callback_;
    }
    if (callback) callback(legacy);
}

}  // namespace emu::devices
