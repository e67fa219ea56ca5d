#pragma once
// Virtio 1.2 (OASIS, 2022): the constants the PCI transport and the split virtqueue share with the driver.
// Section numbers are the specification's.
#include "emu/common/types.h"

namespace emu::devices::virtio {

// 2.1 Device status field.
namespace status {
inline constexpr u8 kAcknowledge = 1;
inline constexpr u8 kDriver = 2;
inline constexpr u8 kDriverOk = 4;
inline constexpr u8 kFeaturesOk = 8;
inline constexpr u8 kDeviceNeedsReset = 64;
inline constexpr u8 kFailed = 128;
}  // namespace status

// 6 Reserved feature bits (transport and ring features every device model may offer).
namespace feature {
inline constexpr u64 kIndirectDesc = u64{1} << 28;  // VIRTIO_F_INDIRECT_DESC
inline constexpr u64 kEventIdx = u64{1} << 29;      // VIRTIO_F_EVENT_IDX
inline constexpr u64 kVersion1 = u64{1} << 32;      // VIRTIO_F_VERSION_1: this is not a legacy device
inline constexpr u64 kAccessPlatform = u64{1} << 33;
}  // namespace feature

// 2.7.5 The virtqueue descriptor table.
namespace desc {
inline constexpr u16 kNext = 1;
inline constexpr u16 kWrite = 2;
inline constexpr u16 kIndirect = 4;
inline constexpr u64 kSize = 16;  // le64 addr, le32 len, le16 flags, le16 next
}  // namespace desc

// 2.7.6 / 2.7.8 The available and used rings.
namespace ring {
inline constexpr u16 kAvailNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT (ignored with EVENT_IDX)
inline constexpr u16 kUsedNoNotify = 1;      // VIRTQ_USED_F_NO_NOTIFY
inline constexpr u64 kAvailHeader = 4;       // le16 flags, le16 idx
inline constexpr u64 kAvailEntry = 2;
inline constexpr u64 kUsedHeader = 4;
inline constexpr u64 kUsedEntry = 8;         // le32 id, le32 len
}  // namespace ring

inline constexpr u16 kMaxQueueSize = 32768;  // 2.7: "Queue Size ... maximum 32768"
inline constexpr u16 kNoVector = 0xFFFF;     // 4.1.5.1.2 VIRTIO_MSI_NO_VECTOR

// 5 Device types (the PCI device ID is 0x1040 + type, 4.1.2).
enum class DeviceType : u16 { Net = 1, Block = 2, Console = 3, Entropy = 4 };

// 4.1 Virtio over PCI.
namespace pci {
inline constexpr u16 kVendor = 0x1AF4;
inline constexpr u16 kModernDeviceBase = 0x1040;
inline constexpr u8 kModernRevision = 1;  // 4.1.2.1: a non-transitional device has revision ID 1 or higher
inline constexpr u16 kSubsystemId = 0x1100;

// 4.1.4 Capability cfg_type values.
inline constexpr u8 kCapCommonCfg = 1;
inline constexpr u8 kCapNotifyCfg = 2;
inline constexpr u8 kCapIsrCfg = 3;
inline constexpr u8 kCapDeviceCfg = 4;
inline constexpr u8 kCapVendorSpecific = 0x09;  // PCI capability ID of every virtio structure
inline constexpr u8 kCapMsix = 0x11;

// 4.1.4.3 struct virtio_pci_common_cfg.
inline constexpr u64 kDeviceFeatureSelect = 0x00;
inline constexpr u64 kDeviceFeature = 0x04;
inline constexpr u64 kDriverFeatureSelect = 0x08;
inline constexpr u64 kDriverFeature = 0x0C;
inline constexpr u64 kConfigMsixVector = 0x10;
inline constexpr u64 kNumQueues = 0x12;
inline constexpr u64 kDeviceStatus = 0x14;
inline constexpr u64 kConfigGeneration = 0x15;
inline constexpr u64 kQueueSelect = 0x16;
inline constexpr u64 kQueueSize = 0x18;
inline constexpr u64 kQueueMsixVector = 0x1A;
inline constexpr u64 kQueueEnable = 0x1C;
inline constexpr u64 kQueueNotifyOff = 0x1E;
inline constexpr u64 kQueueDesc = 0x20;
inline constexpr u64 kQueueDriver = 0x28;
inline constexpr u64 kQueueDevice = 0x30;
inline constexpr u64 kCommonCfgSize = 0x38;

// 4.1.4.5 ISR status bits (read-to-clear).
inline constexpr u8 kIsrQueue = 1;
inline constexpr u8 kIsrConfig = 2;

// The layout of this transport's one memory BAR (BAR 0). Each structure gets its own 4 KiB page so that a
// driver mapping them separately never shares a page between two of them.
inline constexpr unsigned kBar = 0;
inline constexpr u64 kCommonCfgOffset = 0x0000;
inline constexpr u64 kIsrOffset = 0x1000;
inline constexpr u64 kDeviceCfgOffset = 0x2000;
inline constexpr u64 kNotifyOffset = 0x3000;
inline constexpr u32 kNotifyOffMultiplier = 4;  // queue n's doorbell is at kNotifyOffset + 4 * n
inline constexpr u64 kMsixTableOffset = 0x4000;
inline constexpr u64 kMsixPbaOffset = 0x5000;
inline constexpr u64 kBarSize = 0x8000;
inline constexpr u64 kRegionSize = 0x1000;
}  // namespace pci

// PCI 3.0 section 6.8.2: MSI-X capability and table.
namespace msix {
inline constexpr u16 kControlEnable = 1u << 15;
inline constexpr u16 kControlFunctionMask = 1u << 14;
inline constexpr u64 kEntrySize = 16;  // le32 address low, le32 address high, le32 data, le32 vector control
inline constexpr u32 kEntryMasked = 1;
}  // namespace msix

}  // namespace emu::devices::virtio
