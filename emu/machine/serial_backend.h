#pragma once
// The host side of the serial ports, from -serial (in order: COM1, COM2): stdio, a file, or nothing.
#include <memory>

#include "devices/backends/char_backend.h"
#include "devices/backends/stdio_backend.h"
#include "emu/machine/machine_config.h"

namespace emu::machine {

struct SerialBackend {
    std::unique_ptr<devices::CharBackend> backend;  // null: the -serial file could not be opened
    devices::StdioBackend* console = nullptr;       // set when the backend is the terminal (for Ctrl-A x, input)
};

// Port `index` (0 = COM1) from the index-th -serial. Without one, COM1 is the terminal (as QEMU with
// -nographic) and the other ports have nothing attached.
SerialBackend MakeSerialBackend(const MachineConfig& config, size_t index);
// The backend a -serial or -chardev spec names (Stdio, File or Null; others get a null backend).
SerialBackend MakeCharBackend(const SerialSpec& spec);
inline SerialBackend MakeCom1Backend(const MachineConfig& config) { return MakeSerialBackend(config, 0); }

}  // namespace emu::machine
