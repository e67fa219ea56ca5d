#pragma once
// A byte stream between a character device (the UART, later virtio-console) and the host.
//
// Output: the device calls Write() with the bytes the guest sent. Input: the backend hands host bytes to the
// receiver the device installed, from whatever thread reads the host side (the machine's I/O thread).
#include <functional>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "devices/backends/receiver_slot.h"
#include "emu/common/types.h"

namespace emu::devices {

class CharBackend {
public:
    using Receiver = ReceiverSlot::Receiver;

    virtual ~CharBackend() = default;
    virtual void Write(std::span<const u8> bytes) = 0;

    // Installs the device's input callback (replacing any previous one).
    void SetReceiver(Receiver receiver) { receiver_.Set(std::move(receiver)); }

protected:
    // Hands bytes from the host to the device; bytes arriving with no receiver installed are dropped.
    void Deliver(std::span<const u8> bytes) {
        if (!bytes.empty()) receiver_.Deliver(bytes);
    }

private:
    ReceiverSlot receiver_;
};

// Discards output and never produces input.
class NullBackend final : public CharBackend {
public:
    void Write(std::span<const u8>) override {}
};

// Keeps output in memory and lets the owner inject input: tests, and the machine's capture of boot logs.
class BufferBackend final : public CharBackend {
public:
    void Write(std::span<const u8> bytes) override {
        std::lock_guard lock(mutex_);
        output_.insert(output_.end(), bytes.begin(), bytes.end());
    }
    void Inject(std::span<const u8> bytes) { Deliver(bytes); }
    std::vector<u8> TakeOutput() {
        std::lock_guard lock(mutex_);
        return std::exchange(output_, {});
    }

private:
    std::mutex mutex_;
    std::vector<u8> output_;
};

}  // namespace emu::devices
