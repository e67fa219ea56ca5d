#pragma once
// PCI Local Bus Specification 3.0: configuration mechanism #1 (section 3.2.2.3.2) and the type 0 configuration
// header (section 6.1), plus the i440FX/PIIX3 registers QEMU's `pc` machine exposes.
#include "emu/common/types.h"

namespace emu::devices::pci {

// Configuration mechanism #1.
inline constexpr u16 kConfigAddressPort = 0xCF8;
inline constexpr u16 kConfigDataPort = 0xCFC;
inline constexpr u16 kResetControlPort = 0xCF9;  // PIIX3 reset control register, byte access only
inline constexpr u64 kConfigPorts = 8;           // 0xCF8-0xCFF
inline constexpr u32 kConfigEnable = 0x80000000;
inline constexpr u32 kConfigAddressMask = 0x80FFFFFC;  // enable, bus, device, function, dword register

inline constexpr unsigned kDevicesPerBus = 32;
inline constexpr unsigned kFunctionsPerDevice = 8;
inline constexpr unsigned kConfigSize = 256;

// Type 0 header offsets.
inline constexpr u16 kVendorId = 0x00;
inline constexpr u16 kDeviceId = 0x02;
inline constexpr u16 kCommand = 0x04;
inline constexpr u16 kStatus = 0x06;
inline constexpr u16 kRevision = 0x08;
inline constexpr u16 kClassCode = 0x09;  // 3 bytes: prog-if, subclass, class
inline constexpr u16 kCacheLineSize = 0x0C;
inline constexpr u16 kLatencyTimer = 0x0D;
inline constexpr u16 kHeaderType = 0x0E;
inline constexpr u16 kBar0 = 0x10;
inline constexpr unsigned kNumBars = 6;
inline constexpr u16 kSubsystemVendorId = 0x2C;
inline constexpr u16 kSubsystemId = 0x2E;
inline constexpr u16 kCapabilitiesPointer = 0x34;
inline constexpr u16 kInterruptLine = 0x3C;
inline constexpr u16 kInterruptPin = 0x3D;
inline constexpr u16 kFirstCapability = 0x40;

inline constexpr u8 kHeaderMultiFunction = 0x80;

// Command register bits.
inline constexpr u16 kCommandIo = 1u << 0;
inline constexpr u16 kCommandMemory = 1u << 1;
inline constexpr u16 kCommandBusMaster = 1u << 2;
inline constexpr u16 kCommandParity = 1u << 6;
inline constexpr u16 kCommandSerr = 1u << 8;
inline constexpr u16 kCommandIntxDisable = 1u << 10;
inline constexpr u16 kCommandWritable =
    kCommandIo | kCommandMemory | kCommandBusMaster | kCommandParity | kCommandSerr | kCommandIntxDisable;

// Status register bits.
inline constexpr u16 kStatusInterrupt = 1u << 3;
inline constexpr u16 kStatusCapabilities = 1u << 4;
inline constexpr u16 kStatusWriteOneToClear = 0xF900;  // error bits 15-11 and 8

// BAR low bits.
inline constexpr u32 kBarIo = 0x1;
inline constexpr u32 kBarMem64 = 0x4;
inline constexpr u32 kBarPrefetchable = 0x8;

// i440FX host bridge and PIIX3 ISA bridge (QEMU's `pc`).
inline constexpr u16 kIntelVendor = 0x8086;
inline constexpr u16 kI440fxDevice = 0x1237;
inline constexpr u16 kPiix3Device = 0x7000;
inline constexpr u32 kClassHostBridge = 0x060000;
inline constexpr u32 kClassIsaBridge = 0x060100;
inline constexpr u8 kI440fxRevision = 0x02;
inline constexpr u16 kPiix3PirqRoute = 0x60;  // PIRQRC[A-D] at 0x60-0x63
inline constexpr u8 kPirqDisable = 0x80;      // bit 7: routing disabled
inline constexpr u8 kPirqIrqMask = 0x0F;
inline constexpr unsigned kNumPirqs = 4;
inline constexpr unsigned kPirqFirstGsi = 16;  // PIRQ n also drives I/O APIC input 16 + n (see dsdt.asl)

// PIIX3 reset control register (0xCF9).
inline constexpr u8 kRcrSystemReset = 0x02;  // with RST_CPU: hard reset
inline constexpr u8 kRcrResetCpu = 0x04;     // 0 -> 1 transition resets

}  // namespace emu::devices::pci
