// Character backends: the stdio escape handling follows QEMU's -nographic mux (Ctrl-A x, Ctrl-A c,
// Ctrl-A Ctrl-A), the file backend writes what the guest sent.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "devices/backends/char_backend.h"
#include "devices/backends/file_backend.h"
#include "devices/backends/stdio_backend.h"

using namespace emu;
using namespace emu::devices;

namespace {

std::span<const u8> Bytes(std::string_view s) { return {reinterpret_cast<const u8*>(s.data()), s.size()}; }

// A StdioBackend on pipes, so no terminal is touched.
struct StdioEnv {
    int in[2], out[2];
    std::unique_ptr<StdioBackend> backend;
    std::string received;
    int quits = 0, monitors = 0;
    StdioEnv() {
        REQUIRE(pipe(in) == 0);
        REQUIRE(pipe(out) == 0);
        backend = std::make_unique<StdioBackend>(in[0], out[1]);
        backend->SetReceiver([this](std::span<const u8> b) { received.append(b.begin(), b.end()); });
        backend->SetQuitCallback([this] { ++quits; });
        backend->SetMonitorCallback([this] { ++monitors; });
    }
    ~StdioEnv() {
        backend.reset();
        for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    }
};

}  // namespace

TEST_CASE("stdio backend passes plain input and handles the Ctrl-A escapes", "[devices][backends]") {
    StdioEnv env;
    env.backend->ProcessInput(Bytes("ls\r"));
    CHECK(env.received == "ls\r");
    env.backend->ProcessInput(Bytes("\x01\x01"));  // Ctrl-A Ctrl-A sends one Ctrl-A
    CHECK(env.received == "ls\r\x01");
    env.backend->ProcessInput(Bytes("a\x01"));  // the escape may straddle reads
    env.backend->ProcessInput(Bytes("cb"));
    CHECK(env.monitors == 1);
    CHECK(env.received == "ls\r\x01" "ab");
    env.backend->ProcessInput(Bytes("\x01q"));  // unknown escape: swallowed
    CHECK(env.received == "ls\r\x01" "ab");
    CHECK(env.quits == 0);
    env.backend->ProcessInput(Bytes("\x01x"));
    CHECK(env.quits == 1);
}

TEST_CASE("stdio backend reads its fd when readable and writes output", "[devices][backends]") {
    StdioEnv env;
    REQUIRE(write(env.in[1], "hey", 3) == 3);
    CHECK(env.backend->OnReadable());
    CHECK(env.received == "hey");
    env.backend->Write(Bytes("out"));
    char buf[8] = {};
    REQUIRE(read(env.out[0], buf, sizeof(buf)) == 3);
    CHECK(std::string(buf) == "out");
    close(env.in[1]);
    env.in[1] = dup(env.out[1]);  // keep the destructor's close() harmless
    CHECK_FALSE(env.backend->OnReadable());  // end of file
}

TEST_CASE("file backend writes guest output to the file; a bad path is an error", "[devices][backends]") {
    char path[] = "/tmp/emu64_file_backend_XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    {
        auto backend = FileBackend::Open(path);
        REQUIRE(backend.ok());
        (*backend)->Write(Bytes("boot log\n"));
    }
    std::ifstream file(path);
    std::stringstream contents;
    contents << file.rdbuf();
    CHECK(contents.str() == "boot log\n");
    std::remove(path);

    auto bad = FileBackend::Open("/nonexistent-dir/x");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error() == BackendError::OpenFailed);
}
