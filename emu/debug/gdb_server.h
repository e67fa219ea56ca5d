#pragma once
// The gdb remote stub (-gdb tcp::PORT, -s): a listening socket and a thread that serves one gdb at a time.
//
// A connecting gdb stops the vCPU (as QEMU's stub does); `continue`, `step` and vCont resume it through RunControl
// and the stub waits for the next stop (breakpoint, watchpoint, step, or gdb's Ctrl-C, which it turns into a pause
// request). Registers follow gdb_registers.h; memory is read and written by linear address through the guest's
// current paging (GuestView). Z0/Z1 breakpoints and Z2-Z4 watchpoints become the vCPU's DebuggerTargets. Detaching
// (or a dropped connection) removes them and lets the guest run; `kill` ends the emulator.
//
// Each vCPU is a thread to gdb (as in QEMU's stub: thread N is CPU N-1): `info threads` lists them, Hg picks whose
// registers and paging gdb reads, a stop names the vCPU that stopped, a step runs only the vCPU gdb steps, and
// breakpoints and watchpoints are armed on every vCPU.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "emu/common/result.h"
#include "emu/cpu/vcpu.h"
#include "emu/debug/guest_view.h"
#include "emu/debug/run_control.h"

namespace emu::debug {

// What the stub works on. Everything outlives the server.
struct GdbTarget {
    std::vector<cpu::Vcpu*> vcpus;  // CPU 0 first
    // Each vCPU's memory path: its TLB is flushed after register writes (CR0, CR3, CR4, EFER).
    std::vector<cpu::MemoryInterface*> memories;
    GuestView* view = nullptr;
    RunControl* control = nullptr;
    std::function<void()> quit;  // gdb's kill
    // gdb's `monitor CMD` (qRcmd): a human monitor line and its output (null: no monitor).
    std::function<std::string(const std::string& line)> monitor;
};

// The port of a "tcp::PORT" or "tcp:HOST:PORT" device (host: an IPv4 address or "localhost"), as a listening
// address, or an error message.
struct GdbAddress {
    std::string host;  // empty: the loopback interface
    unsigned port = 0;
};
Result<GdbAddress, std::string> ParseGdbDevice(std::string_view spec);

class GdbServer {
public:
    // Binds and listens (an error message if it cannot); the thread starts serving at once.
    static Result<std::unique_ptr<GdbServer>, std::string> Start(const GdbAddress& address, GdbTarget target);
    ~GdbServer();
    GdbServer(const GdbServer&) = delete;
    GdbServer& operator=(const GdbServer&) = delete;

    // The machine ends with `status`: a connected gdb is told ("W" packet) and the thread ends.
    void Exited(int status);

private:
    GdbServer(int listen_fd, GdbTarget target);
    void Serve();

    int listen_fd_;
    GdbTarget target_;
    std::atomic<bool> stop_{false};
    std::atomic<int> exit_status_{0};
    std::thread thread_;
};

}  // namespace emu::debug
