#pragma once
// Snapshot of the Bochs display's registers (VRAM is saved separately, as guest memory is).
#include <array>

#include "devices/gpu/regs.h"
#include "emu/common/types.h"

namespace emu::devices::gpu {

struct BochsDisplayState {
    std::array<u16, dispi::kCount> dispi{};
    u32 endian = kQextLittleEndian;  // QEXT framebuffer byte order register
    u8 vga_attr_index = 0;           // the attribute controller's index (bit 5: the screen is on)
    bool vga_attr_flipflop = false;  // false: the next 0x3C0 write is an index
    u8 vga_misc = 0;
};

}  // namespace emu::devices::gpu
