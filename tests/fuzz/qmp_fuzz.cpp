// QMP input (issue #16): lines from a hostile client go through the parser the server uses
// (nlohmann::json::parse without exceptions); whatever parses must be a value the server can echo back (a
// request's "id" is copied into the reply and dumped, and dump() throws on some values), and -qmp specs must
// parse or be refused. The commands themselves need a machine and are checked by tests/boot/qmp_test.py.
#include <cstdlib>
#include <string>
#include <string_view>

#include "emu/debug/monitor.h"
#include "emu/debug/qmp_server.h"

using emu::debug::Json;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)emu::debug::ParseQmpSpec(text);
    for (size_t start = 0; start < text.size();) {
        size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string line(text.substr(start, nl - start));
        start = nl + 1;
        const Json request = Json::parse(line, nullptr, false);
        if (request.is_discarded()) continue;
        Json reply = {{"error", {{"class", "GenericError"}, {"desc", "fuzz"}}}};
        if (request.is_object() && request.contains("id")) reply["id"] = request["id"];
        if (request.is_object() && request.contains("execute")) {
            (void)request.value("arguments", Json::object());
        }
        (void)reply.dump();  // must not throw: the server's session thread would die with it
    }
    return 0;
}
