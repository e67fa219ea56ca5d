#include "emu/debug/monitor_stdio.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>

namespace emu::debug {

namespace {
constexpr char kPrompt[] = "(emu64) ";
}

void TerminalMonitor::Enter() { out_("\nemu64 monitor - type 'help' for the commands\n" + std::string(kPrompt)); }

void TerminalMonitor::Input(std::span<const u8> bytes) {
    for (const u8 b : bytes) {
        if (b == '\r' || b == '\n') {
            if (echo_) out_("\n");
            const std::string line = std::exchange(line_, {});
            out_(monitor_.Human(line) + kPrompt);
        } else if (b == 0x7F || b == 0x08) {
            if (!line_.empty()) {
                line_.pop_back();
                if (echo_) out_("\b \b");
            }
        } else if (b >= 0x20) {
            line_.push_back(static_cast<char>(b));
            if (echo_) out_(std::string(1, static_cast<char>(b)));
        }
    }
}

StdioMonitor::StdioMonitor(Monitor& monitor)
    : terminal_(monitor, [](const std::string& text) {
          std::fputs(text.c_str(), stdout);
          std::fflush(stdout);
      }, false) {
    thread_ = std::thread([this] { Loop(); });
}

StdioMonitor::~StdioMonitor() {
    stop_ = true;
    thread_.join();
}

void StdioMonitor::Loop() {
    terminal_.Enter();
    while (!stop_) {
        pollfd pfd{STDIN_FILENO, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        u8 buffer[1024];
        const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) return;  // end of input closes the monitor, not the machine
        terminal_.Input(std::span<const u8>(buffer, static_cast<size_t>(n)));
    }
}

}  // namespace emu::debug
