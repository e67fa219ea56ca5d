#pragma once
// IR opcodes, generated from opcodes.inc.
#include <array>
#include <string_view>

#include "emu/common/types.h"
#include "emu/cpu/ir/types.h"

namespace emu::cpu::ir {

enum class Opcode : u16 {
#define OPCODE(name, ...) name,
#include "emu/cpu/ir/opcodes.inc"
#undef OPCODE
    Count
};

inline constexpr unsigned kNumOpcodes = static_cast<unsigned>(Opcode::Count);
inline constexpr unsigned kMaxArgs = 5;

struct OpcodeInfo {
    std::string_view name;
    Type ret;
    u8 num_args;
    std::array<Type, kMaxArgs> args;
};

const OpcodeInfo& InfoOf(Opcode op);
inline std::string_view NameOf(Opcode op) { return InfoOf(op).name; }

// Ends a block; only valid as the last instruction.
bool IsTerminator(Opcode op);
// May end the block with an exception: guest state (flags included) must be architectural when it runs.
bool MayRaise(Opcode op);
// Must be kept even when its result is unused.
bool HasSideEffects(Opcode op);

}  // namespace emu::cpu::ir
