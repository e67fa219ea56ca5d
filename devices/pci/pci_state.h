#pragma once
// Snapshot of a PCI function's configuration space and of the host bridge's address latch.
#include <array>

#include "devices/pci/regs.h"
#include "emu/common/types.h"

namespace emu::devices {

struct PciDeviceState {
    std::array<u8, pci::kConfigSize> config{};
    bool intx_level = false;
};

struct PciHostState {
    u32 config_address = 0;
    u8 reset_control = 0;
};

}  // namespace emu::devices
