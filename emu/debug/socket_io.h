#pragma once
// Socket helpers the gdb stub and QMP share: serving one client at a time until told to stop, and sending whole
// buffers to a peer that may have gone (no SIGPIPE: a vanished client is only a false return).
#include <atomic>
#include <functional>
#include <string_view>

namespace emu::debug {

// Accepts clients on listen_fd one after the other, each handed to `serve` (which owns and closes the fd), until
// `stop` is set; polls every poll_ms.
void ServeClients(int listen_fd, const std::atomic<bool>& stop, int poll_ms, const std::function<void(int fd)>& serve);

// Sends all of `bytes`; false if the peer is gone.
bool SendAll(int fd, std::string_view bytes);

}  // namespace emu::debug
