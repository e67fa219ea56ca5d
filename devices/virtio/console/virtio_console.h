#pragma once
// virtio-console (virtio 1.2 section 5.3) with a single port and no multiport feature: receiveq 0 carries host input
// to the guest, transmitq 1 the guest's output, and Linux makes the port its console hvc0. The host side is a
// CharBackend (-chardev), as for the UART.
//
// Threads: input arrives on the backend's thread (the machine's event loop) and waits in a bounded buffer until the
// driver posts receive buffers; output is written on the notifying vCPU thread. mutex_ guards queues_ and the
// buffer (lock order: backend receiver -> mutex_ -> transport).
#include <deque>
#include <mutex>

#include "devices/backends/char_backend.h"
#include "devices/virtio/virtio_device.h"

namespace emu::devices::virtio {

class VirtioConsole final : public VirtioDevice {
public:
    explicit VirtioConsole(CharBackend& backend);
    ~VirtioConsole() override;

    DeviceType Type() const override { return DeviceType::Console; }
    u32 PciClass() const override { return 0x078000; }  // communication, other (what QEMU reports)
    u64 Features() const override { return feature::kEventIdx | feature::kIndirectDesc; }
    unsigned NumQueues() const override { return 2; }
    u16 MaxQueueSize(unsigned) const override { return 128; }
    u32 ConfigSize() const override { return kConfigSize; }
    void ReadConfig(u64 offset, std::span<u8> data) override;
    void Activate(VirtioQueues& queues, u64 features) override;
    void QueueNotify(unsigned index) override;
    void Reset() override;

private:
    static constexpr u32 kConfigSize = 12;  // le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr
    static constexpr unsigned kReceiveQueue = 0, kTransmitQueue = 1;
    static constexpr size_t kMaxPendingInput = 64 * 1024;
    static constexpr u64 kMaxOutputChunk = 1 << 20;  // Linux's hvc writes are at most a page

    void Input(std::span<const u8> bytes);
    void DeliverInputLocked();
    void Output();

    CharBackend& backend_;
    std::mutex mutex_;
    VirtioQueues* queues_ = nullptr;
    std::deque<u8> input_;
};

}  // namespace emu::devices::virtio
