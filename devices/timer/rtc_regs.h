#pragma once
// Motorola MC146818 real-time clock / CMOS register layout (MC146818A datasheet) and the PC's CMOS fields.
#include "emu/common/types.h"

namespace emu::devices::rtc {

inline constexpr u16 kBase = 0x70;  // 0x70 index (bit 7 = NMI disable), 0x71 data
inline constexpr u64 kPorts = 2;
inline constexpr u8 kIndexMask = 0x7F;
inline constexpr u8 kNmiDisable = 0x80;
inline constexpr unsigned kCmosSize = 128;

enum Reg : u8 {
    kSeconds = 0x00,
    kSecondsAlarm = 0x01,
    kMinutes = 0x02,
    kMinutesAlarm = 0x03,
    kHours = 0x04,
    kHoursAlarm = 0x05,
    kDayOfWeek = 0x06,  // 1 = Sunday
    kDayOfMonth = 0x07,
    kMonth = 0x08,
    kYear = 0x09,       // two digits
    kRegA = 0x0A,
    kRegB = 0x0B,
    kRegC = 0x0C,
    kRegD = 0x0D,
    kCentury = 0x32,    // IBM PC convention (ACPI FADT CENTURY points here)
};

// Register A.
inline constexpr u8 kAUip = 0x80;           // update in progress
inline constexpr u8 kADividerMask = 0x70;
inline constexpr u8 kADivider32k = 0x20;    // DV = 010: 32.768 kHz time base, oscillator on and counting
inline constexpr u8 kARateMask = 0x0F;
// Register B.
inline constexpr u8 kBSet = 0x80;   // halt updates so the time can be set
inline constexpr u8 kBPie = 0x40;   // periodic interrupt enable
inline constexpr u8 kBAie = 0x20;   // alarm interrupt enable
inline constexpr u8 kBUie = 0x10;   // update-ended interrupt enable
inline constexpr u8 kBDm = 0x04;    // data mode: 1 = binary, 0 = BCD
inline constexpr u8 kB24h = 0x02;   // 1 = 24-hour, 0 = 12-hour with bit 7 of the hour = PM
// Register C (read-only, cleared by reading).
inline constexpr u8 kCIrqf = 0x80;
inline constexpr u8 kCPf = 0x40;
inline constexpr u8 kCAf = 0x20;
inline constexpr u8 kCUf = 0x10;
// Register D.
inline constexpr u8 kDVrt = 0x80;   // valid RAM and time (battery good)

inline constexpr u8 kHourPm = 0x80;
inline constexpr u8 kAlarmDontCare = 0xC0;  // alarm bytes 0xC0-0xFF match every value

inline constexpr u64 kTimeBaseHz = 32'768;
// UIP rises this long (8 cycles of the 32.768 kHz time base, 244 us) before each update.
inline constexpr u64 kUipHoldNs = 8 * 1'000'000'000ull / kTimeBaseHz;

// CMOS memory-size fields read by BIOSes (the SeaBIOS/QEMU convention).
inline constexpr u8 kBaseMemKb = 0x15;      // 16-bit: conventional memory in KiB (640)
inline constexpr u8 kExtMemKb = 0x17;       // 16-bit: KiB above 1 MiB, saturating at 65535
inline constexpr u8 kExtMemKb2 = 0x30;      // 16-bit: a copy of the above
inline constexpr u8 kHighMem64k = 0x34;     // 16-bit: 64 KiB units between 16 MiB and 4 GiB
inline constexpr u8 kAbove4g64k = 0x5B;     // 24-bit: 64 KiB units above 4 GiB

}  // namespace emu::devices::rtc
