#pragma once
// Segment loading and the descriptor-table instructions (SDM Vol. 3 chapter 3 and 5; Vol. 2 MOV, POP, LDS,
// JMP, CALL, RET, LGDT, LLDT, LTR, LAR, LSL, VERR/VERW). Every function checks first and changes state only
// when nothing faults.
//
// Far JMP/CALL go through 16/32-bit call gates (with the inner-stack switch and parameter copy) and 64-bit call
// gates. Task gates and TSS targets switch tasks (task_switch.h: FarTaskSwitch, tried first). SGDT/SIDT check CR4.UMIP
// (control.h: CheckUmip).
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

// MOV Sreg / POP Sreg / LDS..LSS: loads ES, SS, DS, FS or GS (not CS) with `selector` under the rules of
// the current mode. Sets the descriptor's accessed bit. The caller sets the interrupt shadow for SS.
Status LoadSegment(CpuState& s, MemoryInterface& m, SegReg seg, u16 selector);

// Far JMP / CALL to a code segment in protected, compatibility or 64-bit mode (real and virtual-8086 forms
// are emitted by the translator). CALL pushes CS and `return_rip` with `op_size`-byte slots. Returns the
// new RIP; CS (and RSP for CALL) are updated.
SysResult<u64> FarJump(CpuState& s, MemoryInterface& m, u16 selector, u64 offset, unsigned op_size);
SysResult<u64> FarCall(CpuState& s, MemoryInterface& m, u16 selector, u64 offset, unsigned op_size, u64 return_rip);

// RET far (with `pop_bytes` from RET imm16) in protected, compatibility or 64-bit mode.
SysResult<u64> FarReturn(CpuState& s, MemoryInterface& m, unsigned op_size, u16 pop_bytes);

// LGDT / LIDT from the pseudo-descriptor at `linear` (limit then base: 24 bits with a 16-bit operand, 32 bits,
// or 64 bits in 64-bit mode, where a non-canonical base is #GP(0)). CPL 0 only.
enum class Table : u8 { Gdt, Idt };
Status LoadDescriptorTable(CpuState& s, MemoryInterface& m, Table table, u64 linear, unsigned op_size);
// SGDT / SIDT: stores limit and base (8 bytes of base in 64-bit mode, else 4).
Status StoreDescriptorTable(CpuState& s, MemoryInterface& m, Table table, u64 linear);

// RDFSBASE / RDGSBASE / WRFSBASE / WRGSBASE (64-bit mode only, any CPL; SDM Vol. 2): #UD unless CR4.FSGSBASE.
// A 64-bit write of a non-canonical base is #GP(0); a 32-bit write zero-extends. `seg` is Fs or Gs.
SysResult<u64> ReadSegmentBase(const CpuState& s, SegReg seg);
Status WriteSegmentBase(CpuState& s, SegReg seg, u64 value, unsigned op_size);

// LLDT / LTR (LTR marks the TSS busy). CPL 0, protected mode only.
Status LoadLdt(CpuState& s, MemoryInterface& m, u16 selector);
Status LoadTaskRegister(CpuState& s, MemoryInterface& m, u16 selector);

// LAR / LSL / VERR / VERW: never fault on a bad selector; they report through ZF. `value` is LAR's access
// rights (bits 23:8 of the descriptor's high dword, masked 0x00F0FF00) or LSL's scaled limit.
enum class SegmentQuery : u8 { Lar, Lsl, Verr, Verw };
struct QueryResult {
    bool valid = false;  // ZF
    u32 value = 0;
};
SysResult<QueryResult> QuerySegment(CpuState& s, MemoryInterface& m, SegmentQuery query, u16 selector);

// The segment checks of a data access in a legacy mode (SDM Vol. 3 5.3): a null/unusable segment, a write to a
// non-writable one, a read of execute-only code, an offset beyond the limit (or at/below it for expand-down).
// #SS(0) for SS, else #GP(0). The translator calls it for the segments BlockMode::checked_segments lists.
Status CheckDataAccess(const CpuState& s, SegReg seg, u64 offset, unsigned size, bool write);

}  // namespace emu::cpu::system
