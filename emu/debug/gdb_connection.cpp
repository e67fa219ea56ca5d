#include "emu/debug/gdb_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "emu/common/types.h"
#include "emu/debug/hex.h"
#include "emu/debug/socket_io.h"

namespace emu::debug {
namespace {

u8 Checksum(std::string_view payload) {
    u8 sum = 0;
    for (const char c : payload) sum = static_cast<u8>(sum + static_cast<u8>(c));
    return sum;
}

}  // namespace

GdbConnection::~GdbConnection() { close(fd_); }

GdbConnection::Got GdbConnection::Parse(std::string* packet) {
    while (!in_.empty()) {
        const char c = in_[0];
        if (c == '\x03') {
            in_.erase(0, 1);
            return Got::Interrupt;
        }
        if (c != '$') {  // acknowledgements and noise between packets
            in_.erase(0, 1);
            continue;
        }
        const size_t hash = in_.find('#');
        if (hash == std::string::npos || in_.size() < hash + 3) return Got::Nothing;
        const std::string payload = in_.substr(1, hash - 1);
        const auto sum = ParseHexNumber(std::string_view(in_).substr(hash + 1, 2));
        in_.erase(0, hash + 3);
        if (!sum || *sum != Checksum(payload)) {
            SendAll(fd_, "-");
            continue;
        }
        SendAll(fd_, "+");
        *packet = payload;
        return Got::Packet;
    }
    return Got::Nothing;
}

GdbConnection::Got GdbConnection::Receive(std::string* packet, int timeout_ms) {
    for (;;) {
        if (const Got got = Parse(packet); got != Got::Nothing) return got;
        pollfd pfd{fd_, POLLIN, 0};
        const int ready = poll(&pfd, 1, timeout_ms);
        if (ready <= 0) return Got::Nothing;
        char buffer[4096];
        const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
        if (n <= 0) return Got::Closed;
        in_.append(buffer, static_cast<size_t>(n));
        timeout_ms = 0;
    }
}

bool GdbConnection::Send(std::string_view payload) {
    char trailer[4];
    std::snprintf(trailer, sizeof trailer, "#%02x", Checksum(payload));
    std::string frame;
    frame.reserve(payload.size() + 4);
    frame += '$';
    frame += payload;
    frame += trailer;
    return SendAll(fd_, frame);
}

}  // namespace emu::debug
