#include "emu/debug/qmp_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "emu/debug/socket_io.h"

namespace emu::debug {
namespace {

constexpr int kPollMs = 50;
constexpr size_t kMaxLine = 1 << 20;  // a client that sends a megabyte without a newline is cut off

Json ErrorReply(const std::string& cls, const std::string& desc) {
    return Json{{"error", {{"class", cls}, {"desc", desc}}}};
}

}  // namespace

Result<std::string, std::string> ParseQmpSpec(std::string_view spec) {
    const std::string bad = "-qmp '" + std::string(spec) + "': expected unix:PATH,server,wait=off";
    if (!spec.starts_with("unix:")) return Err(bad);
    spec.remove_prefix(5);
    const size_t comma = spec.find(',');
    const std::string path(spec.substr(0, comma));
    bool server = false, nowait = false;
    while (comma != std::string_view::npos && !spec.empty()) {
        const size_t at = spec.find(',');
        if (at == std::string_view::npos) break;
        spec.remove_prefix(at + 1);
        const std::string_view option = spec.substr(0, spec.find(','));
        if (option == "server" || option == "server=on") server = true;
        else if (option == "wait=off" || option == "nowait") nowait = true;
        else return Err(bad);
    }
    if (path.empty() || !server || !nowait) return Err(bad);
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return Err(std::string("-qmp: the socket path is too long"));
    return path;
}

Result<std::unique_ptr<QmpServer>, std::string> QmpServer::Start(const std::string& path, Monitor& monitor) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Err(std::string("-qmp: cannot create a socket"));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    path.copy(sa.sun_path, sizeof sa.sun_path - 1);
    unlink(path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 4) != 0) {
        close(fd);
        return Err("-qmp: cannot listen on " + path);
    }
    return std::unique_ptr<QmpServer>(new QmpServer(fd, path, monitor));
}

QmpServer::QmpServer(int listen_fd, std::string path, Monitor& monitor)
    : listen_fd_(listen_fd), path_(std::move(path)), monitor_(monitor) {
    monitor_.SetEventSink([this](const Json& event) { Queue(event); });
    thread_ = std::thread([this] { Serve(); });
}

QmpServer::~QmpServer() {
    // The session flushes what is queued (SHUTDOWN) before it notices the stop.
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * kPollMs));
    stop_ = true;
    thread_.join();
    monitor_.SetEventSink({});
    close(listen_fd_);
    unlink(path_.c_str());
}

void QmpServer::Queue(const Json& event) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    Json e = event;
    e["timestamp"] = {{"seconds", us / 1000000}, {"microseconds", us % 1000000}};
    std::lock_guard lock(events_mutex_);
    events_.push_back(e.dump() + "\r\n");
}

bool QmpServer::FlushEvents(int fd) {
    std::deque<std::string> pending;
    {
        std::lock_guard lock(events_mutex_);
        pending.swap(events_);
    }
    for (const std::string& e : pending) {
        if (!SendAll(fd, e)) return false;
    }
    return true;
}

std::string QmpServer::Reply(const Json& request, bool* negotiated) {
    Json reply;
    if (!request.is_object() || !request.contains("execute") || !request["execute"].is_string()) {
        reply = ErrorReply("GenericError", "QMP input must be an object with a string member 'execute'");
    } else {
        const std::string name = request["execute"];
        const Json args = request.value("arguments", Json::object());
        if (name == "qmp_capabilities") {
            reply = *negotiated ? ErrorReply("CommandNotFound", "Capabilities negotiation is already complete")
                                : Json{{"return", Json::object()}};
            *negotiated = true;
        } else if (!*negotiated) {
            reply = ErrorReply("CommandNotFound",
                               "Expecting capabilities negotiation with 'qmp_capabilities'");
        } else {
            auto r = monitor_.Execute(name, args);
            if (const MonitorError* e = std::get_if<MonitorError>(&r)) {
                reply = ErrorReply(e->error_class, e->desc);
            } else {
                reply = Json{{"return", std::get<Json>(r)}};
            }
        }
    }
    if (request.is_object() && request.contains("id")) reply["id"] = request["id"];
    return reply.dump() + "\r\n";
}

void QmpServer::Session(int fd) {
    const Json greeting = {{"QMP", {{"version", {{"qemu", {{"micro", 0}, {"minor", 0}, {"major", 0}}},
                                                 {"package", "emu64"}}},
                                    {"capabilities", Json::array()}}}};
    if (!SendAll(fd, greeting.dump() + "\r\n")) return;
    bool negotiated = false;
    std::string in;
    while (!stop_) {
        if (negotiated && !FlushEvents(fd)) return;
        pollfd pfd{fd, POLLIN, 0};
        if (poll(&pfd, 1, kPollMs) <= 0) continue;
        char buffer[4096];
        const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return;  // gone, perhaps in the middle of a command: nothing to clean up
        in.append(buffer, static_cast<size_t>(n));
        for (size_t nl; (nl = in.find('\n')) != std::string::npos;) {
            const std::string line = in.substr(0, nl);
            in.erase(0, nl + 1);
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            const Json request = Json::parse(line, nullptr, false);
            const std::string reply = request.is_discarded()
                                          ? ErrorReply("GenericError", "JSON parse error").dump() + "\r\n"
                                          : Reply(request, &negotiated);
            if (!SendAll(fd, reply)) return;
        }
        if (in.size() > kMaxLine) {
            SendAll(fd, ErrorReply("GenericError", "JSON parse error: line too long").dump() + "\r\n");
            return;
        }
    }
    FlushEvents(fd);
}

void QmpServer::Serve() {
    ServeClients(listen_fd_, stop_, kPollMs, [this](int fd) {
        {
            std::lock_guard lock(events_mutex_);
            events_.clear();  // events are for the client that was there to see them
        }
        Session(fd);
        close(fd);
    });
}

}  // namespace emu::debug
