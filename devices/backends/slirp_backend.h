#pragma once
// User-mode networking through libslirp (QEMU's -netdev user): the guest sees a 10.0.2.0/24 network with a DHCP
// server handing out 10.0.2.15, the host's loopback at 10.0.2.2 and a DNS forwarder at 10.0.2.3; host ports can
// be forwarded to guest ports (hostfwd). No privileges needed: guest connections become host sockets.
//
// Threads: the stack runs on its own thread (poll on slirp's sockets and a wake pipe, slirp's timers). Every slirp
// call happens on that thread with stack_mutex_ held; frames the guest sends are queued (tx_mutex_, a leaf lock)
// and fed to the stack there, so Send never blocks on the stack. Frames for the guest go to the receiver from the
// stack's thread (lock order: stack_mutex_ -> the device's locks).
#include <poll.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/backends/net_backend.h"
#include "emu/common/result.h"

struct Slirp;

namespace emu::devices {

struct SlirpForward {
    bool udp = false;
    std::string host_addr;   // empty: any address
    u16 host_port = 0;
    std::string guest_addr;  // empty: 10.0.2.15
    u16 guest_port = 0;
};

class SlirpBackend final : public NetBackend {
public:
    // Fails with a message if a forward's address is not an IPv4 address or its host port cannot be bound.
    static Result<std::unique_ptr<SlirpBackend>, std::string> Create(const std::vector<SlirpForward>& forwards);
    ~SlirpBackend() override;
    SlirpBackend(const SlirpBackend&) = delete;
    SlirpBackend& operator=(const SlirpBackend&) = delete;

    void Send(std::span<const u8> frame) override;

    // Starts the stack's thread (call once the receiver is installed).
    void Start();

private:
    struct Timer;
    struct Callbacks;

    SlirpBackend() = default;
    void Loop();
    void Wake();
    void RunDueTimers();
    u32 NextTimerMs(u32 limit) const;  // stack_mutex_ held

    std::mutex stack_mutex_;
    Slirp* slirp_ = nullptr;
    std::vector<std::unique_ptr<Timer>> timers_;  // stack_mutex_
    std::vector<::pollfd> pollfds_;          // the stack thread only

    std::mutex tx_mutex_;
    std::deque<std::vector<u8>> tx_;

    int wake_[2] = {-1, -1};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace emu::devices
