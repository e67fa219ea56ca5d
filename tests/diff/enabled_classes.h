#pragma once
// The one place that says which instruction classes diff-cpu runs by default. A class the emulator does
// not handle yet (it raises #UD for unimplemented mnemonics) is left out here with the reason and an owner;
// `diff-cpu --class NAME` still runs it on demand. (The system class, disabled at first for #UD instead of
// #GP(0), was re-enabled once the CPU helpers implemented those instructions.)
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/diff/generator.h"

namespace emu::diff {

// Every class is enabled today.
inline std::vector<InsnClass> DefaultEnabledClasses() { return AllClasses(); }

// The x87 and SIMD classes: diff-cpu --class fp runs them alone (the diff-cpu-fp tests in meson.build).
inline std::vector<InsnClass> FpClasses() {
    return {InsnClass::X87Arith, InsnClass::X87Mem,  InsnClass::X87Misc, InsnClass::X87Trans,
            InsnClass::SseFloat, InsnClass::SseConvert, InsnClass::SimdInt, InsnClass::Ssse3,
            InsnClass::Sse41,    InsnClass::Sse42,      InsnClass::FpState};
}

// Classes as named on a command line: comma-separated lists of ClassName()s, "all" or "fp"; none means the
// default set. Throws std::invalid_argument naming an unknown class and the known ones.
inline std::vector<InsnClass> ParseClassNames(const std::vector<std::string>& lists) {
    if (lists.empty()) return DefaultEnabledClasses();
    std::vector<InsnClass> out;
    for (const std::string& list : lists) {
        std::stringstream ss(list);
        std::string name;
        while (std::getline(ss, name, ',')) {
            if (name == "all" || name == "fp") {
                for (InsnClass c : name == "all" ? AllClasses() : FpClasses()) out.push_back(c);
            } else if (auto c = ClassFromName(name)) {
                out.push_back(*c);
            } else {
                std::string known;
                for (InsnClass k : AllClasses()) known += " " + std::string(ClassName(k));
                throw std::invalid_argument("unknown class '" + name + "'; known:" + known + " all fp");
            }
        }
    }
    return out;
}

}  // namespace emu::diff
