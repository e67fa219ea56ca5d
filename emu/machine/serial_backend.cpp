#include "emu/machine/serial_backend.h"

#include "devices/backends/file_backend.h"

namespace emu::machine {

SerialBackend MakeSerialBackend(const MachineConfig& config, size_t index) {
    SerialBackend result;
    const SerialSpec* spec = index < config.serials.size() ? &config.serials[index] : nullptr;
    const SerialKind kind = spec ? spec->kind : (index == 0 ? SerialKind::Stdio : SerialKind::Null);
    if (kind == SerialKind::Stdio) {
        auto stdio = std::make_unique<devices::StdioBackend>();
        result.console = stdio.get();
        result.backend = std::move(stdio);
    } else if (kind == SerialKind::File) {
        auto file = devices::FileBackend::Open(spec->path);
        if (file) result.backend = std::move(*file);
    } else {
        result.backend = std::make_unique<devices::NullBackend>();
    }
    return result;
}

}  // namespace emu::machine
