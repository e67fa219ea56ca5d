#pragma once
// Builds IR into a Block with type-checked helpers: one method per opcode family; width-generic methods
// take the width from their operands.
#include <cassert>

#include "emu/cpu/ir/block.h"
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/ir/helper.h"

namespace emu::cpu::ir {

// Load/Store flags.
namespace mem_flags {
inline constexpr u8 WriteIntent = 1 << 0;  // a load whose location the instruction then writes (RMW)
inline constexpr u8 Stack = 1 << 1;        // an SS access: a non-canonical address is #SS(0), not #GP(0)
}  // namespace mem_flags

class Emitter {
public:
    explicit Emitter(Block& block) : block_(block) {}
    Block& block() { return block_; }

    // Immediates.
    static Value Imm1(bool v) { return Value::Imm(Type::U1, v); }
    static Value Imm8(u64 v) { return Value::Imm(Type::U8, v); }
    static Value Imm16(u64 v) { return Value::Imm(Type::U16, v); }
    static Value Imm32(u64 v) { return Value::Imm(Type::U32, v); }
    static Value Imm64(u64 v) { return Value::Imm(Type::U64, v); }
    static Value ImmOf(Type t, u64 v) { return Value::Imm(t, v); }

    void GuestInsn(u64 rip, u8 length);

    // Registers by width in bytes (1, 2, 4, 8); `high8` selects AH..BH for size 1.
    Value GetGpr(unsigned reg, unsigned size, bool high8 = false);
    void SetGpr(unsigned reg, unsigned size, Value v, bool high8 = false);
    Value GetSegBase(unsigned seg) { return Op(Opcode::GetSegBase, Type::U64, {Imm8(seg)}); }
    Value GetSegSelector(unsigned seg) { return Op(Opcode::GetSegSelector, Type::U16, {Imm8(seg)}); }
    Value GetField(u32 offset, Type t);
    void SetField(u32 offset, Value v);

    Value GetRflags() { return Op(Opcode::GetRflags, Type::U64, {}); }
    void SetRflags(Value v) { Op(Opcode::SetRflags, Type::Void, {v}); }
    Value GetFlag(u64 flag_bit_mask);
    void SetFlag(u64 flag_bit_mask, Value u1);
    Value GetCond(unsigned cc) { return Op(Opcode::GetCond, Type::U1, {Imm8(cc)}); }
    void SetFlags(FlagOp kind, Value a, Value b, Value result, Value carry_in = Imm1(false));

    Value Add(Value a, Value b) { return Binary(Opcode::Add, a, b); }
    Value Sub(Value a, Value b) { return Binary(Opcode::Sub, a, b); }
    Value And(Value a, Value b) { return Binary(Opcode::And, a, b); }
    Value Or(Value a, Value b) { return Binary(Opcode::Or, a, b); }
    Value Xor(Value a, Value b) { return Binary(Opcode::Xor, a, b); }
    Value Mul(Value a, Value b) { return Binary(Opcode::Mul, a, b); }
    Value UMulHi(Value a, Value b) { return Binary(Opcode::UMulHi, a, b); }
    Value SMulHi(Value a, Value b) { return Binary(Opcode::SMulHi, a, b); }
    Value Not(Value a) { return Op(Opcode::Not, a.type(), {a}); }
    Value Neg(Value a) { return Op(Opcode::Neg, a.type(), {a}); }
    Value Shl(Value a, Value count) { return Shift(Opcode::Shl, a, count); }
    Value Shr(Value a, Value count) { return Shift(Opcode::Shr, a, count); }
    Value Sar(Value a, Value count) { return Shift(Opcode::Sar, a, count); }
    Value Rol(Value a, Value count) { return Shift(Opcode::Rol, a, count); }
    Value Ror(Value a, Value count) { return Shift(Opcode::Ror, a, count); }
    Value ByteSwap(Value a) { return Op(Opcode::ByteSwap, a.type(), {a}); }
    Value PopCount(Value a) { return Op(Opcode::PopCount, a.type(), {a}); }
    Value CountLeadingZeros(Value a) { return Op(Opcode::CountLeadingZeros, a.type(), {a}); }
    Value CountTrailingZeros(Value a) { return Op(Opcode::CountTrailingZeros, a.type(), {a}); }

    Value CmpEq(Value a, Value b) { return Compare(Opcode::CmpEq, a, b); }
    Value CmpNe(Value a, Value b) { return Compare(Opcode::CmpNe, a, b); }
    Value CmpULt(Value a, Value b) { return Compare(Opcode::CmpULt, a, b); }
    Value CmpULe(Value a, Value b) { return Compare(Opcode::CmpULe, a, b); }
    Value CmpSLt(Value a, Value b) { return Compare(Opcode::CmpSLt, a, b); }
    Value CmpSLe(Value a, Value b) { return Compare(Opcode::CmpSLe, a, b); }
    Value Select(Value cond, Value if_true, Value if_false);
    Value AndU1(Value a, Value b) { return Op(Opcode::AndU1, Type::U1, {a, b}); }
    Value OrU1(Value a, Value b) { return Op(Opcode::OrU1, Type::U1, {a, b}); }
    Value NotU1(Value a) { return Op(Opcode::NotU1, Type::U1, {a}); }

    // Width changes; each returns `v` itself when it already has type `to`.
    Value ZeroExtend(Value v, Type to);
    Value SignExtend(Value v, Type to);
    Value Truncate(Value v, Type to);
    // Zero-extends or truncates to `to`.
    Value Resize(Value v, Type to);

    Value Load(Value linear, Type t, u8 flags = 0) { return Op(Opcode::Load, t, {linear, Imm8(flags)}); }
    void Store(Value linear, Value v, u8 flags = 0) { Op(Opcode::Store, Type::Void, {linear, v, Imm8(flags)}); }

    Value CallHelper(const HelperInfo& helper, Value a = Imm64(0), Value b = Imm64(0), Value c = Imm64(0));
    void RaiseException(u8 vector, u32 error_code = 0);
    void RaiseExceptionIf(Value cond, u8 vector, u32 error_code = 0);

    void ExitConst(u64 rip) { Op(Opcode::ExitConst, Type::Void, {Imm64(rip)}); }
    void ExitCond(Value cond, u64 taken, u64 not_taken);
    void ExitIndirect(Value rip) { Op(Opcode::ExitIndirect, Type::Void, {rip}); }
    void ExitHalt(u64 next_rip) { Op(Opcode::ExitHalt, Type::Void, {Imm64(next_rip)}); }
    void ExitToDispatcher(u64 rip, bool only_if_tf = false) {
        Op(Opcode::ExitToDispatcher, Type::Void, {Imm64(rip), Imm64(only_if_tf ? 1 : 0)});
    }

    Value Op(Opcode op, Type type, std::initializer_list<Value> args) { return block_.Append(op, type, args); }

private:
    Value Binary(Opcode op, Value a, Value b) {
        assert(a.type() == b.type() && IsIntType(a.type()));
        return Op(op, a.type(), {a, b});
    }
    Value Compare(Opcode op, Value a, Value b) {
        assert(a.type() == b.type() && IsIntType(a.type()));
        return Op(op, Type::U1, {a, b});
    }
    Value Shift(Opcode op, Value a, Value count);

    Block& block_;
};

}  // namespace emu::cpu::ir
