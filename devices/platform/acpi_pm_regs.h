#pragma once
// The ACPI fixed-hardware PM block (ACPI 6.x section 4.8), laid out as QEMU's PIIX4 PM at I/O base 0x600:
// PM1a_EVT_BLK at +0 (status +0, enable +2), PM1a_CNT_BLK at +4, PM_TMR_BLK at +8. No GPE block.
#include "emu/common/types.h"

namespace emu::devices::acpi_pm {

inline constexpr u16 kBase = 0x600;
inline constexpr u64 kPorts = 12;
inline constexpr u64 kStatusOffset = 0;   // PM1_STS, 16 bits
inline constexpr u64 kEnableOffset = 2;   // PM1_EN, 16 bits
inline constexpr u64 kControlOffset = 4;  // PM1_CNT, 16 bits
inline constexpr u64 kTimerOffset = 8;    // PM_TMR, 32 bits (24 significant)
inline constexpr u16 kEventBlock = kBase + kStatusOffset;
inline constexpr u16 kControlBlock = kBase + kControlOffset;
inline constexpr u16 kTimerBlock = kBase + kTimerOffset;
inline constexpr u8 kEventBlockLen = 4;
inline constexpr u8 kControlBlockLen = 2;
inline constexpr u8 kTimerBlockLen = 4;

inline constexpr u64 kTimerHz = 3'579'545;  // the ACPI PM timer frequency
inline constexpr u32 kTimerMask = 0xFFFFFF;  // 24-bit counter, as QEMU (FADT TMR_VAL_EXT = 0)
inline constexpr unsigned kTimerMsb = 23;    // TMR_STS is set when this bit changes

// PM1_STS / PM1_EN bits (ACPI 6.x tables 4.16/4.17).
inline constexpr u16 kTmr = 1u << 0;
inline constexpr u16 kGbl = 1u << 5;
inline constexpr u16 kPwrBtn = 1u << 8;
inline constexpr u16 kRtc = 1u << 10;
inline constexpr u16 kWak = 1u << 15;
inline constexpr u16 kStatusBits = kTmr | kGbl | kPwrBtn | kRtc | kWak;
inline constexpr u16 kEnableBits = kTmr | kGbl | kPwrBtn | kRtc;

// PM1_CNT bits (ACPI 6.x table 4.18).
inline constexpr u16 kSciEn = 1u << 0;
inline constexpr unsigned kSlpTypShift = 10;
inline constexpr u16 kSlpTypMask = 7u << kSlpTypShift;
inline constexpr u16 kSlpEn = 1u << 13;  // write-only
// SLP_TYP for S5 (soft off). QEMU's PIIX4 uses 0; the DSDT's \_S5 package holds the same value.
inline constexpr u8 kSlpTypS5 = 0;

inline constexpr u8 kSciIrq = 9;

}  // namespace emu::devices::acpi_pm
