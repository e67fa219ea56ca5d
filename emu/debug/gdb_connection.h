#pragma once
// One gdb remote-protocol connection: packet framing ($payload#checksum), acknowledgements, and the out-of-band
// interrupt byte (0x03, gdb's Ctrl-C). Owns the socket.
#include <string>
#include <string_view>

namespace emu::debug {

class GdbConnection {
public:
    explicit GdbConnection(int fd) : fd_(fd) {}
    ~GdbConnection();
    GdbConnection(const GdbConnection&) = delete;
    GdbConnection& operator=(const GdbConnection&) = delete;

    enum class Got { Packet, Interrupt, Closed, Nothing };
    // The next packet (acknowledged; one with a bad checksum is refused with '-' and skipped) or interrupt byte,
    // waiting at most timeout_ms (0: only what has arrived).
    Got Receive(std::string* packet, int timeout_ms);
    // Sends a packet (without waiting for gdb's acknowledgement, which Receive skips). False if the peer is gone.
    bool Send(std::string_view payload);

private:
    // Takes one packet or interrupt byte from in_, if a whole one is there.
    Got Parse(std::string* packet);

    int fd_;
    std::string in_;
};

}  // namespace emu::debug
