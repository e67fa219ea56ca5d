// IR block -> host x86-64 code: the code buffer with its entry/exit thunk and jump-cache probes, the register
// allocator, block entry, guest instruction boundaries and exits, and Jit's interface (jit.h). One Emit function
// per IR opcode, dispatched from opcodes.inc, in emit_alu.cpp and emit_memory.cpp. Values live in the registers of
// abi.h (spilled to frame slots when they run out). The same-ISA advantages taken: ALU operations are single host
// instructions, and the status flags of the common SetFlags kinds come from running the host instruction itself
// (captured with LAHF and SETO) instead of recomputing them bit by bit.
//
// Exact equality with the interpreter is the contract: every Emit function documents nothing beyond
// interp/interpreter.cpp, which defines the semantics.
#include "emu/cpu/jit/x64/block_emitter.h"

#include <fmt/format.h>
#include <unistd.h>

#include <utility>

namespace emu::cpu::jit {

using namespace x64;

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
    const u8* apply_deferred = nullptr;  // called: merges JitContext::deferred_flags into kFlags (rcx, rdx, rsi)
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
        // Translated code keeps RFLAGS in kFlags from here to the epilogue (chained and probed jumps carry it).
        mov(x64::kFlags, qword[x64::kState + kRflagsOffset]);
        mov(x64::kBudget, qword[x64::kCtx + kBudgetOffset]);
        jmp(rdx);
        align(16);
        epilogue = getCurr();
        Label apply_on_exit, applied;
        cmp(dword[x64::kCtx + kDeferredFlagsOffset], 0);
        jne(apply_on_exit, T_NEAR);
        L(applied);
        mov(qword[x64::kState + kRflagsOffset], x64::kFlags);
        mov(qword[x64::kCtx + kBudgetOffset], x64::kBudget);
        add(rsp, x64::kFrameBytes + 8);
        pop(r15);
        pop(r14);
        pop(r13);
        pop(r12);
        pop(rbp);
        pop(rbx);
        ret();
        L(apply_on_exit);  // (eax holds the exit reason)
        EmitApplyDeferred();
        jmp(applied, T_NEAR);
        align(16);
        apply_deferred = getCurr();
        EmitApplyDeferred();
        ret();
        align(16);
    }

    // kFlags = kFlags with the deferred flags (JitContext::deferred_flags, not 0) merged in; deferred_flags = 0.
    // Clobbers rcx, rdx, rsi and the host flags.
    void EmitApplyDeferred() {
        mov(ecx, dword[x64::kCtx + kDeferredFlagsOffset]);
        mov(edx, ecx);
        shr(edx, kDeferredMaskShift);  // the flags it replaces
        movzx(esi, cl);               // OF (SETO's 0 or 1)
        shl(esi, 11);
        shr(ecx, 8);
        movzx(ecx, cl);  // LAHF's byte
        or_(ecx, esi);
        and_(ecx, edx);
        not_(rdx);
        and_(x64::kFlags, rdx);
        or_(x64::kFlags, rcx);
        mov(dword[x64::kCtx + kDeferredFlagsOffset], 0);
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

namespace x64 {


void BlockEmitter::Result(const Reg64& r) {
    if (last_use_[current_] == current_) return;  // nothing reads it
    // Every argument has been read: the register of one that dies here can take the result.
    const Inst& i = block_.inst(current_);
    for (unsigned n = 0; n < i.num_args; ++n) {
        const Value& v = i.args[n];
        if (v.is_inst() && last_use_[v.inst()] == current_ && reg_of_[v.inst()] >= 0 &&
            owner_[reg_of_[v.inst()]] == static_cast<int>(v.inst())) {
            c_.mov(DefReusing(n), r);
            return;
        }
    }
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
        Spill(static_cast<u32>(owner_[chosen]), chosen);
    }
    owner_[chosen] = static_cast<int>(current_);
    reg_of_[current_] = chosen;
    return Reg64(chosen);
}

Reg64 BlockEmitter::DefReusing(unsigned n) {
    if (last_use_[current_] == current_) return rax;
    const Inst& i = block_.inst(current_);
    const Value& v = i.args[n];
    if (v.is_inst() && last_use_[v.inst()] == current_ && reg_of_[v.inst()] >= 0) {
        // The argument dies here: its register becomes the result's. The argument still reads from it until the
        // instruction is done; ReleaseArgs then leaves the register to its new owner.
        const int reg = reg_of_[v.inst()];
        owner_[reg] = static_cast<int>(current_);
        reg_of_[current_] = reg;
        return Reg64(reg);
    }
    return Def();
}

void BlockEmitter::SpillCallerSaved() {
    for (const Reg64& reg : x64::kCallerSavedValueRegs) {
        const int v = owner_[reg.getIdx()];
        if (v < 0) continue;
        Spill(static_cast<u32>(v), reg.getIdx());
        owner_[reg.getIdx()] = -1;
    }
}

void BlockEmitter::Spill(u32 v, int reg) {
    if (home_[v].bits != 0) {
        in_home_only_[v] = true;
    } else {
        c_.mov(Slot(v), Reg64(reg));
    }
    reg_of_[v] = -1;
}

void BlockEmitter::LeaveHome(int gpr) {
    for (unsigned g = 0; g < 16; ++g) {
        if (gpr >= 0 && g != static_cast<unsigned>(gpr)) continue;
        for (const u32 v : homed_[g]) {
            if (home_[v].offset != OffsetOfGpr(g) || home_[v].bits == 0) continue;  // moved on since
            if (in_home_only_[v] && last_use_[v] >= current_) {
                LoadHome(rax, v);
                c_.mov(Slot(v), rax);
            }
            in_home_only_[v] = false;
            home_[v] = Home{};
        }
        homed_[g].clear();
    }
}

void BlockEmitter::ReleaseArgs(const Inst& i) {
    for (unsigned n = 0; n < i.num_args; ++n) {
        const Value& v = i.args[n];
        if (!v.is_inst() || last_use_[v.inst()] != current_) continue;
        if (const int reg = reg_of_[v.inst()]; reg >= 0) {
            if (owner_[reg] == static_cast<int>(v.inst())) owner_[reg] = -1;
            reg_of_[v.inst()] = -1;
        }
    }
}

void BlockEmitter::Emit() {
    const auto& insts = block_.insts();
    live_flags_ = ir::LiveFlagsAfter(block_);
    last_use_.resize(insts.size());
    reg_of_.assign(insts.size(), -1);
    home_.assign(insts.size(), Home{});
    in_home_only_.assign(insts.size(), false);
    for (auto& list : homed_) list.clear();
    owner_.fill(-1);
    host_flags_hold_.assign(insts.size(), false);
    folded_address_.assign(insts.size(), false);
    std::vector<u32> uses(insts.size(), 0);
    for (u32 n = 0; n < insts.size(); ++n) {
        last_use_[n] = n;
        for (unsigned a = 0; a < insts[n].num_args; ++a) {
            if (insts[n].args[a].is_inst()) ++uses[insts[n].args[a].inst()];
        }
        host_flags_hold_[n] = HostFlagsHold(n);
        if (host_flags_hold_[n]) continue;  // that SetFlags reads none of its operands
        for (unsigned a = 0; a < insts[n].num_args; ++a) {
            if (insts[n].args[a].is_inst()) last_use_[insts[n].args[a].inst()] = n;
        }
    }
    // An address made of adds and small left shifts used only by one load or store: computed there, by one lea (its
    // base and index then live until that access).
    address_fold_.assign(insts.size(), AddressFold{});
    for (u32 n = 0; n < insts.size(); ++n) {
        if ((insts[n].op != Opcode::Load && insts[n].op != Opcode::Store) || !insts[n].args[0].is_inst()) continue;
        std::vector<u32> folded;
        AddressFold fold;
        if (!FoldAddress(insts[n].args[0].inst(), uses, &fold, &folded)) continue;
        for (const u32 f : folded) folded_address_[f] = true;
        for (const Value* term : {&fold.base, &fold.index}) {
            if (term->is_inst()) last_use_[term->inst()] = std::max(last_use_[term->inst()], n);
        }
        address_fold_[n] = fold;
    }
    PlanDeferredFlags();
    EmitEntry();
    for (current_ = 0; current_ < insts.size(); ++current_) {
        Dispatch(insts[current_]);
        ReleaseArgs(insts[current_]);
    }
    for (size_t n = 0; n < far_.size(); ++n) far_[n]();  // far code may add more far code
}

// Splits the 64-bit address `root` (an Add) into base + index * 2^scale + disp, through Adds and Shls by 1 to 3 that
// nothing else reads (their instructions go to `folded`).
bool BlockEmitter::FoldAddress(u32 root, const std::vector<u32>& uses, AddressFold* fold,
                               std::vector<u32>* folded) const {
    const Inst& top = block_.inst(root);
    if (top.op != Opcode::Add || top.type != Type::U64 || uses[root] != 1) return false;
    struct Term {
        Value v;
        unsigned scale;
    };
    std::vector<Term> terms;
    u64 disp = 0;
    // Depth-first over the single-use Adds under root (at most two levels: the translator's base + disp + index).
    const auto visit = [&](const auto& self, const Value& v, unsigned depth) -> bool {
        if (v.is_imm()) {
            disp += v.imm();
            return true;
        }
        const Inst& inst = block_.inst(v.inst());
        const bool single = uses[v.inst()] == 1 && inst.type == Type::U64;
        if (single && inst.op == Opcode::Add && depth < 2) {
            folded->push_back(v.inst());
            return self(self, inst.args[0], depth + 1) && self(self, inst.args[1], depth + 1);
        }
        if (single && depth > 0 && inst.op == Opcode::Shl && inst.args[0].is_inst() && inst.args[1].is_imm() &&
            inst.args[1].imm() >= 1 && inst.args[1].imm() <= 3) {
            folded->push_back(v.inst());
            terms.push_back({inst.args[0], static_cast<unsigned>(inst.args[1].imm())});
            return true;
        }
        terms.push_back({v, 0});
        return true;
    };
    if (!visit(visit, Value::OfInst(root, Type::U64), 0) || terms.empty() || terms.size() > 2) return false;
    if (static_cast<i64>(disp) != static_cast<i32>(disp)) return false;
    if (terms.size() == 2 && terms[0].scale != 0) std::swap(terms[0], terms[1]);  // the unscaled one is the base
    if (terms.size() == 2 && terms[0].scale != 0) return false;                   // two scaled terms
    fold->valid = true;
    fold->disp = static_cast<i32>(disp);
    if (terms.size() == 1 && terms[0].scale != 0) {
        fold->index = terms[0].v;
        fold->scale = terms[0].scale;
        return true;
    }
    fold->base = terms[0].v;
    if (terms.size() == 2) {
        fold->index = terms[1].v;
        fold->scale = terms[1].scale;
    }
    return true;
}

// Whether the code emitted for `op` leaves the host flags alone (register-file moves only).
bool BlockEmitter::KeepsHostFlags(Opcode op) {
    switch (op) {
        case Opcode::GetGpr8:
        case Opcode::GetGpr8H:
        case Opcode::GetGpr16:
        case Opcode::GetGpr32:
        case Opcode::GetGpr64:
        case Opcode::SetGpr8:
        case Opcode::SetGpr8H:
        case Opcode::SetGpr16:
        case Opcode::SetGpr32:
        case Opcode::SetGpr64: return true;
        default: return false;
    }
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
    Label& short_budget = NewLabel();
    c_.cmp(c_.dword[x64::kCtx + kExitRequestOffset], 0);
    c_.jne(leave, Xbyak::CodeGenerator::T_NEAR);
    const u32 n = block_.guest_insns();
    c_.sub(x64::kBudget, n);
    c_.jb(short_budget, Xbyak::CodeGenerator::T_NEAR);  // borrowed: fewer than n left, which the far code gives back
    const u64 rip = block_.start_rip();
    Far([this, &leave, &short_budget, rip, n] {
        c_.L(short_budget);
        c_.add(x64::kBudget, n);
        c_.L(leave);
        ExitWith(JitExit::Entry, rip);
    });
    if (apply_deferred_at_entry_) {
        Label& apply = NewLabel();
        Label& applied = NewLabel();
        c_.cmp(c_.dword[x64::kCtx + kDeferredFlagsOffset], 0);
        c_.jne(apply, Xbyak::CodeGenerator::T_NEAR);
        c_.L(applied);
        Far([this, &apply, &applied] {
            c_.L(apply);
            c_.call(apply_deferred_);
            c_.jmp(applied, Xbyak::CodeGenerator::T_NEAR);
        });
    }
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
        c_.test(c_.dword[x64::kCtx + kExitRequestOffset], exit_bit::kMidBlock);
        c_.jnz(ExitBeforeInsn(JitExit::Continue), Xbyak::CodeGenerator::T_NEAR);
    }
    may_write_code_ = false;
}

// --- Terminators
void BlockEmitter::EmitDirectExit(unsigned slot, u64 target) {
    ExitSlot& s = out_.slots[slot];
    s.owner = &out_;
    s.target_rip = target;
    s.jmp = const_cast<u8*>(c_.getCurr());
    // Only a target on this block's linear page can ever be chained (LinkPending says why). Such an exit asks the
    // dispatcher to link it the first time it runs; probing the jump cache first would find the target there and
    // leave the slot unlinked for good. Any other exit probes the jump cache every time.
    const bool may_chain = (target & ~u64{kPageMask}) == out_.linear_page;
    Label& link_stub = NewLabel();
    Label& probe_stub = NewLabel();
    const bool probe_first = probe_ != nullptr && !may_chain;
    c_.jmp(probe_first ? probe_stub : link_stub, Xbyak::CodeGenerator::T_NEAR);  // rel32 form: Link patches it
    Far([this, &link_stub, &probe_stub, &s, target, may_chain] {
        if (probe_ != nullptr) {
            c_.L(probe_stub);
            s.probe_stub = c_.getCurr();
            StoreRip(target);
            JumpToProbe();
        }
        if (!may_chain && probe_ != nullptr) return;
        c_.L(link_stub);
        s.stub = c_.getCurr();
        StoreRip(target);
        c_.mov(rsi, reinterpret_cast<u64>(&s));
        c_.mov(c_.qword[x64::kCtx + kExitSlotOffset], rsi);
        c_.mov(eax, static_cast<u32>(JitExit::Link));
        c_.jmp(epilogue_, Xbyak::CodeGenerator::T_NEAR);
    });
}
void BlockEmitter::EmitExitConst(const Inst& i) {
    
    EmitDirectExit(0, i.args[0].imm());
}
void BlockEmitter::EmitExitCond(const Inst& i) {
    Label& taken = NewLabel();
    if (pending_merge_.until == current_ && current_ != 0) {
        // The host flags are the guest's for this condition: branch, then merge RFLAGS on each side.
        JumpIfHostCond(static_cast<unsigned>(std::exchange(fused_cond_, -1)), taken);
        DeferFlags(pending_merge_);
        EmitDirectExit(1, i.args[2].imm());
        c_.L(taken);
        DeferFlags(pending_merge_);
        EmitDirectExit(0, i.args[1].imm());
        pending_merge_ = PendingMerge{};
        return;
    }
    if (fused_cond_ >= 0) {
        unsigned when = 0;
        TestCond(static_cast<unsigned>(std::exchange(fused_cond_, -1)), &when);
        switch (when) {
            case 0x2: c_.jb(taken, Xbyak::CodeGenerator::T_NEAR); break;
            case 0x3: c_.jae(taken, Xbyak::CodeGenerator::T_NEAR); break;
            case 0x4: c_.je(taken, Xbyak::CodeGenerator::T_NEAR); break;
            default: c_.jne(taken, Xbyak::CodeGenerator::T_NEAR); break;
        }
    } else {
        LoadArg(rax, i, 0);
        c_.test(eax, eax);
        c_.jnz(taken, Xbyak::CodeGenerator::T_NEAR);
    }
    EmitDirectExit(1, i.args[2].imm());
    c_.L(taken);
    EmitDirectExit(0, i.args[1].imm());
}
void BlockEmitter::JumpIfHostCond(unsigned cc, Label& target) {
    using G = Xbyak::CodeGenerator;
    static constexpr void (G::*kJcc[16])(const Label&, G::LabelType) = {
        &G::jo, &G::jno, &G::jb, &G::jae, &G::je, &G::jne, &G::jbe, &G::ja,
        &G::js, &G::jns, &G::jp, &G::jnp, &G::jl, &G::jge, &G::jle, &G::jg};
    (c_.*kJcc[cc & 15])(target, G::T_NEAR);
}
// Indirect exits look the target up in the jump cache without leaving translated code. When the target comes from
// a helper (far transfers, IRET, the SYSCALL family) the mode may have changed: the probe then misses, since it looks
// for a block of this block's key. Such a helper may also have set IF (a held-back interrupt is now deliverable), TF
// or RF (both the dispatcher's business): the exit leaves for the dispatcher then.
void BlockEmitter::EmitExitIndirect(const Inst& i) {
    LoadArg(rax, i, 0);
    c_.mov(c_.qword[x64::kState + kRipOffset], rax);
    const Value& target = i.args[0];
    const bool from_helper = target.is_inst() && block_.inst(target.inst()).op == Opcode::CallHelper;
    Label& leave = NewLabel();
    if (probe_ != nullptr) {
        if (from_helper) JumpIfDispatcherNeeded(static_cast<u32>(rflags::TF | rflags::RF), leave);
        JumpToProbe();
    }
    c_.L(leave);
    c_.xor_(eax, eax);
    c_.jmp(epilogue_, Xbyak::CodeGenerator::T_NEAR);
}

void BlockEmitter::EmitExitHalt(const Inst& i) {
    
    c_.mov(c_.byte[x64::kState + kHaltedOffset], 1);
    ExitWith(JitExit::Halted, i.args[0].imm());
}
void BlockEmitter::EmitExitToDispatcher(const Inst& i) {
    const u64 rip = i.args[0].imm();
    if (i.args[1].imm() == 0) {
        ExitWith(JitExit::Dispatcher, rip);
        return;
    }
    // After STI or POPF: the dispatcher has something to do only if an interrupt was held back or TF is set
    // (kernels run these at every spin_unlock_irqrestore and local_irq_enable). Otherwise the shadow holds nothing
    // back, so it ends here too, and the exit goes on like any direct one.
    Label& leave = NewLabel();
    JumpIfDispatcherNeeded(static_cast<u32>(rflags::TF), leave);
    c_.mov(c_.byte[x64::kState + kInterruptShadowOffset], 0);
    EmitDirectExit(0, rip);
    c_.L(leave);
    ExitWith(JitExit::Dispatcher, rip);
}
void BlockEmitter::EmitNop(const Inst&) {}

}  // namespace x64


// --- Jit ----------------------------------------------------------------------------------------------------------

namespace {

// Points a direct exit's jmp rel32 at `to`.
void PatchJump(ExitSlot& slot, const u8* to) {
    const i32 rel = static_cast<i32>(to - (slot.jmp + 5));
    std::memcpy(slot.jmp + 1, &rel, 4);
}

}  // namespace

CompiledBlock::~CompiledBlock() {
    if (jump_entry != nullptr && jump_entry->entry == entry) *jump_entry = JumpCacheEntry{};
    for (ExitSlot* in : incoming) {
        in->target = nullptr;
        PatchJump(*in, in->stub);
    }
    for (ExitSlot& out : slots) {
        if (out.target == nullptr) continue;
        auto& list = out.target->incoming;
        std::erase(list, &out);
    }
}

void Jit::ProbeInstead(ExitSlot& slot) {
    if (slot.probe_stub == nullptr || slot.target != nullptr) return;
    PatchJump(slot, slot.probe_stub);
}

void Jit::Link(ExitSlot& slot, CompiledBlock& target) {
    if (slot.target != nullptr) std::erase(slot.target->incoming, &slot);
    slot.target = &target;
    target.incoming.push_back(&slot);
    PatchJump(slot, target.entry);
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
        BlockEmitter emitter(c, c.epilogue, c.apply_deferred, block, info, *out, probe);
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
