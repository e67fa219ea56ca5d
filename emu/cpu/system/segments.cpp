#include "emu/cpu/system/segments.h"

#include <cstring>

#include "emu/cpu/system/control.h"
#include "emu/cpu/system/descriptors.h"

namespace emu::cpu::system {
namespace {

bool RealOrV86(const CpuState& s) {
    const CpuMode mode = s.mode();
    return mode == CpuMode::Real || mode == CpuMode::Virtual8086;
}

// The target code segment of a far JMP/CALL: `selector` names a code segment (SDM JMP/CALL "far jump/call to
// conforming/nonconforming code segment") or a call gate ("call gate" sections). Task gates and TSS
// descriptors (task switches) are not modelled: #GP(selector).
struct FarTarget {
    Descriptor code;
    u16 code_selector = 0;
    u64 offset = 0;
    unsigned gate_slot = 0;    // 0: direct; else the call gate's push size (2, 4 or 8)
    unsigned param_count = 0;  // dwords/words a 16/32-bit call gate copies to the inner stack
};

SysResult<u64> FarOffset(const CpuState& s, const Descriptor& d, u64 offset, unsigned op_size);

SysResult<FarTarget> ThroughCallGate(MemoryInterface& m, const CpuState& s, u16 selector, const Descriptor& gate_lo,
                                     bool call) {
    const u32 code = SelectorCode(selector);
    const unsigned cpl = s.cpl();
    const bool long_mode = s.long_mode_active();
    const u8 type = gate_lo.type();
    if (type != systype::CallGate32 && (long_mode || type != systype::CallGate16)) return Gp(code);
    Descriptor gate = gate_lo;
    if (long_mode) {
        auto wide = ReadDescriptor(m, s, selector, 0, true);
        EMU_SYS_TRY(wide);
        gate = *wide;
        if ((gate.hi >> 40) & 0x1F) return Gp(code);  // the upper half's type field must be 0
    }
    if (gate.dpl() < cpl || gate.dpl() < (selector & 3u)) return Gp(code);
    if (!gate.present()) return RaiseCode(vec::NP, code);
    const u16 cs_sel = gate.gate_selector();
    if ((cs_sel & 0xFFFC) == 0) return Gp(0);
    auto cd = ReadDescriptor(m, s, cs_sel);
    EMU_SYS_TRY(cd);
    const u32 cs_code = SelectorCode(cs_sel);
    if (!cd->is_code() || cd->dpl() > cpl) return Gp(cs_code);
    if (long_mode && (!cd->l() || cd->db())) return Gp(cs_code);
    if (!call && !cd->conforming() && cd->dpl() != cpl) return Gp(cs_code);  // JMP never changes CPL
    if (!cd->present()) return RaiseCode(vec::NP, cs_code);
    FarTarget t;
    t.code = *cd;
    t.code_selector = cs_sel;
    t.gate_slot = long_mode ? 8 : type == systype::CallGate32 ? 4 : 2;
    t.param_count = long_mode ? 0 : gate.gate_param_count();
    const u64 offset = long_mode ? gate.gate_offset() : gate.gate_offset() & (t.gate_slot == 4 ? 0xFFFFFFFF : 0xFFFF);
    const auto checked = FarOffset(s, *cd, offset, 8);
    EMU_SYS_TRY(checked);
    t.offset = *checked;
    return t;
}

SysResult<FarTarget> ResolveFarTarget(MemoryInterface& m, const CpuState& s, u16 selector, u64 offset,
                                      unsigned op_size, bool call) {
    if ((selector & 0xFFFC) == 0) return Gp(0);
    auto d = ReadDescriptor(m, s, selector);
    EMU_SYS_TRY(d);
    if (!d->s()) return ThroughCallGate(m, s, selector, *d, call);
    const u32 code = SelectorCode(selector);
    const unsigned cpl = s.cpl();
    if (!d->is_code()) return Gp(code);
    if (d->conforming() ? d->dpl() > cpl : ((selector & 3u) > cpl || d->dpl() != cpl)) return Gp(code);
    if (s.long_mode_active() && d->l() && d->db()) return Gp(code);
    if (!d->present()) return RaiseCode(vec::NP, code);
    const auto checked = FarOffset(s, *d, offset, op_size);
    EMU_SYS_TRY(checked);
    return FarTarget{*d, selector, *checked, 0, 0};
}

// The target offset of a far transfer, truncated to the operand size and checked against the new CS.
SysResult<u64> FarOffset(const CpuState& s, const Descriptor& d, u64 offset, unsigned op_size) {
    if (op_size == 2) offset &= 0xFFFF;
    if (op_size == 4) offset &= 0xFFFFFFFF;
    const bool target64 = s.long_mode_active() && d.l();
    if (target64 ? !IsCanonical(offset) : offset > d.limit()) return Gp(0);
    return offset;
}

// CALL through a call gate to a more privileged non-conforming segment: switch to the inner stack from the
// TSS, push the caller's SS and (E/R)SP, copy `param_count` parameters (16/32-bit gates), then CS and the return
// address (SDM CALL "CALL-GATE ... MORE-PRIVILEGE").
Status CallToInnerLevel(CpuState& s, MemoryInterface& m, const FarTarget& t, unsigned new_cpl, u64 return_rip) {
    auto stack = ReadInnerStack(m, s, new_cpl, 0);
    EMU_SYS_TRY(stack);
    const unsigned slot = t.gate_slot;
    const bool long_mode = s.long_mode_active();
    StackCursor caller(m, s);
    StackCursor callee(m, s);
    callee.base = long_mode ? 0 : stack->ss.base;
    callee.mask = stack->mask;
    callee.sp = stack->sp & stack->mask;
    callee.wrap32 = !long_mode;
    callee.user = false;
    EMU_SYS_TRY(callee.Push(slot, s.segment(SegReg::Ss).selector));
    EMU_SYS_TRY(callee.Push(slot, s.reg(Gpr::Rsp) & caller.mask));
    for (unsigned i = t.param_count; i-- > 0;) {
        StackCursor at = caller;
        at.Skip(u64{i} * slot);
        u64 param = 0;
        EMU_SYS_TRY(at.Pop(slot, &param));
        EMU_SYS_TRY(callee.Push(slot, param));
    }
    EMU_SYS_TRY(callee.Push(slot, s.segment(SegReg::Cs).selector));
    EMU_SYS_TRY(callee.Push(slot, return_rip));
    Descriptor code = t.code;
    EMU_SYS_TRY(MarkAccessed(m, s, t.code_selector, code));
    s.segment(SegReg::Ss) = stack->ss;
    SetStackPointer(s, callee.mask, callee.sp);
    s.segment(SegReg::Cs) = CodeSegmentCache(code, t.code_selector, new_cpl);
    return {};
}

}  // namespace

Status LoadSegment(CpuState& s, MemoryInterface& m, SegReg seg, u16 selector) {
    Segment& target = s.segment(seg);
    if (RealOrV86(s)) {
        target.selector = selector;
        target.base = u64{selector} << 4;
        if (s.mode() == CpuMode::Virtual8086) {
            target.limit = 0xFFFF;
            target.attr = 0xF3;
        }
        return {};
    }
    const unsigned cpl = s.cpl();
    const u32 code = SelectorCode(selector);
    if (seg == SegReg::Ss) {
        if ((selector & 0xFFFC) == 0) {
            // A null SS is allowed in 64-bit mode below CPL 3 with RPL = CPL (SDM MOV).
            if (s.mode() != CpuMode::Long64 || cpl == 3 || (selector & 3u) != cpl) return Gp(0);
            target = NullSegment(selector);
            target.attr |= attr::Dpl(cpl);
            return {};
        }
        auto d = CheckStackSegment(m, s, selector, cpl, StackCheck{});
        EMU_SYS_TRY(d);
        EMU_SYS_TRY(MarkAccessed(m, s, selector, *d));
        target = d->ToSegment(selector);
        return {};
    }
    if ((selector & 0xFFFC) == 0) {
        target = NullSegment(selector);  // Intel also clears the base of FS/GS
        return {};
    }
    auto d = ReadDescriptor(m, s, selector);
    EMU_SYS_TRY(d);
    if (!d->is_data() && !(d->is_code() && d->readable())) return Gp(code);
    if (!d->conforming() && ((selector & 3u) > d->dpl() || cpl > d->dpl())) return Gp(code);
    if (!d->present()) return RaiseCode(vec::NP, code);
    EMU_SYS_TRY(MarkAccessed(m, s, selector, *d));
    target = d->ToSegment(selector);
    return {};
}

SysResult<u64> FarJump(CpuState& s, MemoryInterface& m, u16 selector, u64 offset, unsigned op_size) {
    auto t = ResolveFarTarget(m, s, selector, offset, op_size, false);
    EMU_SYS_TRY(t);
    EMU_SYS_TRY(MarkAccessed(m, s, t->code_selector, t->code));
    s.segment(SegReg::Cs) = CodeSegmentCache(t->code, t->code_selector, s.cpl());
    return t->offset;
}

SysResult<u64> FarCall(CpuState& s, MemoryInterface& m, u16 selector, u64 offset, unsigned op_size, u64 return_rip) {
    auto t = ResolveFarTarget(m, s, selector, offset, op_size, true);
    EMU_SYS_TRY(t);
    const unsigned cpl = s.cpl();
    if (t->gate_slot != 0 && !t->code.conforming() && t->code.dpl() < cpl) {
        EMU_SYS_TRY(CallToInnerLevel(s, m, *t, t->code.dpl(), return_rip));
        return t->offset;
    }
    const unsigned slot = t->gate_slot != 0 ? t->gate_slot : op_size;
    StackCursor st(m, s);
    EMU_SYS_TRY(st.Push(slot, s.segment(SegReg::Cs).selector));
    EMU_SYS_TRY(st.Push(slot, return_rip));
    EMU_SYS_TRY(MarkAccessed(m, s, t->code_selector, t->code));
    SetStackPointer(s, st.mask, st.sp);
    s.segment(SegReg::Cs) = CodeSegmentCache(t->code, t->code_selector, cpl);
    return t->offset;
}

SysResult<u64> FarReturn(CpuState& s, MemoryInterface& m, unsigned op_size, u16 pop_bytes) {
    const unsigned cpl = s.cpl();
    StackCursor st(m, s);
    u64 rip, cs_raw;
    EMU_SYS_TRY(st.Pop(op_size, &rip));
    EMU_SYS_TRY(st.Pop(op_size, &cs_raw));
    const u16 cs_sel = static_cast<u16>(cs_raw);
    auto cs = CheckReturnCodeSegment(m, s, cs_sel);
    EMU_SYS_TRY(cs);
    const unsigned new_cpl = cs_sel & 3;
    const auto new_rip = FarOffset(s, *cs, rip, op_size);
    EMU_SYS_TRY(new_rip);
    st.Skip(pop_bytes);
    if (new_cpl == cpl) {
        SetStackPointer(s, st.mask, st.sp);
        s.segment(SegReg::Cs) = CodeSegmentCache(*cs, cs_sel, cpl);
        return *new_rip;
    }
    // Return to an outer level: the caller's SS:RSP follows on the stack.
    u64 new_rsp, ss_raw;
    EMU_SYS_TRY(st.Pop(op_size, &new_rsp));
    EMU_SYS_TRY(st.Pop(op_size, &ss_raw));
    const bool target64 = s.long_mode_active() && cs->l();
    auto ss = CheckReturnStackSegment(m, s, static_cast<u16>(ss_raw), new_cpl, target64);
    EMU_SYS_TRY(ss);
    s.segment(SegReg::Cs) = CodeSegmentCache(*cs, cs_sel, new_cpl);
    s.segment(SegReg::Ss) = *ss;
    const u64 new_mask = target64 ? ~u64{0} : (ss->attr & attr::DB) ? 0xFFFFFFFF : 0xFFFF;
    SetStackPointer(s, new_mask, new_rsp + pop_bytes);
    NullInaccessibleSegments(s, new_cpl);
    return *new_rip;
}

Status LoadDescriptorTable(CpuState& s, MemoryInterface& m, Table table, u64 linear, unsigned op_size) {
    if (s.cpl() != 0) return Gp(0);
    u16 limit = 0;
    u64 base = 0;
    EMU_SYS_TRY(ReadLinear(m, s, linear, &limit, 2));
    const bool long64 = s.mode() == CpuMode::Long64;
    EMU_SYS_TRY(ReadLinear(m, s, linear + 2, &base, long64 ? 8 : 4));
    if (long64 && !IsCanonical(base)) return Gp(0);
    if (op_size == 2) base &= 0xFFFFFF;  // a 16-bit operand loads a 24-bit base
    (table == Table::Gdt ? s.gdtr : s.idtr) = DescriptorTable{base, limit};
    return {};
}

Status StoreDescriptorTable(CpuState& s, MemoryInterface& m, Table table, u64 linear) {
    if (auto umip = CheckUmip(s); !umip) return umip;
    const DescriptorTable& t = table == Table::Gdt ? s.gdtr : s.idtr;
    const bool long64 = s.mode() == CpuMode::Long64;
    const bool user = s.cpl() == 3;
    // Both parts are checked before either is written: one 10-byte (or 6-byte) store.
    u8 bytes[10];
    std::memcpy(bytes, &t.limit, 2);
    std::memcpy(bytes + 2, &t.base, 8);
    return WriteLinear(m, s, linear, bytes, long64 ? 10 : 6, user);
}

SysResult<u64> ReadSegmentBase(const CpuState& s, SegReg seg) {
    if (!(s.cr4 & cr4::FSGSBASE)) return Ud();
    return s.segment(seg).base;
}

Status WriteSegmentBase(CpuState& s, SegReg seg, u64 value, unsigned op_size) {
    if (!(s.cr4 & cr4::FSGSBASE)) return Ud();
    if (op_size == 4) value &= 0xFFFFFFFF;
    if (!IsCanonical(value)) return Gp(0);
    s.segment(seg).base = value;
    return {};
}

Status LoadLdt(CpuState& s, MemoryInterface& m, u16 selector) {
    if (RealOrV86(s)) return Ud();
    if (s.cpl() != 0) return Gp(0);
    if ((selector & 0xFFFC) == 0) {
        s.ldtr = NullSegment(selector);
        return {};
    }
    const u32 code = SelectorCode(selector);
    if (selector & 4) return Gp(code);
    const bool wide = s.long_mode_active();
    auto d = ReadDescriptor(m, s, selector, 0, wide);
    EMU_SYS_TRY(d);
    if (d->s() || d->type() != systype::Ldt) return Gp(code);
    if (!d->present()) return RaiseCode(vec::NP, code);
    const u64 base = wide ? d->base64() : d->base32();
    if (wide && !IsCanonical(base)) return Gp(code);
    s.ldtr = Segment{selector, base, d->limit(), d->attr()};
    return {};
}

Status LoadTaskRegister(CpuState& s, MemoryInterface& m, u16 selector) {
    if (RealOrV86(s)) return Ud();
    if (s.cpl() != 0) return Gp(0);
    if ((selector & 0xFFFC) == 0) return Gp(0);
    const u32 code = SelectorCode(selector);
    if (selector & 4) return Gp(code);
    const bool wide = s.long_mode_active();
    auto d = ReadDescriptor(m, s, selector, 0, wide);
    EMU_SYS_TRY(d);
    const bool available = !d->s() && (d->type() == systype::Tss32Avail || (!wide && d->type() == systype::Tss16Avail));
    if (!available) return Gp(code);
    if (!d->present()) return RaiseCode(vec::NP, code);
    const u64 base = wide ? d->base64() : d->base32();
    if (wide && !IsCanonical(base)) return Gp(code);
    // Mark the descriptor busy (type bit 1) before loading TR.
    const auto at = DescriptorAddress(s, selector, 8);
    EMU_SYS_TRY(at);
    const u8 access = static_cast<u8>((d->lo >> 40) | 2);
    EMU_SYS_TRY(WriteLinear(m, s, *at + 5, &access, 1));
    s.tr = Segment{selector, base, d->limit(), d->attr() | 2};
    return {};
}

SysResult<QueryResult> QuerySegment(CpuState& s, MemoryInterface& m, SegmentQuery query, u16 selector) {
    if (RealOrV86(s)) return Ud();
    if ((selector & 0xFFFC) == 0) return QueryResult{};
    auto d = ReadDescriptor(m, s, selector);
    if (!d) {
        if (d.error().vector == vec::GP) return QueryResult{};  // outside the table: ZF = 0, no fault
        return Err{d.error()};
    }
    bool type_ok = false;
    if (!d->s()) {
        const u8 t = d->type();
        const bool long_mode = s.long_mode_active();
        // SDM LAR/LSL "valid descriptor types" tables (legacy / IA-32e columns).
        const bool lsl_ok = t == systype::Ldt || t == systype::Tss32Avail || t == systype::Tss32Busy ||
                            (!long_mode && (t == systype::Tss16Avail || t == systype::Tss16Busy));
        const bool lar_ok = lsl_ok || t == systype::CallGate32 ||
                            (!long_mode && (t == systype::CallGate16 || t == systype::TaskGate));
        type_ok = query == SegmentQuery::Lar ? lar_ok : query == SegmentQuery::Lsl ? lsl_ok : false;
    } else if (query == SegmentQuery::Verr) {
        type_ok = d->readable();
    } else if (query == SegmentQuery::Verw) {
        type_ok = d->writable_data();
    } else {
        type_ok = true;
    }
    if (!type_ok) return QueryResult{};
    if (!d->conforming() && (d->dpl() < s.cpl() || d->dpl() < (selector & 3u))) return QueryResult{};
    const u32 value = query == SegmentQuery::Lar ? static_cast<u32>(d->lo >> 32) & 0x00F0FF00 : d->limit();
    return QueryResult{true, value};
}

Status CheckDataAccess(const CpuState& s, SegReg seg, u64 offset, unsigned size, bool write) {
    const CpuMode mode = s.mode();
    if (mode == CpuMode::Long64) return {};
    const u8 vector = seg == SegReg::Ss ? vec::SS : vec::GP;
    const Segment& sg = s.segment(seg);
    const bool code = sg.attr & attr::Code;
    if (mode != CpuMode::Real && mode != CpuMode::Virtual8086) {
        if (sg.attr & attr::Unusable) return RaiseCode(vector, 0);
        if (write && (code || !(sg.attr & attr::Writable))) return RaiseCode(vector, 0);
        if (!write && code && !(sg.attr & attr::Readable)) return RaiseCode(vector, 0);
    }
    const u64 last = offset + size - 1;
    if (!code && (sg.attr & attr::ExpandDown)) {
        // Valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF (by the B bit).
        const u64 upper = (sg.attr & attr::DB) ? 0xFFFFFFFF : 0xFFFF;
        if (offset <= sg.limit || last > upper) return RaiseCode(vector, 0);
    } else if (last > sg.limit) {
        return RaiseCode(vector, 0);
    }
    return {};
}

}  // namespace emu::cpu::system
