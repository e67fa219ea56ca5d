#include "devices/backends/stdio_backend.h"

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

namespace emu::devices {
namespace {

// The terminal settings to restore. Global because the atexit handler must reach them even when the backend
// is never destroyed (exit() from the debug-exit device).
std::mutex g_tty_mutex;
bool g_tty_saved = false;
int g_tty_fd = -1;
termios g_tty_saved_attrs{};

void RestoreTerminal() {
    std::lock_guard lock(g_tty_mutex);
    if (!g_tty_saved) return;
    tcsetattr(g_tty_fd, TCSANOW, &g_tty_saved_attrs);
    g_tty_saved = false;
}

bool EnterRawMode(int fd) {
    std::lock_guard lock(g_tty_mutex);
    if (g_tty_saved || !isatty(fd)) return false;
    termios attrs{};
    if (tcgetattr(fd, &attrs) != 0) return false;
    g_tty_saved_attrs = attrs;
    g_tty_fd = fd;
    cfmakeraw(&attrs);
    // Keep output post-processing so guest "\n" still returns the carriage, as QEMU's stdio chardev does.
    attrs.c_oflag |= OPOST;
    if (tcsetattr(fd, TCSANOW, &attrs) != 0) return false;
    g_tty_saved = true;
    static bool registered = false;
    if (!registered) {
        std::atexit(RestoreTerminal);
        registered = true;
    }
    return true;
}

constexpr char kHelp[] =
    "\r\nC-a h    print this help\r\n"
    "C-a x    exit emulator\r\n"
    "C-a c    switch between console and monitor\r\n"
    "C-a C-a  sends C-a\r\n";
constexpr char kTerminated[] = "emu64: terminated\r\n";

std::span<const u8> AsBytes(std::string_view text) {
    return {reinterpret_cast<const u8*>(text.data()), text.size()};
}

}  // namespace

StdioBackend::StdioBackend(int input_fd, int output_fd) : input_fd_(input_fd), output_fd_(output_fd) {
    raw_mode_ = EnterRawMode(input_fd_);
    // Non-blocking, so OnReadable() drains what is there and returns to the event loop.
    saved_flags_ = fcntl(input_fd_, F_GETFL);
    if (saved_flags_ >= 0) fcntl(input_fd_, F_SETFL, saved_flags_ | O_NONBLOCK);
}

StdioBackend::~StdioBackend() {
    // The flags live on the open file description, which the shell shares: put them back.
    if (saved_flags_ >= 0) fcntl(input_fd_, F_SETFL, saved_flags_);
    if (raw_mode_) RestoreTerminal();
}

void StdioBackend::WriteAll(std::span<const u8> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(output_fd_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the terminal went away: drop output rather than stall the guest
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
}

void StdioBackend::Write(std::span<const u8> bytes) { WriteAll(bytes); }

bool StdioBackend::OnReadable() {
    u8 buffer[256];
    for (;;) {
        const ssize_t n = ::read(input_fd_, buffer, sizeof(buffer));
        if (n > 0) {
            ProcessInput(std::span<const u8>(buffer, static_cast<size_t>(n)));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
}

void StdioBackend::ProcessInput(std::span<const u8> bytes) {
    // Input for the guest, or for the monitor while it has the terminal.
    const auto Deliver = [this](std::span<const u8> pass) {
        if (pass.empty()) return;
        if (monitor_mode_ && monitor_input_) {
            monitor_input_(pass);
        } else {
            CharBackend::Deliver(pass);
        }
    };
    std::vector<u8> pass;
    pass.reserve(bytes.size());
    for (const u8 byte : bytes) {
        if (!escape_pending_) {
            if (byte == kEscape) {
                escape_pending_ = true;
            } else {
                pass.push_back(byte);
            }
            continue;
        }
        escape_pending_ = false;
        switch (byte) {
        case kEscape: pass.push_back(kEscape); break;
        case 'x':
            Deliver(pass);
            pass.clear();
            WriteAll(AsBytes(kTerminated));
            if (on_quit_) on_quit_();
            break;
        case 'c':
            Deliver(pass);
            pass.clear();
            if (monitor_input_) monitor_mode_ = !monitor_mode_;
            if (on_monitor_) on_monitor_();
            break;
        case 'h':
        case '?': WriteAll(AsBytes(kHelp)); break;
        default: break;  // unknown escapes are swallowed, as in QEMU's mux
        }
    }
    Deliver(pass);
}

}  // namespace emu::devices
