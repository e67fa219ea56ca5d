#pragma once
// Snapshot of the MC146818 RTC / CMOS. Times are on the machine Clock's timeline.
#include <array>

#include "emu/common/types.h"

namespace emu::devices {

struct RtcState {
    std::array<u8, 128> cmos{};  // NVRAM plus registers A-D; time bytes are live only while SET is 1
    u8 index = 0;
    bool nmi_disabled = false;
    i64 base_seconds = 0;        // guest wall time (Unix seconds) at ref_ns
    u64 ref_ns = 0;              // clock time of a second boundary: the phase of the update cycle
    u64 divider_ref_ns = 0;      // clock time the divider chain started: the phase of periodic interrupts
    u64 flags_checked_ns = 0;    // register C flags are accounted up to this time
    bool irq_level = false;
};

}  // namespace emu::devices
