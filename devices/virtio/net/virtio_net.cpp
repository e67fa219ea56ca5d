#include "devices/virtio/net/virtio_net.h"

#include <algorithm>

#include "devices/bus/io_device.h"
#include "devices/virtio/net/regs.h"
#include "emu/common/log.h"

namespace emu::devices::virtio {

VirtioNet::VirtioNet(NetBackend& backend, const Mac& mac) : backend_(backend), mac_(mac) {
    backend_.SetReceiver([this](std::span<const u8> frame) { Receive(frame); });
}

VirtioNet::~VirtioNet() { backend_.SetReceiver({}); }

u64 VirtioNet::Features() const {
    return net::feature::kMac | net::feature::kStatus | feature::kEventIdx | feature::kIndirectDesc;
}

u32 VirtioNet::ConfigSize() const { return net::kConfigSize; }

void VirtioNet::ReadConfig(u64 offset, std::span<u8> data) {
    std::array<u8, net::kConfigSize> config{};
    std::copy(mac_.begin(), mac_.end(), config.begin() + net::kMacOffset);
    StoreLe(std::span<u8>(config).subspan(net::kStatusOffset, 2), net::kStatusLinkUp);
    std::copy_n(config.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), data.begin());
}

void VirtioNet::Activate(VirtioQueues& queues, u64) {
    std::lock_guard lock(mutex_);
    queues_ = &queues;
}

void VirtioNet::Reset() {
    std::lock_guard lock(mutex_);
    queues_ = nullptr;
    pending_.clear();
}

void VirtioNet::QueueNotify(unsigned index) {
    if (index == net::kTransmitQueue) {
        Transmit();
        return;
    }
    // The driver posted receive buffers: frames that waited for them go now.
    std::lock_guard lock(mutex_);
    DeliverPendingLocked();
}

void VirtioNet::Receive(std::span<const u8> frame) {
    std::lock_guard lock(mutex_);
    if (!queues_) return;  // no driver: the wire is down
    if (pending_.size() == kMaxPendingFrames) pending_.pop_front();
    pending_.emplace_back(frame.begin(), frame.end());
    DeliverPendingLocked();
}

void VirtioNet::DeliverPendingLocked() {
    if (!queues_) return;
    while (!pending_.empty()) {
        auto request = queues_->PopChain(net::kReceiveQueue);
        if (!request) return;
        const std::vector<u8>& frame = pending_.front();
        std::array<u8, net::kHeaderSize> header{};  // no offloads: flags, GSO and checksum fields all zero
        StoreLe(std::span<u8>(header).subspan(net::kNumBuffersOffset, 2), 1);
        ChainWriter writer(queues_->memory(), request->chain);
        u32 written = 0;
        if (writer.Write(header) && writer.Write(frame)) {
            written = static_cast<u32>(writer.written());
        } else {
            log::Log(log::Category::GuestErrors, "virtio-net: a {}-byte frame does not fit a {}-byte receive buffer",
                     frame.size(), request->chain.writable_bytes);
        }
        queues_->Complete(net::kReceiveQueue, *request, written);
        pending_.pop_front();
    }
}

void VirtioNet::Transmit() {
    VirtioQueues* queues = nullptr;
    {
        std::lock_guard lock(mutex_);
        queues = queues_;
    }
    if (!queues) return;
    DrainOutgoing(*queues, net::kTransmitQueue, net::kHeaderSize, net::kMaxFrameSize,
                  [&](std::span<const u8> frame) { backend_.Send(frame); });
}

}  // namespace emu::devices::virtio
