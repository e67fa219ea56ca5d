#pragma once
// IR passes: free functions, one per file. Each file states the invariant it relies on.
#include <string>
#include <vector>

#include "emu/cpu/ir/block.h"

namespace emu::cpu::ir {

// For each instruction, whether the block may stop right before it without an exception: a GuestInsn after an
// instruction that stored (stop_points.cpp). Passes treat these like instructions that may raise.
std::vector<bool> StopPoints(const Block& block);

// For each instruction, the status flags (rflags::Arith) that something after it may still observe: a read, the
// block's end, anything that may raise or a stop point; flag_liveness.cpp.
std::vector<u64> LiveFlagsAfter(const Block& block);
// Removes SetFlags/SetFlag whose flags are overwritten before anything reads them or anything may raise.
void FlagLivenessPass(Block& block);
// Forwards GPR values from SetGpr/GetGpr to later GetGpr of the same width; drops overwritten SetGpr.
void GetSetEliminationPass(Block& block);
// Replaces the uses of pure integer operations on immediates by the immediate result.
void ConstantFoldingPass(Block& block);
// Removes instructions without side effects whose results are unused, then compacts the block.
void DeadCodeEliminationPass(Block& block);

// Checks the block's structural invariants (types against opcodes.inc, SSA order, one terminator last).
// Returns false with a message in *error.
bool Verify(const Block& block, std::string* error);
// Verify, aborting with the message and the block on failure.
void VerificationPass(const Block& block);

// Whether Optimize runs VerificationPass before and after every pass. It costs about as much as the passes, and
// every translation runs them, so the product leaves it off; it is on in debug builds and whenever the
// environment sets EMU64_VERIFY_IR=1 (the test suite does).
bool PassVerificationEnabled();
void SetPassVerification(bool enabled);

// The standard pipeline the translator runs on each block.
void Optimize(Block& block);

}  // namespace emu::cpu::ir
