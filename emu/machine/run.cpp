// The machine's entry point: the bare-metal runner (-bare) or the PC machine (-kernel).
#include "emu/machine/run.h"

#include <cstdio>

#include "emu/machine/bare_machine.h"
#include "emu/machine/pc_machine.h"

namespace emu::machine {

int RunMachine(const MachineConfig& config) {
    // Before any vCPU exists: CPUID and the vendor-dependent paths read the model from now on (cpu_model.h).
    if (config.cpu) cpu::system::SelectCpuModel(*config.cpu);
    if (config.bare) return RunBare(config);
    PcRunBudget budget;
    for (;;) {
        const int status = RunPc(config, budget);
        if (status != kResetRequested) return status;
        if (config.no_reboot) return 0;  // QEMU's -no-reboot: a reset ends the emulator
        std::fputs("emu64: the guest reset the machine; booting again\n", stderr);
    }
}

}  // namespace emu::machine
