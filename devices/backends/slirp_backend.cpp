#include "devices/backends/slirp_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>

#include <slirp/libslirp.h>

#include "emu/common/log.h"

namespace emu::devices {

namespace {

constexpr u32 kMaxSleepMs = 1000;

i64 NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

in_addr Ipv4(const char* text) {
    in_addr addr{};
    inet_pton(AF_INET, text, &addr);
    return addr;
}

}  // namespace

struct SlirpBackend::Timer {
    SlirpTimerId id;
    void* cb_opaque;
    i64 expire_ms = -1;  // -1: not armed
};

// libslirp's callbacks; opaque is the SlirpBackend. They run on the stack's thread with stack_mutex_ held (slirp
// calls them from inside slirp_input, slirp_pollfds_poll and slirp_handle_timer).
struct SlirpBackend::Callbacks {
    static ssize_t SendPacket(const void* buf, size_t len, void* opaque) {
        static_cast<SlirpBackend*>(opaque)->Deliver(std::span<const u8>(static_cast<const u8*>(buf), len));
        return static_cast<ssize_t>(len);
    }
    static void GuestError(const char* msg, void*) { log::Log(log::Category::GuestErrors, "slirp: {}", msg); }
    static int64_t ClockNs(void*) { return NowNs(); }
    static void* TimerNew(SlirpTimerId id, void* cb_opaque, void* opaque) {
        auto* self = static_cast<SlirpBackend*>(opaque);
        self->timers_.push_back(std::make_unique<Timer>(Timer{id, cb_opaque}));
        return self->timers_.back().get();
    }
    static void TimerFree(void* timer, void* opaque) {
        auto& timers = static_cast<SlirpBackend*>(opaque)->timers_;
        std::erase_if(timers, [&](const std::unique_ptr<Timer>& t) { return t.get() == timer; });
    }
    static void TimerMod(void* timer, int64_t expire_ms, void*) { static_cast<Timer*>(timer)->expire_ms = expire_ms; }
    static void RegisterPollFd(int, void*) {}
    static void UnregisterPollFd(int, void*) {}
    static void Notify(void* opaque) { static_cast<SlirpBackend*>(opaque)->Wake(); }
    static int AddPoll(int fd, int events, void* opaque) {
        auto& fds = static_cast<SlirpBackend*>(opaque)->pollfds_;
        short wanted = 0;
        if (events & SLIRP_POLL_IN) wanted |= POLLIN;
        if (events & SLIRP_POLL_OUT) wanted |= POLLOUT;
        if (events & SLIRP_POLL_PRI) wanted |= POLLPRI;
        fds.push_back(pollfd{fd, wanted, 0});
        return static_cast<int>(fds.size() - 1);
    }
    static int GetRevents(int index, void* opaque) {
        const auto& fds = static_cast<SlirpBackend*>(opaque)->pollfds_;
        if (index < 0 || static_cast<size_t>(index) >= fds.size()) return 0;
        const short r = fds[static_cast<size_t>(index)].revents;
        int events = 0;
        if (r & POLLIN) events |= SLIRP_POLL_IN;
        if (r & POLLOUT) events |= SLIRP_POLL_OUT;
        if (r & POLLPRI) events |= SLIRP_POLL_PRI;
        if (r & POLLERR) events |= SLIRP_POLL_ERR;
        if (r & POLLHUP) events |= SLIRP_POLL_HUP;
        return events;
    }
};

Result<std::unique_ptr<SlirpBackend>, std::string> SlirpBackend::Create(const std::vector<SlirpForward>& forwards) {
    // slirp writes to host sockets whose peer may be gone: that must be an EPIPE for slirp to handle, not a signal
    // that kills the emulator (QEMU ignores SIGPIPE for the same reason).
    std::signal(SIGPIPE, SIG_IGN);
    std::unique_ptr<SlirpBackend> backend(new SlirpBackend());
    if (pipe2(backend->wake_, O_CLOEXEC | O_NONBLOCK) != 0) return Err(std::string("cannot create a pipe"));

    static const SlirpCb callbacks = {
        .send_packet = Callbacks::SendPacket,
        .guest_error = Callbacks::GuestError,
        .clock_get_ns = Callbacks::ClockNs,
        .timer_new = nullptr,
        .timer_free = Callbacks::TimerFree,
        .timer_mod = Callbacks::TimerMod,
        .register_poll_fd = Callbacks::RegisterPollFd,
        .unregister_poll_fd = Callbacks::UnregisterPollFd,
        .notify = Callbacks::Notify,
        .init_completed = nullptr,
        .timer_new_opaque = Callbacks::TimerNew,
    };
    SlirpConfig config{};
    config.version = 4;
    config.in_enabled = true;
    config.vnetwork = Ipv4("10.0.2.0");
    config.vnetmask = Ipv4("255.255.255.0");
    config.vhost = Ipv4("10.0.2.2");
    config.vhostname = "emu64";
    config.vdhcp_start = Ipv4("10.0.2.15");
    config.vnameserver = Ipv4("10.0.2.3");
    backend->slirp_ = slirp_new(&config, &callbacks, backend.get());
    if (!backend->slirp_) return Err(std::string("libslirp could not start"));

    for (const SlirpForward& f : forwards) {
        in_addr host{}, guest = Ipv4("10.0.2.15");
        if ((!f.host_addr.empty() && inet_pton(AF_INET, f.host_addr.c_str(), &host) != 1) ||
            (!f.guest_addr.empty() && inet_pton(AF_INET, f.guest_addr.c_str(), &guest) != 1)) {
            return Err("hostfwd: '" + (f.host_addr.empty() ? f.guest_addr : f.host_addr) + "' is not an IPv4 address");
        }
        if (slirp_add_hostfwd(backend->slirp_, f.udp, host, f.host_port, guest, f.guest_port) != 0) {
            return Err("hostfwd: cannot listen on host port " + std::to_string(f.host_port) + " (in use?)");
        }
    }
    return backend;
}

SlirpBackend::~SlirpBackend() {
    stop_ = true;
    Wake();
    if (thread_.joinable()) thread_.join();
    if (slirp_) slirp_cleanup(slirp_);
    for (const int fd : wake_) {
        if (fd >= 0) close(fd);
    }
}

void SlirpBackend::Start() { thread_ = std::thread([this] { Loop(); }); }

void SlirpBackend::Send(std::span<const u8> frame) {
    {
        std::lock_guard lock(tx_mutex_);
        tx_.emplace_back(frame.begin(), frame.end());
    }
    Wake();
}

void SlirpBackend::Wake() {
    const char byte = 1;
    (void)!write(wake_[1], &byte, 1);
}

u32 SlirpBackend::NextTimerMs(u32 limit) const {
    const i64 now_ms = NowNs() / 1000000;
    i64 next = limit;
    for (const auto& t : timers_) {
        if (t->expire_ms >= 0) next = std::min(next, std::max<i64>(t->expire_ms - now_ms, 0));
    }
    return static_cast<u32>(next);
}

void SlirpBackend::RunDueTimers() {
    const i64 now_ms = NowNs() / 1000000;
    // A handler may free or re-arm timers (changing timers_): collect the due ones first.
    std::vector<std::pair<SlirpTimerId, void*>> due;
    for (const auto& t : timers_) {
        if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
            t->expire_ms = -1;
            due.emplace_back(t->id, t->cb_opaque);
        }
    }
    for (const auto& [id, cb_opaque] : due) slirp_handle_timer(slirp_, id, cb_opaque);
}

void SlirpBackend::Loop() {
    while (!stop_) {
        std::deque<std::vector<u8>> frames;
        {
            std::lock_guard lock(tx_mutex_);
            frames.swap(tx_);
        }
        u32 timeout = kMaxSleepMs;
        {
            std::lock_guard lock(stack_mutex_);
            for (const auto& frame : frames) slirp_input(slirp_, frame.data(), static_cast<int>(frame.size()));
            pollfds_.clear();
            pollfds_.push_back(pollfd{wake_[0], POLLIN, 0});
            slirp_pollfds_fill(slirp_, &timeout, Callbacks::AddPoll, this);
            timeout = NextTimerMs(std::min(timeout, kMaxSleepMs));
        }
        const int ready = poll(pollfds_.data(), pollfds_.size(), static_cast<int>(timeout));
        if (pollfds_[0].revents & POLLIN) {
            char drain[256];
            while (read(wake_[0], drain, sizeof drain) > 0) {
            }
        }
        std::lock_guard lock(stack_mutex_);
        slirp_pollfds_poll(slirp_, ready < 0, Callbacks::GetRevents, this);
        RunDueTimers();
    }
}

}  // namespace emu::devices
