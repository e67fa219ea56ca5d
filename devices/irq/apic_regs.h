#pragma once
// Register layout of the I/O APIC (82093AA datasheet, section 3) and the xAPIC local APIC (Intel SDM Vol. 3,
// chapter 11 "Advanced Programmable Interrupt Controller"), plus the interrupt message both sides exchange.
#include "emu/common/types.h"

namespace emu::devices::apic {

// Delivery modes shared by redirection entries, LVT entries and the ICR (SDM table 11-?; 82093AA 3.2.4).
enum class DeliveryMode : u8 {
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Nmi = 4,
    Init = 5,
    StartUp = 6,
    ExtInt = 7,
};

// ---- I/O APIC (82093AA) ----
inline constexpr u64 kIoapicBase = 0xFEC00000;
inline constexpr u64 kIoapicSize = 0x1000;
inline constexpr u64 kIoregsel = 0x00;
inline constexpr u64 kIowin = 0x10;
inline constexpr u64 kIoapicEoi = 0x40;  // directed-EOI register of version 0x20 I/O APICs (ICH and later)
inline constexpr unsigned kIoapicPins = 24;

// Indirect registers selected through IOREGSEL.
inline constexpr u8 kIoapicId = 0x00;    // bits 27-24
inline constexpr u8 kIoapicVer = 0x01;   // bits 7-0 version, 23-16 maximum redirection entry
inline constexpr u8 kIoapicArb = 0x02;   // bits 27-24 arbitration ID
inline constexpr u8 kIoredtbl = 0x10;    // entry n: low dword at 0x10 + 2n, high dword at 0x11 + 2n
inline constexpr u32 kIoapicVersion = 0x20;  // QEMU's default version: has the EOI register

// Redirection-table entry bits.
inline constexpr u64 kRteVector = 0xFF;
inline constexpr unsigned kRteDeliveryShift = 8;
inline constexpr u64 kRteDestLogical = u64{1} << 11;
inline constexpr u64 kRteDeliveryStatus = u64{1} << 12;  // read-only
inline constexpr u64 kRtePolarityLow = u64{1} << 13;
inline constexpr u64 kRteRemoteIrr = u64{1} << 14;        // read-only
inline constexpr u64 kRteLevel = u64{1} << 15;
inline constexpr u64 kRteMasked = u64{1} << 16;
inline constexpr unsigned kRteDestShift = 56;
inline constexpr u64 kRteReadOnly = kRteDeliveryStatus | kRteRemoteIrr;
inline constexpr u64 kRteWritable = 0xFF00'0000'0001'FFFFull & ~kRteReadOnly;

// ---- Local APIC (xAPIC MMIO interface) ----
inline constexpr u64 kLapicBase = 0xFEE00000;
inline constexpr u64 kLapicSize = 0x1000;
// IA32_APIC_BASE MSR (0x1B) bits.
inline constexpr u64 kApicBaseBsp = u64{1} << 8;
inline constexpr u64 kApicBaseX2apic = u64{1} << 10;
inline constexpr u64 kApicBaseEnable = u64{1} << 11;
inline constexpr u64 kApicBaseAddrMask = 0x000F'FFFF'FFFF'F000ull;

// The local APIC's MSRs besides IA32_APIC_BASE: the x2APIC registers at 0x800 + offset / 16 (SDM table 11-6) and
// IA32_TSC_DEADLINE.
inline constexpr u32 kMsrApicBase = 0x1B;
inline constexpr u32 kMsrTscDeadline = 0x6E0;
inline constexpr u32 kMsrX2apicFirst = 0x800;
inline constexpr u32 kMsrX2apicLast = 0x8FF;
inline constexpr u32 kRegSelfIpi = 0x3F0;  // x2APIC only (MSR 0x83F)

// Register offsets (SDM table 11-1).
inline constexpr u32 kRegId = 0x020;
inline constexpr u32 kRegVersion = 0x030;
inline constexpr u32 kRegTpr = 0x080;
inline constexpr u32 kRegApr = 0x090;
inline constexpr u32 kRegPpr = 0x0A0;
inline constexpr u32 kRegEoi = 0x0B0;
inline constexpr u32 kRegRrd = 0x0C0;
inline constexpr u32 kRegLdr = 0x0D0;
inline constexpr u32 kRegDfr = 0x0E0;
inline constexpr u32 kRegSvr = 0x0F0;
inline constexpr u32 kRegIsr = 0x100;  // 8 registers, 0x10 apart
inline constexpr u32 kRegTmr = 0x180;
inline constexpr u32 kRegIrr = 0x200;
inline constexpr u32 kRegEsr = 0x280;
inline constexpr u32 kRegLvtCmci = 0x2F0;
inline constexpr u32 kRegIcrLow = 0x300;
inline constexpr u32 kRegIcrHigh = 0x310;
inline constexpr u32 kRegLvtTimer = 0x320;
inline constexpr u32 kRegLvtThermal = 0x330;
inline constexpr u32 kRegLvtPerf = 0x340;
inline constexpr u32 kRegLvtLint0 = 0x350;
inline constexpr u32 kRegLvtLint1 = 0x360;
inline constexpr u32 kRegLvtError = 0x370;
inline constexpr u32 kRegTimerInitial = 0x380;
inline constexpr u32 kRegTimerCurrent = 0x390;
inline constexpr u32 kRegTimerDivide = 0x3E0;

// Version register: version 0x14 (integrated xAPIC), max LVT entry 5 (timer, thermal, perf, LINT0, LINT1,
// error: CMCI is not implemented), no EOI-broadcast suppression. The same value QEMU reports.
inline constexpr u32 kLapicVersion = 0x0005'0014;

// LVT entry bits (SDM figure 11-8).
inline constexpr u32 kLvtVector = 0xFF;
inline constexpr unsigned kLvtDeliveryShift = 8;
inline constexpr u32 kLvtDeliveryStatus = 1u << 12;
inline constexpr u32 kLvtPolarityLow = 1u << 13;
inline constexpr u32 kLvtRemoteIrr = 1u << 14;
inline constexpr u32 kLvtLevel = 1u << 15;
inline constexpr u32 kLvtMasked = 1u << 16;
inline constexpr unsigned kLvtTimerModeShift = 17;
enum class TimerMode : u8 { OneShot = 0, Periodic = 1, TscDeadline = 2 };

// SVR bits.
inline constexpr u32 kSvrEnable = 1u << 8;
inline constexpr u32 kSvrFocusDisable = 1u << 9;

// ICR bits (SDM figure 11-12).
inline constexpr u32 kIcrDestLogical = 1u << 11;
inline constexpr u32 kIcrDeliveryStatus = 1u << 12;
inline constexpr u32 kIcrLevelAssert = 1u << 14;
inline constexpr u32 kIcrLevel = 1u << 15;
inline constexpr unsigned kIcrShorthandShift = 18;
enum class Shorthand : u8 { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 };

// ESR bits (SDM figure 11-9).
inline constexpr u32 kEsrSendIllegalVector = 1u << 5;
inline constexpr u32 kEsrReceiveIllegalVector = 1u << 6;
inline constexpr u32 kEsrIllegalRegister = 1u << 7;

// DFR models.
inline constexpr u32 kDfrFlat = 0xF;
inline constexpr u32 kDfrCluster = 0x0;

inline constexpr u8 kBroadcast = 0xFF;  // xAPIC physical/logical broadcast destination
inline constexpr u32 kX2apicBroadcast = 0xFFFFFFFF;

}  // namespace emu::devices::apic
