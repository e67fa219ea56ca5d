#pragma once
// Intel 8254 programmable interval timer register layout (8254 datasheet) and its PC wiring.
#include "emu/common/types.h"

namespace emu::devices::pit {

inline constexpr u16 kBase = 0x40;         // counters 0-2 at 0x40-0x42, control word at 0x43
inline constexpr u64 kPorts = 4;
inline constexpr u16 kPortB = 0x61;        // system control port B: gate 2, speaker, OUT2, refresh toggle
inline constexpr u64 kControlPort = 3;     // offset of the control word register
inline constexpr u64 kHz = 1'193'182;      // the PC's 14.31818 MHz / 12 input clock
inline constexpr unsigned kChannels = 3;

// Control word: SC (bits 7-6), RW (5-4), M (3-1), BCD (0).
inline constexpr u8 kScReadBack = 3;
inline constexpr u8 kRwLatch = 0;
enum class Access : u8 { Latch = 0, Lo = 1, Hi = 2, LoHi = 3 };

// Read-back command: bit 5 = NOT latch count, bit 4 = NOT latch status, bits 3-1 select counters 2-0.
inline constexpr u8 kReadBackNoCount = 0x20;
inline constexpr u8 kReadBackNoStatus = 0x10;

// Status byte (read-back): OUT, NULL COUNT, then the programmed RW/M/BCD bits.
inline constexpr u8 kStatusOut = 0x80;
inline constexpr u8 kStatusNullCount = 0x40;

// Port 0x61.
inline constexpr u8 kPortBGate2 = 0x01;
inline constexpr u8 kPortBSpeakerData = 0x02;
inline constexpr u8 kPortBWritable = 0x0F;      // gate 2, speaker data, parity/IOCHK check disables
inline constexpr u8 kPortBRefresh = 0x10;       // toggles on every DRAM refresh request
inline constexpr u8 kPortBOut2 = 0x20;
inline constexpr u64 kRefreshPeriodNs = 15'085;  // the refresh request rate (counter 1 at 18 ticks)

}  // namespace emu::devices::pit
