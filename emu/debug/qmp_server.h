#pragma once
// QMP, QEMU's JSON monitor protocol, on a unix socket (-qmp unix:PATH,server,wait=off): one client at a time gets
// the greeting, must send qmp_capabilities first, then sends {"execute": NAME, "arguments": {...}, "id": ...} and
// gets {"return": ...} or {"error": {"class", "desc"}} (with its id), and receives asynchronous events
// ({"event", "data", "timestamp"}: STOP, RESUME, SHUTDOWN). Input that is not JSON, or not a command object, gets a
// GenericError; a client that goes away (even in the middle of a command) is forgotten and the next may connect.
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "emu/common/result.h"
#include "emu/debug/monitor.h"

namespace emu::debug {

// The socket path of a "unix:PATH,server,wait=off" spec (server and wait=off are required: the machine does not wait
// for a client), or an error message.
Result<std::string, std::string> ParseQmpSpec(std::string_view spec);

class QmpServer {
public:
    // Binds the socket (an existing file at `path` is replaced, as QEMU does) and starts serving.
    static Result<std::unique_ptr<QmpServer>, std::string> Start(const std::string& path, Monitor& monitor);
    // Sends the events still queued (the SHUTDOWN of a machine that ends) and closes the socket.
    ~QmpServer();
    QmpServer(const QmpServer&) = delete;
    QmpServer& operator=(const QmpServer&) = delete;

private:
    QmpServer(int listen_fd, std::string path, Monitor& monitor);
    void Serve();
    // One client until it leaves or the server stops.
    void Session(int fd);
    std::string Reply(const Json& request, bool* negotiated);
    void Queue(const Json& event);
    bool FlushEvents(int fd);

    int listen_fd_;
    std::string path_;
    Monitor& monitor_;
    std::atomic<bool> stop_{false};
    std::mutex events_mutex_;
    std::deque<std::string> events_;
    std::thread thread_;
};

}  // namespace emu::debug
