// BlockEmitter: guest registers and state, RFLAGS, integer arithmetic, comparisons and width changes.
#include "emu/cpu/jit/x64/block_emitter.h"

namespace emu::cpu::jit::x64 {

// --- Registers and state
void BlockEmitter::EmitGetGpr8(const Inst& i) {
    c_.movzx(Def().cvt32(), c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0))]);
}
void BlockEmitter::EmitGetGpr8H(const Inst& i) {
    c_.movzx(Def().cvt32(), c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0) & 3) + 1]);
}
void BlockEmitter::EmitGetGpr16(const Inst& i) {
    c_.movzx(Def().cvt32(), c_.word[x64::kState + OffsetOfGpr(Imm32(i, 0))]);
}
void BlockEmitter::EmitGetGpr32(const Inst& i) {
    c_.mov(Def().cvt32(), c_.dword[x64::kState + OffsetOfGpr(Imm32(i, 0))]);
    SetHome(current_, Imm32(i, 0), 32);
}
void BlockEmitter::EmitGetGpr64(const Inst& i) {
    c_.mov(Def(), c_.qword[x64::kState + OffsetOfGpr(Imm32(i, 0))]);
    SetHome(current_, Imm32(i, 0), 64);
}
void BlockEmitter::EmitSetGpr8(const Inst& i) {
    LeaveHome(static_cast<int>(Imm32(i, 0) & 15));
    c_.mov(c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0))], InReg(i.args[1], rax).cvt8());
}
void BlockEmitter::EmitSetGpr8H(const Inst& i) {
    LeaveHome(static_cast<int>(Imm32(i, 0) & 3));
    c_.mov(c_.byte[x64::kState + OffsetOfGpr(Imm32(i, 0) & 3) + 1], InReg(i.args[1], rax).cvt8());
}
void BlockEmitter::EmitSetGpr16(const Inst& i) {
    LeaveHome(static_cast<int>(Imm32(i, 0) & 15));
    c_.mov(c_.word[x64::kState + OffsetOfGpr(Imm32(i, 0))], InReg(i.args[1], rax).cvt16());
}
// SetGpr32's value is zero-extended, so the upper half of the register becomes 0 either way.
void BlockEmitter::EmitSetGpr32(const Inst& i) { EmitSetGpr64(i); }
void BlockEmitter::EmitSetGpr64(const Inst& i) {
    const unsigned gpr = Imm32(i, 0) & 15;
    LeaveHome(static_cast<int>(gpr));
    const auto dst = c_.qword[x64::kState + OffsetOfGpr(gpr)];
    if (IsSimm32(i.args[1])) {
        c_.mov(dst, i.args[1].imm());  // xbyak encodes a 64-bit store of an imm32 when the value fits, sign-extended
    } else {
        c_.mov(dst, InReg(i.args[1], rax));
        // The stored value is the whole register (zero-extended when narrower), so it can be reloaded from there.
        if (i.args[1].is_inst()) SetHome(i.args[1].inst(), gpr, 64);
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

// Condition codes from the guest RFLAGS (ir::EvalCond): the true/false sense of cc is bit 0. TestCond sets the host
// flags so that host condition `*when` (an x86 condition code) holds exactly when cc does; GetCond materialises it,
// or leaves it to the ExitCond right after it (the usual end of a block), which branches on it directly.
void BlockEmitter::TestCond(unsigned cc, unsigned* when) {
    const Xbyak::Reg32 flags = x64::kFlags.cvt32();
    const bool negate = cc & 1;
    constexpr unsigned kB = 0x2, kAE = 0x3, kE = 0x4, kNE = 0x5;  // host condition codes for the bt and test forms
    const auto bit = [&](unsigned n) {
        c_.bt(flags, n);
        *when = negate ? kAE : kB;
    };
    switch ((cc >> 1) & 7) {
        case 0: bit(11); break;  // OF
        case 1: bit(0); break;   // CF
        case 2: bit(6); break;   // ZF
        case 3:                  // CF || ZF
            c_.test(flags, 0x41);
            *when = negate ? kE : kNE;
            break;
        case 4: bit(7); break;  // SF
        case 5: bit(2); break;  // PF
        case 6:                 // SF != OF
            c_.mov(ecx, flags);
            c_.mov(edx, ecx);
            c_.shr(edx, 4);  // OF (bit 11) onto SF (bit 7)
            c_.xor_(ecx, edx);
            c_.test(ecx, 0x80);
            *when = negate ? kE : kNE;
            break;
        case 7:  // ZF || SF != OF
            c_.mov(ecx, flags);
            c_.mov(edx, ecx);
            c_.shr(edx, 4);
            c_.xor_(edx, ecx);
            c_.and_(edx, 0x80);
            c_.and_(ecx, 0x40);
            c_.or_(ecx, edx);
            *when = negate ? kE : kNE;
            break;
    }
}

// Whether GetCond `n` is read only by the ExitCond right after it (which then tests the flags itself).
bool BlockEmitter::FusesWithExit(u32 n) const {
    if (n + 1 >= block_.size() || last_use_[n] != n + 1) return false;
    const Inst& next = block_.inst(n + 1);
    return next.op == Opcode::ExitCond && next.args[0].is_inst() && next.args[0].inst() == n;
}

u32 BlockEmitter::HostCondReading(u32 host) const {
    u32 n = current_ + 1;
    while (n < block_.size() && block_.inst(n).op == Opcode::GuestInsn) ++n;
    if (n >= block_.size() || block_.inst(n).op != Opcode::GetCond || FusesWithExit(n)) return 0;
    const u64 read = ir::FlagsReadByCond(static_cast<unsigned>(block_.inst(n).args[0].imm()) & 15);
    return (read & ~u64{host}) == 0 ? n : 0;
}

void BlockEmitter::EmitGetCond(const Inst& i) {
    const unsigned cc = Imm32(i, 0) & 15;
    if (host_cond_at_ == current_) {  // computed by the SetFlags before (EmitSetFlagsNative)
        host_cond_at_ = 0;
        c_.movzx(Def().cvt32(), dil);
        return;
    }
    if (FusesWithExit(current_)) {
        fused_cond_ = static_cast<int>(cc);
        return;
    }
    unsigned when = 0;
    TestCond(cc, &when);
    switch (when) {
        case 0x2: c_.setb(al); break;
        case 0x3: c_.setae(al); break;
        case 0x4: c_.sete(al); break;
        default: c_.setne(al); break;
    }
    c_.movzx(Def().cvt32(), al);
}

// SetFlags(kind, a, b, result, carry_in). Arithmetic kinds run the host instruction on the operands and merge the
// host status flags into the guest RFLAGS; shifts and rotates (whose SDM-undefined flags we pin to chosen values)
// call ir::ComputeFlags.
void BlockEmitter::EmitSetFlags(const Inst& i) {
    const auto kind = static_cast<ir::FlagOp>(i.args[0].imm());
    // Flags parked before this one are all overwritten by it (OnlyFaultsObserve checked when it parked them).
    parked_flags_ = PendingMerge{};
    switch (kind) {
        case ir::FlagOp::Add:
        case ir::FlagOp::Adc:
        case ir::FlagOp::Sub:
        case ir::FlagOp::Sbb:
        case ir::FlagOp::Logic:
        case ir::FlagOp::Inc:
        case ir::FlagOp::Dec:
        case ir::FlagOp::Neg: EmitSetFlagsNative(i, kind); return;  // (which supersedes deferred flags itself)
        default:
            SupersedeDeferred(false);
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
    const u32 written = static_cast<u32>(ir::FlagsWrittenBy(kind) & live_flags_[current_]);
    const bool cf = written & rflags::CF, of = written & rflags::OF;
    if (written == 0) return;
    if (host_flags_hold_[current_]) {  // CF alone, from the host rotate that made the result (HostFlagsHold)
        c_.setc(al);
        c_.movzx(eax, al);
        c_.and_(x64::kFlags, static_cast<u32>(~rflags::CF));  // sign-extended: clears CF only
        c_.or_(x64::kFlags, rax);
        return;
    }
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
        const unsigned cf_bit = kind == ir::FlagOp::Rol ? 0 : bits - 1;
        const unsigned other = kind == ir::FlagOp::Rol ? bits - 1 : bits - 2;
        if (!of) {
            c_.mov(rcx, rax);
            if (cf_bit) c_.shr(rcx, cf_bit);
            c_.and_(ecx, 1);
        } else {
            c_.xor_(ecx, ecx);
            bit_of(rax, cf_bit, 0);
            c_.mov(rdi, rax);
            c_.shr(rdi, other);
            c_.xor_(rdi, rcx);  // CF is bit 0 of ecx
            c_.and_(edi, 1);
            c_.shl(edi, 11);
            if (!cf) c_.xor_(ecx, ecx);
            c_.or_(ecx, edi);
        }
    } else {
        c_.xor_(ecx, ecx);
        if (cf && kind == ir::FlagOp::Shl) {
            if (count <= bits) bit_of(rdx, bits - static_cast<unsigned>(count), 0);
        } else if (cf && count <= bits) {
            bit_of(rdx, static_cast<unsigned>(count) - 1, 0);
        } else if (cf && kind == ir::FlagOp::Sar) {
            bit_of(rdx, bits - 1, 0);  // beyond the width every bit shifted out is the sign
        }
        if (of) {
            c_.mov(rdi, rdx);
            c_.xor_(rdi, rax);
            c_.shr(rdi, bits - 1);
            c_.and_(edi, 1);
            c_.shl(edi, 11);
            c_.or_(ecx, edi);
        }
        if (const u32 szp = written & static_cast<u32>(rflags::SF | rflags::ZF | rflags::PF)) {
            c_.test(Sized(rax, bits), Sized(rax, bits));
            c_.lahf();  // (the result in rax is not needed any more)
            c_.movzx(eax, ah);
            c_.and_(eax, szp);
            c_.or_(ecx, eax);
        }
    }
    c_.and_(x64::kFlags, static_cast<u32>(~written));  // sign-extended: clears only the written flags
    c_.or_(x64::kFlags, rcx);
}

// SetFlags(kind, a, b, r) right after the host instruction that computed r = a op b at the flags' width: the host
// flags are already those of the guest instruction (INC and DEC are ADD and SUB of 1 but for CF, which they do not
// write; the logic group's flags depend on the result alone).
// Decided before emission (Emit), so that such a SetFlags does not keep its operands alive.
bool BlockEmitter::HostFlagsHold(u32 n) const {
    const Inst& i = block_.inst(n);
    if (i.op != Opcode::SetFlags || !i.args[3].is_inst()) return false;
    const u32 p = i.args[3].inst();
    for (u32 between = p + 1; between < n; ++between) {
        if (!KeepsHostFlags(block_.inst(between).op)) return false;
    }
    const Inst& producer = block_.inst(p);
    // EmitAlu runs Add/Sub/And/Or/Xor at the value's width when it is 8 bits or more.
    if (producer.type != i.args[1].type() || Bits(producer.type) < 8) return false;
    const auto kind = static_cast<ir::FlagOp>(i.args[0].imm());
    const bool same_operands = producer.args[0] == i.args[1] && producer.args[1] == i.args[2];
    switch (kind) {
        case ir::FlagOp::Add:
        case ir::FlagOp::Inc: return producer.op == Opcode::Add && same_operands;
        case ir::FlagOp::Sub:
        case ir::FlagOp::Dec: return producer.op == Opcode::Sub && same_operands;
        case ir::FlagOp::Logic:
            return producer.op == Opcode::And || producer.op == Opcode::Or || producer.op == Opcode::Xor;
        case ir::FlagOp::Rol:
        case ir::FlagOp::Ror: {
            // EmitRotate runs the host rotate at the value's width (its 8/16-bit zero extension keeps the flags): its CF
            // is the guest's for a count below the width. OF is left out: hosts differ for counts above 1.
            const u64 observed = ir::FlagsWrittenBy(kind) & live_flags_[n];
            const Opcode rotate = kind == ir::FlagOp::Rol ? Opcode::Rol : Opcode::Ror;
            return producer.op == rotate && producer.args[0] == i.args[1] && producer.args[1].is_imm() &&
                   i.args[2].is_imm() && producer.args[1].imm() == i.args[2].imm() && i.args[2].imm() != 0 &&
                   i.args[2].imm() < Bits(producer.type) && (observed & ~u64{rflags::CF}) == 0;
        }
        default: return false;
    }
}

void BlockEmitter::EmitSetFlagsNative(const Inst& i, ir::FlagOp kind) {
    const unsigned bits = Bits(i.args[1].type());
    const Reg a = Sized(rax, bits);
    const Reg b = Sized(rcx, bits);
    // Only the flags something may observe are merged (the others are overwritten before anyone looks).
    const u32 written = static_cast<u32>(ir::FlagsWrittenBy(kind) & live_flags_[current_]);
    u32 host = written;
    if (kind == ir::FlagOp::Logic) host &= ~static_cast<u32>(rflags::AF);  // undefined on the host: ours is 0
    if (host_flags_hold_[current_]) kind = ir::FlagOp::Count;  // nothing to run again
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
            c_.test(a, a);  // SF, ZF, PF of the result, CF = OF = 0
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
    // A SETcc, CMOVcc or the like reading these flags next: its condition straight from the host flags, into a
    // scratch register nothing clobbers before that GetCond (MergeFlags and the deferred-flags routine leave rdi);
    // the flags may then need merging only for a fault.
    const u32 host_cond = HostCondReading(host);
    if (host_cond != 0) {
        static constexpr void (Xbyak::CodeGenerator::*kSetcc[16])(const Xbyak::Operand&) = {
            &Xbyak::CodeGenerator::seto, &Xbyak::CodeGenerator::setno, &Xbyak::CodeGenerator::setb,
            &Xbyak::CodeGenerator::setae, &Xbyak::CodeGenerator::sete, &Xbyak::CodeGenerator::setne,
            &Xbyak::CodeGenerator::setbe, &Xbyak::CodeGenerator::seta, &Xbyak::CodeGenerator::sets,
            &Xbyak::CodeGenerator::setns, &Xbyak::CodeGenerator::setp, &Xbyak::CodeGenerator::setnp,
            &Xbyak::CodeGenerator::setl, &Xbyak::CodeGenerator::setge, &Xbyak::CodeGenerator::setle,
            &Xbyak::CodeGenerator::setg};
        (c_.*kSetcc[block_.inst(host_cond).args[0].imm() & 15])(dil);
        host_cond_at_ = host_cond;
    }
    const bool parked = OnlyFaultsObserve(written, host_cond != 0 ? host_cond : ~u32{0});
    // The usual end of a block, a conditional exit on these very flags: branch on the host flags first and leave them
    // to JitContext::deferred_flags in each arm (EmitExitCond, DeferFlags), whose mask ax's upper half takes now.
    const int exit_cond = parked ? 0 : ExitCondReading(host);
    if (exit_cond != 0) c_.mov(eax, written << kDeferredMaskShift);  // (mov keeps the host flags)
    CaptureFlags();
    SupersedeDeferred(exit_cond != 0);
    if (parked) {
        c_.mov(ParkedFlagsSlot(), ax);
        parked_flags_ = PendingMerge{host, written};
        return;
    }
    pending_merge_ = PendingMerge{host, written};
    if (exit_cond != 0) {
        pending_merge_.until = static_cast<u32>(exit_cond);
        pending_merge_.carry_cf = current_ == supersede_at_ && carry_deferred_cf_;
        return;
    }
    MergeFlags(pending_merge_);
}

// Deferred flags at entry are stale as soon as the block's own flags are in kFlags, or are about to be: the first
// SetFlags (when PlanDeferredFlags chose it) drops them, unless the exit right after it defers its own.
void BlockEmitter::SupersedeDeferred(bool deferred_at_exit) {
    if (current_ != supersede_at_ || deferred_at_exit) return;
    if (carry_deferred_cf_) {
        // Planned to be deferred with the deferred CF, but it is merged here (DefersAtExitStatically was wrong): apply
        // the deferred flags first. The host flags are already captured in ax.
        Label& applied = NewLabel();
        c_.cmp(c_.dword[x64::kCtx + kDeferredFlagsOffset], 0);
        c_.je(applied, Xbyak::CodeGenerator::T_NEAR);
        c_.call(apply_deferred_);
        c_.L(applied);
        return;
    }
    c_.mov(c_.dword[x64::kCtx + kDeferredFlagsOffset], 0);
}

// ax holds captured flags and eax's upper half the mask of m.written (EmitSetFlagsNative): store them as the deferred
// flags, with the flags the host did not compute as the guest does cleared (the logic group's AF), and with CF
// taken from the deferred flags before when the SetFlags keeps CF (m.carry_cf).
void BlockEmitter::DeferFlags(const PendingMerge& m) {
    const u32 cleared = m.written & ~m.host;
    if (cleared & kLahfFlags) c_.and_(ah, static_cast<u8>(~cleared));
    if (cleared & rflags::OF) c_.mov(al, 0);
    if (m.carry_cf) {
        constexpr u32 kCf = static_cast<u32>(rflags::CF);
        c_.mov(ecx, c_.dword[x64::kCtx + kDeferredFlagsOffset]);
        c_.and_(ecx, (kCf << kDeferredMaskShift) | (kCf << 8));
        c_.and_(eax, ~(kCf << 8));
        c_.or_(eax, ecx);
    }
    c_.mov(c_.dword[x64::kCtx + kDeferredFlagsOffset], eax);
}

// Whether the flags `written` by the current SetFlags are overwritten by a later SetFlags of the block before anything
// but an exit through a fault or a stop point could see them (those exits merge parked flags themselves).
bool BlockEmitter::OnlyFaultsObserve(u32 written, u32 skip) const {
    bool same_insn = true;  // a fault later in this very instruction would use an exit made before the flags were parked
    for (u32 n = current_ + 1; n < block_.size(); ++n) {
        if (n == skip) continue;
        const Inst& inst = block_.inst(n);
        if (inst.op == Opcode::GuestInsn) same_insn = false;
        if (same_insn && ir::MayRaise(inst.op)) return false;
        switch (inst.op) {
            case Opcode::SetFlags: {
                const auto kind = static_cast<ir::FlagOp>(inst.args[0].imm());
                const bool unconditional = !ir::WritesConditionally(kind) || (inst.args[2].is_imm() && inst.args[2].imm() != 0);
                return unconditional && (written & ~static_cast<u32>(ir::FlagsWrittenBy(kind))) == 0;
            }
            case Opcode::GetCond:
                if (ir::FlagsReadByCond(static_cast<unsigned>(inst.args[0].imm()) & 15) & written) return false;
                break;
            case Opcode::GetFlag:
            case Opcode::SetFlag:
            case Opcode::GetRflags:
            case Opcode::SetRflags:
            case Opcode::CallHelper: return false;  // (field accesses never reach RFLAGS: the verifier checks)
            default:
                if (ir::IsTerminator(inst.op)) return false;
                break;
        }
    }
    return false;
}

void BlockEmitter::MergeFlags(const PendingMerge& m) {
    const u32 low = m.host & kLahfFlags;
    const bool of = (m.host & rflags::OF) != 0;
    if (of) {
        c_.movzx(ecx, al);
        c_.shl(ecx, 11);  // OF's bit
    }
    c_.movzx(eax, ah);
    // LAHF's other bits are RFLAGS' fixed ones (1 must be set, 3 and 5 clear): with all five flags taken, nothing
    // needs masking.
    if (low != kLahfFlags) c_.and_(eax, low);
    if (of) c_.or_(eax, ecx);
    c_.and_(x64::kFlags, static_cast<u32>(~m.written));  // sign-extended: clears only those flags
    c_.or_(x64::kFlags, rax);
}

// Before emission: what this block does with flags deferred by the block before it. Nothing, if it neither reads nor
// writes the status flags (exits leave them deferred; the epilogue applies them). They are dropped at the SetFlags
// that completes the writing of all six (unconditionally) if nothing reads flags first and, once a SetFlags has
// merged some into kFlags, nothing can leave the block before then. An INC or DEC that comes first and that the exit
// right after it defers keeps their CF in its own (DeferFlags). Any other block applies them at entry.
void BlockEmitter::PlanDeferredFlags() {
    apply_deferred_at_entry_ = false;
    supersede_at_ = ~u32{0};
    carry_deferred_cf_ = false;
    u64 covered = 0;
    for (u32 n = 0; n < block_.size(); ++n) {
        const Inst& inst = block_.inst(n);
        switch (inst.op) {
            case Opcode::SetFlags: {
                const auto kind = static_cast<ir::FlagOp>(inst.args[0].imm());
                if (ir::WritesConditionally(kind) && !(inst.args[2].is_imm() && inst.args[2].imm() != 0)) {
                    apply_deferred_at_entry_ = true;
                    return;
                }
                if (covered == 0 && (kind == ir::FlagOp::Inc || kind == ir::FlagOp::Dec) && DefersAtExitStatically(n)) {
                    supersede_at_ = n;
                    carry_deferred_cf_ = true;
                    return;
                }
                covered |= ir::FlagsWrittenBy(kind) & rflags::Arith;
                if (covered == rflags::Arith) {
                    supersede_at_ = n;
                    return;
                }
                break;
            }
            case Opcode::GetCond:
            case Opcode::GetRflags:
            case Opcode::SetRflags:
            case Opcode::CallHelper: apply_deferred_at_entry_ = true; return;
            case Opcode::GetFlag:
            case Opcode::SetFlag:
                if ((u64{1} << (inst.args[0].imm() & 63)) & rflags::Arith) {
                    apply_deferred_at_entry_ = true;
                    return;
                }
                break;
            default:
                if (ir::IsTerminator(inst.op) || (covered != 0 && ir::MayRaise(inst.op))) {
                    apply_deferred_at_entry_ = covered != 0;
                    return;
                }
                break;
        }
    }
}

// Whether EmitSetFlagsNative will leave the flags of the SetFlags at `n` to the conditional exit after it, decided
// before emission: may_write_code_ then stands for a store or helper call earlier in its guest instruction.
bool BlockEmitter::DefersAtExitStatically(u32 n) const {
    bool may_write_code = false;
    for (u32 k = n; k-- > 0;) {
        const Opcode op = block_.inst(k).op;
        if (op == Opcode::GuestInsn) break;
        if (op == Opcode::Store || op == Opcode::CallHelper) may_write_code = true;
    }
    const auto kind = static_cast<ir::FlagOp>(block_.inst(n).args[0].imm());
    return ExitCondAfter(n, static_cast<u32>(ir::FlagsWrittenBy(kind) & live_flags_[n]), may_write_code) != 0;
}

// The index of the ExitCond that ends the block right after the current SetFlags (only guest instruction boundaries
// that emit nothing between) through a GetCond that reads nothing but flags in `host`, or 0.
int BlockEmitter::ExitCondReading(u32 host) const { return ExitCondAfter(current_, host, may_write_code_); }
int BlockEmitter::ExitCondAfter(u32 set_flags, u32 host, bool may_write_code) const {
    u32 n = set_flags + 1;
    while (n < block_.size() && block_.inst(n).op == Opcode::GuestInsn) {
        if (may_write_code) return 0;  // that boundary tests the exit-request word (changing the host flags)
        ++n;
    }
    if (n + 1 >= block_.size()) return 0;
    const Inst& get = block_.inst(n);
    const Inst& exit = block_.inst(n + 1);
    if (get.op != Opcode::GetCond || last_use_[n] != n + 1 || exit.op != Opcode::ExitCond || !exit.args[0].is_inst() ||
        exit.args[0].inst() != n) {
        return 0;
    }
    const u64 read = ir::FlagsReadByCond(static_cast<unsigned>(get.args[0].imm()) & 15);
    return (read & ~u64{host}) == 0 ? static_cast<int>(n + 1) : 0;
}

// --- Integer arithmetic
// `op(dst, src)` is called with a register or an imm32 source, so one generic lambda covers both forms.
// The operation runs at the value's width (8, 16, 32 or 64 bits), so the host flags are the guest instruction's: 32-bit
// forms zero-extend, and 8/16-bit forms leave the upper bits of the (zero-extended) first operand, zero.
template <typename Op>
void BlockEmitter::EmitAlu(const Inst& i, Op op) {
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    const unsigned bits = Bits(i.type);
    const bool native = bits >= 8;  // U1 values use the 64-bit form (0 or 1 in, 0 or 1 out)
    WithAluSource(i.args[1], native ? bits : 64, native ? Sized(d, bits) : Reg(d), op);
}
template <typename Op>
void BlockEmitter::WithAluSource(const Value& src, unsigned bits, const Reg& dst, Op op) {
    if (IsSimm32(src)) {
        // 64-bit forms sign-extend it back; xbyak wants a 16-bit immediate as the sign extension of its 16 bits.
        const u64 imm = src.imm();
        op(dst, bits == 16 ? static_cast<u32>(static_cast<i32>(static_cast<i16>(imm))) : static_cast<u32>(imm));
    } else if (const std::optional<Xbyak::Address> mem = InMemory(src, bits)) {
        op(dst, *mem);
    } else {
        op(dst, Sized(InReg(src, rcx), bits));
    }
}
void BlockEmitter::EmitAdd(const Inst& i) {
    if (folded_address_[current_]) return;  // the access computes it (EmitMemAccess)
    EmitAlu(i, [&](const auto& d, const auto& b) { c_.add(d, b); });
}
void BlockEmitter::EmitSub(const Inst& i) {
    // A guest CMP: nothing reads the difference, only the flags, which the host CMP sets as SUB does.
    if (const unsigned bits = Bits(i.type); last_use_[current_] == current_ && bits >= 8) {
        WithAluSource(i.args[1], bits, Sized(InReg(i.args[0], rax), bits),
                      [&](const auto& a, const auto& b) { c_.cmp(a, b); });
        return;
    }
    EmitAlu(i, [&](const auto& d, const auto& b) { c_.sub(d, b); });
}
void BlockEmitter::EmitAnd(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.and_(d, b); }); }
void BlockEmitter::EmitOr(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.or_(d, b); }); }
void BlockEmitter::EmitXor(const Inst& i) { EmitAlu(i, [&](const auto& d, const auto& b) { c_.xor_(d, b); }); }
void BlockEmitter::EmitNot(const Inst& i) {
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    c_.not_(Bits(i.type) == 32 ? Reg(d.cvt32()) : Reg(d));  // the 32-bit form zero-extends
    if (Bits(i.type) != 32) MaskTo(d, i.type);
}
void BlockEmitter::EmitNeg(const Inst& i) {
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    c_.neg(Bits(i.type) == 32 ? Reg(d.cvt32()) : Reg(d));
    if (Bits(i.type) != 32) MaskTo(d, i.type);
}

// Shl/Shr/Sar: the count is not masked; a count of at least the width gives 0 (Shl, Shr) or the sign fill (Sar).
void BlockEmitter::EmitShift(const Inst& i) {
    const unsigned bits = Bits(i.type);
    if (i.args[1].is_imm()) {
        EmitShiftConst(i, i.args[1].imm());
        return;
    }
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
// The same semantics for a constant count, as one immediate-form host shift.
void BlockEmitter::EmitShiftConst(const Inst& i, u64 count) {
    const unsigned bits = Bits(i.type);
    if (i.op != Opcode::Sar && count >= bits) {
        const Reg64 d = Def();
        c_.xor_(d.cvt32(), d.cvt32());
        return;
    }
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    // 32-bit forms zero-extend their result (and SAR reads bit 31 as the sign): no extension or mask needed.
    const bool is32 = bits == 32;
    const Reg r = is32 ? Reg(d.cvt32()) : Reg(d);
    if (i.op == Opcode::Sar) {
        if (!is32) SignExtendTo64(d, i.type);
        c_.sar(r, static_cast<int>(std::min<u64>(count, bits - 1)));
    } else if (i.op == Opcode::Shl) {
        c_.shl(r, static_cast<int>(count));
    } else {
        c_.shr(r, static_cast<int>(count));
    }
    if (!is32) MaskTo(d, i.type);
}
void BlockEmitter::EmitShl(const Inst& i) {
    if (folded_address_[current_]) return;  // the access computes it (EmitMemAccess)
    EmitShift(i);
}
void BlockEmitter::EmitShr(const Inst& i) { EmitShift(i); }
void BlockEmitter::EmitSar(const Inst& i) { EmitShift(i); }
// Host rotates take the count modulo 32 (64 for 64-bit operands), a multiple of every width, then modulo the width.
void BlockEmitter::EmitRotate(const Inst& i, bool left) {
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    const Reg sized = Sized(d, Bits(i.type));
    if (i.args[1].is_imm()) {
        const u8 count = static_cast<u8>(i.args[1].imm());
        left ? c_.rol(sized, count) : c_.ror(sized, count);
    } else {
        LoadArg(rcx, i, 1);
        left ? c_.rol(sized, cl) : c_.ror(sized, cl);
    }
    if (Bits(i.type) != 32) MaskTo(d, i.type);  // 32-bit rotates zero-extend
}
void BlockEmitter::EmitRol(const Inst& i) { EmitRotate(i, true); }
void BlockEmitter::EmitRor(const Inst& i) { EmitRotate(i, false); }
void BlockEmitter::EmitMul(const Inst& i) {
    const Reg64 d = DefReusing(0);
    const bool is32 = Bits(i.type) == 32;  // a 32-bit multiply zero-extends its low half: no mask
    if (IsSimm32(i.args[1])) {
        const Reg64 a = InReg(i.args[0], rax);
        const int imm = static_cast<int>(static_cast<u32>(i.args[1].imm()));
        is32 ? c_.imul(d.cvt32(), a.cvt32(), imm) : c_.imul(d, a, imm);
    } else {
        Load(d, i.args[0]);
        const Reg64 b = InReg(i.args[1], rcx);
        is32 ? c_.imul(d.cvt32(), b.cvt32()) : c_.imul(d, b);
    }
    if (!is32) MaskTo(d, i.type);
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
                               void (Xbyak::CodeGenerator::*setcc)(const Xbyak::Operand&), unsigned host_cc) {
    LoadArg(rax, i, 0);
    LoadArg(rcx, i, 1);
    if (is_signed) {
        SignExtendTo64(rax, i.args[0].type());
        SignExtendTo64(rcx, i.args[0].type());
    }
    c_.cmp(rax, rcx);
    // Read only by the RaiseExceptionIf that follows (canonical-address and limit checks): it branches on the flags.
    if (current_ + 1 < block_.size() && last_use_[current_] == current_ + 1) {
        const Inst& next = block_.inst(current_ + 1);
        if (next.op == Opcode::RaiseExceptionIf && next.args[0].is_inst() && next.args[0].inst() == current_) {
            fused_compare_ = static_cast<int>(host_cc);
            return;
        }
    }
    (c_.*setcc)(al);
    c_.movzx(eax, al);
    Result(rax);
}
void BlockEmitter::EmitCmpEq(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::sete, 0x4); }
void BlockEmitter::EmitCmpNe(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::setne, 0x5); }
void BlockEmitter::EmitCmpULt(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::setb, 0x2); }
void BlockEmitter::EmitCmpULe(const Inst& i) { EmitCompare(i, false, &Xbyak::CodeGenerator::setbe, 0x6); }
void BlockEmitter::EmitCmpSLt(const Inst& i) { EmitCompare(i, true, &Xbyak::CodeGenerator::setl, 0xc); }
void BlockEmitter::EmitCmpSLe(const Inst& i) { EmitCompare(i, true, &Xbyak::CodeGenerator::setle, 0xe); }
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
void BlockEmitter::EmitZeroExtend(const Inst& i) { Load(DefReusing(0), i.args[0]); }
void BlockEmitter::EmitSignExtend(const Inst& i) {
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    SignExtendTo64(d, i.args[0].type());
    MaskTo(d, i.type);
}
void BlockEmitter::EmitTruncate(const Inst& i) {
    const Reg64 d = DefReusing(0);
    Load(d, i.args[0]);
    MaskTo(d, i.type);
}

}  // namespace emu::cpu::jit::x64
