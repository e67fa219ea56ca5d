#pragma once
// The host side of COM1, from -serial: stdio (the default), a file, or nothing.
#include <memory>

#include "devices/backends/char_backend.h"
#include "devices/backends/stdio_backend.h"
#include "emu/machine/machine_config.h"

namespace emu::machine {

struct SerialBackend {
    std::unique_ptr<devices::CharBackend> backend;  // null: the -serial file could not be opened
    devices::StdioBackend* console = nullptr;       // set when the backend is the terminal (for Ctrl-A x, input)
};

SerialBackend MakeCom1Backend(const MachineConfig& config);

}  // namespace emu::machine
