#pragma once
// The block compiler of the x64 JIT backend, shared by its emit_*.cpp files: BlockEmitter turns one IR block into
// host code (emitter.cpp: allocation, block entry and exits; emit_alu.cpp: registers, flags, arithmetic;
// emit_memory.cpp: loads, stores, helpers and the inline SSE forms). Internal to emu/cpu/jit.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "emu/common/disasm.h"
#include "emu/common/log.h"
#include "emu/cpu/ir/emitter.h"
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/ir/passes/passes.h"
#include "emu/cpu/jit/jit.h"
#include "emu/cpu/jit/x64/abi.h"
#include "emu/cpu/simd/simd.h"
#include "mmu/softtlb/softtlb.h"

namespace emu::cpu::jit::x64 {


using namespace Xbyak::util;
using ir::Inst;
using ir::Opcode;
using ir::Type;
using ir::Value;
using Xbyak::Label;
using Xbyak::Reg;
using Xbyak::Reg64;
using HelperInfoPtr = const ir::HelperInfo*;



constexpr u32 OffsetOfGpr(unsigned n) { return static_cast<u32>(offsetof(CpuState, gpr) + 8 * (n & 15)); }
constexpr u32 kRipOffset = offsetof(CpuState, rip);
constexpr u32 kRflagsOffset = offsetof(CpuState, rflags);
constexpr u32 kHaltedOffset = offsetof(CpuState, halted);
inline u32 SegBaseOffset(unsigned n) {
    return static_cast<u32>(offsetof(CpuState, seg) + sizeof(Segment) * (n % kNumSegRegs) + offsetof(Segment, base));
}
inline u32 SegSelectorOffset(unsigned n) {
    return static_cast<u32>(offsetof(CpuState, seg) + sizeof(Segment) * (n % kNumSegRegs) +
                            offsetof(Segment, selector));
}
constexpr u32 kExitRequestOffset = offsetof(JitContext, exit_request);
constexpr u32 kFaultPendingOffset = offsetof(JitContext, fault_pending);
constexpr u32 kMaskedInterruptOffset = offsetof(JitContext, masked_interrupt);
constexpr u32 kInterruptShadowOffset = offsetof(CpuState, interrupt_shadow);
constexpr u32 kBudgetOffset = offsetof(JitContext, budget);
constexpr u32 kExitSlotOffset = offsetof(JitContext, exit_slot);
constexpr u32 kDeferredFlagsOffset = offsetof(JitContext, deferred_flags);
constexpr unsigned kDeferredMaskShift = 16;  // JitContext::deferred_flags: where the RFLAGS mask starts
constexpr u32 kLahfFlags = static_cast<u32>(rflags::SF | rflags::ZF | rflags::AF | rflags::PF | rflags::CF);

inline unsigned Bits(Type t) { return ir::BitsOf(t); }

// The register of `r` at `bits` wide (8, 16, 32, 64); U1 values use the 8-bit form.
inline Reg Sized(const Reg64& r, unsigned bits) {
    switch (bits) {
        case 1:
        case 8: return r.cvt8();
        case 16: return r.cvt16();
        case 32: return r.cvt32();
        default: return r;
    }
}


// A load's or store's address as one lea: base + index * 2^scale + disp (base or index may be absent: not an inst).
struct AddressFold {
    bool valid = false;
    Value base, index;
    unsigned scale = 0;
    i32 disp = 0;
};

// Host flags captured for a SetFlags and not merged into kFlags yet.
struct PendingMerge {
    u32 host = 0;     // the flags the host computed as the guest does
    u32 written = 0;  // the guest flags the SetFlags writes (that anything may observe)
    u32 until = 0;
    bool carry_cf = false;  // deferred at the exit: keep a CF that an earlier block deferred (INC and DEC)
};

class BlockEmitter {
public:
    BlockEmitter(Xbyak::CodeGenerator& c, const u8* epilogue, const u8* apply_deferred, const ir::Block& block,
                 const CompileInfo& info, CompiledBlock& out, const u8* probe)
        : c_(c), epilogue_(epilogue), apply_deferred_(apply_deferred), block_(block), info_(info), out_(out),
          probe_(probe) {}

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
        } else if (in_home_only_[v.inst()]) {
            LoadHome(r, v.inst());
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
    // Def, but the result may take over the register of argument `n` if this instruction is its last use (for
    // two-operand host forms that overwrite their first operand).
    Reg64 DefReusing(unsigned n);
    // The register holding value `v`, loading it into `scratch` if it is an immediate or in a slot.
    Reg64 InReg(const Value& v, const Reg64& scratch) {
        if (v.is_inst() && reg_of_[v.inst()] >= 0) return Reg64(reg_of_[v.inst()]);
        Load(scratch, v);
        return scratch;
    }
    // The memory holding the low `bits` bits of value `v` when no register does (its frame slot, or its home when
    // that holds at least those bits), for an ALU instruction's memory operand; nothing otherwise.
    std::optional<Xbyak::Address> InMemory(const Value& v, unsigned bits) const {
        if (!v.is_inst() || reg_of_[v.inst()] >= 0 || bits < 8 || bits > 64) return std::nullopt;
        const u32 n = v.inst();
        Xbyak::RegExp at = rsp + 8 * n;
        if (in_home_only_[n]) {
            if (bits > home_[n].bits) return std::nullopt;
            at = x64::kState + home_[n].offset;
        }
        switch (bits) {
            case 8: return c_.byte[at];
            case 16: return c_.word[at];
            case 32: return c_.dword[at];
            default: return c_.qword[at];
        }
    }
    // An immediate that fits a sign-extended imm32 (ALU instructions' immediate form).
    static bool IsSimm32(const Value& v) { return v.is_imm() && static_cast<i64>(v.imm()) == static_cast<i32>(v.imm()); }
    // dst = a op b for the two-operand ALU forms, straight into the result register.
    template <typename Op>
    void EmitAlu(const Inst& i, Op op);
    // op(dst, source) with `src` as an imm32, a memory operand (InMemory) or a register, at `bits` (64 for U1 values).
    template <typename Op>
    void WithAluSource(const Value& src, unsigned bits, const Reg& dst, Op op);
    // Moves the values held in caller-saved pool registers to their slots (before a call into C).
    void SpillCallerSaved();
    // Frees `reg`, which holds value v: to v's home if it has one (nothing to store), else to its frame slot.
    void Spill(u32 v, int reg);
    void LoadHome(const Reg64& r, u32 v) {
        const Home h = home_[v];
        if (h.bits == 32) {
            c_.mov(r.cvt32(), c_.dword[x64::kState + h.offset]);
        } else {
            c_.mov(r, c_.qword[x64::kState + h.offset]);
        }
    }
    // Values read from or written to guest GPR `gpr` (0-15) have it as their home, until it changes.
    void SetHome(u32 v, unsigned gpr, u8 bits) {
        home_[v] = Home{OffsetOfGpr(gpr), bits};
        homed_[gpr & 15].push_back(v);
    }
    // Before guest GPR `gpr` changes (or every GPR, for -1): its values lose their home; one that lives only there
    // and is still needed goes to its frame slot first.
    void LeaveHome(int gpr);
    // Keep the caller-saved pool registers across a call in far code (which runs outside the allocator's view).
    void PushCallerSaved() {
        for (const Reg64& reg : x64::kCallerSavedValueRegs) c_.push(reg);
    }
    void PopCallerSaved() {
        for (size_t n = std::size(x64::kCallerSavedValueRegs); n-- > 0;) c_.pop(x64::kCallerSavedValueRegs[n]);
    }
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

    // Writes the RFLAGS register back (before calling C; the epilogue stores it on the way out) and reloads it (after a
    // call that may have changed it).
    void StoreFlags() { c_.mov(c_.qword[x64::kState + kRflagsOffset], x64::kFlags); }
    void ReloadFlags() { c_.mov(x64::kFlags, c_.qword[x64::kState + kRflagsOffset]); }
    // Leaves for the dispatcher with `exit` in eax, state.rip = rip (the epilogue stores RFLAGS).
    void ExitWith(JitExit exit, u64 rip) {
        StoreRip(rip);
        c_.mov(eax, static_cast<u32>(exit));
        c_.jmp(epilogue_, Xbyak::CodeGenerator::T_NEAR);
    }
    // state.rip = rip, through rax.
    void StoreRip(u64 rip) {
        LoadImm(rax, rip);
        c_.mov(c_.qword[x64::kState + kRipOffset], rax);
    }
    // Jumps to the jump-cache probe (not null) for the target RIP in rax and state.rip, asking for no link.
    void JumpToProbe() {
        LoadImm(rdx, out_.key);
        c_.xor_(esi, esi);
        c_.jmp(probe_, Xbyak::CodeGenerator::T_NEAR);
    }
    // After an instruction that may have made an interrupt deliverable (set IF) or changed `rflags_bits` (TF, RF):
    // jumps to `leave` if the dispatcher has something to do, i.e. one of those bits is set or an interrupt is held
    // back (JitContext::masked_interrupt).
    void JumpIfDispatcherNeeded(u32 rflags_bits, Label& leave) {
        c_.test(x64::kFlags.cvt32(), rflags_bits);
        c_.jnz(leave, Xbyak::CodeGenerator::T_NEAR);
        c_.cmp(c_.dword[x64::kCtx + kMaskedInterruptOffset], 0);
        c_.jne(leave, Xbyak::CodeGenerator::T_NEAR);
    }
    // A far exit before the current guest instruction runs (`exit` says why): it and the rest of the block did not
    // retire, state.rip is its address.
    Label& ExitBeforeInsn(JitExit exit) {
        Label& l = NewLabel();
        const u32 unrun = block_.guest_insns() - insn_index_;
        const u64 rip = insn_rip_;
        const PendingMerge parked = parked_flags_;
        Far([this, &l, unrun, rip, exit, parked] {
            c_.L(l);
            if (parked.written != 0) {  // flags parked for exactly this: merge them now
                c_.movzx(eax, ParkedFlagsSlot());
                MergeFlags(parked);
            }
            c_.add(x64::kBudget, unrun);
            ExitWith(exit, rip);
        });
        return l;
    }
    // The exception exit of the current guest instruction (one per instruction).
    Label& ExceptionExit() {
        if (exception_exit_ == nullptr) exception_exit_ = &ExitBeforeInsn(JitExit::Exception);
        return *exception_exit_;
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
    static bool KeepsHostFlags(Opcode op);
    void EmitEntry();
    void EmitDirectExit(unsigned slot, u64 target);
    void EmitShift(const Inst& i);
    void EmitShiftConst(const Inst& i, u64 count);
    void EmitRotate(const Inst& i, bool left);
    // Sets the host flags so that host condition code *when holds exactly when guest condition cc does.
    void TestCond(unsigned cc, unsigned* when);
    void EmitSetFlagsNative(const Inst& i, ir::FlagOp kind);
    bool HostFlagsHold(u32 n) const;
    bool FoldAddress(u32 root, const std::vector<u32>& uses, AddressFold* fold, std::vector<u32>* folded) const;
    // Captures the host status flags without changing them: ah = LAHF's SF, ZF, AF, PF, CF (at their RFLAGS bit
    // positions, with the always-one bit 1), al = OF. Not PUSHFQ: it costs several times more on some hosts (AMD Zen:
    // about 2 ns against a fraction of one).
    void CaptureFlags() {
        c_.lahf();
        c_.seto(al);
    }
    // ax holds captured flags: the `host` ones replace the `written` ones of the guest RFLAGS. Clobbers rax and rcx.
    void MergeFlags(const PendingMerge& m);
    // `skip`: a GetCond whose value the SetFlags computes itself (HostCondReading), not an observer.
    bool OnlyFaultsObserve(u32 written, u32 skip = ~u32{0}) const;
    // The GetCond that reads the current SetFlags' flags next (only guest-instruction boundaries between), if the host
    // flags hold every flag it reads and it is not left to an ExitCond: its index, or 0.
    u32 HostCondReading(u32 host) const;
    bool FusesWithExit(u32 get_cond) const;
    // JitContext::deferred_flags: a block may start with its predecessor's flags deferred. PlanDeferredFlags decides
    // whether this block applies them at entry (it reads or partly writes the flags first) or overwrites them at
    // its first SetFlags (SupersedeDeferred); DeferFlags stores a conditional exit's own (from ax, see
    // EmitSetFlagsNative).
    void PlanDeferredFlags();
    bool DefersAtExitStatically(u32 n) const;
    void SupersedeDeferred(bool deferred_at_exit);
    void DeferFlags(const PendingMerge& m);
    // The frame's spare slot (alignment padding of the thunk) that parked flags (CaptureFlags' ax) live in.
    Xbyak::Address ParkedFlagsSlot() const { return c_.word[rsp + x64::kFrameBytes]; }
    int ExitCondReading(u32 host) const;
    // ExitCondReading for the SetFlags at `set_flags`, with may_write_code_ given (PlanDeferredFlags asks early).
    int ExitCondAfter(u32 set_flags, u32 host, bool may_write_code) const;
    // Emits the conditional branch of the guest condition `cc` straight on the host flags.
    void JumpIfHostCond(unsigned cc, Label& target);
    void EmitShiftFlagsConst(const Inst& i, ir::FlagOp kind, u64 count);
    bool EmitSimdInline(const Inst& i);
    void EmitUnderGuestMxcsr(Label& slow, const std::function<void()>& op, bool comis);
    void EmitMemAccess(const Inst& i, bool store);
    void EmitTlbHit(const Reg64& addr, unsigned size, bool write, Label& miss);
    void EmitCompare(const Inst& i, bool is_signed, void (Xbyak::CodeGenerator::*setcc)(const Xbyak::Operand&),
                     unsigned host_cc);

    Xbyak::CodeGenerator& c_;
    const u8* epilogue_;
    const u8* apply_deferred_;  // merges JitContext::deferred_flags into kFlags and clears it; clobbers rcx, rdx, rsi
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
    // Per instruction: a SetFlags right after the host ALU instruction of its operation, with nothing between that
    // changes the host flags (HostFlagsHold): it takes the host flags as they are.
    std::vector<bool> host_flags_hold_;
    // Per instruction: an address addition or scaling left to the load or store that uses it (Emit), and per access
    // the address it computes itself.
    std::vector<bool> folded_address_;
    std::vector<AddressFold> address_fold_;
    int fused_cond_ = -1;
    // A GetCond whose value EmitSetFlagsNative computed from the host flags into dil (HostCondReading), or 0.
    u32 host_cond_at_ = 0;
    int fused_compare_ = -1;  // a compare left in the host flags for the RaiseExceptionIf after it (host cc), or -1
    // pending_merge_: a SetFlags whose host flags are captured in ax (and still in the host EFLAGS), not yet merged into kFlags:
    // `until` is the ExitCond that branches on them and then merges. parked_flags_: the host flags of a SetFlags that
    // only a fault or a stop could observe before the next write of those flags, kept in ParkedFlagsSlot for the exits
    // to merge. written = 0: none.
    PendingMerge pending_merge_, parked_flags_;
    bool apply_deferred_at_entry_ = false;
    u32 supersede_at_ = ~u32{0};       // the first SetFlags, when it makes deferred flags obsolete
    bool carry_deferred_cf_ = false;   // that SetFlags is an INC or DEC deferred at the exit (DeferFlags keeps CF)  // a GetCond left for the ExitCond that follows it (its condition code), or -1
    // Register allocation state.
    std::vector<u64> live_flags_;      // per instruction: the status flags observable after it (ir::LiveFlagsAfter)
    std::vector<u32> last_use_;        // per value: the last instruction that reads it (its own index if none does)
    std::vector<int> reg_of_;          // per value: the host register holding it, or -1 (slot or not yet defined)
    // Per value: a guest GPR in CpuState that holds the same value (read from it or written to it and unchanged
    // since), so spilling it stores nothing; in_home_only_: spilled that way (the home is its only copy).
    struct Home {
        u32 offset = 0;
        u8 bits = 0;  // 32: reload zero-extending a dword; 64: a qword; 0: no home
    };
    std::vector<Home> home_;
    std::vector<bool> in_home_only_;
    std::array<std::vector<u32>, 16> homed_;  // per guest GPR: the values whose home it is
    std::array<int, 16> owner_;        // per host register: the value it holds, or -1
};

}  // namespace emu::cpu::jit::x64
