#pragma once
// Snapshot of the HPET. Times are on the machine Clock's timeline.
#include <array>

#include "devices/timer/hpet_regs.h"
#include "emu/common/types.h"

namespace emu::devices {

struct HpetTimerState {
    u64 config = 0;      // the writable Tn_CONF_CAP bits
    u64 comparator = ~u64{0};
    u64 period = 0;      // periodic mode: the accumulator added on each match
};

struct HpetState {
    u64 config = 0;      // GEN_CONF
    u64 int_status = 0;  // GINTR_STA
    u64 counter_base = 0;  // main counter value at enabled_ns (or the frozen value while halted)
    u64 enabled_ns = 0;
    std::array<HpetTimerState, hpet::kNumTimers> timers{};
};

}  // namespace emu::devices
