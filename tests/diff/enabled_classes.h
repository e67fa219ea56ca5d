#pragma once
// The one place that says which instruction classes diff-cpu runs by default. A class the emulator does
// not handle yet is left out here with the reason; `diff-cpu --class NAME` still runs it on demand.
#include <vector>

#include "tests/diff/generator.h"

namespace emu::diff {

inline std::vector<InsnClass> DefaultEnabledClasses() {
    std::vector<InsnClass> enabled;
    for (InsnClass c : AllClasses()) {
        // TODO(cpu/system): CLTS, INVD, WBINVD, MOV CRn/DRn, RDMSR, WRMSR, SWAPGS, LLDT, LTR, LMSW, LGDT, LIDT
        // and INVLPG raise #UD in the emulator (not implemented yet) instead of #GP(0) at CPL 3.
        if (c == InsnClass::System) continue;
        enabled.push_back(c);
    }
    return enabled;
}

}  // namespace emu::diff
