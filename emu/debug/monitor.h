#pragma once
// The monitor's commands, shared by its two faces: QMP (JSON on a unix socket, qmp_server.h) and the human monitor
// (-monitor stdio, HMP text). Each command is one row of a table (monitor.cpp) with its QMP name, its HMP words,
// the arguments it takes and the function that runs it; the HMP face parses a line into the same arguments and
// prints the same result as text.
//
// Commands that read or change the machine (registers, memory, memslots) run with the vCPU parked: a running guest
// is paused for the command and resumed after it, as QEMU's monitor runs with the vCPUs out of guest code.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "emu/cpu/vcpu.h"
#include "emu/debug/guest_view.h"
#include "emu/debug/run_control.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::debug {

using Json = nlohmann::json;

// One vCPU as query-cpus-fast reports it.
struct MonitorCpu {
    unsigned index = 0;
    u32 socket = 0, core = 0, thread = 0;  // its place in the -smp topology
    i64 host_thread = 0;                   // the host thread (Linux TID) that runs it
};

// What the monitor works on; everything outlives it.
struct MonitorTarget {
    cpu::Vcpu* vcpu = nullptr;
    GuestView* view = nullptr;
    RunControl* control = nullptr;
    mmu::Memslots* slots = nullptr;
    mmu::PageTrack* page_track = nullptr;
    std::function<std::string()> mmu_stats;  // the vCPU memory path's statistics (code pages, shadow MMU)
    std::function<void()> quit, reset, powerdown;
    // savevm/loadvm NAME (run with the vCPU parked): an error message, or nothing on success. Null: unavailable.
    std::function<std::optional<std::string>(const std::string& name)> savevm, loadvm;
    // Writes the display's picture as PNG to a file: an error message, or none. Null: the machine has no display.
    std::function<std::optional<std::string>(const std::string& path)> screendump;
    // Every vCPU (query-cpus-fast, info cpus). Null: the one vCPU above, on no known thread.
    std::function<std::vector<MonitorCpu>()> cpus;
};

// A QMP error: its class ("GenericError", "CommandNotFound") and description.
struct MonitorError {
    std::string error_class;
    std::string desc;
};

class Monitor {
public:
    // Registers the monitor's page-track client (it counts the writes and region removals it is told of).
    explicit Monitor(MonitorTarget target);
    ~Monitor();
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;

    // Runs a QMP command: its "return" value or an error.
    std::variant<Json, MonitorError> Execute(const std::string& name, const Json& arguments);
    // Runs an HMP line; returns the text to print (an error is text too).
    std::string Human(const std::string& line);

    // Where asynchronous events go ({"event": "STOP", ...} without the timestamp); one sink, set before use.
    void SetEventSink(std::function<void(const Json&)> sink);
    // The machine is ending: a SHUTDOWN event ("guest-shutdown", "host-qmp-quit", "guest-reset"...).
    void Shutdown(const std::string& reason, bool guest);

private:
    struct Client;
    struct Command;
    std::vector<Command> BuildTable();
    const Command* Find(const std::string& qmp_name) const;
    // Execute and Human with mutex_ held (human-monitor-command runs an HMP line from inside a QMP command).
    std::variant<Json, MonitorError> ExecuteLocked(const std::string& name, const Json& arguments);
    std::string HumanLocked(const std::string& line);
    // Runs `body` with the vCPU parked (pausing and resuming a running one around it, without STOP/RESUME events).
    Json Paused(const std::function<Json()>& body);
    void Emit(const Json& event);

    MonitorTarget target_;
    std::unique_ptr<Client> client_;
    std::mutex mutex_;  // one command at a time (QMP and HMP may both be open)
    std::mutex sink_mutex_;
    std::function<void(const Json&)> sink_;
    std::atomic<bool> internal_pause_{false};
    std::map<mmu::SlotId, mmu::SlotView> deleted_;
    std::vector<Command> table_;  // slots `memslot-delete` removed, for `memslot-create`
};

}  // namespace emu::debug
