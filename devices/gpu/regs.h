#pragma once
// The GPU's PCI function: IDs and BAR layout of QEMU's `-device bochs-display` (so Linux's `bochs` DRM driver binds),
// the Bochs VBE "dispi" registers (Bochs vbe.h, QEMU include/hw/display/bochs-vbe.h) and the layout of the MMIO
// register BAR as drivers/gpu/drm/tiny/bochs.c reads it: EDID bytes at 0, the VGA ports 0x3C0-0x3DF at 0x400, the
// dispi registers as 16-bit words at 0x500, QEMU's extension registers at 0x600.
#include "emu/common/types.h"

namespace emu::devices::gpu {

// PCI identity: QEMU's vendor 0x1234, the Bochs/stdvga device 0x1111. bochs-display is a "display, other" function
// (no legacy VGA decoding); revision 2 tells the driver the QEMU extension registers exist.
inline constexpr u16 kVendorQemu = 0x1234;
inline constexpr u16 kDeviceBochs = 0x1111;
inline constexpr u32 kClassDisplayOther = 0x038000;
inline constexpr u8 kRevision = 2;
inline constexpr u16 kSubsystemVendorQemu = 0x1AF4;
inline constexpr u16 kSubsystemQemu = 0x1100;

// BARs. BAR0: the linear framebuffer (VRAM), 32-bit prefetchable memory. BAR2: the register page. BAR4: the engine's
// MMIO window (only when an engine is plugged in; devices/gpu/gpu_engine_port.h).
inline constexpr unsigned kVramBar = 0;
inline constexpr unsigned kRegsBar = 2;
inline constexpr unsigned kEngineBar = 4;
inline constexpr u64 kDefaultVramBytes = u64{16} << 20;
inline constexpr u64 kMinVramBytes = u64{1} << 20;
inline constexpr u64 kMaxVramBytes = u64{256} << 20;  // the dispi VIDEO_MEMORY_64K register is 16 bits of 64 KiB
inline constexpr u64 kRegsBarBytes = 0x1000;

// Register BAR regions.
inline constexpr u64 kEdidOffset = 0x000;
inline constexpr u64 kEdidBytes = 0x400;
inline constexpr u64 kVgaPortsOffset = 0x400;  // VGA port 0x3C0 + n at 0x400 + n
inline constexpr u64 kVgaPortsBytes = 0x20;
inline constexpr u16 kVgaPortBase = 0x3C0;
inline constexpr u64 kDispiOffset = 0x500;  // dispi register i at 0x500 + 2 * i
inline constexpr u64 kQextOffset = 0x600;
inline constexpr u64 kQextBytes = 8;  // what kQextSize reads
inline constexpr u64 kQextSize = 0x600;
inline constexpr u64 kQextEndian = 0x604;
inline constexpr u32 kQextLittleEndian = 0x1E1E1E1E;
inline constexpr u32 kQextBigEndian = 0xBEBEBEBE;

// VGA ports the driver uses to blank: the attribute controller's index/data (0x3C0; bit 5 of the index = palette
// address source, set = the screen is on), input status 1 (0x3DA; reading it resets the index/data flip-flop) and the
// miscellaneous output register (0x3C2 write, 0x3CC read).
inline constexpr u16 kVgaAttrIndex = 0x3C0;
inline constexpr u16 kVgaMiscWrite = 0x3C2;
inline constexpr u16 kVgaMiscRead = 0x3CC;
inline constexpr u16 kVgaInputStatus1 = 0x3DA;
inline constexpr u8 kVgaAttrPaletteSource = 0x20;

// Dispi register indices.
namespace dispi {
inline constexpr unsigned kId = 0x0;
inline constexpr unsigned kXres = 0x1;
inline constexpr unsigned kYres = 0x2;
inline constexpr unsigned kBpp = 0x3;
inline constexpr unsigned kEnable = 0x4;
inline constexpr unsigned kBank = 0x5;
inline constexpr unsigned kVirtWidth = 0x6;
inline constexpr unsigned kVirtHeight = 0x7;
inline constexpr unsigned kXOffset = 0x8;
inline constexpr unsigned kYOffset = 0x9;
inline constexpr unsigned kVideoMemory64K = 0xA;  // read-only
inline constexpr unsigned kCount = 0xB;

inline constexpr u16 kId0 = 0xB0C0;
inline constexpr u16 kId5 = 0xB0C5;  // the newest interface version; the driver accepts any 0xB0Cx

// kEnable bits.
inline constexpr u16 kEnabled = 0x01;
inline constexpr u16 kGetCaps = 0x02;  // while set, XRES/YRES/BPP read their maxima
inline constexpr u16 k8BitDac = 0x20;
inline constexpr u16 kLfbEnabled = 0x40;
inline constexpr u16 kNoClearMem = 0x80;

inline constexpr u16 kMaxXres = 16000;
inline constexpr u16 kMaxYres = 12000;
inline constexpr u16 kMaxBpp = 32;
}  // namespace dispi

}  // namespace emu::devices::gpu
