#pragma once
// Snapshot of a 16550A.
#include <array>

#include "emu/common/types.h"

namespace emu::devices {

struct UartState {
    u8 ier = 0;
    u8 fcr = 0;              // FIFO enable and trigger bits as last written
    u8 lcr = 0;
    u8 mcr = 0;
    u8 lsr = 0x60;           // THRE | TEMT: the transmitter is idle
    u8 msr = 0;
    u8 scr = 0;
    u16 divisor = 12;        // 9600 baud, a common BIOS default
    std::array<u8, 16> rx_fifo{};
    u8 rx_head = 0;
    u8 rx_count = 0;         // bytes in the receive FIFO (at most 1 with FIFOs disabled: the RBR)
    bool thre_pending = false;    // THRE interrupt latched until IIR reports it or THR is written
    bool timeout_pending = false; // character timeout indication (FIFO mode)
    bool irq_level = false;
};

}  // namespace emu::devices
