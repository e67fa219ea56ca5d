#include "devices/timer/pit.h"

#include <algorithm>
#include <optional>

#include "devices/timer/pit_regs.h"
#include "emu/common/log.h"

namespace emu::devices {
namespace {

u32 Modulus(const PitChannelState& c) { return c.bcd ? 10000 : 0x10000; }

u16 ToBcd(u32 value) {
    u16 bcd = 0;
    for (unsigned shift = 0; shift < 16; shift += 4, value /= 10) bcd |= static_cast<u16>((value % 10) << shift);
    return bcd;
}

u32 FromBcd(u16 bcd) {
    u32 value = 0;
    for (int shift = 12; shift >= 0; shift -= 4) value = value * 10 + std::min<u32>((bcd >> shift) & 0xF, 9);
    return value;
}

// Modes 6 and 7 are aliases of 2 and 3 (M2 is don't-care for them).
u8 DecodeMode(u8 m) { return m >= 6 ? static_cast<u8>(m - 4) : m; }

// Periodic modes need N >= 2 (N = 1 is illegal in modes 2/3 per the datasheet); use 2 so time still advances.
u64 Period(const PitChannelState& c) { return std::max<u32>(c.reload, 2); }

u64 Ticks(const PitChannelState& c, u64 now) {
    if (!c.running) return c.base_ticks;
    return c.base_ticks + TicksIn(now - c.start_ns, pit::kHz);
}

// The counting element after d ticks of the current count (binary, 0 standing for the modulus).
u32 CountAfter(const PitChannelState& c, u64 d) {
    const u64 n = c.reload;
    switch (c.mode) {
    case 2: return static_cast<u32>(n - d % Period(c));
    case 3: return static_cast<u32>(n - (2 * d) % Period(c));
    default: {  // 0, 1, 4, 5: count down once, then keep wrapping through the full range
        const u64 m = Modulus(c);
        return static_cast<u32>((n + m - d % m) % m);
    }
    }
}

// OUT after d ticks, per the datasheet's mode waveforms.
bool OutAfter(const PitChannelState& c, u64 d) {
    const u64 n = c.reload;
    switch (c.mode) {
    case 0: return d >= n;                 // low until terminal count
    case 1: return !c.triggered || d >= n;  // hardware one-shot: low from trigger to terminal count
    case 2: return !c.gate || d % Period(c) != Period(c) - 1;  // low for one clock when the count is 1
    case 3: return !c.gate || d % Period(c) < (Period(c) + 1) / 2;  // high for ceil(N/2), low for floor(N/2)
    default: return (c.mode == 5 && !c.triggered) || d != n;  // 4, 5: one-clock low strobe at count 0
    }
}

// The first tick count after d at which OUT changes, if it ever does.
std::optional<u64> NextTransition(const PitChannelState& c, u64 d) {
    const u64 n = c.reload;
    switch (c.mode) {
    case 0:
    case 1:
        if (d < n) return n;
        return std::nullopt;
    case 2:
    case 3: {
        const u64 period = Period(c);
        const u64 phase = d % period;
        const u64 fall = c.mode == 2 ? period - 1 : (period + 1) / 2;
        return d - phase + (phase < fall ? fall : period);
    }
    default:
        if (d < n) return n;
        if (d == n) return n + 1;
        return std::nullopt;
    }
}

bool Out(const PitChannelState& c, u64 now) {
    if (!c.loaded) return c.mode != 0;  // a control word sets OUT low in mode 0, high in the others
    return OutAfter(c, Ticks(c, now));
}

u16 CurrentCount(const PitChannelState& c, u64 now) {
    if (!c.loaded) return c.idle_count;
    const u32 count = CountAfter(c, Ticks(c, now)) % Modulus(c);
    return c.bcd ? ToBcd(count) : static_cast<u16>(count);
}

}  // namespace

Pit::Pit(TimerQueue& timers, IrqLine& irq0)
    : timers_(timers),
      irq0_(irq0),
      ports_(
          [this](u64 offset, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              const u64 now = timers_.clock().NowNs();
              for (size_t i = 0; i < data.size(); ++i) data[i] = ReadPortLocked(offset + i, now);
          },
          [this](u64 offset, std::span<const u8> data) {
              std::lock_guard lock(mutex_);
              const u64 now = timers_.clock().NowNs();
              for (size_t i = 0; i < data.size(); ++i) WritePortLocked(offset + i, data[i], now);
          }),
      port_b_(
          [this](u64, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              const u64 now = timers_.clock().NowNs();
              u8 value = state_.port_b & pit::kPortBWritable;
              if ((now / pit::kRefreshPeriodNs) & 1) value |= pit::kPortBRefresh;
              if (Out(state_.channel[2], now)) value |= pit::kPortBOut2;
              std::fill(data.begin(), data.end(), value);
          },
          [this](u64, std::span<const u8> data) {
              if (data.empty()) return;
              std::lock_guard lock(mutex_);
              state_.port_b = data[0] & pit::kPortBWritable;
              SetGateLocked(2, data[0] & pit::kPortBGate2, timers_.clock().NowNs());
          }) {
    Reset();
}

Pit::~Pit() {
    std::lock_guard lock(mutex_);
    timers_.Cancel(timer_);
    ++generation_;
}

void Pit::Reset() {
    std::lock_guard lock(mutex_);
    state_ = PitState{};
    state_.channel[2].gate = false;  // port 0x61 powers up with gate 2 low
    UpdateIrqLocked(timers_.clock().NowNs());
}

PitState Pit::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Pit::RestoreState(const PitState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    UpdateIrqLocked(timers_.clock().NowNs());
}

u8 Pit::ReadPortLocked(u64 port, u64 now) {
    if (port >= pit::kControlPort) return 0xFF;  // the control word register is write-only
    return ReadCounterLocked(static_cast<unsigned>(port), now);
}

void Pit::WritePortLocked(u64 port, u8 value, u64 now) {
    if (port >= pit::kControlPort) {
        ControlWordLocked(value, now);
    } else {
        WriteCounterLocked(static_cast<unsigned>(port), value, now);
    }
    UpdateIrqLocked(now);
}

void Pit::ControlWordLocked(u8 value, u64 now) {
    const u8 sc = value >> 6;
    const u8 rw = (value >> 4) & 3;
    if (sc == pit::kScReadBack) {
        for (unsigned i = 0; i < pit::kChannels; ++i) {
            if (!((value >> (i + 1)) & 1)) continue;
            if (!(value & pit::kReadBackNoCount)) LatchCountLocked(i, now);
            if (!(value & pit::kReadBackNoStatus)) LatchStatusLocked(i, now);
        }
        return;
    }
    if (rw == pit::kRwLatch) {
        LatchCountLocked(sc, now);
        return;
    }
    PitChannelState& c = state_.channel[sc];
    c.idle_count = CurrentCount(c, now);
    c.access = rw;
    c.mode = DecodeMode((value >> 1) & 7);
    c.bcd = value & 1;
    c.loaded = false;
    c.running = false;
    c.triggered = false;
    c.null_count = true;
    c.write_msb_next = false;
    c.read_msb_next = false;
}

void Pit::WriteCounterLocked(unsigned index, u8 value, u64 now) {
    PitChannelState& c = state_.channel[index];
    switch (static_cast<pit::Access>(c.access)) {
    case pit::Access::Lo: LoadCountLocked(index, value, now); break;
    case pit::Access::Hi: LoadCountLocked(index, u32{value} << 8, now); break;
    default:
        if (!c.write_msb_next) {
            c.write_lsb = value;
            c.write_msb_next = true;
            // Mode 0: writing the first byte stops the count until the second arrives.
            if (c.mode == 0 && c.loaded) {
                c.base_ticks = Ticks(c, now);
                c.running = false;
            }
        } else {
            c.write_msb_next = false;
            LoadCountLocked(index, (u32{value} << 8) | c.write_lsb, now);
        }
        break;
    }
}

void Pit::LoadCountLocked(unsigned index, u32 count, u64 now) {
    PitChannelState& c = state_.channel[index];
    count = c.bcd ? FromBcd(static_cast<u16>(count)) : count;
    c.reload = count == 0 ? Modulus(c) : count;
    c.loaded = true;
    c.null_count = false;
    c.base_ticks = 0;
    c.start_ns = now;
    // Modes 1 and 5 wait for a gate trigger; the others count while the gate is high.
    c.running = (c.mode == 1 || c.mode == 5) ? false : c.gate;
    c.triggered = false;
}

void Pit::SetGateLocked(unsigned index, bool level, u64 now) {
    PitChannelState& c = state_.channel[index];
    const bool rising = level && !c.gate;
    if (level == c.gate) return;
    if (c.loaded) {
        switch (c.mode) {
        case 0:
        case 4:  // gate low suspends counting; high resumes it
            c.base_ticks = Ticks(c, now);
            c.start_ns = now;
            c.running = level;
            break;
        default:  // 1, 2, 3, 5: a rising edge restarts the count; modes 2/3 stop while the gate is low
            if (rising) {
                c.base_ticks = 0;
                c.start_ns = now;
                c.running = true;
                c.triggered = true;
            } else if (c.mode == 2 || c.mode == 3) {
                c.base_ticks = Ticks(c, now);
                c.running = false;
            }
            break;
        }
    }
    c.gate = level;
    UpdateIrqLocked(now);
}

void Pit::LatchCountLocked(unsigned index, u64 now) {
    PitChannelState& c = state_.channel[index];
    if (c.latch_bytes != 0) return;  // further latch commands are ignored until the latch is read
    c.latched_count = CurrentCount(c, now);
    c.latch_bytes = static_cast<pit::Access>(c.access) == pit::Access::LoHi ? 2 : 1;
}

void Pit::LatchStatusLocked(unsigned index, u64 now) {
    PitChannelState& c = state_.channel[index];
    if (c.status_latched) return;
    c.status = static_cast<u8>((Out(c, now) ? pit::kStatusOut : 0) | (c.null_count ? pit::kStatusNullCount : 0) |
                               (c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0));
    c.status_latched = true;
}

u8 Pit::ReadCounterLocked(unsigned index, u64 now) {
    PitChannelState& c = state_.channel[index];
    if (c.status_latched) {
        c.status_latched = false;
        return c.status;
    }
    const auto access = static_cast<pit::Access>(c.access);
    u16 value;
    bool msb;
    if (c.latch_bytes != 0) {
        value = c.latched_count;
        msb = access == pit::Access::Hi || (access == pit::Access::LoHi && c.latch_bytes == 1);
        --c.latch_bytes;
    } else {
        value = CurrentCount(c, now);
        msb = access == pit::Access::Hi || (access == pit::Access::LoHi && c.read_msb_next);
        if (access == pit::Access::LoHi) c.read_msb_next = !c.read_msb_next;
    }
    return static_cast<u8>(msb ? value >> 8 : value);
}

void Pit::UpdateIrqLocked(u64 now) {
    timers_.Cancel(timer_);
    timer_ = kNoTimer;
    const u64 generation = ++generation_;
    const PitChannelState& c = state_.channel[0];
    const bool level = Out(c, now);
    if (level != state_.irq_level) {
        state_.irq_level = level;
        irq0_.SetLevel(level);
    }
    if (!c.loaded || !c.running) return;
    const u64 d = Ticks(c, now);
    const auto next = NextTransition(c, d);
    if (!next) return;
    const bool target = OutAfter(c, *next);
    const u64 deadline = c.start_ns + NsForTicks(*next - c.base_ticks, pit::kHz);
    timer_ = timers_.ScheduleAt(deadline, [this, generation, target] { OnTimer(generation, target); });
}

void Pit::OnTimer(u64 generation, bool target_level) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    timer_ = kNoTimer;
    // Deliver the transition we were scheduled for even if the callback runs late and OUT has moved on
    // (a one-clock mode 2 pulse must still reach the edge-triggered PIC).
    if (target_level != state_.irq_level) {
        state_.irq_level = target_level;
        irq0_.SetLevel(target_level);
    }
    UpdateIrqLocked(timers_.clock().NowNs());
}

}  // namespace emu::devices
