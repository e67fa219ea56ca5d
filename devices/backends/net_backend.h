#pragma once
// Ethernet frames between a network device model (virtio-net) and the host.
//
// Output: the device calls Send() with each frame the guest transmits (any thread; it must not block on the
// network). Input: the backend hands each frame for the guest to the receiver the device installed, on the
// backend's own thread.
#include <functional>
#include <mutex>
#include <span>
#include <utility>

#include "emu/common/types.h"

namespace emu::devices {

class NetBackend {
public:
    using Receiver = std::function<void(std::span<const u8> frame)>;

    virtual ~NetBackend() = default;
    virtual void Send(std::span<const u8> frame) = 0;

    void SetReceiver(Receiver receiver) {
        std::lock_guard lock(receiver_mutex_);
        receiver_ = std::move(receiver);
    }

protected:
    void Deliver(std::span<const u8> frame) {
        std::lock_guard lock(receiver_mutex_);
        if (receiver_) receiver_(frame);
    }

private:
    std::mutex receiver_mutex_;
    Receiver receiver_;
};

}  // namespace emu::devices
