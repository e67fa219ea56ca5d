#pragma once
// Snapshot of the I/O APIC. The model keeps all of its state here, so saving is a copy.
#include <array>

#include "devices/irq/apic_regs.h"
#include "emu/common/types.h"

namespace emu::devices {

struct IoapicState {
    u8 id = 0;                                     // bits 27-24 of the ID register
    u8 ioregsel = 0;
    std::array<u64, apic::kIoapicPins> redirection{};  // reset: all masked
    u32 irr = 0;                                   // latched requests (edge) / asserted inputs (level)
    u32 levels = 0;                                // current input levels
};

}  // namespace emu::devices
