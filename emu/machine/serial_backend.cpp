#include "emu/machine/serial_backend.h"

#include "devices/backends/file_backend.h"

namespace emu::machine {

SerialBackend MakeCom1Backend(const MachineConfig& config) {
    SerialBackend result;
    const SerialKind kind = config.serials.empty() ? SerialKind::Stdio : config.serials.front().kind;
    if (kind == SerialKind::Stdio) {
        auto stdio = std::make_unique<devices::StdioBackend>();
        result.console = stdio.get();
        result.backend = std::move(stdio);
    } else if (kind == SerialKind::File) {
        auto file = devices::FileBackend::Open(config.serials.front().path);
        if (file) result.backend = std::move(*file);
    } else {
        result.backend = std::make_unique<devices::NullBackend>();
    }
    return result;
}

}  // namespace emu::machine
