#pragma once
// IA-PC HPET (High Precision Event Timers) Specification 1.0a, section 2.3: register layout, and the
// configuration QEMU's `pc` machine exposes.
#include "emu/common/types.h"

namespace emu::devices::hpet {

inline constexpr u64 kBase = 0xFED00000;
inline constexpr u64 kSize = 0x400;
inline constexpr unsigned kNumTimers = 3;
inline constexpr u64 kPeriodFs = 10'000'000;  // 10 ns per tick: 100 MHz, as QEMU
inline constexpr u64 kHz = 100'000'000;
inline constexpr u16 kVendorId = 0x8086;

// General registers (offsets).
inline constexpr u64 kCapabilities = 0x000;  // GCAP_ID
inline constexpr u64 kConfig = 0x010;        // GEN_CONF
inline constexpr u64 kIntStatus = 0x020;     // GINTR_STA
inline constexpr u64 kCounter = 0x0F0;       // MAIN_COUNTER_VAL
inline constexpr u64 kTimerBase = 0x100;     // timer n at 0x100 + 0x20 n
inline constexpr u64 kTimerStride = 0x20;
inline constexpr u64 kTimerConfig = 0x00;    // Tn_CONF_CAP
inline constexpr u64 kTimerComparator = 0x08;  // Tn_COMPARATOR_VAL
inline constexpr u64 kTimerFsbRoute = 0x10;  // Tn_FSB_INT_ROUTE (FSB delivery is not supported)

// GCAP_ID fields.
inline constexpr u64 kCapRevision = 0x01;
inline constexpr u64 kCapCount64 = u64{1} << 13;
inline constexpr u64 kCapLegacyRoute = u64{1} << 15;
inline constexpr u64 kCapabilitiesValue = (kPeriodFs << 32) | (u64{kVendorId} << 16) | kCapLegacyRoute |
                                          kCapCount64 | (u64{kNumTimers - 1} << 8) | kCapRevision;

// GEN_CONF bits.
inline constexpr u64 kEnable = 1;
inline constexpr u64 kLegacyReplacement = 2;

// Tn_CONF_CAP bits.
inline constexpr u64 kTnLevel = u64{1} << 1;       // Tn_INT_TYPE_CNF
inline constexpr u64 kTnIntEnable = u64{1} << 2;   // Tn_INT_ENB_CNF
inline constexpr u64 kTnPeriodic = u64{1} << 3;    // Tn_TYPE_CNF
inline constexpr u64 kTnPeriodicCap = u64{1} << 4;
inline constexpr u64 kTnSize64Cap = u64{1} << 5;
inline constexpr u64 kTnValSet = u64{1} << 6;      // Tn_VAL_SET_CNF
inline constexpr u64 kTn32Bit = u64{1} << 8;       // Tn_32MODE_CNF
inline constexpr unsigned kTnRouteShift = 9;       // Tn_INT_ROUTE_CNF, 5 bits
inline constexpr u64 kTnRouteMask = u64{0x1F} << kTnRouteShift;
inline constexpr u64 kTnWritable = kTnLevel | kTnIntEnable | kTnPeriodic | kTnValSet | kTn32Bit | kTnRouteMask;
// Tn_INT_ROUTE_CAP: the I/O APIC inputs a timer may use. QEMU's pc default: 2, 8 and 16-23.
inline constexpr u32 kRouteCap = 0x00FF0104;

}  // namespace emu::devices::hpet
