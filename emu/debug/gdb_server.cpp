// The gdb remote protocol (gdb manual, appendix "Remote Serial Protocol"): all-stop mode, a thread per vCPU.
#include "emu/debug/gdb_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>
#include <cstdio>
#include <optional>
#include <vector>

#include "emu/common/log.h"
#include "emu/debug/gdb_connection.h"
#include "emu/debug/gdb_registers.h"
#include "emu/debug/hex.h"
#include "emu/debug/socket_io.h"

namespace emu::debug {
namespace {

constexpr int kPollMs = 50;
constexpr size_t kMaxMemoryPacket = 0x1000;  // bytes per m/M (PacketSize allows twice that in hex)

std::string HexText(std::string_view text) {
    return ToHex(std::span<const u8>(reinterpret_cast<const u8*>(text.data()), text.size()));
}

// Splits "a,b" (or "a,b:rest") into hex numbers.
bool ParseAddressLength(std::string_view text, u64* address, u64* length) {
    const size_t comma = text.find(',');
    if (comma == std::string_view::npos) return false;
    const auto a = ParseHexNumber(text.substr(0, comma));
    const auto l = ParseHexNumber(text.substr(comma + 1));
    if (!a || !l) return false;
    *address = *a;
    *length = *l;
    return true;
}

// One gdb's session: the breakpoints it set and the packets it sends.
class Session {
public:
    Session(GdbConnection& conn, GdbTarget& target) : conn_(conn), target_(target) {}

    // Serves packets until gdb detaches, the connection drops, or the server stops (`stop`).
    void Run(const std::atomic<bool>& stop, const std::atomic<int>& exit_status);

private:
    enum class Next { Stay, Resume, End };
    Next Handle(const std::string& packet, std::string* reply);
    std::string Query(std::string_view packet);
    std::string ReadMemory(std::string_view args);
    std::string WriteMemory(std::string_view args);
    std::string ChangeTarget(std::string_view packet);
    std::string StopReply();
    // Thread ids (hex, 1 = CPU 0): the vCPU index, or nullopt if not a vCPU. 0 ("any") and -1 ("all") give `fallback`.
    std::optional<unsigned> ThreadToCpu(std::string_view id, unsigned fallback) const;
    std::string Threads() const;
    cpu::Vcpu& GeneralVcpu() const { return *target_.vcpus[g_cpu_]; }
    void FlushGeneralTlb() { target_.memories[g_cpu_]->FlushTlb(~u64{0}, true); }
    // Makes sure the vCPU is parked before its state is touched (the monitor may have let it run).
    void EnsurePaused();
    void Resume(cpu::DebuggerTargets* targets, ResumeMode mode);
    // Waits for the stop that ends a continue or step (turning gdb's Ctrl-C into a pause request). False if the
    // connection dropped or the machine ended.
    bool WaitForStop(const std::atomic<bool>& stop);
    void ApplyTargets() {
        for (cpu::Vcpu* v : target_.vcpus) v->SetDebuggerTargets(targets_);
    }

    GdbConnection& conn_;
    GdbTarget& target_;
    cpu::DebuggerTargets targets_;
    ResumeMode resume_mode_ = ResumeMode::Continue;
    unsigned g_cpu_ = 0;  // Hg: registers and memory
    unsigned c_cpu_ = 0;  // Hc (or vCont's thread): the vCPU a step runs
};

std::optional<unsigned> Session::ThreadToCpu(std::string_view id, unsigned fallback) const {
    if (id == "0" || id == "-1") return fallback;
    const auto n = ParseHexNumber(id);
    if (!n || *n == 0 || *n > target_.vcpus.size()) return std::nullopt;
    return static_cast<unsigned>(*n - 1);
}

std::string Session::Threads() const {
    std::string list = "m";
    char id[24];
    for (size_t i = 0; i < target_.vcpus.size(); ++i) {
        std::snprintf(id, sizeof id, "%s%zx", i ? "," : "", i + 1);
        list += id;
    }
    return list;
}

// The stopped vCPU becomes gdb's current thread for registers and steps (gdb switches to the thread a stop names).
std::string Session::StopReply() {
    const StopEvent stop = target_.control->LastStop();
    g_cpu_ = c_cpu_ = stop.cpu < target_.vcpus.size() ? stop.cpu : 0;
    const unsigned long long thread = g_cpu_ + 1;
    char buffer[80] = "";
    switch (stop.cause) {
        case StopCause::Paused: std::snprintf(buffer, sizeof buffer, "T02thread:%llx;", thread); break;
        case StopCause::Breakpoint:
        case StopCause::Stepped: std::snprintf(buffer, sizeof buffer, "T05thread:%llx;", thread); break;
        case StopCause::Watchpoint: {
            const cpu::DebuggerWatchpoint& w = *stop.watchpoint;
            const char* kind = w.on_read && w.on_write ? "awatch" : w.on_read ? "rwatch" : "watch";
            std::snprintf(buffer, sizeof buffer, "T05%s:%llx;thread:%llx;", kind,
                          static_cast<unsigned long long>(w.linear), thread);
            break;
        }
    }
    return buffer;
}

void Session::EnsurePaused() {
    if (target_.control->Paused()) return;
    target_.control->RequestPause();
    while (!target_.control->WaitPaused(kPollMs) && !target_.control->ShuttingDown()) {}
}

std::string Session::ReadMemory(std::string_view args) {
    u64 address = 0, length = 0;
    if (!ParseAddressLength(args, &address, &length)) return "E01";
    std::vector<u8> bytes(std::min<u64>(length, kMaxMemoryPacket));
    const size_t got = target_.view->ReadVirtual(GeneralVcpu().state(), address, bytes);
    if (got == 0 && !bytes.empty()) return "E14";
    return ToHex(std::span<const u8>(bytes.data(), got));
}

std::string Session::WriteMemory(std::string_view args) {
    const size_t colon = args.find(':');
    u64 address = 0, length = 0;
    if (colon == std::string_view::npos || !ParseAddressLength(args.substr(0, colon), &address, &length)) return "E01";
    const auto bytes = FromHex(args.substr(colon + 1));
    if (!bytes || bytes->size() != length) return "E01";
    const size_t put = target_.view->WriteVirtual(GeneralVcpu().state(), address, *bytes);
    return put == bytes->size() ? "OK" : "E14";
}

// Z/z TYPE,ADDR,KIND: TYPE 0 and 1 are breakpoints (both exact: the vCPU checks every block entry), 2-4 write,
// read and access watchpoints of KIND bytes.
std::string Session::ChangeTarget(std::string_view packet) {
    const bool insert = packet[0] == 'Z';
    if (packet.size() < 3 || packet[2] != ',') return "E01";
    const char type = packet[1];
    u64 address = 0, kind = 0;
    if (!ParseAddressLength(packet.substr(3), &address, &kind)) return "E01";
    if (type == '0' || type == '1') {
        auto& bps = targets_.breakpoints;
        const auto it = std::find(bps.begin(), bps.end(), address);
        if (insert && it == bps.end()) bps.push_back(address);
        if (!insert && it != bps.end()) bps.erase(it);
    } else if (type >= '2' && type <= '4') {
        if (kind == 0 || kind > 8) return "E01";
        const cpu::DebuggerWatchpoint w{address, kind, type != '2', type != '3'};
        auto& wps = targets_.watchpoints;
        const auto it = std::find_if(wps.begin(), wps.end(), [&](const cpu::DebuggerWatchpoint& o) {
            return o.linear == w.linear && o.length == w.length && o.on_read == w.on_read && o.on_write == w.on_write;
        });
        if (insert && it == wps.end()) wps.push_back(w);
        if (!insert && it != wps.end()) wps.erase(it);
    } else {
        return "";  // not supported: gdb falls back
    }
    ApplyTargets();
    return "OK";
}

std::string Session::Query(std::string_view packet) {
    if (packet.starts_with("qSupported")) {
        return "PacketSize=2000;qXfer:features:read+;vContSupported+";
    }
    if (packet.starts_with("qXfer:features:read:target.xml:")) {
        u64 offset = 0, length = 0;
        if (!ParseAddressLength(packet.substr(31), &offset, &length)) return "E01";
        const std::string& xml = GdbTargetXml();
        if (offset >= xml.size()) return "l";
        const std::string part = xml.substr(offset, length);
        return (offset + part.size() >= xml.size() ? "l" : "m") + part;
    }
    if (packet.starts_with("qXfer:features:read:")) return "E00";
    if (packet == "qAttached") return "1";
    if (packet == "qC") {
        char reply[16];
        std::snprintf(reply, sizeof reply, "QC%x", g_cpu_ + 1);
        return reply;
    }
    if (packet == "qfThreadInfo") return Threads();
    if (packet == "qsThreadInfo") return "l";
    if (packet.starts_with("qThreadExtraInfo,")) {
        const auto cpu = ThreadToCpu(packet.substr(17), g_cpu_);
        if (!cpu) return "E22";
        char text[48];
        const bool halted = target_.vcpus[*cpu]->state().halted;
        std::snprintf(text, sizeof text, "CPU#%u [%s]", *cpu, halted ? "halted" : "running");
        return HexText(text);
    }
    if (packet.starts_with("qSymbol")) return "OK";
    if (packet.starts_with("qRcmd,")) {
        // gdb's `monitor CMD`: the line, hex-encoded, runs on the human monitor; its output goes back hex-encoded.
        const auto line = FromHex(packet.substr(6));
        if (!line) return "E01";
        if (!target_.monitor) return HexText("this machine has no monitor\n");
        const std::string out = target_.monitor(std::string(line->begin(), line->end()));
        return out.empty() ? "OK" : HexText(out);
    }
    return "";
}

Session::Next Session::Handle(const std::string& packet, std::string* reply) {
    if (packet.empty()) return Next::Stay;
    EnsurePaused();
    cpu::CpuState& state = GeneralVcpu().state();
    const std::string_view args = std::string_view(packet).substr(1);
    switch (packet[0]) {
        case '?': *reply = StopReply(); return Next::Stay;
        case 'q': *reply = Query(packet); return Next::Stay;
        case 'H': {  // Hg / Hc THREAD
            const auto cpu = args.empty() ? std::nullopt
                                          : ThreadToCpu(args.substr(1), args[0] == 'g' ? g_cpu_ : c_cpu_);
            if (!cpu || (args[0] != 'g' && args[0] != 'c')) {
                *reply = "E22";
            } else {
                (args[0] == 'g' ? g_cpu_ : c_cpu_) = *cpu;
                *reply = "OK";
            }
            return Next::Stay;
        }
        case 'T': *reply = ThreadToCpu(args, 0) ? "OK" : "E22"; return Next::Stay;  // is the thread alive
        case 'g': *reply = ReadAllGdbRegisters(state); return Next::Stay;
        case 'G':
            *reply = WriteAllGdbRegisters(state, args) ? "OK" : "E01";
            FlushGeneralTlb();
            return Next::Stay;
        case 'p': {
            const auto n = ParseHexNumber(args);
            const auto value = n ? ReadGdbRegister(state, static_cast<unsigned>(*n)) : std::nullopt;
            *reply = value ? *value : "E01";
            return Next::Stay;
        }
        case 'P': {
            const size_t eq = args.find('=');
            const auto n = eq == std::string_view::npos ? std::nullopt : ParseHexNumber(args.substr(0, eq));
            *reply = n && WriteGdbRegister(state, static_cast<unsigned>(*n), args.substr(eq + 1)) ? "OK" : "E01";
            FlushGeneralTlb();
            return Next::Stay;
        }
        case 'm': *reply = ReadMemory(args); return Next::Stay;
        case 'M': *reply = WriteMemory(args); return Next::Stay;
        case 'Z':
        case 'z': *reply = ChangeTarget(packet); return Next::Stay;
        case 'c':
        case 'C': resume_mode_ = ResumeMode::Continue; return Next::Resume;
        case 's':
        case 'S': resume_mode_ = ResumeMode::Step; return Next::Resume;
        case 'v':
            if (packet == "vCont?") {
                *reply = "vCont;c;C;s;S";
                return Next::Stay;
            }
            if (packet.starts_with("vCont;")) {
                // All-stop: a step action (gdb sends "vCont;s:2;c" to step thread 2) runs that vCPU alone for one
                // instruction; otherwise every vCPU continues.
                resume_mode_ = ResumeMode::Continue;
                for (std::string_view rest = std::string_view(packet).substr(6); !rest.empty();) {
                    const size_t end = std::min(rest.find(';'), rest.size());
                    const std::string_view action = rest.substr(0, end);
                    rest.remove_prefix(std::min(end + 1, rest.size()));
                    if (action.empty() || (action[0] != 's' && action[0] != 'S')) continue;
                    const size_t colon = action.find(':');
                    const auto cpu = colon == std::string_view::npos ? std::optional(c_cpu_)
                                                                      : ThreadToCpu(action.substr(colon + 1), c_cpu_);
                    if (!cpu) {
                        *reply = "E22";
                        return Next::Stay;
                    }
                    c_cpu_ = *cpu;
                    resume_mode_ = ResumeMode::Step;
                    break;
                }
                return Next::Resume;
            }
            *reply = "";
            return Next::Stay;
        case 'D': *reply = "OK"; return Next::End;
        case 'k':
            if (target_.quit) target_.quit();
            return Next::End;
        default: *reply = ""; return Next::Stay;
    }
}

bool Session::WaitForStop(const std::atomic<bool>& stop) {
    for (;;) {
        if (target_.control->WaitPaused(0)) return true;
        if (stop || target_.control->ShuttingDown()) return false;
        std::string ignored;
        switch (conn_.Receive(&ignored, kPollMs)) {
            case GdbConnection::Got::Interrupt: target_.control->RequestPause(); break;
            case GdbConnection::Got::Closed: return false;
            case GdbConnection::Got::Packet:  // gdb sends nothing else while the target runs (all-stop)
            case GdbConnection::Got::Nothing: break;
        }
    }
}

void Session::Run(const std::atomic<bool>& stop, const std::atomic<int>& exit_status) {
    for (;;) {
        if (stop) {
            char w[8];
            std::snprintf(w, sizeof w, "W%02x", exit_status.load() & 0xFF);
            conn_.Send(w);
            return;
        }
        std::string packet;
        const GdbConnection::Got got = conn_.Receive(&packet, kPollMs);
        if (got == GdbConnection::Got::Closed) break;
        if (got != GdbConnection::Got::Packet) continue;
        std::string reply;
        const Next next = Handle(packet, &reply);
        if (next == Next::End) {
            conn_.Send(reply);
            break;
        }
        if (next == Next::Stay) {
            conn_.Send(reply);
            continue;
        }
        target_.control->Resume(resume_mode_, c_cpu_);
        if (!WaitForStop(stop)) {
            if (!target_.control->ShuttingDown()) break;  // gdb went away
            // The machine is ending: the top of the loop reports its exit status once the server has it.
            while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        conn_.Send(StopReply());
    }
    // Detached or gone: the guest runs on without this gdb's breakpoints.
    if (target_.control->ShuttingDown()) return;
    EnsurePaused();
    targets_ = {};
    ApplyTargets();
    target_.control->Resume();
}

}  // namespace

Result<GdbAddress, std::string> ParseGdbDevice(std::string_view spec) {
    const std::string bad = "-gdb '" + std::string(spec) + "': expected tcp::PORT or tcp:HOST:PORT";
    if (!spec.starts_with("tcp:")) return Err(bad);
    spec.remove_prefix(4);
    const size_t colon = spec.rfind(':');
    if (colon == std::string_view::npos) return Err(bad);
    GdbAddress address;
    address.host = std::string(spec.substr(0, colon));
    const std::string_view port = spec.substr(colon + 1);
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
    if (ec != std::errc{} || end != port.data() + port.size() || address.port == 0 || address.port > 65535) {
        return Err(bad);
    }
    if (address.host == "localhost") address.host.clear();
    in_addr ignored{};
    if (!address.host.empty() && inet_pton(AF_INET, address.host.c_str(), &ignored) != 1) return Err(bad);
    return address;
}

Result<std::unique_ptr<GdbServer>, std::string> GdbServer::Start(const GdbAddress& address, GdbTarget target) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Err(std::string("-gdb: cannot create a socket"));
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<u16>(address.port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!address.host.empty()) inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 1) != 0) {
        close(fd);
        return Err("-gdb: cannot listen on port " + std::to_string(address.port) + " (in use?)");
    }
    return std::unique_ptr<GdbServer>(new GdbServer(fd, std::move(target)));
}

GdbServer::GdbServer(int listen_fd, GdbTarget target) : listen_fd_(listen_fd), target_(std::move(target)) {
    thread_ = std::thread([this] { Serve(); });
}

GdbServer::~GdbServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
}

void GdbServer::Exited(int status) {
    exit_status_ = status;
    stop_ = true;
}

void GdbServer::Serve() {
    ServeClients(listen_fd_, stop_, kPollMs, [this](int fd) {
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
        log::Log(log::Category::Int, "gdb: connected");
        // As QEMU's stub: a debugger that connects finds the machine stopped.
        target_.control->RequestPause();
        GdbConnection conn(fd);
        Session(conn, target_).Run(stop_, exit_status_);
        log::Log(log::Category::Int, "gdb: disconnected");
    });
}

}  // namespace emu::debug
