#include "emu/cpu/system/task_switch.h"

#include <cstring>

#include "emu/cpu/system/control.h"
#include "emu/cpu/system/debug.h"
#include "emu/cpu/system/exceptions.h"

namespace emu::cpu::system {
namespace {

// The 32-bit TSS (SDM Vol. 3 Figure 8-2).
constexpr u32 kTssLink = 0x00, kTssCr3 = 0x1C, kTssEip = 0x20, kTssLdt = 0x60, kTssTrap = 0x64;
constexpr u32 kTss32MinLimit = 0x67;
constexpr u32 kTssBytes = 0x68;
constexpr u32 kStateBytes = 0x40;  // EIP, EFLAGS, 8 GPRs, 6 selectors (dwords): what a switch saves
constexpr u8 kBusyBit = 1u << 1;   // in the type field: 9 available, 11 busy

enum class Entry : u8 { Jmp, Call, Iret, Event };

bool Nests(Entry e) { return e == Entry::Call || e == Entry::Event; }

u32 Le32(const u8* p) {
    u32 v;
    std::memcpy(&v, p, 4);
    return v;
}

// A fault of the switch: before anything changed, or in the new task (its state loaded).
struct SwitchFault {
    Exception e;
    bool in_new_task = false;
};
using SwitchStatus = Result<void, SwitchFault>;
Err<SwitchFault> Before(const Exception& e) { return Err{SwitchFault{e, false}}; }
Err<SwitchFault> InNewTask(const Exception& e) { return Err{SwitchFault{e, true}}; }
Exception Code(u8 vector, u16 selector, u32 ext = 0) { return Exception{vector, true, SelectorCode(selector, ext), 0}; }

// The TSS descriptor a task gate or an IRET's link names: in the GDT, a 32-bit TSS, busy exactly when `busy`
// (else `vector`(selector)), present (else #NP(selector)).
SysResult<Descriptor> TaskDescriptor(MemoryInterface& m, const CpuState& s, u16 selector, u32 ext, bool busy,
                                     u8 vector) {
    const u32 code = SelectorCode(selector, ext);
    if ((selector & 4) || (selector & 0xFFFC) == 0) return RaiseCode(vector, code);
    auto d = ReadDescriptor(m, s, selector, ext);
    if (!d) return RaiseCode(vector, code);
    if (d->s() || d->type() != (busy ? systype::Tss32Busy : systype::Tss32Avail)) return RaiseCode(vector, code);
    if (!d->present()) return RaiseCode(vec::NP, code);
    return d;
}

Status SetBusy(MemoryInterface& m, const CpuState& s, u16 selector, bool busy) {
    auto at = DescriptorAddress(s, selector, 8);
    EMU_SYS_TRY(at);
    u8 type_byte = 0;
    EMU_SYS_TRY(ReadLinear(m, s, *at + 5, &type_byte, 1));
    type_byte = static_cast<u8>(busy ? type_byte | kBusyBit : type_byte & ~kBusyBit);
    return WriteLinear(m, s, *at + 5, &type_byte, 1);
}

// A descriptor the new task's state names: outside its table or not readable there is #TS(selector).
SysResult<Descriptor> NewTaskDescriptor(MemoryInterface& m, const CpuState& s, u16 selector) {
    auto d = ReadDescriptor(m, s, selector);
    if (!d) return d.error().vector == vec::GP ? Err{Code(vec::TS, selector)} : Err{d.error()};
    return d;
}

Status LoadNewLdt(MemoryInterface& m, CpuState& s, u16 selector) {
    if ((selector & 0xFFFC) == 0) {
        s.ldtr = Segment{selector, 0, 0, attr::Unusable};
        return {};
    }
    if (selector & 4) return Err{Code(vec::TS, selector)};
    auto d = NewTaskDescriptor(m, s, selector);
    EMU_SYS_TRY(d);
    if (d->s() || d->type() != systype::Ldt || !d->present()) return Err{Code(vec::TS, selector)};
    s.ldtr = d->ToSegment(selector);
    return {};
}

// CS, SS, then DS, ES, FS, GS of the new task (Table 8-2), each marked accessed. The CPL is CS's RPL.
Status LoadNewSegments(MemoryInterface& m, CpuState& s, const u16 (&sel)[kNumSegRegs]) {
    const u16 cs_sel = sel[static_cast<unsigned>(SegReg::Cs)];
    const unsigned cpl = cs_sel & 3u;
    if ((cs_sel & 0xFFFC) == 0) return Err{Code(vec::TS, cs_sel)};
    auto cs = NewTaskDescriptor(m, s, cs_sel);
    EMU_SYS_TRY(cs);
    if (!cs->is_code() || (cs->conforming() ? cs->dpl() > cpl : cs->dpl() != cpl)) return Err{Code(vec::TS, cs_sel)};
    if (!cs->present()) return Err{Code(vec::NP, cs_sel)};

    const u16 ss_sel = sel[static_cast<unsigned>(SegReg::Ss)];
    if ((ss_sel & 0xFFFC) == 0) return Err{Code(vec::TS, ss_sel)};
    auto ss = NewTaskDescriptor(m, s, ss_sel);
    EMU_SYS_TRY(ss);
    if (!ss->writable_data() || ss->dpl() != cpl || (ss_sel & 3u) != cpl) return Err{Code(vec::TS, ss_sel)};
    if (!ss->present()) return Err{Code(vec::SS, ss_sel)};
    EMU_SYS_TRY(MarkAccessed(m, s, cs_sel, *cs));
    EMU_SYS_TRY(MarkAccessed(m, s, ss_sel, *ss));
    s.segment(SegReg::Cs) = CodeSegmentCache(*cs, cs_sel, cpl);
    s.segment(SegReg::Ss) = ss->ToSegment(ss_sel);

    for (SegReg r : {SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs}) {
        const u16 selector = sel[static_cast<unsigned>(r)];
        if ((selector & 0xFFFC) == 0) {
            s.segment(r) = NullSegment(selector);
            continue;
        }
        auto d = NewTaskDescriptor(m, s, selector);
        EMU_SYS_TRY(d);
        if (!d->is_data() && !(d->is_code() && d->readable())) return Err{Code(vec::TS, selector)};
        if (!d->present()) return Err{Code(vec::NP, selector)};
        if (!d->conforming() && (d->dpl() < cpl || d->dpl() < (selector & 3u))) return Err{Code(vec::TS, selector)};
        EMU_SYS_TRY(MarkAccessed(m, s, selector, *d));
        s.segment(r) = d->ToSegment(selector);
    }
    return {};
}

// CR3 as MOV CR3 loads it (TLB flush, PAE PDPTEs), whatever the privilege the switch leaves.
Status LoadNewCr3(MemoryInterface& m, CpuState& s, u32 cr3) {
    CpuState at_cpl0 = s;
    at_cpl0.segment(SegReg::Cs).attr &= ~attr::Dpl(3);
    at_cpl0.rflags &= ~rflags::VM;
    EMU_SYS_TRY(WriteControlRegister(at_cpl0, m, 3, cr3));
    s.cr3 = at_cpl0.cr3;
    return {};
}

// The switch itself (SDM Vol. 3 8.3 steps 3-11) to the 32-bit TSS `new_sel` (descriptor `tss`, checked by the caller
// for type, busy state, privilege and presence). `saved_eip` goes into the old TSS.
SwitchStatus SwitchTasks(CpuState& s, MemoryInterface& m, u16 new_sel, const Descriptor& tss, Entry entry,
                         u64 saved_eip) {
    if (tss.limit() < kTss32MinLimit) return Before(Code(vec::TS, new_sel));
    u8 image[kTssBytes];
    if (auto r = ReadLinear(m, s, tss.base32(), image, sizeof image); !r) return Before(r.error());

    // The old task's state into its TSS; IRET saves NT clear (the task it leaves is no longer nested).
    u32 saved[kStateBytes / 4];
    saved[0] = static_cast<u32>(saved_eip);
    saved[1] = static_cast<u32>(entry == Entry::Iret ? s.rflags & ~rflags::NT : s.rflags);
    for (unsigned i = 0; i < 8; ++i) saved[2 + i] = static_cast<u32>(s.gpr[i]);
    for (unsigned i = 0; i < kNumSegRegs; ++i) saved[10 + i] = s.seg[i].selector;
    const u16 old_sel = s.tr.selector;
    if (auto r = WriteLinear(m, s, s.tr.base + kTssEip, saved, sizeof saved); !r) return Before(r.error());
    if (entry == Entry::Jmp || entry == Entry::Iret) {
        if (auto r = SetBusy(m, s, old_sel, false); !r) return Before(r.error());
    }
    if (entry != Entry::Iret) {
        if (auto r = SetBusy(m, s, new_sel, true); !r) return Before(r.error());
    }
    if (Nests(entry)) {
        const u16 link = old_sel;
        if (auto r = WriteLinear(m, s, tss.base32() + kTssLink, &link, 2); !r) return Before(r.error());
    }

    // Commit: the new task's TR, then its registers. Faults from here on belong to the new task.
    s.tr = tss.ToSegment(new_sel);
    s.tr.attr = (s.tr.attr & ~0xFu) | systype::Tss32Busy;
    s.cr0 |= cr0::TS;
    u64 eflags = Le32(image + 0x24) | rflags::Reserved1;
    if (Nests(entry)) eflags |= rflags::NT;
    s.rflags = eflags;
    s.rip = Le32(image + kTssEip);
    for (unsigned i = 0; i < 8; ++i) s.gpr[i] = Le32(image + 0x28 + 4 * i);
    u16 sel[kNumSegRegs];
    for (unsigned i = 0; i < kNumSegRegs; ++i) {
        sel[i] = static_cast<u16>(Le32(image + 0x48 + 4 * i));
        s.seg[i].selector = sel[i];  // the selectors are loaded even when a descriptor check below fails
    }
    s.ldtr.selector = static_cast<u16>(Le32(image + kTssLdt));
    if (s.cr0 & cr0::PG) {
        if (auto r = LoadNewCr3(m, s, Le32(image + kTssCr3)); !r) return InNewTask(r.error());
    }
    if (auto r = LoadNewLdt(m, s, s.ldtr.selector); !r) return InNewTask(r.error());
    if (eflags & rflags::VM) {
        // Back to virtual-8086 mode: real-mode style segments, CPL 3.
        for (unsigned i = 0; i < kNumSegRegs; ++i) {
            s.seg[i] = Segment{sel[i], u64{sel[i]} << 4, 0xFFFF, i == static_cast<unsigned>(SegReg::Cs) ? 0xFBu : 0xF3u};
        }
        return {};
    }
    if (auto r = LoadNewSegments(m, s, sel); !r) return InNewTask(r.error());
    return {};
}

// Delivers `e` in the current (new) task, as a fault of its first instruction. A shutdown there is reported as the
// #DF that caused it: the caller's delivery of it meets the same IDT and shuts down too.
Status DeliverInNewTask(CpuState& s, MemoryInterface& m, const Exception& e) {
    const Event event{e.vector, EventKind::Exception, e.has_error_code, e.error_code, e.cr2, IsFaultVector(e.vector)};
    if (DeliverEvent(s, m, event) == DeliveryResult::TripleFault) return RaiseCode(vec::DF, 0);
    return {};
}

// The new task's first checks: EIP within CS's limit (else #GP(limit_code)), then the TSS's T bit, a #DB trap
// before its first instruction.
Status EnterNewTask(CpuState& s, MemoryInterface& m, u32 limit_code) {
    if (!(s.rflags & rflags::VM) && s.rip > s.segment(SegReg::Cs).limit) return Gp(limit_code);
    u8 trap = 0;
    if (ReadLinear(m, s, s.tr.base + kTssTrap, &trap, 1) && (trap & 1)) {
        s.dr[6] |= dr6::BT;
        return DeliverInNewTask(s, m, Exception{vec::DB, false, 0, 0});
    }
    return {};
}

// After JMP, CALL or IRET switched: a fault of the new task is delivered there. Returns the RIP to go on at.
SysResult<u64> FinishInstructionSwitch(CpuState& s, MemoryInterface& m, const SwitchStatus& r) {
    if (!r && !r.error().in_new_task) return Err{r.error().e};
    const Status entered = r ? EnterNewTask(s, m, 0) : Status{Err{r.error().e}};
    if (!entered) EMU_SYS_TRY(DeliverInNewTask(s, m, entered.error()));
    return s.rip;
}

}  // namespace

std::optional<SysResult<u64>> FarTaskSwitch(CpuState& s, MemoryInterface& m, u16 selector, bool call, u64 next_rip) {
    if (s.long_mode_active() || (selector & 0xFFFC) == 0) return std::nullopt;
    const auto d = ReadDescriptor(m, s, selector);
    if (!d || d->s()) return std::nullopt;  // the ordinary far transfer reports or handles it
    const u8 type = d->type();
    const bool gate = type == systype::TaskGate;
    const bool tss = type == systype::Tss32Avail || type == systype::Tss32Busy || type == systype::Tss16Avail ||
                     type == systype::Tss16Busy;
    if (!gate && !tss) return std::nullopt;
    const u32 code = SelectorCode(selector);
    const unsigned cpl = s.cpl();
    // JMP/CALL: the gate's or the TSS's DPL against CPL and RPL; a TSS must be an available 32-bit one.
    if (d->dpl() < cpl || d->dpl() < (selector & 3u) || (tss && type != systype::Tss32Avail)) {
        return SysResult<u64>{Gp(code)};
    }
    if (!d->present()) return SysResult<u64>{RaiseCode(vec::NP, code)};
    u16 tss_sel = selector;
    Descriptor target = *d;
    if (gate) {
        tss_sel = d->gate_selector();
        auto t = TaskDescriptor(m, s, tss_sel, 0, false, vec::GP);
        if (!t) return SysResult<u64>{Err{t.error()}};
        target = *t;
    }
    const auto r = SwitchTasks(s, m, tss_sel, target, call ? Entry::Call : Entry::Jmp, next_rip);
    return FinishInstructionSwitch(s, m, r);
}

SysResult<u64> TaskReturn(CpuState& s, MemoryInterface& m, u64 next_rip) {
    u16 link = 0;
    EMU_SYS_TRY(ReadLinear(m, s, s.tr.base + kTssLink, &link, 2));
    auto target = TaskDescriptor(m, s, link, 0, true, vec::TS);
    EMU_SYS_TRY(target);
    const auto r = SwitchTasks(s, m, link, *target, Entry::Iret, next_rip);
    return FinishInstructionSwitch(s, m, r);
}

Status EventTaskSwitch(CpuState& s, MemoryInterface& m, const Descriptor& gate, u32 ext, bool push_code,
                       u32 error_code) {
    const u16 tss_sel = gate.gate_selector();
    auto target = TaskDescriptor(m, s, tss_sel, ext, false, vec::GP);
    EMU_SYS_TRY(target);
    const auto r = SwitchTasks(s, m, tss_sel, *target, Entry::Event, s.rip);
    if (!r && !r.error().in_new_task) return Err{r.error().e};
    Status entered = r ? Status{} : Status{Err{r.error().e}};
    if (entered && push_code) {
        StackCursor st(m, s);
        if (st.Push(4, error_code)) {
            SetStackPointer(s, st.mask, st.sp);
        } else {
            entered = RaiseCode(vec::SS, ext);
        }
    }
    if (entered) entered = EnterNewTask(s, m, ext);
    // A fault of the new task is its own, delivered there; the event that switched is not retried.
    return entered ? entered : DeliverInNewTask(s, m, entered.error());
}

}  // namespace emu::cpu::system
