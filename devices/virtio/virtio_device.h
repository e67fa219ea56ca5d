#pragma once
// VirtioDevice: what a device model (blk, net, rng, console) tells the transport about itself and what the
// transport tells it. Device models are transport-independent: they reach their queues only through
// VirtioQueues (PopChain / Complete), never guest RAM directly.
#include <optional>
#include <span>
#include <vector>

#include "devices/virtio/regs.h"
#include "devices/virtio/virtqueue.h"
#include "emu/common/types.h"

namespace emu::devices::virtio {

// A chain popped from a queue, tagged with the device incarnation it belongs to: a completion for a chain popped
// before a device reset is dropped (the rings it came from are gone).
struct Request {
    DescriptorChain chain;
    u64 generation = 0;
};

// The queues as the transport lends them to a device model. Thread-safe: the transport locks.
class VirtioQueues {
public:
    virtual ~VirtioQueues() = default;
    // The next available chain of queue `index`, or nothing (empty, queue not live, or a malformed chain: then the
    // device is marked DEVICE_NEEDS_RESET and the queue is not used again until a reset).
    virtual std::optional<Request> PopChain(unsigned index) = 0;
    // Puts a chain on the used ring with `written` bytes written, then interrupts the driver if it asked.
    virtual void Complete(unsigned index, const Request& request, u32 written) = 0;
    // Memory the device copies through (ChainReader / ChainWriter).
    virtual DmaMemory& memory() = 0;
};

// Pops every available chain of queue `index`, hands its device-readable bytes after the first `skip` to
// consume(std::span<const u8>) and returns the chain with nothing written: the transmit side of virtio-net and
// virtio-console. A chain shorter than `skip`, or with more than `max_bytes` after it (the driver's buffers are not
// copied into host memory without bound), is returned unconsumed.
template <typename F>
void DrainOutgoing(VirtioQueues& queues, unsigned index, u64 skip, u64 max_bytes, F&& consume) {
    std::vector<u8> bytes;
    while (auto request = queues.PopChain(index)) {
        ChainReader reader(queues.memory(), request->chain);
        if (reader.Skip(skip) && reader.remaining() <= max_bytes) {
            bytes.resize(reader.remaining());
            if (reader.Read(bytes)) consume(std::span<const u8>(bytes));
        }
        queues.Complete(index, *request, 0);
    }
}

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual DeviceType Type() const = 0;
    virtual u32 PciClass() const = 0;  // class << 16 | subclass << 8 | prog-if
    // Device-specific and ring features offered (the transport adds VERSION_1).
    virtual u64 Features() const = 0;
    virtual unsigned NumQueues() const = 0;
    virtual u16 MaxQueueSize(unsigned index) const = 0;
    // The device-specific configuration space (the transport bounds-checks against ConfigSize() and calls these with
    // its lock held: they must not call PopChain/Complete).
    virtual u32 ConfigSize() const = 0;
    virtual void ReadConfig(u64 offset, std::span<u8> data) = 0;
    virtual void WriteConfig(u64 /*offset*/, std::span<const u8> /*data*/) {}

    // The driver finished initialisation (DRIVER_OK) having negotiated `features`; queues is valid until Reset.
    virtual void Activate(VirtioQueues& queues, u64 features) = 0;
    // The driver notified queue `index` (a vCPU thread, no transport lock held).
    virtual void QueueNotify(unsigned index) = 0;
    // Device reset (status 0): forget the negotiated state; return only once no request popped before the reset is
    // still being worked on (its completion is dropped). No transport lock held.
    virtual void Reset() = 0;
};

}  // namespace emu::devices::virtio
