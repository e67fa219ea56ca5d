#pragma once
// The bare-metal runner (-bare FILE): guest RAM, the extra -map regions, COM1 and the test ports
// (isa-debug-exit at 0xF4, pc-testdev at 0xE0/0xE4, Bochs shutdown at 0x8900), a flat binary loaded at
// its address and started in real, 32-bit protected or 64-bit mode at CPL 0 or 3. It runs until the first
// HLT and can dump the final CPU state as JSON.
#include "emu/machine/machine_config.h"

namespace emu::machine {

// Exit statuses of a bare run (besides isa-debug-exit's (v << 1) | 1, which is always odd).
namespace bare_exit {
inline constexpr int kHalted = 0;          // the guest executed HLT
inline constexpr int kConfigError = 2;     // bad option, missing file, overlapping map
inline constexpr int kException = 4;       // an exception the guest could not handle (no IDT, or delivery failed)
inline constexpr int kTripleFault = 6;     // shutdown
inline constexpr int kLimit = 8;           // -max-insns or -timeout reached
}  // namespace bare_exit

int RunBare(const MachineConfig& config);

}  // namespace emu::machine
