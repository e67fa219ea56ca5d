#pragma once
// Virtio 1.2 section 5.1: the network device's feature bits, configuration layout and packet header.
#include "emu/common/types.h"

namespace emu::devices::virtio::net {

namespace feature {
inline constexpr u64 kMac = u64{1} << 5;      // VIRTIO_NET_F_MAC: config.mac is valid
inline constexpr u64 kStatus = u64{1} << 16;  // VIRTIO_NET_F_STATUS: config.status is valid
}  // namespace feature

// 5.1.4 struct virtio_net_config.
inline constexpr u64 kMacOffset = 0;
inline constexpr u64 kStatusOffset = 6;
inline constexpr u32 kConfigSize = 8;
inline constexpr u16 kStatusLinkUp = 1;

// 5.1.6 struct virtio_net_hdr: with VERSION_1 it is always 12 bytes (num_buffers included).
inline constexpr u64 kHeaderSize = 12;
inline constexpr u64 kNumBuffersOffset = 10;

// The largest frame the device passes on: without GSO features a frame is at most one MTU-sized Ethernet frame; the
// bound leaves room for jumbo frames (slirp takes up to 64 KiB).
inline constexpr u64 kMaxFrameSize = 65536;

inline constexpr unsigned kReceiveQueue = 0;
inline constexpr unsigned kTransmitQueue = 1;

}  // namespace emu::devices::virtio::net
