#pragma once
// The human monitor on the terminal: -monitor stdio (StdioMonitor reads stdin itself), or the -nographic serial
// mux's Ctrl-A c (TerminalMonitor is fed the bytes the mux diverts while the monitor has the terminal). Both print a
// "(emu64) " prompt and run one HMP command per line (Monitor::Human).
#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <thread>

#include "emu/common/types.h"
#include "emu/debug/monitor.h"

namespace emu::debug {

// Line editing (backspace) and command dispatch; `out` prints text (with "\n" line ends).
class TerminalMonitor {
public:
    TerminalMonitor(Monitor& monitor, std::function<void(const std::string&)> out, bool echo)
        : monitor_(monitor), out_(std::move(out)), echo_(echo) {}
    // The monitor got the terminal: a banner and the prompt.
    void Enter();
    void Input(std::span<const u8> bytes);

private:
    Monitor& monitor_;
    std::function<void(const std::string&)> out_;
    bool echo_;  // a raw-mode terminal does not echo: the monitor does
    std::string line_;
};

class StdioMonitor {
public:
    explicit StdioMonitor(Monitor& monitor);
    ~StdioMonitor();
    StdioMonitor(const StdioMonitor&) = delete;
    StdioMonitor& operator=(const StdioMonitor&) = delete;

private:
    void Loop();

    TerminalMonitor terminal_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace emu::debug
