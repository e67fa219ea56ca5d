#pragma once
// The emulator runner's bridge between an FXSAVE64 image (case.h) and the CpuState x87/SSE fields. Written from
// the SDM (Vol. 1 10.5.1, Table 10-2; the abridged tag and its expansion: FXRSTOR's tag recomputation) and kept
// independent of the emulator's own FXSAVE/FXRSTOR helpers, so that those are tested rather than reused.
#include <array>

#include "emu/cpu/state/cpu_state.h"
#include "tests/diff/case.h"

namespace emu::diff {

// The 2-bit tag FXRSTOR derives for a non-empty register: 00 valid, 01 zero, 10 special.
unsigned TagFromValue(const cpu::Float80& v);

// Loads FCW, FSW, the tag word, ST/MM registers (image order ST(0)..ST(7)), MXCSR and XMM0-15 from `image`.
// FOP/FIP/FDP are loaded as FXRSTOR64 does (64-bit FIP/FDP, FCS/FDS zero).
void LoadFx(const std::array<u8, kFxSize>& image, cpu::CpuState& state);

// Stores the state as an FXSAVE64 image; MXCSR_MASK and the reserved/available bytes stay zero.
void StoreFx(const cpu::CpuState& state, std::array<u8, kFxSize>& image);

}  // namespace emu::diff
