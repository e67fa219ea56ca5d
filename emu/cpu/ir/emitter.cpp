#include "emu/cpu/ir/emitter.h"

#include <bit>

#include "emu/common/bits.h"

namespace emu::cpu::ir {

void Emitter::GuestInsn(u64 rip, u8 length) {
    Op(Opcode::GuestInsn, Type::Void, {Imm64(rip), Imm8(length)});
    block_.NoteGuestInsn(length);
}

Value Emitter::GetGpr(unsigned reg, unsigned size, bool high8) {
    switch (size) {
        case 1: return Op(high8 ? Opcode::GetGpr8H : Opcode::GetGpr8, Type::U8, {Imm8(reg)});
        case 2: return Op(Opcode::GetGpr16, Type::U16, {Imm8(reg)});
        case 4: return Op(Opcode::GetGpr32, Type::U32, {Imm8(reg)});
        default: return Op(Opcode::GetGpr64, Type::U64, {Imm8(reg)});
    }
}

void Emitter::SetGpr(unsigned reg, unsigned size, Value v, bool high8) {
    assert(v.type() == IntTypeOfSize(size));
    switch (size) {
        case 1: Op(high8 ? Opcode::SetGpr8H : Opcode::SetGpr8, Type::Void, {Imm8(reg), v}); break;
        case 2: Op(Opcode::SetGpr16, Type::Void, {Imm8(reg), v}); break;
        case 4: Op(Opcode::SetGpr32, Type::Void, {Imm8(reg), v}); break;
        default: Op(Opcode::SetGpr64, Type::Void, {Imm8(reg), v}); break;
    }
}

Value Emitter::GetField(u32 offset, Type t) {
    switch (t) {
        case Type::U8: return Op(Opcode::GetField8, t, {Imm32(offset)});
        case Type::U16: return Op(Opcode::GetField16, t, {Imm32(offset)});
        case Type::U32: return Op(Opcode::GetField32, t, {Imm32(offset)});
        default: return Op(Opcode::GetField64, Type::U64, {Imm32(offset)});
    }
}

void Emitter::SetField(u32 offset, Value v) {
    switch (v.type()) {
        case Type::U8: Op(Opcode::SetField8, Type::Void, {Imm32(offset), v}); break;
        case Type::U16: Op(Opcode::SetField16, Type::Void, {Imm32(offset), v}); break;
        case Type::U32: Op(Opcode::SetField32, Type::Void, {Imm32(offset), v}); break;
        default: Op(Opcode::SetField64, Type::Void, {Imm32(offset), v}); break;
    }
}

Value Emitter::GetFlag(u64 flag_bit_mask) {
    return Op(Opcode::GetFlag, Type::U1, {Imm8(static_cast<unsigned>(std::countr_zero(flag_bit_mask)))});
}

void Emitter::SetFlag(u64 flag_bit_mask, Value u1) {
    assert(u1.type() == Type::U1);
    Op(Opcode::SetFlag, Type::Void, {Imm8(static_cast<unsigned>(std::countr_zero(flag_bit_mask))), u1});
}

void Emitter::SetFlags(FlagOp kind, Value a, Value b, Value result, Value carry_in) {
    assert(a.type() == b.type() && a.type() == result.type() && carry_in.type() == Type::U1);
    Op(Opcode::SetFlags, Type::Void, {Imm8(static_cast<unsigned>(kind)), a, b, result, carry_in});
}

Value Emitter::Shift(Opcode op, Value a, Value count) {
    assert(IsIntType(a.type()));
    return Op(op, a.type(), {a, Resize(count, Type::U8)});
}

Value Emitter::Select(Value cond, Value if_true, Value if_false) {
    assert(cond.type() == Type::U1 && if_true.type() == if_false.type());
    return Op(Opcode::Select, if_true.type(), {cond, if_true, if_false});
}

Value Emitter::ZeroExtend(Value v, Type to) {
    if (v.type() == to) return v;
    if (v.is_imm()) return ImmOf(to, v.imm());
    return Op(Opcode::ZeroExtend, to, {v});
}

Value Emitter::SignExtend(Value v, Type to) {
    if (v.type() == to) return v;
    if (v.is_imm()) return ImmOf(to, emu::SignExtend(v.imm(), BitsOf(v.type())));
    return Op(Opcode::SignExtend, to, {v});
}

Value Emitter::Truncate(Value v, Type to) {
    if (v.type() == to) return v;
    if (v.is_imm()) return ImmOf(to, v.imm());
    return Op(Opcode::Truncate, to, {v});
}

Value Emitter::Resize(Value v, Type to) {
    return BitsOf(v.type()) < BitsOf(to) ? ZeroExtend(v, to) : Truncate(v, to);
}

Value Emitter::CallHelper(const HelperInfo& helper, Value a, Value b, Value c) {
    return Op(Opcode::CallHelper, Type::U64,
              {Value::OfHelper(&helper), ZeroExtend(a, Type::U64), ZeroExtend(b, Type::U64), ZeroExtend(c, Type::U64)});
}

void Emitter::RaiseException(u8 vector, u32 error_code) {
    Op(Opcode::RaiseException, Type::Void, {Imm8(vector), Imm32(error_code)});
}

void Emitter::RaiseExceptionIf(Value cond, u8 vector, u32 error_code) {
    Op(Opcode::RaiseExceptionIf, Type::Void, {cond, Imm8(vector), Imm32(error_code)});
}

void Emitter::ExitCond(Value cond, u64 taken, u64 not_taken) {
    Op(Opcode::ExitCond, Type::Void, {cond, Imm64(taken), Imm64(not_taken)});
}

}  // namespace emu::cpu::ir
