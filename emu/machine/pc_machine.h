#pragma once
// The PC machine (-kernel): guest RAM with a PC memory map and E820 table, the legacy platform devices
// (8259 PIC pair, 8254 PIT, RTC/CMOS, COM1, COM2, fw_cfg, isa-debug-exit, pc-testdev, port 0x92, the Bochs
// shutdown port), an event loop thread for timers and console input, and a kernel loaded through the Linux
// boot protocol or Multiboot v1.
#include "emu/machine/machine_config.h"

namespace emu::machine {

// Exit status of a run, or kResetRequested when the guest reset the machine (port 0x92, triple fault): the
// caller boots again unless -no-reboot.
inline constexpr int kResetRequested = -1;
int RunPc(const MachineConfig& config);

}  // namespace emu::machine
