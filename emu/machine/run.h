#pragma once
// The machine's entry point: build the machine described by a validated configuration, run it, and
// return the process exit status (0 on a clean guest power-off or a finished bare-metal run).
#include "emu/machine/machine_config.h"

namespace emu::machine {

// Call only with a configuration for which UnimplementedFeature() returned nullopt.
int RunMachine(const MachineConfig& config);

}  // namespace emu::machine
