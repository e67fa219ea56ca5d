#pragma once
// Names of the 64-bit GPRs in encoding order (the order of emu::cpu::Gpr), shared by -reg parsing, the
// config printer and the JSON state dump so that all three spell them the same way.
#include <array>
#include <optional>
#include <string_view>

#include "emu/common/types.h"

namespace emu::machine {

inline constexpr std::array<std::string_view, 16> kGprNames = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

// The encoding index of a GPR name ("rsp" -> 4), or nullopt.
constexpr std::optional<unsigned> GprIndex(std::string_view name) {
    for (unsigned i = 0; i < kGprNames.size(); ++i) {
        if (kGprNames[i] == name) return i;
    }
    return std::nullopt;
}

}  // namespace emu::machine
