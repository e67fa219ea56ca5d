// IR block -> host x86-64 code. One Emit function per IR opcode (dispatched from opcodes.inc); values live in frame
// slots (abi.h) and each instruction works in scratch registers. The same-ISA advantages taken here: ALU operations
// are single host instructions, and the status flags of the common SetFlags kinds come from running the host
// instruction itself (pushfq) instead of recomputing them bit by bit.
//
// Exact equality with the interpreter is the contract: every Emit function documents nothing beyond
// interp/interpreter.cpp, which defines the semantics.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "emu/common/disasm.h"
#include "emu/common/log.h"
#include "emu/cpu/ir/emitter.h"
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/ir/passes/passes.h"
#include "emu/cpu/jit/jit.h"
#include "emu/cpu/jit/x64/abi.h"
#include "emu/cpu/simd/simd.h"
#include "mmu/softtlb/softtlb.h"

namespace emu::cpu::jit {

using namespace Xbyak::util;
using ir::Inst;
using ir::Opcode;
using ir::Type;
using ir::Value;
using Xbyak::Label;
using Xbyak::Reg;
using Xbyak::Reg64;
using HelperInfoPtr = const ir::HelperInfo*;

namespace {

constexpr u32 OffsetOfGpr(unsigned n) { return static_cast<u32>(offsetof(CpuState, gpr) + 8 * (n & 15)); }
constexpr u32 kRipOffset = offsetof(CpuState, rip);
constexpr u32 kRflagsOffset = offsetof(CpuState, rflags);
constexpr u32 kHaltedOffset = offsetof(CpuState, halted);
u32 SegBaseOffset(unsigned n) {
    return static_cast<u32>(offsetof(CpuState, seg) + sizeof(Segment) * (n % kNumSegRegs) + offsetof(Segment, base));
}
u32 SegSelectorOffset(unsigned n) {
    return static_cast<u32>(offsetof(CpuState, seg) + sizeof(Segment) * (n % kNumSegRegs) +
                            offsetof(Segment, selector));
}
constexpr u32 kExitRequestOffset = offsetof(JitContext, exit_request);
constexpr u32 kFaultPendingOffset = offsetof(JitContext, fault_pending);
constexpr u32 kBudgetOffset = offsetof(JitContext, budget);
constexpr u32 kExitSlotOffset = offsetof(JitContext, exit_slot);

unsigned Bits(Type t) { return ir::BitsOf(t); }

// The register of `r` at `bits` wide (8, 16, 32, 64); U1 values use the 8-bit form.
Reg Sized(const Reg64& r, unsigned bits) {
    switch (bits) {
        case 1:
        case 8: return r.cvt8();
        case 16: return r.cvt16();
        case 32: return r.cvt32();
        default: return r;
    }
}

}  // namespace

// --- The code buffer and the shared entry/exit thunk -------------------------------------------------------------

struct Jit::Impl : Xbyak::CodeGenerator {
    Impl(size_t bytes, bool perf_map, const mmu::TlbEntry* tlb_supervisor, const mmu::TlbEntry* tlb_user)
        : Xbyak::CodeGenerator(bytes), perf_map_enabled(perf_map), jump_cache(size_t{1} << kJumpCacheBits) {
        EmitThunk();
        if (tlb_supervisor != nullptr) probe[0] = EmitProbe(tlb_supervisor);
        if (tlb_user != nullptr) probe[1] = EmitProbe(tlb_user);
        align(16);
        thunk_size = getSize();
    }

    using EnterFn = u32 (*)(JitContext*, CpuState*, const u8*);
    EnterFn enter = nullptr;
    const u8* epilogue = nullptr;
    size_t thunk_size = 0;
    bool perf_map_enabled = false;
    std::FILE* perf_map = nullptr;
    std::vector<JumpCacheEntry> jump_cache;  // sized once: translated code holds its address
    const u8* probe[2] = {nullptr, nullptr};  // jump-cache probes through the supervisor and the user code TLB

    void EmitThunk() {
        enter = getCurr<EnterFn>();
        push(rbx);
        push(rbp);
        push(r12);
        push(r13);
        push(r14);
        push(r15);
        sub(rsp, x64::kFrameBytes + 8);
        mov(x64::kCtx, rdi);
        mov(x64::kState, rsi);
        jmp(rdx);
        align(16);
        epilogue = getCurr();
        add(rsp, x64::kFrameBytes + 8);
        pop(r15);
        pop(r14);
        pop(r13);
        pop(r12);
        pop(rbp);
        pop(rbx);
        ret();
        align(16);
    }

    // The jump-cache probe shared by the blocks of one privilege (QEMU's lookup_and_goto_ptr): rax = the target RIP
    // (already in state.rip), rdx = the mode key the target must have, rsi = the ExitSlot to report for linking, or
    // 0. Jumps into the target's block if the jump cache has one for that key whose bytes the code TLB still maps
    // RIP to; otherwise leaves with JitExit::Link (rsi set) or Continue. Clobbers rcx and rdi.
    const u8* EmitProbe(const mmu::TlbEntry* table) {
        align(16);
        const u8* start = getCurr();
        Label miss, cont;
        mov(rcx, rax);
        shr(rcx, kJumpCacheBits);
        xor_(rcx, rax);
        and_(ecx, static_cast<u32>((u64{1} << kJumpCacheBits) - 1));
        shl(ecx, 5);
        static_assert(sizeof(JumpCacheEntry) == 32);
        mov(rdi, reinterpret_cast<u64>(jump_cache.data()));
        add(rcx, rdi);
        cmp(rax, qword[rcx + offsetof(JumpCacheEntry, rip)]);
        jne(miss, T_NEAR);
        cmp(rdx, qword[rcx + offsetof(JumpCacheEntry, key)]);
        jne(miss, T_NEAR);
        // rdx = the code-TLB entry for RIP's page: it must map RIP to the block's bytes
        mov(rdx, rax);
        shr(rdx, kPageShift - mmu::kTlbEntryShift);
        and_(edx, static_cast<u32>((mmu::SoftTlb::kEntries - 1) << mmu::kTlbEntryShift));
        mov(rdi, reinterpret_cast<u64>(table));
        add(rdx, rdi);
        mov(rdi, rax);
        and_(rdi, static_cast<u32>(~kPageMask));
        cmp(rdi, qword[rdx + offsetof(mmu::TlbEntry, addr_code)]);
        jne(miss, T_NEAR);
        mov(rdi, qword[rdx + offsetof(mmu::TlbEntry, addend)]);
        add(rdi, rax);
        cmp(rdi, qword[rcx + offsetof(JumpCacheEntry, host_pc)]);
        jne(miss, T_NEAR);
        jmp(qword[rcx + offsetof(JumpCacheEntry, entry)]);
        L(miss);
        test(rsi, rsi);
        jz(cont, T_NEAR);
        mov(qword[x64::kCtx + offsetof(JitContext, exit_slot)], rsi);
        mov(eax, static_cast<u32>(JitExit::Link));
        jmp(epilogue, T_NEAR);
        L(cont);
        xor_(eax, eax);
        jmp(epilogue, T_NEAR);
        return start;
    }

    void WritePerfMap(const CompiledBlock& b) {
        if (!perf_map_enabled) return;
        if (perf_map == nullptr) {
            perf_map = std::fopen(fmt::format("/tmp/perf-{}.map", getpid()).c_str(), "a");
            if (perf_map == nullptr) {
                perf_map_enabled = false;
                return;
            }
        }
        std::fprintf(perf_map, "%lx %zx guest_%llx\n", reinterpret_cast<unsigned long>(b.entry), b.code_size,
                     static_cast<unsigned long long>(b.rip));
        std::fflush(perf_map);
    }
};

// --- One block --------------------------------------------------------------------------------------------------

namespace {

class BlockEmitter {
public:
    BlockEmitter(Xbyak::CodeGenerator& c, const u8* epilogue, const ir::Block& block, const CompileInfo& info,
                 CompiledBlock& out, const u8* probe)
        : c_(c), epilogue_(epilogue), block_(block), info_(info), out_(out), probe_(probe) {}

    void Emit();

private:
    // Values. Each IR value lives in a pool register (x64::kValueRegs) from its definition to its last use, or in its
    // frame slot once spilled; emit functions copy arguments into scratch registers and hand their result back with
    // Result, so only Load, Result and the call sites know where values are.
    Xbyak::Address Slot(u32 index) const { return c_.qword[rsp + 8 * index]; }
    void Load(const Reg64& r, const Value& v) {
        if (v.is_imm()) {
            LoadImm(r, v.imm());
        } else if (const int reg = reg_of_[v.inst()]; reg >= 0) {
            if (reg != r.getIdx()) c_.mov(r, Reg64(reg));
        } else {
            c_.mov(r, Slot(v.inst()));
        }
    }
    void LoadImm(const Reg64& r, u64 imm) {
        if (imm <= 0xFFFFFFFFu) {
            c_.mov(r.cvt32(), static_cast<u32>(imm));
        } else {
            c_.mov(r, imm);
        }
    }
    void LoadArg(const Reg64& r, const Inst& i, unsigned n) { Load(r, i.args[n]); }
    void Result(const Reg64& r);
    // The register the current instruction's result goes to (allocated now; rax if nothing reads the result).
    // Arguments stay in their registers until the instruction is done, so the result never shares one.
    Reg64 Def();
    // The register holding value `v`, loading it into `scratch` if it is an immediate or in a slot.
    Reg64 InReg(const Value& v, const Reg64& scratch) {
        if (v.is_inst() && reg_of_[v.inst()] >= 0) return Reg64(reg_of_[v.inst()]);
        Load(scratch, v);
        return scratch;
    }
    // An immediate that fits a sign-extended imm32 (ALU instructions' immediate form).
    static bool IsSimm32(const Value& v) { return v.is_imm() && static_cast<i64>(v.imm()) == static_cast<i32>(v.imm()); }
    // dst = a op b for the two-operand ALU forms, straight into the result register.
    template <typename Op>
    void EmitAlu(const Inst& i, Op op, bool mask);
    // Moves the values held in caller-saved pool registers to their slots (before a call into C).
    void SpillCallerSaved();
    // Frees the registers of the current instruction's arguments that it used last.
    void ReleaseArgs(const Inst& i);
    // Masks rax to `t` (after a 64-bit operation on zero-extended inputs).
    void MaskTo(const Reg64& r, Type t) {
        switch (Bits(t)) {
            case 1: c_.and_(r.cvt32(), 1); break;
            case 8: c_.movzx(r.cvt32(), r.cvt8()); break;
            case 16: c_.movzx(r.cvt32(), r.cvt16()); break;
            case 32: c_.mov(r.cvt32(), r.cvt32()); break;
            default: break;
        }
    }
    void SignExtendTo64(const Reg64& r, Type t) {
        switch (Bits(t)) {
            case 1: c_.neg(r); break;  // 0 or 1 -> 0 or all ones
            case 8: c_.movsx(r, r.cvt8()); break;
            case 16: c_.movsx(r, r.cvt16()); break;
            case 32: c_.movsxd(r, r.cvt32()); break;
            default: break;
        }
    }
    static u32 Imm32(const Inst& i, unsigned n) { return static_cast<u32>(i.args[n].imm()); }

    // Far code: emitted after the block's main path.
    Label& NewLabel() { return labels_.emplace_back(); }
    void Far(std::function<void()> f) { far_.push_back(std::move(f)); }

    // Writes the RFLAGS register back (before leaving the block or calling C) and reloads it (after a call that may
    // have changed it).
    void StoreFlags() { c_.mov(c_.qword[x64::kState + kRflagsOffset], x64::kFlags); }
    void ReloadFlags() { c_.mov(x64::kFlags, c_.qword[x64::kState + kRflagsOffset]); }
    // Leaves for the dispatcher with `exit` in eax, state.rip = rip (RFLAGS already stored).
    void ExitWith(JitExit exit, u64 rip) {
        LoadImm(rax, rip);
        c_.mov(c_.qword[x64::kState + kRipOffset], rax);
        c_.mov(eax, static_cast<u32>(exit));
        c_.jmp(epilogue_, Xbyak::CodeGenerator::T_NEAR);
    }
    // The exception exit of the current guest instruction: the instructions from it on did not retire.
    Label& ExceptionExit() {
        if (exception_exit_ != nullptr) return *exception_exit_;
        Label& l = NewLabel();
        exception_exit_ = &l;
        const u32 unrun = block_.guest_insns() - insn_index_;
        const u64 rip = insn_rip_;
        Far([this, &l, unrun, rip] {
            c_.L(l);
            StoreFlags();
            c_.add(c_.qword[x64::kCtx + kBudgetOffset], unrun);
            ExitWith(JitExit::Exception, rip);
        });
        return l;
    }
    // After a call into C that may raise: `exit` is the calling guest instruction's ExceptionExit().
    void CheckFault(Label& exit) {
        c_.cmp(c_.dword[x64::kCtx + kFaultPendingOffset], 0);
        c_.jne(exit, Xbyak::CodeGenerator::T_NEAR);
    }
    // Calls a C function; arguments already in rdi, rsi, rdx, rcx, r8, r9. rsp is 16-byte aligned in block code.
    template <typename F>
    void CallC(F* fn) {
        c_.mov(rax, reinterpret_cast<u64>(fn));
        c_.call(rax);
    }

#define OPCODE(name, ...) void Emit##name(const Inst& i);
#include "emu/cpu/ir/opcodes.inc"
#undef OPCODE
    void Dispatch(const Inst& i);
    void EmitEntry();
    void EmitDirectExit(unsigned slot, u64 target);
    void EmitShift(const Inst& i);
    void EmitSetFlagsNative(const Inst& i, ir::FlagOp kind);
    void EmitShiftFlagsConst(const Inst& i, ir::FlagOp kind, u64 count);
    bool EmitSimdInline(const Inst& i);
    void EmitMemAccess(const Inst& i, bool store);
    void EmitCompare(const Inst& i, bool is_signed, void (Xbyak::CodeGenerator::*setcc)(const Xbyak::Operand&));

    Xbyak::CodeGenerator& c_;
    const u8* epilogue_;
    const ir::Block& block_;
    const CompileInfo& info_;
    CompiledBlock& out_;
    const u8* probe_;  // the jump-cache probe thunk for this block's privilege, or null (64-bit mode and a TLB only)
    std::deque<Label> labels_;
    std::vector<std::function<void()>> far_;
    u32 current_ = 0;          // IR instruction being emitted
    u32 insn_index_ = 0;       // guest instructions before the current one
    u64 insn_rip_ = 0;
    bool insn_started_ = false;
    bool may_write_code_ = false;  // the current guest instruction stores (or calls a helper that may)
    Label* exception_exit_ = nullptr;
    // Register allocation state.
    std::vector<u32> last_use_;        // per value: the last instruction that reads it (its own index if none does)
    std::vector<int> reg_of_;          // per value: the host register holding it, or -1 (slot or not yet defined)
    std::array<int, 16> owner_;        // per host register: the value it holds, or -1
};

void BlockEmitter::Result(const Reg64& r) {
    if (last_use_[current_] == current_) return;  // nothing reads it
    c_.mov(Def(), r);
}

Reg64 BlockEmitter::Def() {
    if (last_use_[current_] == current_) return rax;  // nothing reads it: compute into scratch
    int chosen = -1;
    for (const Reg64& reg : x64::kValueRegs) {
        if (owner_[reg.getIdx()] < 0) {
            chosen = reg.getIdx();
            break;
        }
    }
    if (chosen < 0) {
        // Spill the value whose last use is farthest away.
        u32 farthest = 0;
        for (const Reg64& reg : x64::kValueRegs) {
            const u32 v = static_cast<u32>(owner_[reg.getIdx()]);
            if (chosen < 0 || last_use_[v] > farthest) {
                chosen = reg.getIdx();
                farthest = last_use_[v];
            }
        }
        const u32 victim = static_cast<u32>(owner_[chosen]);
        c_.mov(Slot(victim), Reg64(chosen));
        reg_of_[victim] = -1;
    }
    owner_[chosen] = static_cast<int>(current_);
    reg_of_[current_] = chosen;
    return Reg64(chosen);
}

void BlockEmitter::SpillCallerSaved() {
    for (const Reg64& reg : x64::kCallerSavedValueRegs) {
        const int v = owner_[reg.getIdx()];
        if (v < 0) continue;
        c_.mov(Slot(static_cast<u32>(v)), reg);
        reg_of_[static_cast<u32>(v)] = -1;
        owner_[reg.getIdx()] = -1;
    }
}

void BlockEmitter::ReleaseArgs(const Inst& i) {
    for (unsigned n = 0; n < i.num_args; ++n) {
        const Value& v = i.args[n];
        if (!v.is_inst() || last_use_[v.inst()] != current_) continue;
        if (const int reg = reg_of_[v.inst()]; reg >= 0) {
            owner_[reg] = -1;
            reg_of_[v.inst()] = -1;
        }
    }
}

void BlockEmitter::Emit() {
    const auto& insts = block_.insts();
    last_use_.resize(insts.size());
    reg_of_.assign(insts.size(), -1);
    owner_.fill(-1);
    for (u32 n = 0; n < insts.size(); ++n) {
        last_use_[n] = n;
        for (unsigned a = 0; a < insts[n].num_args; ++a) {
            if (insts[n].args[a].is_inst()) last_use_[insts[n].args[a].inst()] = n;
        }
    }
    EmitEntry();
    for (current_ = 0; current_ < insts.size(); ++current_) {
        Dispatch(insts[current_]);
        ReleaseArgs(insts[current_]);
    }
    for (size_t n = 0; n < far_.size(); ++n) far_[n]();  // far code may add more far code
}

void BlockEmitter::Dispatch(const Inst& i) {
    switch (i.op) {
#define OPCODE(name, ...) \
    case Opcode::name: Emit##name(i); break;
#include "emu/cpu/ir/opcodes.inc"
#undef OPCODE
        case Opcode::Count: break;
    }
}

// Block entry: leave if someone asked (interrupt, stop, code written) or the budget cannot cover the block.
void BlockEmitter::EmitEntry() {
    Label& leave = NewLabel();
    c_.cmp(c_.dword[x64::kCtx + kExitRequestOffset], 0);
    c_.jne(leave, Xbyak::CodeGenerator::T_NEAR);
    const u32 n = block_.guest_insns();
    c_.cmp(c_.qword[x64::kCtx + kBudgetOffset], n);
    c_.jb(leave, Xbyak::CodeGenerator::T_NEAR);
    c_.sub(c_.qword[x64::kCtx + kBudgetOffset], n);
    ReloadFlags();
    const u64 rip = block_.start_rip();
    Far([this, &leave, rip] {
        c_.L(leave);
        ExitWith(JitExit::Entry, rip);
    });
}

// --- Guest instruction boundary
void BlockEmitter::EmitGuestInsn(const Inst& i) {
    if (insn_started_) ++insn_index_;
    insn_started_ = true;
    exception_exit_ = nullptr;
    insn_rip_ = i.args[0].imm();
    // The previous instruction stored or called a helper: if it wrote translated code (this instruction's bytes
    // may be the ones written) or a device asked the vCPU to stop, leave before this instruction runs.
    if (may_write_code_) {
        Label& l = NewLabel();
        c_.test(c_.dword[x64::kCtx + kExitRequestOffset], exit_bit::kMidBlock);
        c_.jnz(l, Xbyak::CodeGenerator::T_NEAR);
        const u32 unrun = block_.guest_insns() - insn_index_;
        const u64 rip = insn_rip_;
        Far([this, &l, unrun, rip] {
            c_.L(l);
            StoreFlags();
            c_.add(c_.qword[x64::kCtx + kBudgetOffset], unrun);
            ExitWith(JitExit::Continue, rip);
        });
    }
    may_write_code_ = false;
}

// --- Registers and state
void BlockEmitter::EmitGetGpr8(const Inst& i) {
    c_.movzx(Def().cvt32(), c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0))]);
}
void BlockEmitter::EmitGetGpr8H(const Inst& i) {
    c_.movzx(eax, c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0) & 3) + 1]);
    Result(rax);
}
void BlockEmitter::EmitGetGpr16(const Inst& i) {
    c_.movzx(Def().cvt32(), c_.word[x64::kState + OffsetOfGpr(Imm32(i, 0))]);
}
void BlockEmitter::EmitGetGpr32(const Inst& i) { c_.mov(Def().cvt32(), c_.dword[x64::kState + OffsetOfGpr(Imm32(i, 0))]); }
void BlockEmitter::EmitGetGpr64(const Inst& i) { c_.mov(Def(), c_.qword[x64::kState + OffsetOfGpr(Imm32(i, 0))]); }
void BlockEmitter::EmitSetGpr8(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0))], al);
}
void BlockEmitter::EmitSetGpr8H(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0) & 3) + 1], al);
}
void BlockEmitter::EmitSetGpr16(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.word[x64::kState + OffsetOfGpr(Imm32(i, 0))], ax);
}
// SetGpr32's value is zero-extended, so the upper half of the register becomes 0 either way.
void BlockEmitter::EmitSetGpr32(const Inst& i) { EmitSetGpr64(i); }
void BlockEmitter::EmitSetGpr64(const Inst& i) {
    const auto dst = c_.qword[x64::kState + OffsetOfGpr(Imm32(i, 0))];
    if (IsSimm32(i.args[1])) {
        c_.mov(dst, i.args[1].imm());  // xbyak encodes a 64-bit store of an imm32 when the value fits, sign-extended
    } else {
        c_.mov(dst, InReg(i.args[1], rax));
    }
}
void BlockEmitter::EmitGetSegBase(const Inst& i) {
    c_.mov(rax, c_.qword[x64::kState + SegBaseOffset(Imm32(i, 0))]);
    Result(rax);
}
void BlockEmitter::EmitGetSegSelector(const Inst& i) {
    c_.movzx(eax, c_.word[x64::kState + SegSelectorOffset(Imm32(i, 0))]);
    Result(rax);
}
void BlockEmitter::EmitGetField8(const Inst& i) {
    c_.movzx(eax, c_.byte[x64::kState + Imm32(i, 0)]);
    Result(rax);
}
void BlockEmitter::EmitGetField16(const Inst& i) {
    c_.movzx(eax, c_.word[x64::kState + Imm32(i, 0)]);
    Result(rax);
}
void BlockEmitter::EmitGetField32(const Inst& i) {
    c_.mov(eax, c_.dword[x64::kState + Imm32(i, 0)]);
    Result(rax);
}
void BlockEmitter::EmitGetField64(const Inst& i) {
    c_.mov(rax, c_.qword[x64::kState + Imm32(i, 0)]);
    Result(rax);
}
void BlockEmitter::EmitSetField8(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.byte[x64::kState + Imm32(i, 0)], al);
}
void BlockEmitter::EmitSetField16(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.word[x64::kState + Imm32(i, 0)], ax);
}
void BlockEmitter::EmitSetField32(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.dword[x64::kState + Imm32(i, 0)], eax);
}
void BlockEmitter::EmitSetField64(const Inst& i) {
    LoadArg(rax, i, 1);
    c_.mov(c_.qword[x64::kState + Imm32(i, 0)], rax);
}

// --- RFLAGS (in kFlags)
void BlockEmitter::EmitGetRflags(const Inst&) { Result(x64::kFlags); }
void BlockEmitter::EmitSetRflags(const Inst& i) { LoadArg(x64::kFlags, i, 0); }
void BlockEmitter::EmitGetFlag(const Inst& i) {
    c_.mov(rax, x64::kFlags);
    c_.shr(rax, Imm32(i, 0) & 63);
    c_.and_(eax, 1);
    Result(rax);
}
void BlockEmitter::EmitSetFlag(const Inst& i) {
    const unsigned bit = Imm32(i, 0) & 63;
    LoadArg(rcx, i, 1);
    c_.btr(x64::kFlags, bit);
    c_.shl(rcx, bit);
    c_.or_(x64::kFlags, rcx);
}

// Condition codes from the guest RFLAGS (ir::EvalCond): the true/false sense of cc is bit 0.
void BlockEmitter::EmitGetCond(const Inst& i) {
    const unsigned cc = Imm32(i, 0) & 15;
    const Xbyak::Reg32 flags = x64::kFlags.cvt32();
    const bool negate = cc & 1;
    switch (cc >> 1) {
        case 0: c_.bt(flags, 11); negate ? c_.setnc(al) : c_.setc(al); break;  // OF
        case 1: c_.bt(flags, 0); negate ? c_.setnc(al) : c_.setc(al); break;   // CF
        case 2: c_.bt(flags, 6); negate ? c_.setnc(al) : c_.setc(al); break;   // ZF
        case 3: c_.test(flags, 0x41); negate ? c_.setz(al) : c_.setnz(al); break;
        case 4: c_.bt(flags, 7); negate ? c_.setnc(al) : c_.setc(al); break;   // SF
        case 5: c_.bt(flags, 2); negate ? c_.setnc(al) : c_.setc(al); break;   // PF
        case 6:                                                                 // SF != OF
            c_.mov(ecx, flags);
            c_.mov(edx, ecx);
            c_.shr(edx, 4);  // OF (bit 11) onto SF (bit 7)
            c_.xor_(ecx, edx);
            c_.test(ecx, 0x80);
            negate ? c_.setz(al) : c_.setnz(al);
            break;
        case 7:  // ZF || SF != OF
            c_.mov(ecx, flags);
            c_.mov(edx, ecx);
            c_.shr(edx, 4);
            c_.xor_(edx, ecx);
            c_.and_(edx, 0x80);
            c_.and_(ecx, 0x40);
            c_.or_(ecx, edx);
            negate ? c_.setz(al) : c_.setnz(al);
            break;
    }
    c_.movzx(eax, al);
    Result(rax);
}

// SetFlags(kind, a, b, result, carry_in). Arithmetic kinds run the host instruction on the operands and merge the
// host status flags into the guest RFLAGS; shifts and rotates (whose SDM-undefined flags we pin to chosen values)
// call ir::ComputeFlags.
void BlockEmitter::EmitSetFlags(const Inst& i) {
    const auto kind = static_cast<ir::FlagOp>(i.args[0].imm());
    switch (kind) {
        case ir::FlagOp::Add:
        case ir::FlagOp::Adc:
        case ir::FlagOp::Sub:
        case ir::FlagOp::Sbb:
        case ir::FlagOp::Logic:
        case ir::FlagOp::Inc:
        case ir::FlagOp::Dec:
        case ir::FlagOp::Neg: EmitSetFlagsNative(i, kind); return;
        default:
            if (i.args[2].is_imm()) {
                EmitShiftFlagsConst(i, kind, i.args[2].imm());
                return;
            }
            break;
    }
    const Type type = i.args[1].type();
    SpillCallerSaved();
    LoadArg(rsi, i, 1);
    LoadArg(rdx, i, 2);
    LoadArg(rcx, i, 3);
    LoadArg(r8, i, 4);
    c_.mov(r9, x64::kFlags);
    c_.mov(edi, static_cast<u32>(kind) | (static_cast<u32>(type) << 8));
    CallC(&JitComputeFlags);  // reads nothing of the guest state but its arguments
    c_.mov(x64::kFlags, rax);
}

// Shift and rotate flags for a constant count, by ir::ComputeFlags's formulas (flags.cpp): SF/ZF/PF from the result
// (test), AF = 0, OF = msb(a ^ result) for shifts; CF the last bit out. A count of 0 changes nothing.
void BlockEmitter::EmitShiftFlagsConst(const Inst& i, ir::FlagOp kind, u64 count) {
    if (count == 0) return;
    const unsigned bits = Bits(i.args[1].type());
    const u32 written = static_cast<u32>(ir::FlagsWrittenBy(kind));
    LoadArg(rax, i, 3);  // the result
    LoadArg(rdx, i, 1);  // the operand
    const auto bit_of = [&](const Reg64& src, unsigned n, u32 flag_shift) {  // ecx |= bit n of src << flag_shift
        c_.mov(rsi, src);
        if (n) c_.shr(rsi, n);
        c_.and_(esi, 1);
        if (flag_shift) c_.shl(esi, flag_shift);
        c_.or_(ecx, esi);
    };
    if (kind == ir::FlagOp::Rol || kind == ir::FlagOp::Ror) {
        // Rol: CF = bit 0 of the result, OF = msb ^ CF. Ror: CF = msb, OF = msb ^ the bit below it.
        c_.xor_(ecx, ecx);
        const unsigned cf_bit = kind == ir::FlagOp::Rol ? 0 : bits - 1;
        const unsigned other = kind == ir::FlagOp::Rol ? bits - 1 : bits - 2;
        bit_of(rax, cf_bit, 0);
        c_.mov(rdi, rax);
        c_.shr(rdi, other);
        c_.xor_(rdi, rcx);  // CF is bit 0 of ecx
        c_.and_(edi, 1);
        c_.shl(edi, 11);
        c_.or_(ecx, edi);
    } else {
        c_.test(Sized(rax, bits), Sized(rax, bits));
        c_.pushfq();
        c_.pop(rcx);
        c_.and_(ecx, static_cast<u32>(rflags::SF | rflags::ZF | rflags::PF));
        if (kind == ir::FlagOp::Shl) {
            if (count <= bits) bit_of(rdx, bits - static_cast<unsigned>(count), 0);
        } else if (count <= bits) {
            bit_of(rdx, static_cast<unsigned>(count) - 1, 0);
        } else if (kind == ir::FlagOp::Sar) {
            bit_of(rdx, bits - 1, 0);  // beyond the width every bit shifted out is the sign
        }
        c_.mov(rdi, rdx);
        c_.xor_(rdi, rax);
        c_.shr(rdi, bits - 1);
        c_.and_(edi, 1);
        c_.shl(edi, 11);
        c_.or_(ecx, edi);
    }
    c_.and_(x64::kFlags, static_cast<u32>(~written));  // sign-extended: clears only the written flags
    c_.or_(x64::kFlags, rcx);
}

void BlockEmitter::EmitSetFlagsNative(const Inst& i, ir::FlagOp kind) {
    const unsigned bits = Bits(i.args[1].type());
    const Reg a = Sized(rax, bits);
    const Reg b = Sized(rcx, bits);
    u32 written = static_cast<u32>(ir::FlagsWrittenBy(kind));
    u32 host = written;
    switch (kind) {
        case ir::FlagOp::Add:
            LoadArg(rax, i, 1);
            LoadArg(rcx, i, 2);
            c_.add(a, b);
            break;
        case ir::FlagOp::Adc:
        case ir::FlagOp::Sbb:
            LoadArg(rax, i, 1);
            LoadArg(rcx, i, 2);
            LoadArg(rdx, i, 4);
            c_.bt(edx, 0);  // CF = carry_in
            kind == ir::FlagOp::Adc ? c_.adc(a, b) : c_.sbb(a, b);
            break;
        case ir::FlagOp::Sub:
            LoadArg(rax, i, 1);
            LoadArg(rcx, i, 2);
            c_.cmp(a, b);
            break;
        case ir::FlagOp::Logic:
            LoadArg(rax, i, 3);
            c_.test(a, a);  // SF, ZF, PF of the result, CF = OF = 0; AF is undefined on the host: ours is 0
            host &= ~static_cast<u32>(rflags::AF);
            break;
        case ir::FlagOp::Inc:
            LoadArg(rax, i, 1);
            c_.inc(a);
            break;
        case ir::FlagOp::Dec:
            LoadArg(rax, i, 1);
            c_.dec(a);
            break;
        case ir::FlagOp::Neg:
            LoadArg(rax, i, 1);
            c_.neg(a);
            break;
        default: break;
    }
    c_.pushfq();
    c_.pop(rcx);
    c_.and_(ecx, host);
    c_.and_(x64::kFlags, static_cast<u32>(~written));  // sign-extended: clears only the written flags
    c_.or_(x64::kFlags, rcx);
}

// --- Integer arithmetic
// `op(dst, src)` is called with a register or an imm32 source, so one generic lambda covers both forms.
template <typename Op>
void BlockEmitter::EmitAlu(const Inst& i, Op op, bool mask) {
    const Reg64 d = Def();
    Load(d, i.args[0]);
    if (IsSimm32(i.args[1])) {
        op(d, static_cast<u32>(i.args[1].imm()));  // the host sign-extends it back
    } else {
        op(d, InReg(i.args[1], rcx));
    }
    if (mask) MaskTo(d, i.type);
}
void BlockEmitter::EmitAdd(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.add(d, b); }, true); }
void BlockEmitter::EmitSub(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.sub(d, b); }, true); }
void BlockEmitter::EmitAnd(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.and_(d, b); }, false); }
void BlockEmitter::EmitOr(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.or_(d, b); }, false); }
void BlockEmitter::EmitXor(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.xor_(d, b); }, false); }
void BlockEmitter::EmitNot(const Inst& i) {
    LoadArg(rax, i, 0);
    c_.not_(rax);
    MaskTo(rax, i.type);
    Result(rax);
}
void BlockEmitter::EmitNeg(const Inst& i) {
    LoadArg(rax, i, 0);
    c_.neg(rax);
    MaskTo(rax, i.type);
    Result(rax);
}

// Shl/Shr/Sar: the count is not masked; a count of at least the width gives 0 (Shl, Shr) or the sign fill (Sar).
void BlockEmitter::EmitShift(const Inst& i) {
    const unsigned bits = Bits(i.type);
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    if (i.op == Opcode::Sar) {
        SignExtendTo64(rax, i.type);
        c_.mov(edx, bits - 1);
        c_.cmp(ecx, edx);
        c_.cmova(ecx, edx);
        c_.sar(rax, cl);
        MaskTo(rax, i.type);
    } else {
        i.op == Opcode::Shl ? c_.shl(rax, cl) : c_.shr(rax, cl);
        MaskTo(rax, i.type);
        c_.xor_(edx, edx);
        c_.cmp(ecx, bits);
        c_.cmovae(rax, rdx);
    }
    Result(rax);
}
void BlockEmitter::EmitShl(const Inst& i) { EmitShift(i); }
void BlockEmitter::EmitShr(const Inst& i) { EmitShift(i); }
void BlockEmitter::EmitSar(const Inst& i) { EmitShift(i); }
// Host rotates take the count modulo 32 (64 for 64-bit operands), a multiple of every width, then modulo the width.
void BlockEmitter::EmitRol(const Inst& i) {
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    c_.rol(Sized(rax, Bits(i.type)), cl);
    MaskTo(rax, i.type);
    Result(rax);
}
void BlockEmitter::EmitRor(const Inst& i) {
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    c_.ror(Sized(rax, Bits(i.type)), cl);
    MaskTo(rax, i.type);
    Result(rax);
}
void BlockEmitter::EmitMul(const Inst& i) {
    const Reg64 d = Def();
    if (IsSimm32(i.args[1])) {
        c_.imul(d, InReg(i.args[0], rax), static_cast<int>(static_cast<u32>(i.args[1].imm())));
    } else {
        Load(d, i.args[0]);
        c_.imul(d, InReg(i.args[1], rcx));
    }
    MaskTo(d, i.type);
}
void BlockEmitter::EmitUMulHi(const Inst& i) {
    const unsigned bits = Bits(i.type);
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    if (bits == 64) {
        c_.mul(rcx);
        c_.mov(rax, rdx);
    } else {
        c_.imul(rax, rcx);  // the full product of two zero-extended values below 2^32 fits in 64 bits
        c_.shr(rax, bits);
        MaskTo(rax, i.type);
    }
    Result(rax);
}
void BlockEmitter::EmitSMulHi(const Inst& i) {
    const unsigned bits = Bits(i.type);
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    if (bits == 64) {
        c_.imul(rcx);
        c_.mov(rax, rdx);
    } else {
        SignExtendTo64(rax, i.type);
        SignExtendTo64(rcx, i.type);
        c_.imul(rax, rcx);
        c_.sar(rax, bits);
        MaskTo(rax, i.type);
    }
    Result(rax);
}
void BlockEmitter::EmitByteSwap(const Inst& i) {
    LoadArg(rax, i, 0);
    switch (Bits(i.type)) {
        case 64: c_.bswap(rax); break;
        case 32: c_.bswap(eax); break;
        case 16: c_.rol(ax, 8); break;
        default: break;
    }
    Result(rax);
}
void BlockEmitter::EmitPopCount(const Inst& i) {
    LoadArg(rax, i, 0);
    c_.popcnt(rax, rax);
    Result(rax);
}
void BlockEmitter::EmitCountLeadingZeros(const Inst& i) {
    const unsigned bits = Bits(i.type);
    LoadArg(rax, i, 0);
    c_.bsr(rcx, rax);
    c_.mov(edx, -1);
    c_.cmovz(ecx, edx);  // zero: bits - 1 - (-1) = bits
    c_.mov(eax, bits - 1);
    c_.sub(eax, ecx);
    Result(rax);
}
void BlockEmitter::EmitCountTrailingZeros(const Inst& i) {
    const unsigned bits = Bits(i.type);
    LoadArg(rcx, i, 0);
    c_.mov(edx, bits);
    c_.bsf(rax, rcx);
    c_.cmovz(eax, edx);
    Result(rax);
}

// --- Comparisons and selection
void BlockEmitter::EmitCompare(const Inst& i, bool is_signed,
                               void (Xbyak::CodeGenerator::*setcc)(const Xbyak::Operand&)) {
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    if (is_signed) {
        SignExtendTo64(rax, i.args[0].type());
        SignExtendTo64(rcx, i.args[0].type());
    }
    c_.cmp(rax, rcx);
    (c_.*setcc)(al);
    c_.movzx(eax, al);
    Result(rax);
}
void BlockEmitter::EmitCmpEq(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::sete); }
void BlockEmitter::EmitCmpNe(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::setne); }
void BlockEmitter::EmitCmpULt(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::setb); }
void BlockEmitter::EmitCmpULe(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::setbe); }
void BlockEmitter::EmitCmpSLt(const Inst& i) { EmitCompare(i, true, &Xbyak::CodeGenerator::setl); }
void BlockEmitter::EmitCmpSLe(const Inst& i) { EmitCompare(i, true, &Xbyak::CodeGenerator::setle); }
void BlockEmitter::EmitSelect(const Inst& i) {
    LoadArg(rdx, i, 0);
    LoadArg(rcx, i, 1);
    LoadArg(rax, i, 2);
    c_.test(edx, edx);
    c_.cmovnz(rax, rcx);
    Result(rax);
}
void BlockEmitter::EmitAndU1(const Inst& i) { EmitAnd(i); }
void BlockEmitter::EmitOrU1(const Inst& i) { EmitOr(i); }
void BlockEmitter::EmitNotU1(const Inst& i) {
    LoadArg(rax, i, 0);
    c_.xor_(eax, 1);
    Result(rax);
}

// --- Width changes
void BlockEmitter::EmitZeroExtend(const Inst& i) { Load(Def(), i.args[0]); }
void BlockEmitter::EmitSignExtend(const Inst& i) {
    LoadArg(rax, i, 0);
    SignExtendTo64(rax, i.args[0].type());
    MaskTo(rax, i.type);
    Result(rax);
}
void BlockEmitter::EmitTruncate(const Inst& i) {
    LoadArg(rax, i, 0);
    MaskTo(rax, i.type);
    Result(rax);
}

// --- Memory. The inline path is softtlb.h's: index by the first byte's page, compare the tag with the page of the
// last byte (so a page-crossing access, a flagged tag or an invalid entry all miss), add the addend. Everything else
// goes to the slow path, which is the interpreter's memory access.
void BlockEmitter::EmitMemAccess(const Inst& i, bool store) {
    const unsigned flags = store ? Imm32(i, 2) : Imm32(i, 1);
    const unsigned bits = store ? Bits(i.args[1].type()) : Bits(i.type);
    const unsigned size = bits / 8;
    const bool write_tag = store || (flags & ir::mem_flags::WriteIntent);
    LoadArg(rax, i, 0);
    if (store) LoadArg(r8, i, 1);
    Label& slow = NewLabel();
    Label& resume = NewLabel();
    if (info_.tlb_table != nullptr) {
        c_.mov(rcx, rax);
        c_.shr(rcx, kPageShift - mmu::kTlbEntryShift);
        c_.and_(ecx, static_cast<u32>((mmu::SoftTlb::kEntries - 1) << mmu::kTlbEntryShift));
        c_.mov(rdx, reinterpret_cast<u64>(info_.tlb_table));
        c_.add(rcx, rdx);
        c_.lea(rdx, c_.ptr[rax + (size - 1)]);
        c_.and_(rdx, static_cast<u32>(~kPageMask));  // sign-extended: keeps bits 63:12
        c_.cmp(rdx, c_.qword[rcx + (write_tag ? offsetof(mmu::TlbEntry, addr_write)
                                              : offsetof(mmu::TlbEntry, addr_read))]);
        c_.jne(slow, Xbyak::CodeGenerator::T_NEAR);
        c_.add(rax, c_.qword[rcx + offsetof(mmu::TlbEntry, addend)]);
        if (store) {
            c_.mov(c_.ptr[rax], Sized(r8, bits));
        } else if (bits == 64) {
            c_.mov(rax, c_.qword[rax]);
        } else if (bits == 32) {
            c_.mov(eax, c_.dword[rax]);
        } else {
            c_.movzx(eax, bits == 16 ? c_.word[rax] : c_.byte[rax]);
        }
    } else {
        c_.jmp(slow, Xbyak::CodeGenerator::T_NEAR);
    }
    c_.L(resume);
    if (!store) Result(rax);
    const u32 packed = PackAccess(size, flags);
    Label& exit = ExceptionExit();
    Far([this, &slow, &resume, &exit, store, packed] {
        c_.L(slow);
        // The caller-saved pool registers may hold live values: keep them (two pushes keep rsp 16-byte aligned).
        static_assert(std::size(x64::kCallerSavedValueRegs) == 2);
        c_.push(x64::kCallerSavedValueRegs[0]);
        c_.push(x64::kCallerSavedValueRegs[1]);
        StoreFlags();  // the memory path reads RFLAGS.AC
        c_.mov(rdi, x64::kCtx);
        c_.mov(rsi, rax);
        if (store) {
            c_.mov(rdx, r8);
            c_.mov(ecx, packed);
            CallC(&JitStoreSlow);
        } else {
            c_.mov(edx, packed);
            CallC(&JitLoadSlow);
        }
        c_.pop(x64::kCallerSavedValueRegs[1]);
        c_.pop(x64::kCallerSavedValueRegs[0]);
        CheckFault(exit);
        c_.jmp(resume, Xbyak::CodeGenerator::T_NEAR);
    });
}
void BlockEmitter::EmitLoad(const Inst& i) { EmitMemAccess(i, false); }
void BlockEmitter::EmitStore(const Inst& i) {
    may_write_code_ = true;
    EmitMemAccess(i, true);
}

// --- Calls and exceptions
void BlockEmitter::EmitCallHelper(const Inst& i) {
    may_write_code_ = true;  // a helper may store (string instructions, descriptor updates)
    if (i.args[0].helper() == &simd::kSimdHelper && EmitSimdInline(i)) return;
    SpillCallerSaved();
    c_.mov(rdi, x64::kCtx);
    c_.mov(rsi, reinterpret_cast<u64>(i.args[0].helper()));
    LoadArg(rdx, i, 1);
    LoadArg(rcx, i, 2);
    LoadArg(r8, i, 3);
    StoreFlags();  // helpers read and write RFLAGS
    CallC(&JitCallHelper);
    ReloadFlags();
    CheckFault(ExceptionExit());
    Result(rax);
}
void BlockEmitter::EmitRaiseException(const Inst& i) {
    c_.mov(rdi, x64::kCtx);
    c_.mov(esi, Imm32(i, 0));
    LoadArg(rdx, i, 1);
    CallC(&JitRaise);
    c_.jmp(ExceptionExit(), Xbyak::CodeGenerator::T_NEAR);
}
void BlockEmitter::EmitRaiseExceptionIf(const Inst& i) {
    Label& raise = NewLabel();
    LoadArg(rax, i, 0);
    LoadArg(rdx, i, 2);  // the error code, read here: far code runs without the allocator's view of this point
    c_.test(eax, eax);
    c_.jnz(raise, Xbyak::CodeGenerator::T_NEAR);
    const u32 vector = Imm32(i, 1);
    Label& exit = ExceptionExit();
    Far([this, &raise, &exit, vector] {
        c_.L(raise);
        c_.mov(rdi, x64::kCtx);
        c_.mov(esi, vector);
        CallC(&JitRaise);
        c_.jmp(exit, Xbyak::CodeGenerator::T_NEAR);
    });
}

// --- SSE integer moves and operations inline. CallHelper(kSimdHelper, packed, linear, rip) for the forms below runs
// the same host instruction on the guest's XMM registers in CpuState, with the memory operand found through the soft
// TLB; anything unusual (SSE not usable: CR0.EM/TS, CR4.OSFXSR; a misaligned operand that must be aligned; a TLB
// miss or a flagged page) calls the helper, which raises exactly as the interpreter does. Host = guest ISA, so the
// host instruction is the definition the helper implements (checked by the differential tester).
namespace {

enum class SimdForm : u8 { Move, Binary, Shuffle, MoveMask, MoveD };
struct SimdInline {
    SimdForm form;
    bool aligned;  // a 16-byte memory operand must be 16-byte aligned
    void (*op)(Xbyak::CodeGenerator&);  // Binary: xmm0 = xmm0 op xmm1
};

std::optional<SimdInline> SimdInlineOf(Mnemonic m) {
    using G = Xbyak::CodeGenerator;
    using M = Mnemonic;
    switch (m) {
        case M::MOVAPS: case M::MOVDQA: return SimdInline{SimdForm::Move, true, nullptr};
        case M::MOVUPS: case M::MOVDQU: return SimdInline{SimdForm::Move, false, nullptr};
        case M::PSHUFD: return SimdInline{SimdForm::Shuffle, true, nullptr};
        case M::PMOVMSKB: return SimdInline{SimdForm::MoveMask, false, nullptr};
        case M::MOVD: return SimdInline{SimdForm::MoveD, false, nullptr};
        case M::PXOR: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pxor(xmm0, xmm1); }};
        case M::POR: return SimdInline{SimdForm::Binary, true, [](G& g) { g.por(xmm0, xmm1); }};
        case M::PAND: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pand(xmm0, xmm1); }};
        case M::PANDN: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pandn(xmm0, xmm1); }};
        case M::PCMPEQB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpeqb(xmm0, xmm1); }};
        case M::PCMPEQW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpeqw(xmm0, xmm1); }};
        case M::PCMPEQD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpeqd(xmm0, xmm1); }};
        case M::PCMPGTB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpgtb(xmm0, xmm1); }};
        case M::PCMPGTW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpgtw(xmm0, xmm1); }};
        case M::PCMPGTD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpgtd(xmm0, xmm1); }};
        case M::PADDB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddb(xmm0, xmm1); }};
        case M::PADDW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddw(xmm0, xmm1); }};
        case M::PADDD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddd(xmm0, xmm1); }};
        case M::PADDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddq(xmm0, xmm1); }};
        case M::PSUBB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubb(xmm0, xmm1); }};
        case M::PSUBW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubw(xmm0, xmm1); }};
        case M::PSUBD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubd(xmm0, xmm1); }};
        case M::PSUBQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubq(xmm0, xmm1); }};
        case M::PMINUB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pminub(xmm0, xmm1); }};
        case M::PMAXUB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pmaxub(xmm0, xmm1); }};
        case M::PUNPCKLBW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpcklbw(xmm0, xmm1); }};
        case M::PUNPCKLWD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpcklwd(xmm0, xmm1); }};
        case M::PUNPCKLDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckldq(xmm0, xmm1); }};
        case M::PUNPCKLQDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpcklqdq(xmm0, xmm1); }};
        case M::PUNPCKHBW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhbw(xmm0, xmm1); }};
        case M::PUNPCKHWD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhwd(xmm0, xmm1); }};
        case M::PUNPCKHDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhdq(xmm0, xmm1); }};
        case M::PUNPCKHQDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhqdq(xmm0, xmm1); }};
        default: return std::nullopt;
    }
}

bool IsXmm(const simd::OperandDesc& d) { return d.type == simd::OperandType::Reg && d.cls == RegClass::Xmm; }
bool IsGpr32(const simd::OperandDesc& d) {
    return d.type == simd::OperandType::Reg && d.cls == RegClass::Gpr && d.size == 4;
}
bool IsMem(const simd::OperandDesc& d, unsigned size) { return d.type == simd::OperandType::Mem && d.size == size; }
u32 XmmOffset(unsigned n) { return static_cast<u32>(offsetof(CpuState, xmm) + sizeof(Xmm) * (n & 15)); }

}  // namespace

bool BlockEmitter::EmitSimdInline(const Inst& i) {
    const simd::SimdInsn in = simd::SimdInsn::Unpack(i.args[1].imm());
    const auto spec = SimdInlineOf(in.mnemonic);
    if (!spec) return false;
    const simd::OperandDesc& d = in.op[0];
    const simd::OperandDesc& src = in.op[1];
    bool shape = false;
    switch (spec->form) {
        case SimdForm::Move:
            shape = (IsXmm(d) && (IsXmm(src) || IsMem(src, 16))) || (IsMem(d, 16) && IsXmm(src));
            break;
        case SimdForm::Binary:
        case SimdForm::Shuffle: shape = IsXmm(d) && (IsXmm(src) || IsMem(src, 16)); break;
        case SimdForm::MoveMask: shape = d.type == simd::OperandType::Reg && d.cls == RegClass::Gpr && IsXmm(src); break;
        case SimdForm::MoveD:
            shape = (IsXmm(d) && (IsGpr32(src) || IsMem(src, 4))) || ((IsGpr32(d) || IsMem(d, 4)) && IsXmm(src));
            break;
    }
    if (!shape) return false;
    const bool mem_dst = d.type == simd::OperandType::Mem;
    const bool mem_src = src.type == simd::OperandType::Mem;
    const unsigned mem_size = mem_dst ? d.size : mem_src ? src.size : 0;

    Label& slow = NewLabel();
    Label& resume = NewLabel();
    c_.mov(eax, c_.dword[x64::kState + static_cast<u32>(offsetof(CpuState, cr0))]);
    c_.test(eax, static_cast<u32>(cr0::EM | cr0::TS));
    c_.jnz(slow, Xbyak::CodeGenerator::T_NEAR);
    c_.test(c_.dword[x64::kState + static_cast<u32>(offsetof(CpuState, cr4))], static_cast<u32>(cr4::OSFXSR));
    c_.jz(slow, Xbyak::CodeGenerator::T_NEAR);
    LoadArg(r9, i, 2);  // the linear address (the slow path passes it on)
    if (mem_size != 0) {
        if (info_.tlb_table == nullptr) {
            c_.jmp(slow, Xbyak::CodeGenerator::T_NEAR);
        } else {
            if (spec->aligned && mem_size == 16) {
                c_.test(r9b, 15);
                c_.jnz(slow, Xbyak::CodeGenerator::T_NEAR);
            }
            c_.mov(rcx, r9);
            c_.shr(rcx, kPageShift - mmu::kTlbEntryShift);
            c_.and_(ecx, static_cast<u32>((mmu::SoftTlb::kEntries - 1) << mmu::kTlbEntryShift));
            c_.mov(rdx, reinterpret_cast<u64>(info_.tlb_table));
            c_.add(rcx, rdx);
            c_.lea(rdx, c_.ptr[r9 + (mem_size - 1)]);
            c_.and_(rdx, static_cast<u32>(~kPageMask));
            c_.cmp(rdx, c_.qword[rcx + (mem_dst ? offsetof(mmu::TlbEntry, addr_write)
                                                  : offsetof(mmu::TlbEntry, addr_read))]);
            c_.jne(slow, Xbyak::CodeGenerator::T_NEAR);
            c_.mov(rax, r9);
            c_.add(rax, c_.qword[rcx + offsetof(mmu::TlbEntry, addend)]);  // rax = host address
        }
    }
    const auto xmm_of = [&](const simd::OperandDesc& o) { return c_.xword[x64::kState + XmmOffset(o.reg)]; };
    const auto gpr_of = [&](const simd::OperandDesc& o) { return c_.qword[x64::kState + OffsetOfGpr(o.reg)]; };
    switch (spec->form) {
        case SimdForm::Move:
            c_.movdqu(xmm0, mem_src ? c_.xword[rax] : xmm_of(src));
            c_.movdqu(mem_dst ? c_.xword[rax] : xmm_of(d), xmm0);
            break;
        case SimdForm::Binary:
        case SimdForm::Shuffle:
            c_.movdqu(xmm1, mem_src ? c_.xword[rax] : xmm_of(src));
            if (spec->form == SimdForm::Shuffle) {
                c_.pshufd(xmm0, xmm1, in.imm);
            } else {
                c_.movdqu(xmm0, xmm_of(d));
                spec->op(c_);
            }
            c_.movdqu(xmm_of(d), xmm0);
            break;
        case SimdForm::MoveMask:
            c_.movdqu(xmm1, xmm_of(src));
            c_.pmovmskb(ecx, xmm1);
            c_.mov(gpr_of(d), rcx);  // zero-extended, as the helper's store of the mask
            break;
        case SimdForm::MoveD:
            if (IsXmm(d)) {
                c_.movd(xmm0, mem_src ? c_.dword[rax] : c_.dword[x64::kState + OffsetOfGpr(src.reg)]);
                c_.movdqu(xmm_of(d), xmm0);  // MOVD zeroes bits 127:32
            } else {
                c_.mov(ecx, c_.dword[x64::kState + XmmOffset(src.reg)]);
                if (mem_dst) {
                    c_.mov(c_.dword[rax], ecx);
                } else {
                    c_.mov(gpr_of(d), rcx);  // a 32-bit GPR write clears bits 63:32
                }
            }
            break;
    }
    c_.L(resume);
    Label& exit = ExceptionExit();
    const u64 packed = i.args[1].imm();
    const u64 rip = i.args[3].imm();
    const HelperInfoPtr helper = i.args[0].helper();
    Far([this, &slow, &resume, &exit, packed, rip, helper] {
        c_.L(slow);
        c_.push(x64::kCallerSavedValueRegs[0]);
        c_.push(x64::kCallerSavedValueRegs[1]);
        c_.mov(rdi, x64::kCtx);
        c_.mov(rsi, reinterpret_cast<u64>(helper));
        c_.mov(rdx, packed);
        c_.mov(rcx, r9);
        LoadImm(r8, rip);
        StoreFlags();  // COMISS and friends write RFLAGS
        CallC(&JitCallHelper);
        ReloadFlags();
        c_.pop(x64::kCallerSavedValueRegs[1]);
        c_.pop(x64::kCallerSavedValueRegs[0]);
        CheckFault(exit);
        c_.jmp(resume, Xbyak::CodeGenerator::T_NEAR);
    });
    Result(rax);  // the helper's result (0); nothing reads it in practice
    return true;
}

// --- Terminators
void BlockEmitter::EmitDirectExit(unsigned slot, u64 target) {
    ExitSlot& s = out_.slots[slot];
    s.owner = &out_;
    s.target_rip = target;
    s.jmp = const_cast<u8*>(c_.getCurr());
    Label& stub = NewLabel();
    c_.jmp(stub, Xbyak::CodeGenerator::T_NEAR);  // always the 5-byte rel32 form: Link patches it
    // Unlinked, the exit first tries the jump cache (a target on another page is never chained), then asks the
    // dispatcher to find the target and link this slot to it.
    Far([this, &stub, &s, target] {
        c_.L(stub);
        s.stub = c_.getCurr();
        LoadImm(rax, target);
        c_.mov(c_.qword[x64::kState + kRipOffset], rax);
        c_.mov(rsi, reinterpret_cast<u64>(&s));
        if (probe_ != nullptr) {
            LoadImm(rdx, out_.key);
            c_.jmp(probe_, Xbyak::CodeGenerator::T_NEAR);
            return;
        }
        c_.mov(c_.qword[x64::kCtx + kExitSlotOffset], rsi);
        c_.mov(eax, static_cast<u32>(JitExit::Link));
        c_.jmp(epilogue_, Xbyak::CodeGenerator::T_NEAR);
    });
}
void BlockEmitter::EmitExitConst(const Inst& i) {
    StoreFlags();
    EmitDirectExit(0, i.args[0].imm());
}
void BlockEmitter::EmitExitCond(const Inst& i) {
    Label& taken = NewLabel();
    LoadArg(rax, i, 0);
    StoreFlags();
    c_.test(eax, eax);
    c_.jnz(taken, Xbyak::CodeGenerator::T_NEAR);
    EmitDirectExit(1, i.args[2].imm());
    c_.L(taken);
    EmitDirectExit(0, i.args[1].imm());
}
// Indirect exits look the target up in the jump cache without leaving translated code, unless the target comes
// from a helper: far transfers, IRET and the SYSCALL family compute it and may change the mode, which the probe's key
// (this block's) would then not match. Instructions that change the mode otherwise end with ExitToDispatcher.
void BlockEmitter::EmitExitIndirect(const Inst& i) {
    LoadArg(rax, i, 0);
    c_.mov(c_.qword[x64::kState + kRipOffset], rax);
    StoreFlags();
    const Value& target = i.args[0];
    const bool from_helper = target.is_inst() && block_.inst(target.inst()).op == Opcode::CallHelper;
    if (!from_helper && probe_ != nullptr) {
        LoadImm(rdx, out_.key);
        c_.xor_(esi, esi);
        c_.jmp(probe_, Xbyak::CodeGenerator::T_NEAR);
        return;
    }
    c_.xor_(eax, eax);
    c_.jmp(epilogue_, Xbyak::CodeGenerator::T_NEAR);
}

void BlockEmitter::EmitExitHalt(const Inst& i) {
    StoreFlags();
    c_.mov(c_.byte[x64::kState + kHaltedOffset], 1);
    ExitWith(JitExit::Halted, i.args[0].imm());
}
void BlockEmitter::EmitExitToDispatcher(const Inst& i) {
    StoreFlags();
    ExitWith(JitExit::Dispatcher, i.args[0].imm());
}
void BlockEmitter::EmitNop(const Inst&) {}

}  // namespace

// --- Jit ----------------------------------------------------------------------------------------------------------

CompiledBlock::~CompiledBlock() {
    if (jump_entry != nullptr && jump_entry->entry == entry) *jump_entry = JumpCacheEntry{};
    for (ExitSlot* in : incoming) {
        in->target = nullptr;
        const i32 rel = static_cast<i32>(in->stub - (in->jmp + 5));
        std::memcpy(in->jmp + 1, &rel, 4);
    }
    for (ExitSlot& out : slots) {
        if (out.target == nullptr) continue;
        auto& list = out.target->incoming;
        std::erase(list, &out);
    }
}

void Jit::Link(ExitSlot& slot, CompiledBlock& target) {
    if (slot.target != nullptr) std::erase(slot.target->incoming, &slot);
    slot.target = &target;
    target.incoming.push_back(&slot);
    const i32 rel = static_cast<i32>(target.entry - (slot.jmp + 5));
    std::memcpy(slot.jmp + 1, &rel, 4);
}

Jit::Jit(size_t code_bytes, bool perf_map, const mmu::TlbEntry* tlb_supervisor, const mmu::TlbEntry* tlb_user)
    : impl_(std::make_unique<Impl>(code_bytes, perf_map, tlb_supervisor, tlb_user)) {}

Jit::~Jit() {
    if (impl_->perf_map) std::fclose(impl_->perf_map);
}

std::unique_ptr<CompiledBlock> Jit::Compile(const ir::Block& block, const CompileInfo& info) {
    if (block.size() > x64::kMaxValues) return nullptr;
    Impl& c = *impl_;
    auto out = std::make_unique<CompiledBlock>();
    out->key = info.key;
    out->rip = block.start_rip();
    out->linear_page = info.linear_page;
    out->single_page = info.single_page;
    const size_t start = c.getSize();
    try {
        c.align(16);
        out->entry = c.getCurr();
        const u8* probe = info.probe_indirect && info.tlb_table != nullptr ? c.probe[info.user ? 1 : 0] : nullptr;
        BlockEmitter emitter(c, c.epilogue, block, info, *out, probe);
        emitter.Emit();
    } catch (const Xbyak::Error& e) {
        c.setSize(start);
        if (static_cast<int>(e) == Xbyak::ERR_CODE_IS_TOO_BIG && start > c.thunk_size) {
            full_ = true;  // out of buffer: the caller flushes and compiles again
        } else if (static_cast<int>(e) == Xbyak::ERR_CODE_IS_TOO_BIG) {
            // Bigger than the whole (empty) buffer: the interpreter runs it.
            log::Log(log::Category::Exec, "JIT block at {:#x} does not fit in the code cache", block.start_rip());
        } else {
            // An encoding the emitter got wrong: the interpreter runs this block (and the log says which). Under the
            // test suite (IR verification on) it is a bug to report, not to hide behind the other backend.
            log::Log(log::Category::Exec, "JIT cannot compile the block at {:#x}: {}", block.start_rip(), e.what());
            if (ir::PassVerificationEnabled()) {
                std::fprintf(stderr, "emu64: JIT cannot compile the block at %#llx: %s\n%s",
                             static_cast<unsigned long long>(block.start_rip()), e.what(), block.ToString().c_str());
                std::abort();
            }
        }
        return nullptr;
    }
    out->code_size = c.getSize() - static_cast<size_t>(out->entry - c.getCode());
    if (log::Enabled(log::Category::OutAsm)) {
        std::string text = fmt::format("host code for guest rip {:#x} ({} bytes):", out->rip, out->code_size);
        for (size_t at = 0; at < out->code_size;) {
            unsigned length = 0;
            const std::string line = DisassembleOne(std::span<const u8>(out->entry + at, out->code_size - at),
                                                    reinterpret_cast<u64>(out->entry + at), 64, &length);
            text += fmt::format("\n  {:#x}: {}", reinterpret_cast<u64>(out->entry + at), line);
            at += length ? length : 1;
        }
        log::Log(log::Category::OutAsm, "{}", text);
    }
    c.WritePerfMap(*out);
    return out;
}

void Jit::Remember(CompiledBlock& block, const mmu::TlbEntry* table) {
    if (table == nullptr || !block.single_page) return;
    const mmu::TlbEntry& tlb = table[(block.rip >> kPageShift) & (mmu::SoftTlb::kEntries - 1)];
    if (tlb.addr_code != (block.rip & ~kPageMask)) return;
    JumpCacheEntry& e = impl_->jump_cache[JumpCacheIndex(block.rip)];
    e = JumpCacheEntry{block.rip, block.rip + tlb.addend, block.entry, block.key};
    block.jump_entry = &e;
}

void Jit::Flush() {
    std::fill(impl_->jump_cache.begin(), impl_->jump_cache.end(), JumpCacheEntry{});
    impl_->setSize(impl_->thunk_size);
    full_ = false;
    ++flushes_;
}

JitExit Jit::Enter(JitContext& ctx, const CompiledBlock& block) {
    return static_cast<JitExit>(impl_->enter(&ctx, ctx.state, block.entry));
}

}  // namespace emu::cpu::jit
