#pragma once
// Snapshot of the 8042 and its PS/2 keyboard and mouse.
#include <deque>

#include "devices/platform/i8042_regs.h"
#include "emu/common/types.h"

namespace emu::devices {

struct I8042Byte {
    u8 value;
    bool aux;  // from the mouse (status bit 5, IRQ12) rather than the keyboard or the controller
};

struct Ps2DeviceState {
    bool enabled = false;     // scanning / data reporting (F4/F5)
    u8 pending_command = 0;   // a command waiting for its argument byte, or 0
    u8 scan_set = 2;          // keyboard
    u8 sample_rate = 100;     // mouse
    u8 resolution = 2;        // mouse
};

struct I8042State {
    u8 ctr = i8042::kCtrKbdInt | i8042::kCtrAuxInt | i8042::kCtrSys | i8042::kCtrXlate;
    u8 status = i8042::kStatusSys | i8042::kStatusUnlocked;  // as left by firmware
    u8 output_port = i8042::kOutPowerOn;
    u8 pending_command = 0;  // a controller command waiting for its data byte (0x60, 0xD1-0xD4), or 0
    std::deque<I8042Byte> output;  // bytes for the guest; the front one is in the output buffer
    Ps2DeviceState keyboard;
    Ps2DeviceState mouse;
    bool irq1 = false;
    bool irq12 = false;
};

}  // namespace emu::devices
