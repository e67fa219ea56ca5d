#pragma once
// The registers and frame translated code relies on, declared once.
//
// While translated code runs: r14 = JitContext*, r15 = CpuState*, r13 = the guest RFLAGS, r12 = the budget. IR values (zero-extended when narrower than 64
// bits) live in the value registers below from definition to last use, or in an 8-byte frame slot at
// [rsp + 8 * index] when spilled. rax, rcx, rdx, rsi and rdi are scratch: emit functions compute in them and
// pass C arguments in them. Before a call into C, values in caller-saved value registers are spilled (main path) or
// pushed around the call (slow paths).
#include <xbyak/xbyak.h>

#include <iterator>

#include "emu/common/types.h"

namespace emu::cpu::jit::x64 {

inline const Xbyak::Reg64& kCtx = Xbyak::util::r14;
inline const Xbyak::Reg64& kState = Xbyak::util::r15;
// The guest's RFLAGS while translated code runs: loaded by the entry thunk, carried across chained and probed jumps,
// stored back to CpuState::rflags by the epilogue and before every call into C (calls that may change it are followed
// by a reload). Status-flag writes and condition tests then stay in registers.
inline const Xbyak::Reg64& kFlags = Xbyak::util::r13;

// JitContext::budget while translated code runs (loaded by the entry thunk, stored by the epilogue): every block
// entry subtracts its length, and a register keeps that off a store-to-load chain through memory from block to block.
inline const Xbyak::Reg64& kBudget = Xbyak::util::r12;

inline const Xbyak::Reg64 kValueRegs[] = {Xbyak::util::rbx, Xbyak::util::rbp, Xbyak::util::r10,
                                          Xbyak::util::r11, Xbyak::util::r8,  Xbyak::util::r9};
// An even number, so that pushing them all around a call keeps rsp 16-byte aligned.
inline const Xbyak::Reg64 kCallerSavedValueRegs[] = {Xbyak::util::r10, Xbyak::util::r11, Xbyak::util::r8,
                                                     Xbyak::util::r9};
static_assert(std::size(kCallerSavedValueRegs) % 2 == 0);

// IR values a compiled block may have (its frame); bigger blocks run on the interpreter.
inline constexpr u32 kMaxValues = 2048;
inline constexpr u32 kFrameBytes = kMaxValues * 8;
static_assert(kFrameBytes % 16 == 0);

}  // namespace emu::cpu::jit::x64
