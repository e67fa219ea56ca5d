// The out-of-line half of translated code: memory accesses that miss the inline soft-TLB path, helper calls,
// exceptions and the flag kinds the emitter does not compute with host instructions. Each does exactly what the
// interpreter does for the same IR instruction (interp/interpreter.cpp is the reference).
#include "emu/common/bits.h"
#include "emu/cpu/ir/emitter.h"
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/jit/context.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::jit {
namespace {

void RecordFault(JitContext* ctx, const ir::Fault& fault) {
    ctx->fault = fault;
    ctx->fault_pending = 1;
}

ir::Fault FaultOf(const MemFault& f) {
    return ir::Fault{f.vector, ir::HasErrorCode(f.vector), f.error_code, f.cr2, false, 0};
}

// Outside 64-bit mode linear addresses are below 4 GiB, so this only fires in 64-bit mode.
bool NonCanonical(JitContext* ctx, u64 linear, unsigned flags) {
    if (IsCanonical(linear)) return false;
    RecordFault(ctx, ir::MakeFault((flags & ir::mem_flags::Stack) ? vec::SS : vec::GP, 0));
    return true;
}

}  // namespace

extern "C" u64 JitLoadSlow(JitContext* ctx, u64 linear, u32 size_and_flags) {
    const unsigned size = size_and_flags & 0xFF;
    const unsigned flags = size_and_flags >> 8;
    if (NonCanonical(ctx, linear, flags)) return 0;
    u64 value = 0;
    MemFault f;
    const MemAccess access = (flags & ir::mem_flags::WriteIntent) ? MemAccess::Write : MemAccess::Read;
    if (!ctx->memory->Read(*ctx->state, linear, &value, size, access, ctx->state->cpl() == 3, &f)) {
        RecordFault(ctx, FaultOf(f));
        return 0;
    }
    return value;
}

extern "C" void JitStoreSlow(JitContext* ctx, u64 linear, u64 value, u32 size_and_flags) {
    const unsigned size = size_and_flags & 0xFF;
    if (NonCanonical(ctx, linear, size_and_flags >> 8)) return;
    MemFault f;
    if (!ctx->memory->Write(*ctx->state, linear, &value, size, ctx->state->cpl() == 3, &f)) {
        RecordFault(ctx, FaultOf(f));
    }
}

extern "C" u64 JitCallHelper(JitContext* ctx, const ir::HelperInfo* helper, u64 a, u64 b, u64 c) {
    ir::HelperEnv env{*ctx->state, *ctx->memory, std::nullopt, ctx->tlb_supervisor, ctx->tlb_user};
    const u64 result = helper->fn(env, a, b, c);
    if (env.fault) {
        RecordFault(ctx, *env.fault);
        return 0;
    }
    return result;
}

extern "C" void JitRaise(JitContext* ctx, u32 vector, u32 error_code) {
    RecordFault(ctx, ir::MakeFault(static_cast<u8>(vector), error_code));
}

extern "C" u64 JitComputeFlags(u32 kind_and_type, u64 a, u64 b, u64 result, u64 carry_in, u64 old_rflags) {
    return ir::ComputeFlags(static_cast<ir::FlagOp>(kind_and_type & 0xFF), static_cast<ir::Type>(kind_and_type >> 8),
                            a, b, result, carry_in != 0, old_rflags);
}

}  // namespace emu::cpu::jit
