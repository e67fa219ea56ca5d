#include "emu/machine/serial_backend.h"

#include "devices/backends/file_backend.h"

namespace emu::machine {

SerialBackend MakeSerialBackend(const MachineConfig& config, size_t index) {
    if (index < config.serials.size()) return MakeCharBackend(config.serials[index]);
    return MakeCharBackend(SerialSpec{index == 0 ? SerialKind::Stdio : SerialKind::Null, "", ""});
}

SerialBackend MakeCharBackend(const SerialSpec& spec) {
    SerialBackend result;
    const SerialKind kind = spec.kind;
    if (kind == SerialKind::Stdio) {
        auto stdio = std::make_unique<devices::StdioBackend>();
        result.console = stdio.get();
        result.backend = std::move(stdio);
    } else if (kind == SerialKind::File) {
        auto file = devices::FileBackend::Open(spec.path);
        if (file) result.backend = std::move(*file);
    } else {
        result.backend = std::make_unique<devices::NullBackend>();
    }
    return result;
}

}  // namespace emu::machine
