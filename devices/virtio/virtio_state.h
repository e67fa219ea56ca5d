#pragma once
// Snapshot of a virtio PCI transport and its split virtqueues: what the driver programmed and how far the device
// has gone in each ring. A device model's own state (pending frames, requests in flight) is not part of it: take a
// snapshot with the device quiet (no request popped and not yet completed).
#include <array>
#include <vector>

#include "devices/virtio/virtqueue.h"
#include "emu/common/types.h"

namespace emu::devices::virtio {

struct SplitQueueState {
    QueueLayout layout;
    bool enabled = false;
    bool event_idx = false;
    bool indirect = false;
    u16 last_avail = 0;
    u16 used_idx = 0;
    u16 signalled_used = 0;
    bool pushed_since_signal = false;
};

inline std::array<const bool*, 4> BoolMembers(const SplitQueueState& s) {
    return {&s.enabled, &s.event_idx, &s.indirect, &s.pushed_since_signal};
}

struct VirtioQueueRegsState {
    SplitQueueState queue;
    QueueLayout layout;  // the registers (may differ from queue.layout while the queue is disabled)
    u16 msix_vector = 0;
};

inline std::array<const bool*, 4> BoolMembers(const VirtioQueueRegsState& s) { return BoolMembers(s.queue); }

struct MsixEntryState {
    u32 address_low = 0, address_high = 0, data = 0, control = 0;
    bool pending = false;
};
inline std::array<const bool*, 1> BoolMembers(const MsixEntryState& s) { return {&s.pending}; }

struct VirtioPciState {
    u32 device_feature_select = 0;
    u32 driver_feature_select = 0;
    u64 driver_features = 0;
    u8 status = 0;
    u8 isr = 0;
    u16 config_msix_vector = 0;
    u16 queue_select = 0;
    std::vector<VirtioQueueRegsState> queues;
    std::vector<MsixEntryState> msix;
};

}  // namespace emu::devices::virtio
