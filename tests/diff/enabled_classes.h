#pragma once
// The one place that says which instruction classes diff-cpu runs by default. A class the emulator does
// not handle yet (it raises #UD for unimplemented mnemonics) is left out here with the reason and an owner;
// `diff-cpu --class NAME` still runs it on demand. (The system class, disabled at first for #UD instead of
// #GP(0), was re-enabled once the CPU helpers implemented those instructions.)
#include <vector>

#include "tests/diff/generator.h"

namespace emu::diff {

inline std::vector<InsnClass> DefaultEnabledClasses() {
    std::vector<InsnClass> enabled;
    for (InsnClass c : AllClasses()) enabled.push_back(c);
    return enabled;
}

}  // namespace emu::diff
