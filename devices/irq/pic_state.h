#pragma once
// Snapshot of one 8259A. The model keeps all of its state here, so saving is a copy.
#include "emu/common/types.h"

namespace emu::devices {

struct PicChipState {
    u8 irr = 0;               // interrupt request register
    u8 isr = 0;               // in-service register
    u8 imr = 0;               // interrupt mask register
    u8 lines = 0;             // current input levels, for edge detection
    u8 elcr = 0;              // 1 = level-triggered input
    u8 vector_base = 0;       // ICW2 & 0xF8
    u8 lowest_priority = 7;   // the IR with the lowest priority (rotation state)
    u8 init_step = 0;         // 0 = initialized; 2/3/4 = expecting ICW2/3/4
    bool icw4_needed = false;
    bool single = false;
    bool ltim = false;        // ICW1 level-triggered mode (all inputs)
    bool aeoi = false;
    bool rotate_on_aeoi = false;
    bool read_isr = false;    // OCW3 RIS: A0=0 reads return ISR instead of IRR
    bool poll = false;        // OCW3 P: the next A0=0 read is a poll
    bool special_mask = false;
};

struct PicState {
    PicChipState chip[2];  // 0 = master, 1 = slave
};

}  // namespace emu::devices
