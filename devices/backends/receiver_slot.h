#pragma once
// Where a backend hands host data to the device that installed a receiver: bytes from the terminal (CharBackend),
// frames from the network (NetBackend). Installing and delivering may happen on different threads; a receiver
// being replaced (or removed, by a device going away) is never running once Set returns.
#include <functional>
#include <mutex>
#include <span>
#include <utility>

#include "emu/common/types.h"

namespace emu::devices {

class ReceiverSlot {
public:
    using Receiver = std::function<void(std::span<const u8> bytes)>;

    void Set(Receiver receiver) {
        std::lock_guard lock(mutex_);
        receiver_ = std::move(receiver);
    }
    // Calls the receiver with `bytes` (held under the slot's lock); dropped when none is installed.
    void Deliver(std::span<const u8> bytes) {
        std::lock_guard lock(mutex_);
        if (receiver_) receiver_(bytes);
    }

private:
    std::mutex mutex_;
    Receiver receiver_;
};

}  // namespace emu::devices
