// Stack instructions: PUSH POP PUSHF POPF ENTER LEAVE PUSHA POPA.
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

namespace {
constexpr unsigned kRsp = 4, kRbp = 5;
constexpr u8 kSs = ir::mem_flags::Stack;
}

bool Translator::PUSH(const DecodedInsn& insn) {
    const Operand& src = insn.operands[0];
    const Type t = ir::IntTypeOfSize(insn.op_size);
    if (src.kind == OperandKind::Reg && src.reg_class == RegClass::Seg) {
        // A wide push of a segment register writes only the selector's 16 bits (recent Intel cores).
        const Value rsp = StackAdd(GetRsp(), -static_cast<i64>(insn.op_size));
        ir_.Store(StackAddress(rsp, 0), ir_.GetSegSelector(src.reg), kSs);
        SetRsp(rsp);
        return true;
    }
    Push(ir_.Resize(Read(src), t));
    return true;
}

bool Translator::POP(const DecodedInsn& insn) {
    const Operand& dst = insn.operands[0];
    const Type t = ir::IntTypeOfSize(insn.op_size);
    if (dst.kind == OperandKind::Reg && dst.reg_class == RegClass::Seg) {
        Value new_rsp;
        const Value v = ir_.Truncate(PopLoad(t, &new_rsp), Type::U16);
        if (!mode_.real_segments) {  // the load may fault: before RSP moves
            LoadSegmentProtected(dst.reg, v);
            SetRsp(new_rsp);
            return SegmentLoaded(dst.reg);
        }
        SetRsp(new_rsp);
        LoadRealSegment(dst.reg, v);
        return true;
    }
    Value new_rsp;
    const Value v = PopLoad(t, &new_rsp);
    if (dst.kind == OperandKind::Mem) {
        // The destination address uses RSP after the pop (SDM POP): adjust rather than write RSP first, so a
        // faulting store leaves RSP unchanged.
        Value addr = LinearAddress(dst);
        if (dst.mem.base == kRsp) addr = ir_.Add(addr, ir::Emitter::Imm64(insn.op_size));
        ir_.Store(addr, v, MemFlagsOf(dst));
        SetRsp(new_rsp);
        return true;
    }
    SetRsp(new_rsp);
    Write(dst, v);  // after RSP: POP RSP loads the popped value
    return true;
}

bool Translator::PUSHF(const DecodedInsn& insn) {
    const Type t = ir::IntTypeOfSize(insn.data_size ? insn.data_size : insn.op_size);
    // VM and RF read as 0 in the pushed image.
    const Value f = ir_.And(ir_.GetRflags(), ir::Emitter::Imm64(~(rflags::VM | rflags::RF)));
    Push(ir_.Truncate(f, t));
    return true;
}

bool Translator::POPF(const DecodedInsn& insn) {
    const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
    Value new_rsp;
    const Value v = PopLoad(ir::IntTypeOfSize(size), &new_rsp);
    ir_.CallHelper(kPopfHelper, v, ir::Emitter::Imm64(size));  // may raise #GP (V86): before RSP moves
    SetRsp(new_rsp);
    // IF or TF may have changed: let the dispatcher look at interrupts and single-stepping.
    ir_.ExitToDispatcher(next_rip_, true);
    return false;
}

bool Translator::ENTER(const DecodedInsn& insn) {
    const unsigned size = insn.op_size;
    const Type t = ir::IntTypeOfSize(size);
    const u64 alloc = insn.operands[0].imm & 0xFFFF;
    const unsigned level = insn.operands[1].imm % 32;
    const Value rbp = ir_.GetGpr(kRbp, mode_.stack_size);
    Value rsp = StackAdd(GetRsp(), -static_cast<i64>(size));
    ir_.Store(StackAddress(rsp, 0), ir_.GetGpr(kRbp, size), kSs);
    const Value frame = rsp;
    for (unsigned i = 1; i < level; ++i) {  // copy the enclosing frames' pointers (nested procedures)
        const Value outer = ir_.Load(StackAddress(rbp, -static_cast<i64>(i * size)), t, kSs);
        rsp = StackAdd(rsp, -static_cast<i64>(size));
        ir_.Store(StackAddress(rsp, 0), outer, kSs);
    }
    if (level > 0) {
        rsp = StackAdd(rsp, -static_cast<i64>(size));
        ir_.Store(StackAddress(rsp, 0), ir_.Resize(frame, t), kSs);
    }
    ir_.SetGpr(kRbp, mode_.stack_size, frame);
    SetRsp(StackAdd(rsp, -static_cast<i64>(alloc)));
    return true;
}

bool Translator::LEAVE(const DecodedInsn& insn) {
    const Value rbp = ir_.GetGpr(kRbp, mode_.stack_size);
    const Type t = ir::IntTypeOfSize(insn.op_size);
    const Value v = ir_.Load(StackAddress(rbp, 0), t, kSs);
    SetRsp(StackAdd(rbp, insn.op_size));
    ir_.SetGpr(kRbp, insn.op_size, v);
    return true;
}

bool Translator::PUSHA(const DecodedInsn& insn) {
    if (mode_.decode == DecodeMode::Bits64) return Undefined();
    const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
    const Value rsp = GetRsp();
    for (unsigned r = 0; r < 8; ++r) {  // AX CX DX BX SP(original) BP SI DI
        ir_.Store(StackAddress(rsp, -static_cast<i64>((r + 1) * size)), ir_.GetGpr(r, size), kSs);
    }
    SetRsp(StackAdd(rsp, -static_cast<i64>(8 * size)));
    return true;
}

bool Translator::POPA(const DecodedInsn& insn) {
    if (mode_.decode == DecodeMode::Bits64) return Undefined();
    const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
    const Value rsp = GetRsp();
    Value values[8];
    for (unsigned r = 0; r < 8; ++r) {
        if (r != kRsp) values[r] = ir_.Load(StackAddress(rsp, (7 - r) * size), ir::IntTypeOfSize(size), kSs);
    }
    for (unsigned r = 0; r < 8; ++r) {
        if (r != kRsp) ir_.SetGpr(r, size, values[r]);  // the saved SP is skipped
    }
    SetRsp(StackAdd(rsp, 8 * size));
    return true;
}

}  // namespace emu::cpu::translate
