#pragma once
// Ports and layouts of the small PC platform devices: QEMU's isa-debug-exit and pc-testdev, the Bochs/QEMU
// power-off port, the POST port, system control port A (0x92) and QEMU's fw_cfg (docs/specs/fw_cfg.rst).
#include "emu/common/types.h"

namespace emu::devices::platform {

inline constexpr u16 kDebugExitPort = 0xF4;
inline constexpr u64 kDebugExitSize = 1;        // QEMU's default iosize
inline constexpr u16 kTestdevLatchPort = 0xE0;  // 0xE0-0xE3: a 32-bit register that reads back what was written
inline constexpr u64 kTestdevLatchSize = 4;
inline constexpr u16 kTestdevFlushPort = 0xE4;  // a 32-bit write of a guest address flushes that page
inline constexpr u64 kTestdevFlushSize = 4;
// QEMU's pc-testdev also maps 64 KiB of plain memory behind an MMIO window (its "pc-testdev.iomem"), where tests of
// instruction emulation on MMIO (kvm-unit-tests' emulator test) read and write.
inline constexpr u64 kTestdevIomemBase = 0xFF000000;
inline constexpr u64 kTestdevIomemSize = 0x10000;
inline constexpr u16 kBochsShutdownPort = 0x8900;
inline constexpr u16 kPostPort = 0x80;
inline constexpr u16 kFpuErrorPort = 0xF0;  // write: clear FERR# (IRQ13)
inline constexpr u8 kFpuErrorIrq = 13;
inline constexpr u16 kPortA = 0x92;
inline constexpr u8 kPortAReset = 0x01;         // write 1: fast CPU reset
inline constexpr u8 kPortAA20 = 0x02;           // A20 gate enabled

namespace fw_cfg {

inline constexpr u16 kBase = 0x510;  // 0x510 selector (16-bit write), 0x511 data (reads auto-increment)
inline constexpr u64 kPorts = 2;
inline constexpr u64 kSelectorOffset = 0;
inline constexpr u64 kDataOffset = 1;

enum Key : u16 {
    kSignature = 0x0000,
    kId = 0x0001,
    kUuid = 0x0002,
    kRamSize = 0x0003,
    kNoGraphic = 0x0004,
    kNbCpus = 0x0005,
    kMaxCpus = 0x000F,
    kCmdlineSize = 0x0014,
    kCmdlineData = 0x0015,
    kFileDir = 0x0019,
    kFileFirst = 0x0020,
    kFileLast = 0x3FFF,
};

inline constexpr u16 kWriteChannel = 0x4000;  // selector bit: write access (writes are ignored here)
inline constexpr u32 kIdTraditional = 0x01;   // the port interface; bit 1 (DMA) is not implemented
inline constexpr char kSignatureBytes[4] = {'Q', 'E', 'M', 'U'};
inline constexpr size_t kFileNameSize = 56;   // FWCfgFile.name, NUL-terminated
inline constexpr size_t kFileEntrySize = 64;  // be32 size, be16 select, be16 reserved, name[56]

}  // namespace fw_cfg
}  // namespace emu::devices::platform
