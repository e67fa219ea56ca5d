// The gdb remote protocol's input side (issue #16): bytes from a hostile or broken gdb arrive in pieces of any size
// on a socket; GdbConnection must frame them into packets and interrupts (refusing bad checksums) without reading
// past its buffer or waiting, and the stub's parsers (hex numbers, hex data, -gdb device specs) take whatever the
// packets hold. The packet handlers themselves need a running vCPU and are checked by tests/boot/gdb_test.py.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "emu/debug/gdb_connection.h"
#include "emu/debug/gdb_server.h"
#include "emu/debug/hex.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace emu;
using namespace emu::debug;

// Every field of a packet the way the stub splits them ("m addr,length", "M addr,length:data", "Z0,addr,kind").
void ParseFields(const std::string& packet) {
    size_t start = packet.empty() ? 0 : 1;
    for (size_t i = start; i <= packet.size(); ++i) {
        if (i == packet.size() || packet[i] == ',' || packet[i] == ':' || packet[i] == ';') {
            const std::string_view field = std::string_view(packet).substr(start, i - start);
            (void)ParseHexNumber(field);
            if (const auto bytes = FromHex(field); bytes && bytes->size() * 2 != field.size()) std::abort();
            start = i + 1;
        }
    }
    (void)ParseGdbDevice(packet);
}

void Drain(int fd) {
    char buffer[4096];
    while (recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    if (size > 64 << 10) return 0;  // well inside a socket buffer: the writes below never block
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) std::abort();
    GdbConnection connection(fds[0]);  // owns and closes fds[0]
    fuzz::FuzzInput in(data, size);
    while (!in.empty()) {
        const auto piece = in.TakeBytes(512);
        if (!piece.empty() && send(fds[1], piece.data(), piece.size(), 0) != static_cast<ssize_t>(piece.size())) {
            std::abort();
        }
        std::string packet;
        for (;;) {
            const auto got = connection.Receive(&packet, 0);
            if (got == GdbConnection::Got::Nothing || got == GdbConnection::Got::Closed) break;
            if (got == GdbConnection::Got::Packet) ParseFields(packet);
        }
        Drain(fds[1]);  // the acknowledgements
    }
    close(fds[1]);
    std::string packet;
    while (connection.Receive(&packet, 0) == GdbConnection::Got::Packet) {
    }
    return 0;
}
