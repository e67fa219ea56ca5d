#pragma once
// Virtio 1.2 section 5.2: the block device's feature bits, configuration layout and request format.
#include "emu/common/types.h"

namespace emu::devices::virtio::blk {

namespace feature {
inline constexpr u64 kSegMax = u64{1} << 2;
inline constexpr u64 kReadOnly = u64{1} << 5;
inline constexpr u64 kBlkSize = u64{1} << 6;
inline constexpr u64 kFlush = u64{1} << 9;
inline constexpr u64 kDiscard = u64{1} << 13;
inline constexpr u64 kWriteZeroes = u64{1} << 14;
}  // namespace feature

// 5.2.4 struct virtio_blk_config offsets.
inline constexpr u64 kCapacity = 0;  // le64, in 512-byte sectors
inline constexpr u64 kSegMaxOffset = 12;
inline constexpr u64 kBlkSizeOffset = 20;
inline constexpr u64 kMaxDiscardSectors = 36;
inline constexpr u64 kMaxDiscardSeg = 40;
inline constexpr u64 kDiscardSectorAlignment = 44;
inline constexpr u64 kMaxWriteZeroesSectors = 48;
inline constexpr u64 kMaxWriteZeroesSeg = 52;
inline constexpr u64 kWriteZeroesMayUnmap = 56;
inline constexpr u32 kConfigSize = 60;

// 5.2.6 Requests: a 16-byte header (le32 type, le32 reserved, le64 sector), data, and a status byte.
inline constexpr u64 kSectorSize = 512;
inline constexpr u64 kHeaderSize = 16;
inline constexpr u32 kTypeIn = 0;
inline constexpr u32 kTypeOut = 1;
inline constexpr u32 kTypeFlush = 4;
inline constexpr u32 kTypeGetId = 8;
inline constexpr u32 kTypeDiscard = 11;
inline constexpr u32 kTypeWriteZeroes = 13;
inline constexpr u64 kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES
// Discard / write-zeroes segments: le64 sector, le32 num_sectors, le32 flags (bit 0: unmap).
inline constexpr u64 kSegmentSize = 16;

inline constexpr u8 kStatusOk = 0;
inline constexpr u8 kStatusIoErr = 1;
inline constexpr u8 kStatusUnsupported = 2;

}  // namespace emu::devices::virtio::blk
