// The machine's entry point: the bare-metal runner today; the PC machine (Linux boot) when it lands.
#include "emu/machine/run.h"

#include <cstdio>

#include "emu/machine/bare_machine.h"

namespace emu::machine {

int RunMachine(const MachineConfig& config) {
    if (config.bare) return RunBare(config);
    std::fputs("emu64: booting a kernel is not implemented yet (only -bare runs today)\n", stderr);
    return 2;
}

}  // namespace emu::machine
