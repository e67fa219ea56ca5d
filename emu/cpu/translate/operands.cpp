// Operand access and writeback shared by every translate function: registers, memory operands with their
// segment, immediates, and the stack.
#include <bit>
#include <utility>

#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;


Value Translator::Read(const Operand& op, bool write_intent) {
    switch (op.kind) {
        case OperandKind::Reg:
            if (op.reg_class == RegClass::Seg) return ir_.Resize(ir_.GetSegSelector(op.reg), TypeOf(op));
            return ir_.GetGpr(op.reg, op.size, op.high8);
        case OperandKind::Mem: {
            if (write_intent) return LoadForUpdate(LinearAddress(op, true), TypeOf(op), MemFlagsOf(op));
            return ir_.Load(LinearAddress(op), TypeOf(op), MemFlagsOf(op));
        }
        case OperandKind::Imm:
        case OperandKind::Rel: return ir::Emitter::ImmOf(TypeOf(op), op.imm);
        default: return ir::Emitter::Imm64(0);
    }
}

void Translator::Write(const Operand& op, Value v) {
    v = ir_.Resize(v, TypeOf(op));
    if (op.kind == OperandKind::Mem) {
        StoreUpdate(LinearAddress(op, true), v, MemFlagsOf(op));
    } else {
        ir_.SetGpr(op.reg, op.size, v, op.high8);
    }
}

Value Translator::LoadForUpdate(Value addr, Type type, u8 flags) {
    const Value v = ir_.Load(addr, type, flags | ir::mem_flags::WriteIntent);
    if (atomic_) atomic_load_ = v;
    return v;
}

void Translator::StoreUpdate(Value addr, Value v, u8 flags) {
    if (!atomic_load_) {
        ir_.Store(addr, v, flags);
        return;
    }
    const Value expected = ir_.Resize(*std::exchange(atomic_load_, std::nullopt), Type::U64);
    ir_.CallHelper(CompareExchangeHelper(ir::BitsOf(v.type()) / 8), addr, expected, ir_.Resize(v, Type::U64));
}

void Translator::WriteRegUnless(const Operand& op, Value keep, Value v) {
    if (op.size == 4) {  // a 32-bit write would clear bits 63:32 even when nothing changes
        const Value old = ir_.GetGpr(op.reg, 8);
        ir_.SetGpr(op.reg, 8, ir_.Select(keep, old, ir_.ZeroExtend(v, ir::Type::U64)));
        return;
    }
    Write(op, ir_.Select(keep, Read(op), ir_.Resize(v, TypeOf(op))));
}

Value Translator::EffectiveAddress(const MemOperand& mem) {
    const unsigned size = insn_->addr_size;
    const Type t = ir::IntTypeOfSize(size);
    if (mem.rip_relative) {
        return ir::Emitter::ImmOf(Type::U64, ir::MaskOf(t) & (next_rip_ + static_cast<u64>(mem.disp)));
    }
    Value ea = ir::Emitter::ImmOf(t, static_cast<u64>(mem.disp));
    if (mem.base != kNoReg) {
        Value base = ir_.GetGpr(mem.base, size);
        ea = mem.disp == 0 ? base : ir_.Add(base, ea);
    }
    if (mem.index != kNoReg) {
        Value index = ir_.GetGpr(mem.index, size);
        const auto shift = static_cast<unsigned>(std::countr_zero(mem.scale));
        if (shift > 0) index = ir_.Shl(index, ir::Emitter::Imm8(shift));
        ea = ea.is_imm() && ea.imm() == 0 ? index : ir_.Add(ea, index);
    }
    return ir_.ZeroExtend(ea, Type::U64);
}

Value Translator::LinearOf(unsigned seg, Value offset) {
    if (mode_.flat) {
        const bool based = seg == static_cast<unsigned>(SegReg::Fs) || seg == static_cast<unsigned>(SegReg::Gs);
        return based ? ir_.Add(ir_.GetSegBase(seg), offset) : offset;
    }
    return ir_.ZeroExtend(ir_.Truncate(ir_.Add(ir_.GetSegBase(seg), offset), Type::U32), Type::U64);
}

Value Translator::LinearAddress(const Operand& op, bool write) {
    if (cached_operand_ == &op) return cached_linear_;
    cached_operand_ = &op;
    const Value offset = EffectiveAddress(op.mem);
    CheckSegment(op.mem.seg, offset, op.size, write);
    cached_linear_ = LinearOf(op.mem.seg, offset);
    return cached_linear_;
}

Value Translator::Cpl() {
    const u32 attr = static_cast<u32>(offsetof(CpuState, seg) + static_cast<unsigned>(SegReg::Cs) * sizeof(Segment) +
                                      offsetof(Segment, attr));
    const Value dpl = ir_.Shr(ir_.GetField(attr, Type::U32), ir::Emitter::Imm8(5));
    return ir_.Truncate(ir_.And(dpl, ir::Emitter::Imm32(3)), Type::U8);
}

// --- Stack

Value Translator::GetRsp() { return ir_.GetGpr(static_cast<unsigned>(Gpr::Rsp), mode_.stack_size); }

void Translator::SetRsp(Value rsp) { ir_.SetGpr(static_cast<unsigned>(Gpr::Rsp), mode_.stack_size, rsp); }

Value Translator::StackAdd(Value rsp, i64 delta) {
    return delta == 0 ? rsp : ir_.Add(rsp, ir::Emitter::ImmOf(rsp.type(), static_cast<u64>(delta)));
}

Value Translator::StackAddress(Value rsp, i64 delta) {
    return LinearOf(static_cast<unsigned>(SegReg::Ss), ir_.ZeroExtend(StackAdd(rsp, delta), Type::U64));
}

void Translator::Push(Value v) {
    const Value rsp = GetRsp();
    const i64 size = ir::BitsOf(v.type()) / 8;
    const Value new_rsp = StackAdd(rsp, -size);
    CheckSegment(static_cast<unsigned>(SegReg::Ss), new_rsp, static_cast<unsigned>(size), true);
    ir_.Store(StackAddress(new_rsp, 0), v, ir::mem_flags::Stack);
    SetRsp(new_rsp);
}

Value Translator::PopLoad(Type t, Value* new_rsp) {
    const Value rsp = GetRsp();
    CheckSegment(static_cast<unsigned>(SegReg::Ss), rsp, ir::BitsOf(t) / 8, false);
    const Value v = ir_.Load(StackAddress(rsp, 0), t, ir::mem_flags::Stack);
    *new_rsp = StackAdd(rsp, ir::BitsOf(t) / 8);
    return v;
}

// --- Control transfers

u64 Translator::BranchTarget(const DecodedInsn& insn, u64 target) const {
    // In 64-bit mode near branches are 64-bit whatever 66 says (Intel behaviour).
    if (mode_.decode == DecodeMode::Bits64) return target;
    return target & (insn.op_size == 2 ? 0xFFFF : 0xFFFFFFFF);
}

}  // namespace emu::cpu::translate
