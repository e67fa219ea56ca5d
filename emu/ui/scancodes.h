#pragma once
// Host keys to PC keyboard scan codes. Host keys arrive as USB HID usage IDs (HID Usage Tables 1.3, page 0x07, which
// SDL's SDL_Scancode values are); the guest's i8042 delivers scan code set 1, what the 8042 hands the OS with
// translation on (Linux's atkbd default).
#include <vector>

#include "emu/common/types.h"

namespace emu::ui {

// The set-1 bytes for pressing (`pressed`) or releasing a key; empty for keys with no set-1 code.
std::vector<u8> Set1Scancode(unsigned hid_usage, bool pressed);

}  // namespace emu::ui
