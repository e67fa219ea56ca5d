#pragma once
// Ethernet frames between a network device model (virtio-net) and the host.
//
// Output: the device calls Send() with each frame the guest transmits (any thread; it must not block on the
// network). Input: the backend hands each frame for the guest to the receiver the device installed, on the
// backend's own thread.
#include <span>
#include <utility>

#include "devices/backends/receiver_slot.h"
#include "emu/common/types.h"

namespace emu::devices {

class NetBackend {
public:
    using Receiver = ReceiverSlot::Receiver;

    virtual ~NetBackend() = default;
    virtual void Send(std::span<const u8> frame) = 0;

    void SetReceiver(Receiver receiver) { receiver_.Set(std::move(receiver)); }

protected:
    void Deliver(std::span<const u8> frame) { receiver_.Deliver(frame); }

private:
    ReceiverSlot receiver_;
};

}  // namespace emu::devices
