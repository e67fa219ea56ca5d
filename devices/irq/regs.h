#pragma once
// Intel 8259A register layout (8259A datasheet, "Programming the 8259A") and the PC wiring (PIIX ELCR).
#include "emu/common/types.h"

namespace emu::devices::pic {

inline constexpr u16 kMasterBase = 0x20;   // command (A0=0) and data (A0=1) ports
inline constexpr u16 kSlaveBase = 0xA0;
inline constexpr u16 kElcrBase = 0x4D0;    // edge/level control, one byte per chip
inline constexpr u64 kChipPorts = 2;
inline constexpr u64 kElcrPorts = 2;
inline constexpr unsigned kCascadeIrq = 2;  // the slave's INT drives master IR2

// ICW1: written to A0=0 with D4=1.
inline constexpr u8 kIcw1Select = 0x10;
inline constexpr u8 kIcw1Ic4 = 0x01;   // ICW4 needed
inline constexpr u8 kIcw1Sngl = 0x02;  // single chip: no ICW3
inline constexpr u8 kIcw1Ltim = 0x08;  // level-triggered inputs

// ICW4.
inline constexpr u8 kIcw4Aeoi = 0x02;  // automatic end of interrupt

// OCW2/OCW3: written to A0=0 with D4=0; D3 selects OCW3.
inline constexpr u8 kOcw3Select = 0x08;
inline constexpr u8 kOcw3Ris = 0x01;   // read ISR (else IRR), valid with RR
inline constexpr u8 kOcw3Rr = 0x02;    // read-register command
inline constexpr u8 kOcw3Poll = 0x04;
inline constexpr u8 kOcw3Smm = 0x20;   // special mask mode, valid with ESMM
inline constexpr u8 kOcw3Esmm = 0x40;

// OCW2 R/SL/EOI commands (bits 7-5).
enum class Ocw2 : u8 {
    RotateAeoiClear = 0,
    NonSpecificEoi = 1,
    Nop = 2,
    SpecificEoi = 3,
    RotateAeoiSet = 4,
    RotateNonSpecificEoi = 5,
    SetPriority = 6,
    RotateSpecificEoi = 7,
};

// Inputs that are edge-only on the PIIX: the ELCR bits for IRQ0-2 and IRQ8/IRQ13 are reserved (read 0).
inline constexpr u8 kElcrMask[2] = {0xF8, 0xDE};

// The poll word: D7 set when an interrupt was pending, D2-0 its level.
inline constexpr u8 kPollPending = 0x80;

}  // namespace emu::devices::pic
