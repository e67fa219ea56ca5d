#include "emu/debug/monitor_stdio.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace emu::debug {

StdioMonitor::StdioMonitor(Monitor& monitor) : monitor_(monitor) { thread_ = std::thread([this] { Loop(); }); }

StdioMonitor::~StdioMonitor() {
    stop_ = true;
    thread_.join();
}

void StdioMonitor::Loop() {
    std::fputs("emu64 monitor - type 'help' for the commands\n(emu64) ", stdout);
    std::fflush(stdout);
    std::string in;
    while (!stop_) {
        pollfd pfd{STDIN_FILENO, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        char buffer[1024];
        const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) return;
        in.append(buffer, static_cast<size_t>(n));
        for (size_t nl; (nl = in.find('\n')) != std::string::npos;) {
            const std::string line = in.substr(0, nl);
            in.erase(0, nl + 1);
            std::fputs(monitor_.Human(line).c_str(), stdout);
            std::fputs("(emu64) ", stdout);
            std::fflush(stdout);
        }
    }
}

}  // namespace emu::debug
