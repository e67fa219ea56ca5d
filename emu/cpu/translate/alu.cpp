// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT ADCX ADOX (SDM Vol. 2).
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::FlagOp;
using ir::Opcode;
using ir::Value;

// dst = dst `op` src (plus or minus CF for ADC/SBB), flags from `kind`; CMP and TEST only set flags.
bool Translator::BinaryAlu(const DecodedInsn& insn, FlagOp kind, Opcode op, bool write_back) {
    const Operand& dst = insn.operands[0];
    const Value a = Read(dst, write_back);
    const Value b = ir_.Resize(Read(insn.operands[1]), a.type());
    Value carry = ir::Emitter::Imm1(false);
    Value r = ir_.Op(op, a.type(), {a, b});
    if (kind == FlagOp::Adc || kind == FlagOp::Sbb) {
        carry = ir_.GetFlag(rflags::CF);
        r = ir_.Op(op, a.type(), {r, ir_.ZeroExtend(carry, a.type())});
    }
    if (write_back) Write(dst, r);
    ir_.SetFlags(kind, a, b, r, carry);
    return true;
}

bool Translator::ADD(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Add, Opcode::Add, true); }
bool Translator::ADC(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Adc, Opcode::Add, true); }
bool Translator::SUB(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Sub, Opcode::Sub, true); }
bool Translator::SBB(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Sbb, Opcode::Sub, true); }
bool Translator::CMP(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Sub, Opcode::Sub, false); }
// The logic group: CF = OF = 0, SF/ZF/PF from the result, AF cleared (undefined in the SDM).
bool Translator::AND(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Logic, Opcode::And, true); }
bool Translator::OR(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Logic, Opcode::Or, true); }
bool Translator::XOR(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Logic, Opcode::Xor, true); }
bool Translator::TEST(const DecodedInsn& insn) { return BinaryAlu(insn, FlagOp::Logic, Opcode::And, false); }

bool Translator::INC(const DecodedInsn& insn) {
    const Value a = Read(insn.operands[0], true);
    const Value one = ir::Emitter::ImmOf(a.type(), 1);
    const Value r = ir_.Add(a, one);
    Write(insn.operands[0], r);
    ir_.SetFlags(FlagOp::Inc, a, one, r);
    return true;
}

bool Translator::DEC(const DecodedInsn& insn) {
    const Value a = Read(insn.operands[0], true);
    const Value one = ir::Emitter::ImmOf(a.type(), 1);
    const Value r = ir_.Sub(a, one);
    Write(insn.operands[0], r);
    ir_.SetFlags(FlagOp::Dec, a, one, r);
    return true;
}

bool Translator::NEG(const DecodedInsn& insn) {
    const Value a = Read(insn.operands[0], true);
    const Value r = ir_.Neg(a);
    Write(insn.operands[0], r);
    ir_.SetFlags(FlagOp::Neg, a, ir::Emitter::ImmOf(a.type(), 0), r);
    return true;
}

// ADCX / ADOX: dst += src + CF (or OF), the carry out going back to that one flag; nothing else changes.
bool Translator::AddWithCarryFlag(const DecodedInsn& insn, u64 flag) {
    const Operand& dst = insn.operands[0];
    const Value a = Read(dst);
    const Value b = ir_.Resize(Read(insn.operands[1]), a.type());
    const Value sum = ir_.Add(a, b);
    const Value r = ir_.Add(sum, ir_.ZeroExtend(ir_.GetFlag(flag), a.type()));
    const Value carry = ir_.OrU1(ir_.CmpULt(sum, a), ir_.CmpULt(r, sum));
    Write(dst, r);
    ir_.SetFlag(flag, carry);
    return true;
}

bool Translator::ADCX(const DecodedInsn& insn) { return AddWithCarryFlag(insn, rflags::CF); }
bool Translator::ADOX(const DecodedInsn& insn) { return AddWithCarryFlag(insn, rflags::OF); }

bool Translator::NOT(const DecodedInsn& insn) {
    Write(insn.operands[0], ir_.Not(Read(insn.operands[0], true)));
    return true;
}

}  // namespace emu::cpu::translate
