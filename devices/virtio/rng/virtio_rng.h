#pragma once
// virtio-rng (virtio 1.2 section 5.4): one request queue whose writable buffers the device fills with host entropy.
// No feature bits and no configuration space. Requests are small (Linux asks for at most a page) and getrandom does
// not block once the host has booted, so they are served on the notifying vCPU thread.
#include "devices/backends/entropy_source.h"
#include "devices/virtio/virtio_device.h"

namespace emu::devices::virtio {

class VirtioRng final : public VirtioDevice {
public:
    explicit VirtioRng(EntropySource& source) : source_(source) {}

    DeviceType Type() const override { return DeviceType::Entropy; }
    u32 PciClass() const override { return 0x00FF00; }  // unclassified (what QEMU reports)
    u64 Features() const override { return feature::kEventIdx | feature::kIndirectDesc; }
    unsigned NumQueues() const override { return 1; }
    u16 MaxQueueSize(unsigned) const override { return 64; }
    u32 ConfigSize() const override { return 0; }
    void ReadConfig(u64, std::span<u8>) override {}
    void Activate(VirtioQueues& queues, u64) override { queues_ = &queues; }
    void QueueNotify(unsigned index) override;
    void Reset() override { queues_ = nullptr; }

    // Fills the chain's writable buffers; returns the bytes written (0 if the host had no entropy).
    u32 Serve(DmaMemory& memory, const DescriptorChain& chain);

private:
    EntropySource& source_;
    VirtioQueues* queues_ = nullptr;  // vCPU thread only
};

}  // namespace emu::devices::virtio
