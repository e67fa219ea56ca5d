#pragma once
// Segment descriptors (SDM Vol. 3 3.4.5) and descriptor-table access shared by segment loads, far transfers,
// interrupt delivery and IRET.
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

// Attribute bits of Segment::attr (see cpu_state.h).
namespace attr {
inline constexpr u32 Accessed = 1u << 0, Writable = 1u << 1, ExpandDown = 1u << 2, Code = 1u << 3, S = 1u << 4;
inline constexpr u32 Conforming = ExpandDown, Readable = Writable;
inline constexpr u32 P = 1u << 7, L = 1u << 13, DB = 1u << 14, G = 1u << 15, Unusable = 1u << 16;
inline constexpr u32 Dpl(unsigned dpl) { return (dpl & 3u) << 5; }
}  // namespace attr

// System descriptor types (S = 0).
namespace systype {
inline constexpr u8 Tss16Avail = 1, Ldt = 2, Tss16Busy = 3, CallGate16 = 4, TaskGate = 5, IntGate16 = 6,
                    TrapGate16 = 7, Tss32Avail = 9, Tss32Busy = 11, CallGate32 = 12, IntGate32 = 14, TrapGate32 = 15;
}

// An 8-byte descriptor, plus the upper 8 bytes of a 16-byte system descriptor in long mode.
struct Descriptor {
    u64 lo = 0;
    u64 hi = 0;

    u8 type() const { return static_cast<u8>((lo >> 40) & 0xF); }
    bool s() const { return (lo >> 44) & 1; }
    unsigned dpl() const { return static_cast<unsigned>((lo >> 45) & 3); }
    bool present() const { return (lo >> 47) & 1; }
    bool l() const { return (lo >> 53) & 1; }
    bool db() const { return (lo >> 54) & 1; }
    bool g() const { return (lo >> 55) & 1; }
    bool is_code() const { return s() && (type() & 8); }
    bool is_data() const { return s() && !(type() & 8); }
    bool conforming() const { return is_code() && (type() & 4); }
    bool readable() const { return is_code() ? (type() & 2) != 0 : s(); }
    bool writable_data() const { return is_data() && (type() & 2); }
    u32 base32() const { return static_cast<u32>(((lo >> 16) & 0xFFFFFF) | ((lo >> 32) & 0xFF000000)); }
    u64 base64() const { return base32() | (hi << 32); }
    // The limit in bytes (scaled by G).
    u32 limit() const {
        const u32 raw = static_cast<u32>((lo & 0xFFFF) | ((lo >> 32) & 0xF0000));
        return g() ? (raw << 12) | 0xFFF : raw;
    }
    u32 attr() const { return static_cast<u32>(((lo >> 40) & 0xFF) | (((lo >> 52) & 0xF) << 12)); }
    // Gate fields.
    u16 gate_selector() const { return static_cast<u16>(lo >> 16); }
    u64 gate_offset() const { return (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000) | (hi << 32); }
    unsigned gate_ist() const { return static_cast<unsigned>((lo >> 32) & 7); }
    u8 gate_param_count() const { return static_cast<u8>((lo >> 32) & 0x1F); }

    // The descriptor cache a segment register holds after loading `selector`. The base is 32 bits (long-mode
    // FS/GS bases come from MSRs; system segments pass base64()).
    Segment ToSegment(u16 selector) const { return Segment{selector, base32(), limit(), attr()}; }
};

// A null selector loaded into a data segment register: unusable, with the given RPL in the selector.
inline Segment NullSegment(u16 selector) { return Segment{selector, 0, 0, attr::Unusable}; }

// Linear address of the descriptor `selector` refers to, or #GP(selector | ext) when it lies outside its
// table (or names the LDT while LDTR is unusable). `size` is 8, or 16 for long-mode system descriptors.
SysResult<u64> DescriptorAddress(const CpuState& s, u16 selector, unsigned size, u32 ext = 0);

// Reads the descriptor `selector` refers to (8 bytes; 16 when `wide`).
SysResult<Descriptor> ReadDescriptor(MemoryInterface& m, const CpuState& s, u16 selector, u32 ext = 0,
                                     bool wide = false);

// Sets the accessed bit of a code/data descriptor in memory (a locked read-modify-write on hardware).
Status MarkAccessed(MemoryInterface& m, const CpuState& s, u16 selector, Descriptor& d);

// The stack-pointer mask for SS in the current mode: all bits in 64-bit mode, else SS.B ? 32 : 16 bits.
u64 StackMask(const CpuState& s);

// Writes `value` to RSP honouring the stack size (a 16-bit stack changes only SP).
void SetStackPointer(CpuState& s, u64 mask, u64 value);

// The current stack (SS:RSP in the current mode, at the current privilege) for pops and pushes that move a
// private copy of the stack pointer: the caller commits `sp` (with SetStackPointer(s, mask, sp)) at the end.
struct StackCursor {
    MemoryInterface& m;
    const CpuState& s;
    u64 base, mask, sp;
    bool wrap32, user;

    StackCursor(MemoryInterface& mem, const CpuState& state);
    Status Pop(unsigned size, u64* v);
    Status Push(unsigned size, u64 v);
    void Skip(u64 bytes) { sp = (sp + bytes) & mask; }
};

// Return to an outer privilege level (RET far, IRET): ES, DS, FS and GS whose descriptor would not be
// accessible at `new_cpl` (data or non-conforming code with DPL < new_cpl) become null (SDM RET, IRET).
void NullInaccessibleSegments(CpuState& s, unsigned new_cpl);

// Checks a selector for SS at privilege `cpl` (RPL = DPL = cpl, writable data, present). Returns the
// descriptor; faults: `fault_vector`(selector) for type/privilege and #SS(selector) (or #TS when loading
// from a TSS) for not present.
struct StackCheck {
    u8 fault_vector = vec::GP;
    u8 not_present_vector = vec::SS;
    u32 ext = 0;
};
SysResult<Descriptor> CheckStackSegment(MemoryInterface& m, const CpuState& s, u16 selector, unsigned cpl,
                                        const StackCheck& how);

}  // namespace emu::cpu::system

namespace emu::cpu::system {

// The CS selector of a far return (RET far, IRET) checked against the current CPL (SDM RET: "return to same
// or outer privilege"). Returns the descriptor with its accessed bit set.
SysResult<Descriptor> CheckReturnCodeSegment(MemoryInterface& m, const CpuState& s, u16 selector);

// The SS selector popped by a return to `new_cpl`. A null selector is allowed in long mode when returning
// to a 64-bit code segment below CPL 3; the result is then the null segment to load.
SysResult<Segment> CheckReturnStackSegment(MemoryInterface& m, const CpuState& s, u16 selector, unsigned new_cpl,
                                           bool target_64bit);

// A TSS field (stack pointers, IST); beyond TR.limit is #TS(TR selector | ext).
Status ReadTss(MemoryInterface& m, const CpuState& s, u32 offset, void* dst, unsigned size, u32 ext);

// The stack for entering privilege level `new_cpl` (< CPL) through an interrupt gate or call gate: RSPn from
// a 64-bit TSS in long mode (SS is then null), else SSn:ESPn from the 32- or 16-bit TSS with SSn checked
// (#TS(selector | ext), #SS(selector | ext) if not present) and marked accessed.
struct InnerStack {
    Segment ss;
    u64 sp = 0;
    u64 mask = ~u64{0};
};
SysResult<InnerStack> ReadInnerStack(MemoryInterface& m, const CpuState& s, unsigned new_cpl, u32 ext);

// The CS descriptor cache for a code segment entered at `cpl` (a conforming segment keeps the caller's CPL,
// which CpuState::cpl() reads from CS.DPL).
Segment CodeSegmentCache(const Descriptor& d, u16 selector, unsigned cpl);

}  // namespace emu::cpu::system
