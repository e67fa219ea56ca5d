#pragma once
// Flags the SDM leaves undefined after an instruction, for tests that compare against real hardware: mask
// these bits of RFLAGS before comparing. Our own choice for each is documented where the flag is computed.
#include "emu/common/types.h"
#include "emu/cpu/decoder/decoded_insn.h"

namespace emu::cpu::translate {

// The RFLAGS bits `insn` leaves undefined. For shifts and rotates by CL the mask covers every count
// (the worst case); with an immediate count it is exact.
u64 UndefinedFlagsMask(Mnemonic mnemonic, const DecodedInsn& insn);

}  // namespace emu::cpu::translate
