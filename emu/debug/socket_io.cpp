#include "emu/debug/socket_io.h"

#include <poll.h>
#include <sys/socket.h>

namespace emu::debug {

void ServeClients(int listen_fd, const std::atomic<bool>& stop, int poll_ms, const std::function<void(int fd)>& serve) {
    while (!stop) {
        pollfd pfd{listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, poll_ms) <= 0) continue;
        const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) serve(fd);
    }
}

bool SendAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

}  // namespace emu::debug
