#pragma once
// DecodedInsn -> IR. One member function per mnemonic (handlers.inc), grouped by class in alu.cpp,
// shift.cpp, ...; shared operand access and writeback live in operands.cpp.
//
// Precise exceptions: every instruction's IR starts with GuestInsn, and performs all of its memory accesses
// before it writes any register or flag, so a fault leaves no partial update of the faulting instruction.
#include <optional>

#include "emu/cpu/decoder/decoded_insn.h"
#include "emu/cpu/ir/emitter.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::translate {

// What a block's translation depends on besides its bytes; part of the block-cache key.
// The instruction pointer after sequential execution reaches `rip`: it wraps at the operand size of the code, 16 bits
// in 16-bit code (IP: FFFF + 1 is 0000) and 32 bits in 32-bit code (EIP); 64-bit code uses all of RIP.
constexpr u64 WrapIp(u64 rip, DecodeMode decode) {
    switch (decode) {
        case DecodeMode::Bits16: return rip & 0xFFFF;
        case DecodeMode::Bits32: return rip & 0xFFFFFFFF;
        case DecodeMode::Bits64: break;
    }
    return rip;
}

struct BlockMode {
    DecodeMode decode = DecodeMode::Bits64;
    u8 stack_size = 8;  // bytes per implicit stack address: 8 in 64-bit mode, else SS.B ? 4 : 2
    bool flat = true;   // 64-bit mode: segment bases other than FS/GS are 0, no limits
    bool real_segments = false;  // real or virtual-8086 mode: a selector load sets base = selector * 16
    // Protected and compatibility mode: the segment registers (bit = SegReg) whose data accesses need the limit and
    // type checks of system::CheckDataAccess. A usable, writable, expand-up data segment with a 4 GiB limit needs
    // none (the flat model), so flat guests pay nothing; segment loads end the block, so the key stays current.
    u8 checked_segments = 0;

    static BlockMode Of(const CpuState& state);
    u32 Key() const {
        return static_cast<u32>(decode) | (u32{stack_size} << 4) | (u32{flat} << 8) | (u32{real_segments} << 9) |
               (u32{checked_segments} << 10);
    }
};

class Translator {
public:
    Translator(ir::Block& block, BlockMode mode) : ir_(block), mode_(mode) {}

    // Appends the IR of one instruction at `rip`. Returns false if the instruction ended the block.
    bool Translate(const DecodedInsn& insn, u64 rip);
    // Ends a block that no instruction ended: continue at `next_rip`.
    void EndBlock(u64 next_rip);
    // Raises an exception at `rip` (a decode failure) and ends the block.
    void RaiseAt(u64 rip, u8 vector, u32 error_code = 0);

#define HANDLER(name) bool name(const DecodedInsn& insn);
#include "emu/cpu/translate/handlers.inc"
#undef HANDLER

private:
    using Value = ir::Value;

    // --- operands.cpp: operand access. Read/Write take the operand's own size.
    Value Read(const Operand& op, bool write_intent = false);  // write_intent: the operand is then written
    // A read-modify-write's memory access. In an atomic instruction (LOCK, XCHG) the store is a compare-exchange with
    // the loaded value; if memory changed in between, the instruction restarts from scratch (ir::Fault::restart).
    // So every handler writes the memory operand before any register or flag, as precise faults already require.
    Value LoadForUpdate(Value addr, ir::Type type, u8 flags);
    void StoreUpdate(Value addr, Value v, u8 flags);
    void Write(const Operand& op, Value v);
    // Writes a register operand unless `keep` holds; then the whole register (all 64 bits) is unchanged.
    void WriteRegUnless(const Operand& op, Value keep, Value v);
    // Offset of a memory operand, truncated to the address size.
    Value EffectiveAddress(const MemOperand& mem);
    // Linear address of a memory operand (segment applied), cached per instruction for read-modify-write.
    // `write`: the first use of the operand in an instruction checks the segment for this kind of access.
    Value LinearAddress(const Operand& op, bool write = false);
    Value LinearOf(unsigned seg, Value offset);
    // Emits the segment limit/type check of a data access when mode_.checked_segments asks for it (system.cpp).
    void CheckSegment(unsigned seg, Value offset, unsigned size, bool write);
    // Width of an operand as an IR type.
    static ir::Type TypeOf(const Operand& op) { return ir::IntTypeOfSize(op.size); }
    // Load/Store flags of a memory operand (SS-relative ones raise #SS on a non-canonical address).
    static u8 MemFlagsOf(const Operand& op) {
        return op.mem.seg == static_cast<u8>(SegReg::Ss) ? ir::mem_flags::Stack : 0;
    }
    ir::Type OpType(const DecodedInsn& insn) const { return ir::IntTypeOfSize(insn.op_size); }

    // The current privilege level (CS.DPL in the descriptor cache), as U8.
    Value Cpl();

    // Stack: the address of the slot `delta` bytes from RSP (wrapped to the stack size) and RSP updates.
    Value StackAddress(Value rsp, i64 delta);
    Value GetRsp();
    void SetRsp(Value rsp);
    Value StackAdd(Value rsp, i64 delta);
    // Pushes (stores, then moves RSP) values of `size` bytes; pops load.
    void Push(Value v);
    Value PopLoad(ir::Type t, Value* new_rsp);

    // The count register of string ops and LOOP at the address size.
    Value GetCounter(unsigned addr_size) { return ir_.GetGpr(1, addr_size); }

    // Control transfer to a constant target, truncated to the operand size.
    u64 BranchTarget(const DecodedInsn& insn, u64 offset) const;
    Value TruncateRip(Value target, unsigned op_size);
    bool Undefined();
    // A form we do not implement yet: logs it (category Unimp) and raises #UD.
    bool Unimplemented(const char* what);
    // Loads a segment register with real-mode semantics (selector, base = selector << 4).
    void LoadRealSegment(unsigned seg, Value selector);
    bool ExitTo(u64 rip) {
        ir_.ExitConst(rip);
        return false;
    }

    // Shared shapes.
    bool BinaryAlu(const DecodedInsn& insn, ir::FlagOp kind, ir::Opcode op, bool write_back);
    bool AddWithCarryFlag(const DecodedInsn& insn, u64 flag);
    bool ShiftOp(const DecodedInsn& insn, ir::FlagOp kind);
    bool RotateThroughCarry(const DecodedInsn& insn, bool left);
    bool DoubleShift(const DecodedInsn& insn, bool left);
    bool BitTest(const DecodedInsn& insn, int action);
    bool ZeroCount(const DecodedInsn& insn, bool leading);
    // Far pointers: the offset (op_size bytes) and the selector after it; real-mode far transfers.
    void LoadFarPointer(const Operand& op, Value* offset, Value* selector, unsigned size);
    bool LoadFarRegister(const DecodedInsn& insn, SegReg seg);
    bool FarReturn(const DecodedInsn& insn, bool iret);
    bool LoopOp(const DecodedInsn& insn, int cond);
    bool StringOp(const DecodedInsn& insn, unsigned kind);
    bool BcdOp(const DecodedInsn& insn, unsigned kind);
    bool SetFlagBit(u64 flag, int value);
    bool SoftwareInterrupt(u8 vector);
    void CallSoftInt(u8 vector, u64 kind);
    // system.cpp: protected/long-mode forms of segment loads, far transfers and IRET (through emu/cpu/system),
    // and shared shapes of the system instructions.
    // A protected-mode segment load (may fault, so callers commit other results after it), then
    // SegmentLoaded: ends the block after an SS load (stack size, interrupt shadow), else returns true.
    void LoadSegmentProtected(unsigned seg, Value selector);
    bool SegmentLoaded(unsigned seg);
    bool FarTransferProtected(const DecodedInsn& insn, bool call);
    bool FarReturnProtected(const DecodedInsn& insn, bool iret);
    bool FastCall(u64 which, u64 arg);
    bool TableOp(const DecodedInsn& insn, unsigned table, bool store);
    bool QuerySelector(const DecodedInsn& insn, unsigned kind, bool has_dest);
    void CheckUmip();  // SMSW SLDT STR: #GP(0) at CPL > 0 under CR4.UMIP
    bool LahfSahfMissing() const;  // LAHF/SAHF in 64-bit mode without CPUID LAHF-SAHF
    bool SegmentBaseOp(const DecodedInsn& insn, SegReg seg, bool write);
    // simd.cpp: x87/MMX/SSE/FXSAVE instructions become one call into emu/cpu/simd.
    bool SimdCall(const DecodedInsn& insn);

    ir::Emitter ir_;
    BlockMode mode_;
    const DecodedInsn* insn_ = nullptr;
    u64 rip_ = 0;
    u64 next_rip_ = 0;
    bool atomic_ = false;               // the instruction is locked (see LoadForUpdate)
    std::optional<Value> atomic_load_;  // its read-modify-write load's value, until the store
    // Per-instruction cache of LinearAddress.
    const Operand* cached_operand_ = nullptr;
    Value cached_linear_;
};

}  // namespace emu::cpu::translate
