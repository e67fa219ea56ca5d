#include "emu/cpu/system/descriptors.h"

namespace emu::cpu::system {

SysResult<u64> DescriptorAddress(const CpuState& s, u16 selector, unsigned size, u32 ext) {
    const bool ldt = selector & 4;
    if (ldt && ((s.ldtr.attr & attr::Unusable) || (s.ldtr.selector & 0xFFFC) == 0)) {
        return Gp(SelectorCode(selector, ext));
    }
    const u64 base = ldt ? s.ldtr.base : s.gdtr.base;
    const u64 limit = ldt ? s.ldtr.limit : s.gdtr.limit;
    const u64 offset = selector & 0xFFF8u;
    if (offset + size - 1 > limit) return Gp(SelectorCode(selector, ext));
    const u64 linear = base + offset;
    return s.long_mode_active() ? linear : linear & 0xFFFFFFFF;
}

SysResult<Descriptor> ReadDescriptor(MemoryInterface& m, const CpuState& s, u16 selector, u32 ext, bool wide) {
    const auto at = DescriptorAddress(s, selector, wide ? 16 : 8, ext);
    EMU_SYS_TRY(at);
    Descriptor d;
    EMU_SYS_TRY(ReadLinear(m, s, *at, &d.lo, 8));
    if (wide) EMU_SYS_TRY(ReadLinear(m, s, *at + 8, &d.hi, 8));
    return d;
}

Status MarkAccessed(MemoryInterface& m, const CpuState& s, u16 selector, Descriptor& d) {
    if (!d.s() || (d.lo & (u64{attr::Accessed} << 40))) return {};
    const auto at = DescriptorAddress(s, selector, 8);
    EMU_SYS_TRY(at);
    d.lo |= u64{attr::Accessed} << 40;
    const u8 access = static_cast<u8>(d.lo >> 40);
    return WriteLinear(m, s, *at + 5, &access, 1);
}

u64 StackMask(const CpuState& s) {
    if (s.mode() == CpuMode::Long64) return ~u64{0};
    return (s.segment(SegReg::Ss).attr & attr::DB) ? 0xFFFFFFFF : 0xFFFF;
}

void SetStackPointer(CpuState& s, u64 mask, u64 value) {
    u64& rsp = s.reg(Gpr::Rsp);
    rsp = mask == 0xFFFF ? (rsp & ~u64{0xFFFF}) | (value & 0xFFFF) : value & mask;
}

StackCursor::StackCursor(MemoryInterface& mem, const CpuState& state)
    : m(mem),
      s(state),
      base(state.mode() == CpuMode::Long64 ? 0 : state.segment(SegReg::Ss).base),
      mask(StackMask(state)),
      sp(state.reg(Gpr::Rsp) & mask),
      wrap32(state.mode() != CpuMode::Long64),
      user(state.cpl() == 3) {}

Status StackCursor::Pop(unsigned size, u64* v) {
    *v = 0;
    const u64 linear = wrap32 ? (base + sp) & 0xFFFFFFFF : base + sp;
    EMU_SYS_TRY(ReadLinear(m, s, linear, v, size, user));
    sp = (sp + size) & mask;
    return {};
}

Status StackCursor::Push(unsigned size, u64 v) {
    const u64 next = (sp - size) & mask;
    const u64 linear = wrap32 ? (base + next) & 0xFFFFFFFF : base + next;
    EMU_SYS_TRY(WriteLinear(m, s, linear, &v, size, user));
    sp = next;
    return {};
}

void NullInaccessibleSegments(CpuState& s, unsigned new_cpl) {
    for (SegReg r : {SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs}) {
        Segment& seg = s.segment(r);
        if (seg.attr & attr::Unusable) continue;
        const bool code = seg.attr & attr::Code;
        const bool conforming = code && (seg.attr & attr::Conforming);
        const unsigned dpl = (seg.attr >> 5) & 3;
        if (!conforming && dpl < new_cpl) {
            seg.selector = 0;
            seg.attr = attr::Unusable;
        }
    }
}

SysResult<Descriptor> CheckStackSegment(MemoryInterface& m, const CpuState& s, u16 selector, unsigned cpl,
                                        const StackCheck& how) {
    const u32 code = SelectorCode(selector, how.ext);
    if ((selector & 0xFFFC) == 0) return RaiseCode(how.fault_vector, how.ext);
    const auto d = ReadDescriptor(m, s, selector, how.ext);
    if (!d) {  // outside its table: the same fault class as a bad type; a #PF stays a #PF
        return d.error().vector == vec::GP ? RaiseCode(how.fault_vector, code) : Err{d.error()};
    }
    if ((selector & 3) != cpl || d->dpl() != cpl || !d->writable_data()) return RaiseCode(how.fault_vector, code);
    if (!d->present()) return RaiseCode(how.not_present_vector, code);
    return *d;
}

}  // namespace emu::cpu::system

namespace emu::cpu::system {

SysResult<Descriptor> CheckReturnCodeSegment(MemoryInterface& m, const CpuState& s, u16 selector) {
    if ((selector & 0xFFFC) == 0) return Gp(0);
    auto d = ReadDescriptor(m, s, selector);
    EMU_SYS_TRY(d);
    const unsigned rpl = selector & 3;
    const u32 code = SelectorCode(selector);
    if (!d->is_code() || rpl < s.cpl()) return Gp(code);
    if (d->conforming() ? d->dpl() > rpl : d->dpl() != rpl) return Gp(code);
    if (s.long_mode_active() && d->l() && d->db()) return Gp(code);  // L and D both set is reserved
    if (!d->present()) return RaiseCode(vec::NP, code);
    EMU_SYS_TRY(MarkAccessed(m, s, selector, *d));
    return *d;
}

SysResult<Segment> CheckReturnStackSegment(MemoryInterface& m, const CpuState& s, u16 selector, unsigned new_cpl,
                                           bool target_64bit) {
    if ((selector & 0xFFFC) == 0) {
        if (s.long_mode_active() && target_64bit && new_cpl != 3) {
            Segment null = NullSegment(selector);
            null.attr |= attr::Dpl(new_cpl);
            return null;
        }
        return Gp(0);
    }
    auto d = CheckStackSegment(m, s, selector, new_cpl, StackCheck{});
    EMU_SYS_TRY(d);
    EMU_SYS_TRY(MarkAccessed(m, s, selector, *d));
    return d->ToSegment(selector);
}

Segment CodeSegmentCache(const Descriptor& d, u16 selector, unsigned cpl) {
    Segment cs = d.ToSegment(static_cast<u16>((selector & 0xFFFC) | cpl));
    cs.attr = (cs.attr & ~attr::Dpl(3)) | attr::Dpl(cpl);
    return cs;
}

}  // namespace emu::cpu::system

namespace emu::cpu::system {

Status ReadTss(MemoryInterface& m, const CpuState& s, u32 offset, void* dst, unsigned size, u32 ext) {
    if ((s.tr.attr & attr::Unusable) || offset + size - 1 > s.tr.limit) {
        return RaiseCode(vec::TS, SelectorCode(s.tr.selector, ext));
    }
    return ReadLinear(m, s, s.tr.base + offset, dst, size);
}

SysResult<InnerStack> ReadInnerStack(MemoryInterface& m, const CpuState& s, unsigned new_cpl, u32 ext) {
    InnerStack stack;
    if (s.long_mode_active()) {
        EMU_SYS_TRY(ReadTss(m, s, 4 + 8 * new_cpl, &stack.sp, 8, ext));
        if (!IsCanonical(stack.sp)) return RaiseCode(vec::SS, ext);
        stack.ss = NullSegment(static_cast<u16>(new_cpl));
        stack.ss.attr |= attr::Dpl(new_cpl);
        return stack;
    }
    const bool tss32 = s.tr.attr & 8;  // types 9/11 (32-bit) vs 1/3 (16-bit)
    u32 sp = 0;
    u16 ss_sel = 0;
    if (tss32) {
        EMU_SYS_TRY(ReadTss(m, s, 4 + 8 * new_cpl, &sp, 4, ext));
        EMU_SYS_TRY(ReadTss(m, s, 8 + 8 * new_cpl, &ss_sel, 2, ext));
    } else {
        EMU_SYS_TRY(ReadTss(m, s, 2 + 4 * new_cpl, &sp, 2, ext));
        EMU_SYS_TRY(ReadTss(m, s, 4 + 4 * new_cpl, &ss_sel, 2, ext));
    }
    auto desc = CheckStackSegment(m, s, ss_sel, new_cpl, StackCheck{vec::TS, vec::SS, ext});
    EMU_SYS_TRY(desc);
    EMU_SYS_TRY(MarkAccessed(m, s, ss_sel, *desc));
    stack.ss = desc->ToSegment(ss_sel);
    stack.sp = sp;
    stack.mask = (stack.ss.attr & attr::DB) ? 0xFFFFFFFF : 0xFFFF;
    return stack;
}

}  // namespace emu::cpu::system
