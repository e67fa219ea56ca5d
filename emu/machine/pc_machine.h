#pragma once
// The PC machine (-kernel): guest RAM with a PC memory map and E820 table, the legacy platform devices
// (8259 PIC pair, 8254 PIT, RTC/CMOS, COM1, COM2, fw_cfg, isa-debug-exit, pc-testdev, port 0x92, the Bochs
// shutdown port), an event loop thread for timers and console input, and a kernel loaded through the Linux
// boot protocol or Multiboot v1.
#include <chrono>

#include "emu/machine/machine_config.h"

namespace emu::machine {

// -max-insns and -timeout bound the whole emu64 run, not one boot: a guest that keeps resetting must not reboot
// forever. RunPc counts against this and the caller keeps it across resets.
struct PcRunBudget {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    u64 retired = 0;  // guest instructions retired by every boot so far
    bool loadvm_done = false;  // -loadvm applies to the first boot only: a reset boots the kernel
};

// Exit status of a run, or kResetRequested when the guest reset the machine (port 0x92, triple fault): the
// caller boots again unless -no-reboot. -dump-state is written when the run ends (a reset ends it with -no-reboot).
inline constexpr int kResetRequested = -1;
inline constexpr int kPcLimitReached = 8;  // -max-insns or -timeout, as the bare runner's status
int RunPc(const MachineConfig& config, PcRunBudget& budget);

}  // namespace emu::machine
