#include "devices/timer/rtc.h"

#include <algorithm>
#include <chrono>

#include "devices/timer/rtc_regs.h"

namespace emu::devices {
namespace {

namespace chr = std::chrono;

struct CivilTime {
    int year, month, day, hour, minute, second, weekday;  // weekday: 0 = Sunday
};

i64 FloorDiv(i64 a, i64 b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

CivilTime ToCivil(i64 unix_seconds) {
    const i64 days = FloorDiv(unix_seconds, 86400);
    const i64 secs = unix_seconds - days * 86400;
    const chr::sys_days sd{chr::days{days}};
    const chr::year_month_day ymd{sd};
    const chr::weekday wd{sd};
    return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
            static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(secs / 3600),
            static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60), static_cast<int>(wd.c_encoding())};
}

i64 FromCivil(const CivilTime& t) {
    // Clamp guest garbage into range so the conversion is always defined.
    const chr::year_month_day ymd{chr::year{std::clamp(t.year, 1, 9999)},
                                  chr::month{static_cast<unsigned>(std::clamp(t.month, 1, 12))},
                                  chr::day{static_cast<unsigned>(std::clamp(t.day, 1, 31))}};
    const i64 days = chr::sys_days{ymd}.time_since_epoch().count();
    return days * 86400 + std::clamp(t.hour, 0, 23) * 3600 + std::clamp(t.minute, 0, 59) * 60 +
           std::clamp(t.second, 0, 59);
}

u8 Encode(int value, bool binary) {
    return binary ? static_cast<u8>(value) : static_cast<u8>(((value / 10) << 4) | (value % 10));
}

int Decode(u8 value, bool binary) { return binary ? value : (value >> 4) * 10 + (value & 0xF); }

u8 EncodeHour(int hour, u8 reg_b) {
    const bool binary = reg_b & rtc::kBDm;
    if (reg_b & rtc::kB24h) return Encode(hour, binary);
    const int h12 = hour % 12 == 0 ? 12 : hour % 12;
    return static_cast<u8>(Encode(h12, binary) | (hour >= 12 ? rtc::kHourPm : 0));
}

int DecodeHour(u8 value, u8 reg_b) {
    const bool binary = reg_b & rtc::kBDm;
    if (reg_b & rtc::kB24h) return Decode(value, binary);
    const int h12 = Decode(value & ~rtc::kHourPm, binary) % 12;  // 12 AM is hour 0
    return h12 + ((value & rtc::kHourPm) ? 12 : 0);
}

bool IsClockReg(u8 index) { return index <= rtc::kYear || index == rtc::kCentury; }
bool IsAlarmReg(u8 index) {
    return index == rtc::kSecondsAlarm || index == rtc::kMinutesAlarm || index == rtc::kHoursAlarm;
}

// Period of the periodic interrupt in 32.768 kHz cycles for rate select RS (0 = off). RS 1 and 2 repeat
// RS 8 and 9 with the 32.768 kHz time base (datasheet table 5).
u64 PeriodicCycles(u8 reg_a) {
    const unsigned rs = reg_a & rtc::kARateMask;
    if (rs == 0) return 0;
    return u64{1} << (rs <= 2 ? rs + 6 : rs - 1);
}

}  // namespace

Rtc::Rtc(TimerQueue& timers, IrqLine& irq8, i64 unix_seconds)
    : timers_(timers),
      irq8_(irq8),
      ports_(
          [this](u64 offset, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              const u64 now = timers_.clock().NowNs();
              for (size_t i = 0; i < data.size(); ++i) {
                  // The index register is write-only; reads of it float high.
                  data[i] = ((offset + i) & 1) ? ReadDataLocked(now) : 0xFF;
              }
          },
          [this](u64 offset, std::span<const u8> data) {
              std::lock_guard lock(mutex_);
              const u64 now = timers_.clock().NowNs();
              for (size_t i = 0; i < data.size(); ++i) {
                  if ((offset + i) & 1) {
                      WriteDataLocked(data[i], now);
                  } else {
                      state_.index = data[i] & rtc::kIndexMask;
                      state_.nmi_disabled = data[i] & rtc::kNmiDisable;
                  }
              }
          }) {
    const u64 now = timers_.clock().NowNs();
    // The state a PC BIOS leaves: 32.768 kHz divider with 1024 Hz periodic rate, 24-hour BCD, battery good.
    state_.cmos[rtc::kRegA] = rtc::kADivider32k | 0x06;
    state_.cmos[rtc::kRegB] = rtc::kB24h;
    state_.cmos[rtc::kRegD] = rtc::kDVrt;
    state_.base_seconds = unix_seconds;
    state_.ref_ns = now;
    state_.divider_ref_ns = now;
    state_.flags_checked_ns = now;
}

Rtc::~Rtc() {
    std::lock_guard lock(mutex_);
    timers_.Cancel(timer_);
    ++generation_;
}

i64 Rtc::TimeLocked(u64 now) const {
    if (state_.cmos[rtc::kRegB] & rtc::kBSet || now < state_.ref_ns) return state_.base_seconds;
    return state_.base_seconds + static_cast<i64>((now - state_.ref_ns) / kNsPerSec);
}

bool Rtc::UpdateInProgressLocked(u64 now) const {
    if (state_.cmos[rtc::kRegB] & rtc::kBSet) return false;
    if ((state_.cmos[rtc::kRegA] & rtc::kADividerMask) != rtc::kADivider32k) return false;
    if (now < state_.ref_ns) return false;
    return (now - state_.ref_ns) % kNsPerSec >= kNsPerSec - rtc::kUipHoldNs;
}

void Rtc::FreezeLocked(u64 now) {
    const u8 b = state_.cmos[rtc::kRegB];
    const bool binary = b & rtc::kBDm;
    const CivilTime t = ToCivil(TimeLocked(now));
    auto& c = state_.cmos;
    c[rtc::kSeconds] = Encode(t.second, binary);
    c[rtc::kMinutes] = Encode(t.minute, binary);
    c[rtc::kHours] = EncodeHour(t.hour, b);
    c[rtc::kDayOfWeek] = Encode(t.weekday + 1, binary);
    c[rtc::kDayOfMonth] = Encode(t.day, binary);
    c[rtc::kMonth] = Encode(t.month, binary);
    c[rtc::kYear] = Encode(t.year % 100, binary);
    c[rtc::kCentury] = Encode(t.year / 100, binary);
}

void Rtc::ThawLocked(u64 phase_ns) {
    const u8 b = state_.cmos[rtc::kRegB];
    const bool binary = b & rtc::kBDm;
    const auto& c = state_.cmos;
    CivilTime t{};
    t.year = Decode(c[rtc::kCentury], binary) * 100 + Decode(c[rtc::kYear], binary);
    t.month = Decode(c[rtc::kMonth], binary);
    t.day = Decode(c[rtc::kDayOfMonth], binary);
    t.hour = DecodeHour(c[rtc::kHours], b);
    t.minute = Decode(c[rtc::kMinutes], binary);
    t.second = Decode(c[rtc::kSeconds], binary);
    state_.base_seconds = FromCivil(t);
    state_.ref_ns = phase_ns;
}

u8 Rtc::ReadDataLocked(u64 now) {
    const u8 index = state_.index;
    const bool set = state_.cmos[rtc::kRegB] & rtc::kBSet;
    if (IsClockReg(index) && !IsAlarmReg(index) && !set) FreezeLocked(now);
    switch (index) {
    case rtc::kRegA: {
        u8 a = state_.cmos[rtc::kRegA] & ~rtc::kAUip;
        return UpdateInProgressLocked(now) ? a | rtc::kAUip : a;
    }
    case rtc::kRegC: {
        UpdateFlagsLocked(now);
        const u8 c = state_.cmos[rtc::kRegC];
        // Reading C clears every flag and releases IRQ8.
        state_.cmos[rtc::kRegC] = 0;
        if (state_.irq_level) {
            state_.irq_level = false;
            irq8_.Lower();
        }
        RescheduleLocked(now);
        return c;
    }
    default: return state_.cmos[index];
    }
}

void Rtc::WriteDataLocked(u8 value, u64 now) {
    const u8 index = state_.index;
    switch (index) {
    case rtc::kRegA: {
        UpdateFlagsLocked(now);
        const u8 old = state_.cmos[rtc::kRegA];
        state_.cmos[rtc::kRegA] = value & ~rtc::kAUip;
        // Starting the divider chain (DV = 010 from a reset or stopped state) restarts the periodic phase.
        const bool was_running = (old & rtc::kADividerMask) == rtc::kADivider32k;
        if (!was_running && (value & rtc::kADividerMask) == rtc::kADivider32k) state_.divider_ref_ns = now;
        break;
    }
    case rtc::kRegB: {
        UpdateFlagsLocked(now);
        const bool was_set = state_.cmos[rtc::kRegB] & rtc::kBSet;
        const bool set = value & rtc::kBSet;
        if (set && !was_set) FreezeLocked(now);
        state_.cmos[rtc::kRegB] = value;
        if (was_set && !set) ThawLocked(now);  // the first update comes a full second after SET clears
        // The datasheet clears UIE when SET is written to 1.
        if (set) state_.cmos[rtc::kRegB] &= ~rtc::kBUie;
        break;
    }
    case rtc::kRegC:
    case rtc::kRegD: break;  // read-only
    default:
        if (IsClockReg(index) && !IsAlarmReg(index) && !(state_.cmos[rtc::kRegB] & rtc::kBSet)) {
            // Writing a time byte while the clock runs: continue from the new value with the same phase.
            FreezeLocked(now);
            state_.cmos[index] = value;
            const u64 whole = now < state_.ref_ns ? 0 : (now - state_.ref_ns) / kNsPerSec * kNsPerSec;
            ThawLocked(state_.ref_ns + whole);
        } else {
            state_.cmos[index] = value;
        }
        break;
    }
    RescheduleLocked(now);
}

void Rtc::UpdateFlagsLocked(u64 now) {
    auto& c = state_.cmos;
    const u64 from = state_.flags_checked_ns;
    if (now <= from) return;
    state_.flags_checked_ns = now;
    const bool running = (c[rtc::kRegA] & rtc::kADividerMask) == rtc::kADivider32k;
    if (!running) return;

    const u64 period = PeriodicCycles(c[rtc::kRegA]);
    if (period != 0) {
        auto boundaries = [&](u64 t) {
            return t <= state_.divider_ref_ns ? 0 : TicksIn(t - state_.divider_ref_ns, rtc::kTimeBaseHz) / period;
        };
        if (boundaries(now) > boundaries(from)) c[rtc::kRegC] |= rtc::kCPf;
    }
    if (!(c[rtc::kRegB] & rtc::kBSet)) {
        auto seconds = [&](u64 t) { return t <= state_.ref_ns ? 0 : (t - state_.ref_ns) / kNsPerSec; };
        if (seconds(now) > seconds(from)) {
            c[rtc::kRegC] |= rtc::kCUf;
            // Alarm: compare the alarm bytes with the time just reached; 0xC0-0xFF match anything.
            FreezeLocked(now);
            bool match = true;
            for (const auto& [alarm, time] : {std::pair{rtc::kSecondsAlarm, rtc::kSeconds},
                                             std::pair{rtc::kMinutesAlarm, rtc::kMinutes},
                                             std::pair{rtc::kHoursAlarm, rtc::kHours}}) {
                const u8 a = c[alarm];
                if ((a & rtc::kAlarmDontCare) != rtc::kAlarmDontCare && a != c[time]) match = false;
            }
            if (match) c[rtc::kRegC] |= rtc::kCAf;
        }
    }
    const u8 enabled = c[rtc::kRegB] & (rtc::kBPie | rtc::kBAie | rtc::kBUie);  // same bit positions as C
    if (c[rtc::kRegC] & enabled) c[rtc::kRegC] |= rtc::kCIrqf;
    if ((c[rtc::kRegC] & rtc::kCIrqf) && !state_.irq_level) {
        state_.irq_level = true;
        irq8_.Raise();
    }
}

void Rtc::RescheduleLocked(u64 now) {
    timers_.Cancel(timer_);
    timer_ = kNoTimer;
    const u64 generation = ++generation_;
    const auto& c = state_.cmos;
    // While IRQ8 is high nothing new can reach the guest until it reads C, which reschedules.
    if (state_.irq_level) return;
    if ((c[rtc::kRegA] & rtc::kADividerMask) != rtc::kADivider32k) return;
    u64 deadline = ~u64{0};
    const u64 period = PeriodicCycles(c[rtc::kRegA]);
    if ((c[rtc::kRegB] & rtc::kBPie) && period != 0) {
        const u64 ref = state_.divider_ref_ns;
        const u64 k = now <= ref ? 0 : TicksIn(now - ref, rtc::kTimeBaseHz) / period;
        deadline = std::min(deadline, ref + NsForTicks((k + 1) * period, rtc::kTimeBaseHz));
    }
    if ((c[rtc::kRegB] & (rtc::kBUie | rtc::kBAie)) && !(c[rtc::kRegB] & rtc::kBSet)) {
        const u64 ref = state_.ref_ns;
        const u64 s = now <= ref ? 0 : (now - ref) / kNsPerSec;
        deadline = std::min(deadline, ref + (s + 1) * kNsPerSec);
    }
    if (deadline == ~u64{0}) return;
    timer_ = timers_.ScheduleAt(deadline, [this, generation] { OnTimer(generation); });
}

void Rtc::OnTimer(u64 generation) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    timer_ = kNoTimer;
    const u64 now = timers_.clock().NowNs();
    UpdateFlagsLocked(now);
    RescheduleLocked(now);
}

u8 Rtc::ReadCmos(u8 index) const {
    std::lock_guard lock(mutex_);
    return state_.cmos[index & rtc::kIndexMask];
}

void Rtc::WriteCmos(u8 index, u8 value) {
    std::lock_guard lock(mutex_);
    state_.cmos[index & rtc::kIndexMask] = value;
}

void Rtc::SetMemorySize(u64 below_4g_bytes, u64 above_4g_bytes) {
    constexpr u64 kKiB = 1024, kMiB = 1024 * kKiB;
    const u64 ext_kb = std::min<u64>(below_4g_bytes > kMiB ? (below_4g_bytes - kMiB) / kKiB : 0, 0xFFFF);
    const u64 high = std::min<u64>(below_4g_bytes > 16 * kMiB ? (below_4g_bytes - 16 * kMiB) / (64 * kKiB) : 0,
                                   0xFFFF);
    const u64 above = std::min<u64>(above_4g_bytes / (64 * kKiB), 0xFFFFFF);
    std::lock_guard lock(mutex_);
    auto put = [&](u8 index, u64 value, unsigned bytes) {
        for (unsigned i = 0; i < bytes; ++i) state_.cmos[index + i] = static_cast<u8>(value >> (8 * i));
    };
    put(rtc::kBaseMemKb, 640, 2);
    put(rtc::kExtMemKb, ext_kb, 2);
    put(rtc::kExtMemKb2, ext_kb, 2);
    put(rtc::kHighMem64k, high, 2);
    put(rtc::kAbove4g64k, above, 3);
}

void Rtc::SetTime(i64 unix_seconds) {
    std::lock_guard lock(mutex_);
    const u64 now = timers_.clock().NowNs();
    UpdateFlagsLocked(now);
    state_.base_seconds = unix_seconds;
    state_.ref_ns = now;
    RescheduleLocked(now);
}

i64 Rtc::Time() const {
    std::lock_guard lock(mutex_);
    return TimeLocked(timers_.clock().NowNs());
}

bool Rtc::NmiMasked() const {
    std::lock_guard lock(mutex_);
    return state_.nmi_disabled;
}

RtcState Rtc::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Rtc::RestoreState(const RtcState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    irq8_.SetLevel(state_.irq_level);
    RescheduleLocked(timers_.clock().NowNs());
}

}  // namespace emu::devices
