#pragma once
// virtio-blk (virtio 1.2 section 5.2) over a BlockBackend: read, write, flush, GET_ID, discard and write-zeroes.
//
// Requests run on the device's own worker thread, in the order the driver made them available, so a slow host disk
// holds up neither the vCPU nor other devices, and a FLUSH completes only after every request before it has
// finished and the backend has made them durable: a request is completed (used ring, interrupt) only after its
// host I/O returned, so no acknowledged write is lost when the emulator dies.
//
// A read-only drive offers VIRTIO_BLK_F_RO and fails writes, discards and write-zeroes with VIRTIO_BLK_S_IOERR.
//
// Threads: QueueNotify/Activate/Reset on the vCPU thread; the worker pops nothing itself, it takes requests from
// pending_ (mutex_) and completes them through the transport.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "devices/backends/block_backend.h"
#include "devices/virtio/virtio_device.h"

namespace emu::devices::virtio {

class VirtioBlk final : public VirtioDevice {
public:
    // serial: what GET_ID returns (at most 20 bytes are used).
    VirtioBlk(BlockBackend& backend, std::string serial);
    ~VirtioBlk() override;

    DeviceType Type() const override { return DeviceType::Block; }
    u32 PciClass() const override { return 0x010000; }  // mass storage, SCSI (what QEMU reports)
    u64 Features() const override;
    unsigned NumQueues() const override { return 1; }
    u16 MaxQueueSize(unsigned) const override { return kQueueSize; }
    u32 ConfigSize() const override;
    void ReadConfig(u64 offset, std::span<u8> data) override;
    void Activate(VirtioQueues& queues, u64 features) override;
    void QueueNotify(unsigned index) override;
    void Reset() override;

    // Runs one request now, on the calling thread, and returns the number of bytes written into its chain
    // (the worker's step; unit tests call it directly).
    u32 Execute(DmaMemory& memory, const DescriptorChain& chain);

private:
    static constexpr u16 kQueueSize = 256;

    u8 ReadRequest(DmaMemory& memory, const DescriptorChain& chain, u64 sector, u32* written);
    u8 WriteRequest(DmaMemory& memory, const DescriptorChain& chain, u64 sector);
    u8 RangeRequest(DmaMemory& memory, const DescriptorChain& chain, bool discard);
    u8 GetId(DmaMemory& memory, const DescriptorChain& chain, u32* written);
    void WorkerLoop();

    BlockBackend& backend_;
    std::string serial_;

    std::mutex mutex_;
    std::condition_variable work_cv_;  // pending_ gained a request, or stop_
    std::condition_variable idle_cv_;  // the worker finished a request
    std::deque<Request> pending_;
    bool busy_ = false;  // the worker is executing a request taken from pending_
    bool stop_ = false;
    VirtioQueues* queues_ = nullptr;
    std::thread worker_;
};

}  // namespace emu::devices::virtio
