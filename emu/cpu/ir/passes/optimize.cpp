// The standard pass pipeline. Invariant: the input verifies; each pass keeps it verifying (checked after
// every pass in debug builds).
#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {
namespace {

void CheckInDebug([[maybe_unused]] const Block& block) {
#ifndef NDEBUG
    VerificationPass(block);
#endif
}

}  // namespace

void Optimize(Block& block) {
    CheckInDebug(block);
    GetSetEliminationPass(block);
    CheckInDebug(block);
    FlagLivenessPass(block);
    CheckInDebug(block);
    DeadCodeEliminationPass(block);
    CheckInDebug(block);
}

}  // namespace emu::cpu::ir
