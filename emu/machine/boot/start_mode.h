#pragma once
// The CPU mode a loader starts a guest in (shared by MachineConfig's -start-mode and the start-state builder).
#include "emu/common/types.h"

namespace emu::machine {

enum class StartMode : u8 { Real, Prot32, Long64 };

}  // namespace emu::machine
