// Near control transfers: JMP Jcc CALL RET LOOP LOOPE LOOPNE JRCXZ. Each ends the block.
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

namespace {
constexpr unsigned kRcx = 1;
constexpr u8 kSs = ir::mem_flags::Stack;
}

// A computed target: truncated to the operand size; in 64-bit mode a non-canonical one raises #GP(0) at
// the branch, before it changes any state.
Value Translator::TruncateRip(Value target, unsigned op_size) {
    const Value rip = op_size == 8 ? ir_.ZeroExtend(target, Type::U64)
                                   : ir_.ZeroExtend(ir_.Resize(target, ir::IntTypeOfSize(op_size)), Type::U64);
    if (mode_.decode == DecodeMode::Bits64) {
        const Value canonical = ir_.Sar(ir_.Shl(rip, ir::Emitter::Imm8(16)), ir::Emitter::Imm8(16));
        ir_.RaiseExceptionIf(ir_.CmpNe(canonical, rip), vec::GP, 0);
    }
    return rip;
}

bool Translator::JMP(const DecodedInsn& insn) {
    const Operand& op = insn.operands[0];
    if (op.kind == OperandKind::Rel) return ExitTo(BranchTarget(insn, next_rip_ + op.imm));
    ir_.ExitIndirect(TruncateRip(Read(op), insn.op_size));
    return false;
}

bool Translator::JCC(const DecodedInsn& insn) {
    ir_.ExitCond(ir_.GetCond(insn.cond), BranchTarget(insn, next_rip_ + insn.operands[0].imm), next_rip_);
    return false;
}

bool Translator::CALL(const DecodedInsn& insn) {
    const Operand& op = insn.operands[0];
    const Type t = ir::IntTypeOfSize(insn.op_size);
    if (op.kind == OperandKind::Rel) {
        Push(ir::Emitter::ImmOf(t, next_rip_));
        return ExitTo(BranchTarget(insn, next_rip_ + op.imm));
    }
    const Value target = TruncateRip(Read(op), insn.op_size);  // read before the push changes RSP
    Push(ir::Emitter::ImmOf(t, next_rip_));
    ir_.ExitIndirect(target);
    return false;
}

bool Translator::RET(const DecodedInsn& insn) {
    Value new_rsp;
    const Value target = TruncateRip(PopLoad(ir::IntTypeOfSize(insn.op_size), &new_rsp), insn.op_size);
    if (insn.num_operands > 0) new_rsp = StackAdd(new_rsp, static_cast<i64>(insn.operands[0].imm & 0xFFFF));
    SetRsp(new_rsp);
    ir_.ExitIndirect(target);
    return false;
}

// cond: 0 = LOOP, 1 = LOOPE (also ZF = 1), 2 = LOOPNE (also ZF = 0).
bool Translator::LoopOp(const DecodedInsn& insn, int cond) {
    const unsigned size = insn.addr_size;
    const Value count = ir_.Sub(GetCounter(size), ir::Emitter::ImmOf(ir::IntTypeOfSize(size), 1));
    ir_.SetGpr(kRcx, size, count);
    Value taken = ir_.CmpNe(count, ir::Emitter::ImmOf(count.type(), 0));
    if (cond == 1) taken = ir_.AndU1(taken, ir_.GetFlag(rflags::ZF));
    if (cond == 2) taken = ir_.AndU1(taken, ir_.NotU1(ir_.GetFlag(rflags::ZF)));
    ir_.ExitCond(taken, BranchTarget(insn, next_rip_ + insn.operands[0].imm), next_rip_);
    return false;
}

bool Translator::LOOP(const DecodedInsn& insn) { return LoopOp(insn, 0); }
bool Translator::LOOPE(const DecodedInsn& insn) { return LoopOp(insn, 1); }
bool Translator::LOOPNE(const DecodedInsn& insn) { return LoopOp(insn, 2); }

bool Translator::JRCXZ(const DecodedInsn& insn) {
    const Value count = GetCounter(insn.addr_size);
    ir_.ExitCond(ir_.CmpEq(count, ir::Emitter::ImmOf(count.type(), 0)),
                 BranchTarget(insn, next_rip_ + insn.operands[0].imm), next_rip_);
    return false;
}

// --- Far transfers. Real and virtual-8086 mode only: protected-mode far transfers check descriptors, gates
// and privilege (TODO(system)).

void Translator::LoadFarPointer(const Operand& op, Value* offset, Value* selector, unsigned size) {
    const Type t = ir::IntTypeOfSize(size);
    if (op.kind == OperandKind::FarPtr) {
        *offset = ir::Emitter::ImmOf(t, op.imm);
        *selector = ir::Emitter::Imm16(op.far_selector);
        return;
    }
    const Value addr = LinearAddress(op);
    *offset = ir_.Load(addr, t, MemFlagsOf(op));
    *selector = ir_.Load(ir_.Add(addr, ir::Emitter::Imm64(size)), Type::U16, MemFlagsOf(op));
}

bool Translator::JMPF(const DecodedInsn& insn) {
    if (!mode_.real_segments) return FarTransferProtected(insn, false);
    Value offset, selector;
    LoadFarPointer(insn.operands[0], &offset, &selector, insn.op_size);
    LoadRealSegment(static_cast<unsigned>(SegReg::Cs), selector);
    ir_.ExitIndirect(ir_.ZeroExtend(offset, Type::U64));
    return false;
}

bool Translator::CALLF(const DecodedInsn& insn) {
    if (!mode_.real_segments) return FarTransferProtected(insn, true);
    Value offset, selector;
    LoadFarPointer(insn.operands[0], &offset, &selector, insn.op_size);
    const Type t = OpType(insn);
    const Value rsp = GetRsp();
    const i64 size = insn.op_size;
    ir_.Store(StackAddress(rsp, -size), ir_.ZeroExtend(ir_.GetSegSelector(static_cast<unsigned>(SegReg::Cs)), t), kSs);
    ir_.Store(StackAddress(rsp, -2 * size), ir::Emitter::ImmOf(t, next_rip_), kSs);
    SetRsp(StackAdd(rsp, -2 * size));
    LoadRealSegment(static_cast<unsigned>(SegReg::Cs), selector);
    ir_.ExitIndirect(ir_.ZeroExtend(offset, Type::U64));
    return false;
}

// RETF pops IP and CS; IRET also pops FLAGS (POPF rules for which bits change).
bool Translator::FarReturn(const DecodedInsn& insn, bool iret) {
    const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
    const Type t = ir::IntTypeOfSize(size);
    const Value rsp = GetRsp();
    const Value ip = ir_.Load(StackAddress(rsp, 0), t, kSs);
    const Value cs = ir_.Truncate(ir_.Load(StackAddress(rsp, size), t, kSs), Type::U16);
    const Value flags = iret ? ir_.Load(StackAddress(rsp, 2 * size), t, kSs) : Value();
    i64 pop = (iret ? 3 : 2) * static_cast<i64>(size);
    if (!iret && insn.num_operands > 0) pop += static_cast<i64>(insn.operands[0].imm & 0xFFFF);
    if (iret) ir_.CallHelper(kPopfHelper, flags, ir::Emitter::Imm64(size));  // may raise: before RSP moves
    SetRsp(StackAdd(rsp, pop));
    LoadRealSegment(static_cast<unsigned>(SegReg::Cs), cs);
    ir_.ExitIndirect(ir_.ZeroExtend(ip, Type::U64));
    return false;
}

bool Translator::RETF(const DecodedInsn& insn) {
    if (!mode_.real_segments) return FarReturnProtected(insn, false);
    return FarReturn(insn, false);
}

bool Translator::IRET(const DecodedInsn& insn) {
    if (!mode_.real_segments) return FarReturnProtected(insn, true);
    return FarReturn(insn, true);
}

}  // namespace emu::cpu::translate
