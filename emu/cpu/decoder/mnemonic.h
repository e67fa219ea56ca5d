#pragma once
// Instruction mnemonics, defined once in tables/mnemonics.inc.
#include <string_view>

#include "emu/common/types.h"

namespace emu::cpu {

enum class Mnemonic : u16 {
#define EMU64_MNEMONIC(name) name,
#include "emu/cpu/decoder/tables/mnemonics.inc"
#undef EMU64_MNEMONIC
    Count
};

std::string_view MnemonicName(Mnemonic m);

}  // namespace emu::cpu
