#pragma once
// Guest instruction disassembly for logs (-d in_asm), through Capstone: an oracle nobody here wrote, so the
// log shows what the bytes are, not what our decoder thinks they are.
#include <span>
#include <string>

#include "emu/common/types.h"

namespace emu {

// Disassembles the first instruction of `bytes` as x86 code of `bits` (16, 32 or 64) at `address`:
// "mov eax, 0x10" (with its length in *length), or "(bad)" if Capstone cannot decode it.
std::string DisassembleOne(std::span<const u8> bytes, u64 address, unsigned bits, unsigned* length = nullptr);

}  // namespace emu
