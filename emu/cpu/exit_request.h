#pragma once
// Bits of a vCPU's exit-request word (jit::JitContext::exit_request), shared by both backends. Any bit set makes
// translated code leave at the next block entry; kCodeWritten and kStop also end a block at the next guest
// instruction boundary after an instruction that stored or called a helper (self-modifying code: SDM Vol. 3 11.6
// wants a store to a later instruction of the running block to take effect before that instruction runs; a stop
// asked for by a device, such as isa-debug-exit, takes effect right after the I/O instruction, as on QEMU).
#include "emu/common/types.h"

namespace emu::cpu::exit_bit {
inline constexpr u32 kInterrupt = 1u << 0;    // an interrupt may be pending, or a stop was requested
inline constexpr u32 kCodeWritten = 1u << 1;  // a store hit a page that translated code was made from
inline constexpr u32 kStop = 1u << 2;          // Vcpu::RequestStop
inline constexpr u32 kMidBlock = kCodeWritten | kStop;  // the bits that end a block between instructions
}  // namespace emu::cpu::exit_bit
