#pragma once
// virtio-net (virtio 1.2 section 5.1) over a NetBackend: one receive and one transmit queue, a MAC address and link
// status, no offloads (every frame is complete and checksummed, as slirp makes and expects them).
//
// Receive: the backend's thread hands frames to Receive(); they wait in a bounded queue until the driver has
// posted receive buffers (a full queue drops the oldest frame: TCP retransmits, as on a congested wire).
// Transmit: on the notifying vCPU thread, each chain's frame (after the 12-byte header) goes to the backend, which
// only queues it.
//
// Threads: mutex_ guards queues_ and the pending frames (lock order: backend -> mutex_ -> transport).
#include <array>
#include <deque>
#include <mutex>
#include <vector>

#include "devices/backends/net_backend.h"
#include "devices/virtio/virtio_device.h"

namespace emu::devices::virtio {

class VirtioNet final : public VirtioDevice {
public:
    using Mac = std::array<u8, 6>;
    VirtioNet(NetBackend& backend, const Mac& mac);
    ~VirtioNet() override;

    DeviceType Type() const override { return DeviceType::Net; }
    u32 PciClass() const override { return 0x020000; }  // network, Ethernet
    u64 Features() const override;
    unsigned NumQueues() const override { return 2; }
    u16 MaxQueueSize(unsigned) const override { return 256; }
    u32 ConfigSize() const override;
    void ReadConfig(u64 offset, std::span<u8> data) override;
    void Activate(VirtioQueues& queues, u64 features) override;
    void QueueNotify(unsigned index) override;
    void Reset() override;

    // A frame for the guest (the backend's thread).
    void Receive(std::span<const u8> frame);

private:
    static constexpr size_t kMaxPendingFrames = 256;

    void DeliverPendingLocked();
    void Transmit();

    NetBackend& backend_;
    Mac mac_;
    std::mutex mutex_;
    VirtioQueues* queues_ = nullptr;
    std::deque<std::vector<u8>> pending_;
};

}  // namespace emu::devices::virtio
