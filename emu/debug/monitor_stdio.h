#pragma once
// The human monitor on the terminal (-monitor stdio): a "(emu64) " prompt, one HMP command per line (Monitor::Human).
// End of input closes the monitor, not the machine.
#include <atomic>
#include <thread>

#include "emu/debug/monitor.h"

namespace emu::debug {

class StdioMonitor {
public:
    explicit StdioMonitor(Monitor& monitor);
    ~StdioMonitor();
    StdioMonitor(const StdioMonitor&) = delete;
    StdioMonitor& operator=(const StdioMonitor&) = delete;

private:
    void Loop();

    Monitor& monitor_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace emu::debug
