#include "devices/virtio/console/virtio_console.h"

#include <algorithm>
#include <vector>

namespace emu::devices::virtio {

VirtioConsole::VirtioConsole(CharBackend& backend) : backend_(backend) {
    backend_.SetReceiver([this](std::span<const u8> bytes) { Input(bytes); });
}

VirtioConsole::~VirtioConsole() { backend_.SetReceiver({}); }

void VirtioConsole::ReadConfig(u64, std::span<u8> data) {
    // Without VIRTIO_CONSOLE_F_SIZE, F_MULTIPORT and F_EMERG_WRITE the fields mean nothing: all zero.
    std::fill(data.begin(), data.end(), 0);
}

void VirtioConsole::Activate(VirtioQueues& queues, u64) {
    std::lock_guard lock(mutex_);
    queues_ = &queues;
    DeliverInputLocked();
}

void VirtioConsole::Reset() {
    std::lock_guard lock(mutex_);
    queues_ = nullptr;
}

void VirtioConsole::QueueNotify(unsigned index) {
    if (index == kTransmitQueue) {
        Output();
        return;
    }
    std::lock_guard lock(mutex_);
    DeliverInputLocked();
}

void VirtioConsole::Input(std::span<const u8> bytes) {
    std::lock_guard lock(mutex_);
    // Typed input is kept while no driver reads it, up to a bound (then the oldest goes, as a full UART FIFO).
    input_.insert(input_.end(), bytes.begin(), bytes.end());
    while (input_.size() > kMaxPendingInput) input_.pop_front();
    DeliverInputLocked();
}

void VirtioConsole::DeliverInputLocked() {
    if (!queues_) return;
    while (!input_.empty()) {
        auto request = queues_->PopChain(kReceiveQueue);
        if (!request) return;
        const size_t n = static_cast<size_t>(std::min<u64>(input_.size(), request->chain.writable_bytes));
        const std::vector<u8> bytes(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
        ChainWriter writer(queues_->memory(), request->chain);
        const bool ok = writer.Write(bytes);
        queues_->Complete(kReceiveQueue, *request, ok ? static_cast<u32>(n) : 0);
        input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    }
}

void VirtioConsole::Output() {
    VirtioQueues* queues = nullptr;
    {
        std::lock_guard lock(mutex_);
        queues = queues_;
    }
    if (!queues) return;
    DrainOutgoing(*queues, kTransmitQueue, 0, kMaxOutputChunk,
                  [&](std::span<const u8> bytes) { backend_.Write(bytes); });
}

}  // namespace emu::devices::virtio
