// The standard pass pipeline. Invariant: the input verifies; each pass keeps it verifying (checked after
// every pass when PassVerificationEnabled()).
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {
namespace {

bool VerificationFromEnvironment() {
#ifdef EMU_IR_VERIFY_BY_DEFAULT
    constexpr bool kDefault = true;
#else
    constexpr bool kDefault = false;
#endif
    const char* v = std::getenv("EMU64_VERIFY_IR");
    if (v == nullptr || *v == '\0') return kDefault;
    return std::strcmp(v, "0") != 0;
}

std::atomic<bool> g_verify{VerificationFromEnvironment()};

void CheckIfEnabled(const Block& block) {
    if (g_verify.load(std::memory_order_relaxed)) VerificationPass(block);
}

}  // namespace

bool PassVerificationEnabled() { return g_verify.load(std::memory_order_relaxed); }
void SetPassVerification(bool enabled) { g_verify.store(enabled, std::memory_order_relaxed); }

void Optimize(Block& block) {
    CheckIfEnabled(block);
    GetSetEliminationPass(block);
    CheckIfEnabled(block);
    ConstantFoldingPass(block);
    CheckIfEnabled(block);
    FlagLivenessPass(block);
    CheckIfEnabled(block);
    DeadCodeEliminationPass(block);
    CheckIfEnabled(block);
}

}  // namespace emu::cpu::ir
