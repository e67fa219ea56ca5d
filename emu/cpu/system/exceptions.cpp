#include "emu/cpu/system/exceptions.h"

#include <array>

#include "emu/cpu/system/debug.h"
#include "emu/cpu/system/descriptors.h"
#include "emu/cpu/system/task_switch.h"

namespace emu::cpu::system {
namespace {

// EXT (error-code bit 0): the fault happened while delivering an event external to the program.
u32 ExtOf(const Event& e) { return e.kind == EventKind::SoftwareInt ? 0 : 1; }

bool PushesErrorCode(const Event& e) { return e.kind == EventKind::Exception && e.has_error_code; }

// The values an event pushes, in push order (the first lands at the highest address).
struct Frame {
    std::array<u64, 12> slots{};
    unsigned count = 0;
    void Push(u64 v) { slots[count++] = v; }
};

// Pushes `f` with `slot`-byte slots below `sp` on a stack at `ss_base`; returns the new stack pointer.
// Outside 64-bit mode linear addresses wrap at 4 GiB.
SysResult<u64> WriteFrame(MemoryInterface& m, const CpuState& s, u64 ss_base, u64 mask, u64 sp, const Frame& f,
                          unsigned slot, bool user, bool wrap32) {
    for (unsigned i = 0; i < f.count; ++i) {
        sp = (sp - slot) & mask;
        const u64 linear = wrap32 ? (ss_base + sp) & 0xFFFFFFFF : ss_base + sp;
        EMU_SYS_TRY(WriteLinear(m, s, linear, &f.slots[i], slot, user));
    }
    return sp;
}

Status DeliverReal(CpuState& s, MemoryInterface& m, const Event& e) {
    const u64 entry = u64{e.vector} * 4;
    if (entry + 3 > s.idtr.limit) return Gp(0);
    u32 pointer = 0;
    EMU_SYS_TRY(ReadLinear(m, s, s.idtr.base + entry, &pointer, 4));
    Frame f;  // FLAGS, CS, IP; real mode pushes no error code
    f.Push(s.rflags & 0xFFFF);
    f.Push(s.segment(SegReg::Cs).selector);
    f.Push(s.rip & 0xFFFF);
    const u64 mask = StackMask(s);
    const auto sp = WriteFrame(m, s, s.segment(SegReg::Ss).base, mask, s.reg(Gpr::Rsp), f, 2, false, true);
    EMU_SYS_TRY(sp);
    SetStackPointer(s, mask, *sp);
    s.rflags &= ~(rflags::IF | rflags::TF | rflags::AC | rflags::RF);
    Segment& cs = s.segment(SegReg::Cs);
    cs.selector = static_cast<u16>(pointer >> 16);
    cs.base = u64{cs.selector} << 4;
    s.rip = pointer & 0xFFFF;
    return {};
}

// Enters the handler at selector:offset through a gate whose slots are `slot` bytes (2, 4 or 8); `ist` is
// the long-mode IST index (0: none). SDM Vol. 3 6.12.1 and 6.14.
Status EnterHandler(CpuState& s, MemoryInterface& m, const Event& e, u16 selector, u64 offset, unsigned slot,
                    bool trap, unsigned ist) {
    const u32 ext = ExtOf(e);
    const unsigned cpl = s.cpl();
    const bool long_mode = s.long_mode_active();
    const bool v86 = (s.rflags & rflags::VM) && !long_mode;
    if ((selector & 0xFFFC) == 0) return Gp(ext);
    auto desc = ReadDescriptor(m, s, selector, ext);
    EMU_SYS_TRY(desc);
    Descriptor cs = *desc;
    const u32 sel_code = SelectorCode(selector, ext);
    if (!cs.is_code() || cs.dpl() > cpl) return Gp(sel_code);
    if (long_mode && (!cs.l() || cs.db())) return Gp(sel_code);
    if (!cs.present()) return RaiseCode(vec::NP, sel_code);
    const unsigned new_cpl = cs.conforming() ? cpl : cs.dpl();
    if (v86 && new_cpl != 0) return Gp(sel_code);
    const bool inner = new_cpl < cpl;
    if (long_mode ? !IsCanonical(offset) : offset > cs.limit()) return Gp(ext);

    const Segment old_ss = s.segment(SegReg::Ss);
    Segment new_ss = old_ss;
    u64 sp = s.reg(Gpr::Rsp);
    u64 mask = StackMask(s);
    Frame f;
    if (long_mode) {
        if (ist != 0) {
            EMU_SYS_TRY(ReadTss(m, s, 0x24 + 8 * (ist - 1), &sp, 8, ext));
            if (!IsCanonical(sp)) return RaiseCode(vec::SS, ext);
        } else if (inner) {
            auto stack = ReadInnerStack(m, s, new_cpl, ext);
            EMU_SYS_TRY(stack);
            sp = stack->sp;
        }
        if (inner) {  // SS := NULL with RPL = new CPL (SDM 6.14.4), also when IST supplied the stack
            new_ss = NullSegment(static_cast<u16>(new_cpl));
            new_ss.attr |= attr::Dpl(new_cpl);
        }
        sp &= ~u64{15};
        mask = ~u64{0};
        f.Push(old_ss.selector);
        f.Push(s.reg(Gpr::Rsp));
    } else if (inner) {
        auto stack = ReadInnerStack(m, s, new_cpl, ext);
        EMU_SYS_TRY(stack);
        new_ss = stack->ss;
        sp = stack->sp;
        mask = stack->mask;
        if (v86) {
            for (SegReg r : {SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es}) f.Push(s.segment(r).selector);
        }
        f.Push(old_ss.selector);
        f.Push(s.reg(Gpr::Rsp));
    }
    f.Push(s.rflags | (e.resume_flag ? rflags::RF : 0));
    f.Push(s.segment(SegReg::Cs).selector);
    f.Push(s.rip);
    if (PushesErrorCode(e)) f.Push(e.error_code);
    const auto new_sp = WriteFrame(m, s, long_mode ? 0 : new_ss.base, mask, sp, f, slot, new_cpl == 3, !long_mode);
    EMU_SYS_TRY(new_sp);
    EMU_SYS_TRY(MarkAccessed(m, s, selector, cs));

    // Commit: nothing below can fault.
    s.segment(SegReg::Ss) = new_ss;
    if (long_mode) {
        s.reg(Gpr::Rsp) = *new_sp;
    } else {
        SetStackPointer(s, mask, *new_sp);
    }
    s.segment(SegReg::Cs) = CodeSegmentCache(cs, selector, new_cpl);
    if (v86) {
        for (SegReg r : {SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs}) s.segment(r) = NullSegment(0);
    }
    s.rflags &= ~(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
    if (!trap) s.rflags &= ~rflags::IF;
    s.rip = offset;
    return {};
}

// Protected and long mode: the IDT gate (SDM Vol. 3 6.10-6.14).
Status DeliverProtected(CpuState& s, MemoryInterface& m, const Event& e) {
    const u32 ext = ExtOf(e);
    const u32 idt_code = (u32{e.vector} << 3) | 2 | ext;
    const bool long_mode = s.long_mode_active();
    const unsigned gate_bytes = long_mode ? 16 : 8;
    if (u64{e.vector} * gate_bytes + gate_bytes - 1 > s.idtr.limit) return Gp(idt_code);
    Descriptor gate;
    const u64 at = s.idtr.base + u64{e.vector} * gate_bytes;
    EMU_SYS_TRY(ReadLinear(m, s, at, &gate.lo, 8));
    if (long_mode) EMU_SYS_TRY(ReadLinear(m, s, at + 8, &gate.hi, 8));
    const u8 type = gate.s() ? 0 : gate.type();
    unsigned slot = 0;
    if (type == systype::IntGate32 || type == systype::TrapGate32) {
        slot = long_mode ? 8 : 4;
    } else if (!long_mode && (type == systype::IntGate16 || type == systype::TrapGate16)) {
        slot = 2;
    } else if (long_mode || type != systype::TaskGate) {
        return Gp(idt_code);
    }
    if (e.kind == EventKind::SoftwareInt && gate.dpl() < s.cpl()) return Gp(idt_code);
    if (!gate.present()) return RaiseCode(vec::NP, idt_code);
    if (type == systype::TaskGate) return EventTaskSwitch(s, m, gate, ext, PushesErrorCode(e), e.error_code);
    if (!long_mode) gate.hi = 0;
    const u64 offset = slot == 2 ? gate.lo & 0xFFFF : slot == 4 ? gate.gate_offset() & 0xFFFFFFFF : gate.gate_offset();
    return EnterHandler(s, m, e, gate.gate_selector(), offset, slot, type & 1, long_mode ? gate.gate_ist() : 0);
}

}  // namespace

bool IsFaultVector(u8 vector) {
    switch (vector) {
        case vec::DE:
        case vec::BR:
        case vec::UD:
        case vec::NM:
        case vec::TS:
        case vec::NP:
        case vec::SS:
        case vec::GP:
        case vec::PF:
        case vec::MF:
        case vec::AC:
        case vec::XM: return true;
        default: return false;
    }
}

ExceptionClass ClassOf(u8 vector) {
    switch (vector) {
        case vec::DE:
        case vec::TS:
        case vec::NP:
        case vec::SS:
        case vec::GP: return ExceptionClass::Contributory;
        case vec::PF: return ExceptionClass::PageFault;
        case vec::DF: return ExceptionClass::DoubleFault;
        default: return ExceptionClass::Benign;
    }
}

Status DeliverOnce(CpuState& s, MemoryInterface& m, const Event& event) {
    if (s.mode() == CpuMode::Real) return DeliverReal(s, m, event);
    return DeliverProtected(s, m, event);
}

DeliveryResult DeliverEvent(CpuState& s, MemoryInterface& m, const Event& event) {
    Event current = event;
    // Each round either delivers or escalates; benign faults chain serially, so bound the rounds (a chain of
    // benign faults that never settles is a shutdown in practice).
    for (unsigned round = 0; round < 8; ++round) {
        if (current.kind == EventKind::Exception && current.vector == vec::PF) s.cr2 = current.cr2;
        const Status r = DeliverOnce(s, m, current);
        if (r) {
            // Entering the #DB handler clears DR7.GD, so the handler may use the debug registers (SDM 18.2.4).
            if (current.vector == vec::DB && current.kind != EventKind::SoftwareInt) s.dr[7] &= ~dr7::GD;
            return DeliveryResult::Delivered;
        }
        const Exception& second = r.error();
        if (current.kind == EventKind::SoftwareInt) s.rip = current.instruction_rip;
        if (second.vector == vec::PF) s.cr2 = second.cr2;  // loaded when detected, even if it becomes #DF
        const ExceptionClass first =
            current.kind == EventKind::Exception ? ClassOf(current.vector) : ExceptionClass::Benign;
        if (first == ExceptionClass::DoubleFault) return DeliveryResult::TripleFault;
        const ExceptionClass next = ClassOf(second.vector);
        const bool df = (first == ExceptionClass::Contributory && next == ExceptionClass::Contributory) ||
                        (first == ExceptionClass::PageFault && next != ExceptionClass::Benign);
        if (df) {
            current = Event{vec::DF, EventKind::Exception, true, 0, 0, false};
        } else {
            current = Event{second.vector, EventKind::Exception, second.has_error_code, second.error_code, second.cr2,
                            IsFaultVector(second.vector)};
        }
    }
    return DeliveryResult::TripleFault;
}

// --- IRET

namespace {

Segment V86Segment(u16 selector, u32 type_bits) { return Segment{selector, u64{selector} << 4, 0xFFFF, type_bits}; }

// IRETD at CPL 0 with VM set in the popped EFLAGS (SDM IRET "RETURN-TO-VIRTUAL-8086-MODE").
SysResult<u64> ReturnToV86(CpuState& s, StackCursor& st, u64 rip, u16 cs, u64 flags) {
    u64 esp, ss, es, ds, fs, gs;
    for (u64* v : {&esp, &ss, &es, &ds, &fs, &gs}) EMU_SYS_TRY(st.Pop(4, v));
    s.rflags = (flags & 0xFFFFFFFF) | rflags::Reserved1;
    constexpr u32 kData = 0xF3, kCode = 0xFB;  // present, DPL 3, accessed
    s.segment(SegReg::Cs) = V86Segment(cs, kCode);
    s.segment(SegReg::Ss) = V86Segment(static_cast<u16>(ss), kData);
    s.segment(SegReg::Es) = V86Segment(static_cast<u16>(es), kData);
    s.segment(SegReg::Ds) = V86Segment(static_cast<u16>(ds), kData);
    s.segment(SegReg::Fs) = V86Segment(static_cast<u16>(fs), kData);
    s.segment(SegReg::Gs) = V86Segment(static_cast<u16>(gs), kData);
    s.reg(Gpr::Rsp) = esp & 0xFFFFFFFF;
    return rip & 0xFFFF;
}

}  // namespace

SysResult<u64> InterruptReturn(CpuState& s, MemoryInterface& m, unsigned op_size) {
    if (s.rflags & rflags::NT) return Gp(0);  // IA-32e mode: #GP(0); legacy modes: TaskReturn (task_switch.h)
    const unsigned cpl = s.cpl();
    const bool long_mode = s.long_mode_active();
    StackCursor st(m, s);
    u64 rip, cs_raw, flags;
    EMU_SYS_TRY(st.Pop(op_size, &rip));
    EMU_SYS_TRY(st.Pop(op_size, &cs_raw));
    EMU_SYS_TRY(st.Pop(op_size, &flags));
    const u16 cs_sel = static_cast<u16>(cs_raw);
    if (!long_mode && (flags & rflags::VM) && cpl == 0 && op_size == 4) {
        return ReturnToV86(s, st, rip, cs_sel, flags);
    }
    auto cs = CheckReturnCodeSegment(m, s, cs_sel);
    EMU_SYS_TRY(cs);
    const unsigned new_cpl = cs_sel & 3;
    const bool target64 = long_mode && cs->l();
    const bool pop_ss = s.mode() == CpuMode::Long64 || new_cpl > cpl;
    u64 new_rsp = 0, ss_raw = 0;
    Segment new_ss = s.segment(SegReg::Ss);
    if (pop_ss) {
        EMU_SYS_TRY(st.Pop(op_size, &new_rsp));
        EMU_SYS_TRY(st.Pop(op_size, &ss_raw));
        auto ss = CheckReturnStackSegment(m, s, static_cast<u16>(ss_raw), new_cpl, target64);
        EMU_SYS_TRY(ss);
        new_ss = *ss;
    }
    if (op_size == 2) rip &= 0xFFFF;
    if (target64 ? !IsCanonical(rip) : rip > cs->limit()) return Gp(0);

    u64 changeable = rflags::Arith | rflags::TF | rflags::DF | rflags::NT | rflags::RF | rflags::AC | rflags::ID;
    if (cpl <= ((s.rflags & rflags::IOPL) >> 12)) changeable |= rflags::IF;
    if (cpl == 0) changeable |= rflags::IOPL | rflags::VIF | rflags::VIP;
    if (op_size == 2) changeable &= 0xFFFF;

    // Commit.
    s.rflags = ((s.rflags & ~changeable) | (flags & changeable) | rflags::Reserved1) & ~rflags::VM;
    s.segment(SegReg::Cs) = CodeSegmentCache(*cs, cs_sel, new_cpl);
    if (pop_ss) {
        s.segment(SegReg::Ss) = new_ss;
        const u64 new_mask = target64 ? ~u64{0} : (new_ss.attr & attr::DB) ? 0xFFFFFFFF : 0xFFFF;
        if (op_size == 2) new_rsp &= 0xFFFF;
        SetStackPointer(s, new_mask, new_rsp);
    } else {
        SetStackPointer(s, st.mask, st.sp);
    }
    if (new_cpl > cpl) NullInaccessibleSegments(s, new_cpl);
    s.nmi_blocked = false;  // IRET ends NMI blocking (SDM Vol. 3 6.7.1)
    return rip;
}

}  // namespace emu::cpu::system
