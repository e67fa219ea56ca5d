#pragma once
// The registers and frame translated code relies on, declared once.
//
// While translated code runs: r14 = JitContext*, r15 = CpuState*; every IR value has an 8-byte slot at
// [rsp + 8 * index] (values narrower than 64 bits are stored zero-extended). Values are loaded into scratch
// registers around each IR instruction, so nothing stays in a caller-saved register across a call.
#include <xbyak/xbyak.h>

#include "emu/common/types.h"

namespace emu::cpu::jit::x64 {

inline const Xbyak::Reg64& kCtx = Xbyak::util::r14;
inline const Xbyak::Reg64& kState = Xbyak::util::r15;

// IR values a compiled block may have (its frame); bigger blocks run on the interpreter.
inline constexpr u32 kMaxValues = 2048;
inline constexpr u32 kFrameBytes = kMaxValues * 8;
static_assert(kFrameBytes % 16 == 0);

}  // namespace emu::cpu::jit::x64
