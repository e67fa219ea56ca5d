#include "emu/cpu/interp/interpreter.h"

#include <bit>
#include <cstring>
#include <utility>

#include "emu/common/bits.h"
#include "emu/cpu/ir/emitter.h"
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/exit_request.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::interp {
namespace {

using ir::Inst;
using ir::Opcode;
using ir::Type;

// Execution context of one block run. Op functions return the instruction's value (0 for Void) and set
// `stop` to end the block.
struct Ctx {
    CpuState& state;
    MemoryInterface& memory;
    const u64* values;
    u64 budget;
    const std::atomic<u32>* code_written;
    bool stored = false;  // the current guest instruction stored or called a helper
    u64 retired = 0;
    u64 insn_rip = 0;
    bool stop = false;
    ExitKind exit = ExitKind::Continue;
    std::optional<ir::Fault> fault;

    u64 Arg(const Inst& inst, unsigned i) const {
        const ir::Value& v = inst.args[i];
        return v.is_inst() ? values[v.inst()] : v.imm();
    }
    unsigned Imm(const Inst& inst, unsigned i) const { return static_cast<unsigned>(inst.args[i].imm()); }
    u64& Gpr(const Inst& inst) { return state.gpr[Imm(inst, 0) & 15]; }
    u8* Field(const Inst& inst) { return reinterpret_cast<u8*>(&state) + Imm(inst, 0); }
    // The type of the Int operands (the first argument's).
    Type ArgType(const Inst& inst, unsigned i) const { return inst.args[i].type(); }

    u64 Raise(const ir::Fault& f) {
        fault = f;
        exit = ExitKind::Exception;
        stop = true;
        return 0;
    }
    u64 Exit(ExitKind kind, u64 rip) {
        state.rip = rip;
        exit = kind;
        stop = true;
        return 0;
    }
};

u64 Mask(Type t, u64 v) { return v & ir::MaskOf(t); }
i64 Signed(Type t, u64 v) { return static_cast<i64>(SignExtend(v, ir::BitsOf(t))); }
unsigned Bits(Type t) { return ir::BitsOf(t); }

template <typename T>
u64 ReadField(const u8* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <typename T>
u64 WriteField(u8* p, u64 v) {
    const T t = static_cast<T>(v);
    std::memcpy(p, &t, sizeof t);
    return 0;
}

// --- Guest instruction boundary
u64 ExecGuestInsn(Ctx& c, const Inst& inst) {
    if (c.retired == c.budget) return c.Exit(ExitKind::InstructionLimit, c.Arg(inst, 0));
    if (std::exchange(c.stored, false) && c.code_written != nullptr &&
        (c.code_written->load(std::memory_order_relaxed) & exit_bit::kMidBlock)) {
        return c.Exit(ExitKind::Continue, c.Arg(inst, 0));
    }
    ++c.retired;
    c.insn_rip = c.Arg(inst, 0);
    return 0;
}

// --- Registers and state
u64 ExecGetGpr8(Ctx& c, const Inst& i) { return c.Gpr(i) & 0xFF; }
u64 ExecGetGpr8H(Ctx& c, const Inst& i) { return (c.state.gpr[c.Imm(i, 0) & 3] >> 8) & 0xFF; }
u64 ExecGetGpr16(Ctx& c, const Inst& i) { return c.Gpr(i) & 0xFFFF; }
u64 ExecGetGpr32(Ctx& c, const Inst& i) { return c.Gpr(i) & 0xFFFFFFFF; }
u64 ExecGetGpr64(Ctx& c, const Inst& i) { return c.Gpr(i); }
u64 ExecSetGpr8(Ctx& c, const Inst& i) { c.Gpr(i) = (c.Gpr(i) & ~u64{0xFF}) | c.Arg(i, 1); return 0; }
u64 ExecSetGpr8H(Ctx& c, const Inst& i) {
    u64& r = c.state.gpr[c.Imm(i, 0) & 3];
    r = (r & ~u64{0xFF00}) | (c.Arg(i, 1) << 8);
    return 0;
}
u64 ExecSetGpr16(Ctx& c, const Inst& i) { c.Gpr(i) = (c.Gpr(i) & ~u64{0xFFFF}) | c.Arg(i, 1); return 0; }
u64 ExecSetGpr32(Ctx& c, const Inst& i) { c.Gpr(i) = c.Arg(i, 1); return 0; }
u64 ExecSetGpr64(Ctx& c, const Inst& i) { c.Gpr(i) = c.Arg(i, 1); return 0; }
u64 ExecGetSegBase(Ctx& c, const Inst& i) { return c.state.seg[c.Imm(i, 0) % kNumSegRegs].base; }
u64 ExecGetSegSelector(Ctx& c, const Inst& i) { return c.state.seg[c.Imm(i, 0) % kNumSegRegs].selector; }
u64 ExecGetField8(Ctx& c, const Inst& i) { return ReadField<u8>(c.Field(i)); }
u64 ExecGetField16(Ctx& c, const Inst& i) { return ReadField<u16>(c.Field(i)); }
u64 ExecGetField32(Ctx& c, const Inst& i) { return ReadField<u32>(c.Field(i)); }
u64 ExecGetField64(Ctx& c, const Inst& i) { return ReadField<u64>(c.Field(i)); }
u64 ExecSetField8(Ctx& c, const Inst& i) { return WriteField<u8>(c.Field(i), c.Arg(i, 1)); }
u64 ExecSetField16(Ctx& c, const Inst& i) { return WriteField<u16>(c.Field(i), c.Arg(i, 1)); }
u64 ExecSetField32(Ctx& c, const Inst& i) { return WriteField<u32>(c.Field(i), c.Arg(i, 1)); }
u64 ExecSetField64(Ctx& c, const Inst& i) { return WriteField<u64>(c.Field(i), c.Arg(i, 1)); }

// --- RFLAGS
u64 ExecGetRflags(Ctx& c, const Inst&) { return c.state.rflags; }
u64 ExecSetRflags(Ctx& c, const Inst& i) { c.state.rflags = c.Arg(i, 0); return 0; }
u64 ExecGetFlag(Ctx& c, const Inst& i) { return (c.state.rflags >> c.Imm(i, 0)) & 1; }
u64 ExecSetFlag(Ctx& c, const Inst& i) {
    const u64 bit = u64{1} << c.Imm(i, 0);
    c.state.rflags = (c.state.rflags & ~bit) | (c.Arg(i, 1) ? bit : 0);
    return 0;
}
u64 ExecGetCond(Ctx& c, const Inst& i) { return ir::EvalCond(c.Imm(i, 0), c.state.rflags); }
u64 ExecSetFlags(Ctx& c, const Inst& i) {
    c.state.rflags = ir::ComputeFlags(static_cast<ir::FlagOp>(c.Imm(i, 0)), c.ArgType(i, 1), c.Arg(i, 1),
                                      c.Arg(i, 2), c.Arg(i, 3), c.Arg(i, 4) != 0, c.state.rflags);
    return 0;
}

// --- Arithmetic (results masked to the instruction's type)
u64 ExecAdd(Ctx& c, const Inst& i) { return Mask(i.type, c.Arg(i, 0) + c.Arg(i, 1)); }
u64 ExecSub(Ctx& c, const Inst& i) { return Mask(i.type, c.Arg(i, 0) - c.Arg(i, 1)); }
u64 ExecAnd(Ctx& c, const Inst& i) { return c.Arg(i, 0) & c.Arg(i, 1); }
u64 ExecOr(Ctx& c, const Inst& i) { return c.Arg(i, 0) | c.Arg(i, 1); }
u64 ExecXor(Ctx& c, const Inst& i) { return c.Arg(i, 0) ^ c.Arg(i, 1); }
u64 ExecNot(Ctx& c, const Inst& i) { return Mask(i.type, ~c.Arg(i, 0)); }
u64 ExecNeg(Ctx& c, const Inst& i) { return Mask(i.type, u64{0} - c.Arg(i, 0)); }
u64 ExecShl(Ctx& c, const Inst& i) {
    const u64 n = c.Arg(i, 1);
    return n >= Bits(i.type) ? 0 : Mask(i.type, c.Arg(i, 0) << n);
}
u64 ExecShr(Ctx& c, const Inst& i) {
    const u64 n = c.Arg(i, 1);
    return n >= Bits(i.type) ? 0 : c.Arg(i, 0) >> n;
}
u64 ExecSar(Ctx& c, const Inst& i) {
    const u64 n = std::min<u64>(c.Arg(i, 1), Bits(i.type) - 1);
    return Mask(i.type, static_cast<u64>(Signed(i.type, c.Arg(i, 0)) >> n));
}
u64 Rotate(Type t, u64 v, unsigned left) {
    const unsigned bits = Bits(t);
    left %= bits;
    return left == 0 ? v : Mask(t, (v << left) | (v >> (bits - left)));
}
u64 ExecRol(Ctx& c, const Inst& i) {
    return Rotate(i.type, c.Arg(i, 0), static_cast<unsigned>(c.Arg(i, 1) % Bits(i.type)));
}
u64 ExecRor(Ctx& c, const Inst& i) {
    const unsigned bits = Bits(i.type);
    return Rotate(i.type, c.Arg(i, 0), static_cast<unsigned>(bits - c.Arg(i, 1) % bits));
}
u64 ExecMul(Ctx& c, const Inst& i) { return Mask(i.type, c.Arg(i, 0) * c.Arg(i, 1)); }
u64 ExecUMulHi(Ctx& c, const Inst& i) {
    const u128 p = static_cast<u128>(c.Arg(i, 0)) * c.Arg(i, 1);
    return Mask(i.type, static_cast<u64>(p >> Bits(i.type)));
}
u64 ExecSMulHi(Ctx& c, const Inst& i) {
    const i128 p = static_cast<i128>(Signed(i.type, c.Arg(i, 0))) * Signed(i.type, c.Arg(i, 1));
    return Mask(i.type, static_cast<u64>(p >> Bits(i.type)));
}
u64 ExecByteSwap(Ctx& c, const Inst& i) { return __builtin_bswap64(c.Arg(i, 0)) >> (64 - Bits(i.type)); }
u64 ExecPopCount(Ctx& c, const Inst& i) { return static_cast<u64>(std::popcount(c.Arg(i, 0))); }
u64 ExecCountLeadingZeros(Ctx& c, const Inst& i) {
    const u64 v = c.Arg(i, 0);
    return v == 0 ? Bits(i.type) : static_cast<u64>(std::countl_zero(v)) - (64 - Bits(i.type));
}
u64 ExecCountTrailingZeros(Ctx& c, const Inst& i) {
    const u64 v = c.Arg(i, 0);
    return v == 0 ? Bits(i.type) : static_cast<u64>(std::countr_zero(v));
}

// --- Comparisons
u64 ExecCmpEq(Ctx& c, const Inst& i) { return c.Arg(i, 0) == c.Arg(i, 1); }
u64 ExecCmpNe(Ctx& c, const Inst& i) { return c.Arg(i, 0) != c.Arg(i, 1); }
u64 ExecCmpULt(Ctx& c, const Inst& i) { return c.Arg(i, 0) < c.Arg(i, 1); }
u64 ExecCmpULe(Ctx& c, const Inst& i) { return c.Arg(i, 0) <= c.Arg(i, 1); }
u64 ExecCmpSLt(Ctx& c, const Inst& i) {
    return Signed(c.ArgType(i, 0), c.Arg(i, 0)) < Signed(c.ArgType(i, 0), c.Arg(i, 1));
}
u64 ExecCmpSLe(Ctx& c, const Inst& i) {
    return Signed(c.ArgType(i, 0), c.Arg(i, 0)) <= Signed(c.ArgType(i, 0), c.Arg(i, 1));
}
u64 ExecSelect(Ctx& c, const Inst& i) { return c.Arg(i, 0) ? c.Arg(i, 1) : c.Arg(i, 2); }
u64 ExecAndU1(Ctx& c, const Inst& i) { return c.Arg(i, 0) & c.Arg(i, 1); }
u64 ExecOrU1(Ctx& c, const Inst& i) { return c.Arg(i, 0) | c.Arg(i, 1); }
u64 ExecNotU1(Ctx& c, const Inst& i) { return c.Arg(i, 0) ^ 1; }

// --- Width changes
u64 ExecZeroExtend(Ctx& c, const Inst& i) { return c.Arg(i, 0); }
u64 ExecSignExtend(Ctx& c, const Inst& i) { return Mask(i.type, SignExtend(c.Arg(i, 0), Bits(c.ArgType(i, 0)))); }
u64 ExecTruncate(Ctx& c, const Inst& i) { return Mask(i.type, c.Arg(i, 0)); }

// --- Memory
ir::Fault FaultOf(const MemFault& f) {
    return ir::Fault{f.vector, ir::HasErrorCode(f.vector), f.error_code, f.cr2, false, 0};
}
// Outside 64-bit mode linear addresses are below 4 GiB, so the check only ever fires in 64-bit mode.
// TODO(interp): 57-bit canonical form under CR4.LA57.
bool NonCanonical(Ctx& c, u64 linear, unsigned flags) {
    if (IsCanonical(linear)) return false;
    c.Raise(ir::MakeFault((flags & ir::mem_flags::Stack) ? vec::SS : vec::GP, 0));
    return true;
}
u64 ExecLoad(Ctx& c, const Inst& i) {
    const u64 linear = c.Arg(i, 0);
    const unsigned flags = c.Imm(i, 1);
    if (NonCanonical(c, linear, flags)) return 0;
    u64 v = 0;  // little-endian host: the low bytes of v receive the value
    MemFault f;
    const MemAccess access = (flags & ir::mem_flags::WriteIntent) ? MemAccess::Write : MemAccess::Read;
    if (!c.memory.Read(c.state, linear, &v, Bits(i.type) / 8, access, c.state.cpl() == 3, &f)) {
        return c.Raise(FaultOf(f));
    }
    return v;
}
u64 ExecStore(Ctx& c, const Inst& i) {
    c.stored = true;
    const u64 linear = c.Arg(i, 0);
    if (NonCanonical(c, linear, c.Imm(i, 2))) return 0;
    const u64 v = c.Arg(i, 1);
    MemFault f;
    if (!c.memory.Write(c.state, linear, &v, Bits(c.ArgType(i, 1)) / 8, c.state.cpl() == 3, &f)) {
        return c.Raise(FaultOf(f));
    }
    return 0;
}

// --- Calls and exceptions
u64 ExecCallHelper(Ctx& c, const Inst& i) {
    c.stored = true;  // a helper may store (string instructions, descriptor updates)
    ir::HelperEnv env{c.state, c.memory, std::nullopt};
    const u64 r = i.args[0].helper()->fn(env, c.Arg(i, 1), c.Arg(i, 2), c.Arg(i, 3));
    if (env.fault) return c.Raise(*env.fault);
    return r;
}
u64 ExecRaiseException(Ctx& c, const Inst& i) {
    return c.Raise(ir::MakeFault(static_cast<u8>(c.Imm(i, 0)), static_cast<u32>(c.Arg(i, 1))));
}
u64 ExecRaiseExceptionIf(Ctx& c, const Inst& i) {
    if (!c.Arg(i, 0)) return 0;
    return c.Raise(ir::MakeFault(static_cast<u8>(c.Imm(i, 1)), static_cast<u32>(c.Arg(i, 2))));
}

// --- Terminators
u64 ExecExitConst(Ctx& c, const Inst& i) { return c.Exit(ExitKind::Continue, c.Arg(i, 0)); }
u64 ExecExitCond(Ctx& c, const Inst& i) { return c.Exit(ExitKind::Continue, c.Arg(i, 0) ? c.Arg(i, 1) : c.Arg(i, 2)); }
u64 ExecExitIndirect(Ctx& c, const Inst& i) { return c.Exit(ExitKind::Continue, c.Arg(i, 0)); }
u64 ExecExitHalt(Ctx& c, const Inst& i) {
    c.state.halted = true;
    return c.Exit(ExitKind::Halted, c.Arg(i, 0));
}
u64 ExecExitToDispatcher(Ctx& c, const Inst& i) { return c.Exit(ExitKind::Continue, c.Arg(i, 0)); }
u64 ExecNop(Ctx&, const Inst&) { return 0; }

u64 Dispatch(Ctx& c, const Inst& inst) {
    switch (inst.op) {
#define OPCODE(name, ...) \
    case Opcode::name: return Exec##name(c, inst);
#include "emu/cpu/ir/opcodes.inc"
#undef OPCODE
        case Opcode::Count: break;
    }
    return 0;
}

}  // namespace

ExecResult Interpreter::Execute(const ir::Block& block, CpuState& state, MemoryInterface& memory, u64 budget,
                                const std::atomic<u32>* code_written) {
    values_.resize(block.size());
    Ctx c{state, memory, values_.data(), budget, code_written};
    const std::vector<Inst>& insts = block.insts();
    for (u32 n = 0; n < insts.size(); ++n) {
        values_[n] = Dispatch(c, insts[n]);
        if (c.stop) break;
    }
    ExecResult result{c.exit, c.retired, c.fault};
    if (c.exit == ExitKind::Exception) {
        if (c.fault->software) {
            state.rip = c.fault->next_rip;
        } else {
            state.rip = c.insn_rip;
            if (result.instructions > 0) --result.instructions;  // the faulting instruction did not retire
        }
    }
    return result;
}

}  // namespace emu::cpu::interp
