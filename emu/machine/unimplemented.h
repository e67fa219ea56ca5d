#pragma once
// The machine's own list of what it cannot do yet. emu64 refuses a configuration that asks for any of it,
// so an option is never accepted and then silently ignored. Update this as features land.
#include <optional>
#include <string>

#include "emu/machine/machine_config.h"

namespace emu::machine {

// The first requested feature the machine does not implement, named as the option that asked for it
// ("-drive", "-display sdl"), or nullopt if the machine can run this configuration.
std::optional<std::string> UnimplementedFeature(const MachineConfig& config);

}  // namespace emu::machine
