#pragma once
// Snapshot of the ACPI PM block. Times are on the machine Clock's timeline.
#include "emu/common/types.h"

namespace emu::devices {

struct AcpiPmState {
    u16 status = 0;     // PM1_STS except TMR_STS, which is derived from the timer
    u16 enable = 0;     // PM1_EN
    u16 control = 0;    // PM1_CNT (SCI_EN reads 1 regardless)
    u64 tmr_epoch = 0;  // (timer ticks >> 23) when TMR_STS was last cleared: TMR_STS = epoch has moved on
};

}  // namespace emu::devices
