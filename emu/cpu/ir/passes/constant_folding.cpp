// Constant folding: a pure integer operation whose operands are all immediates becomes that immediate in every
// use (dead code elimination then drops it). Translators produce these for masked shift counts, flat segment
// bases and address arithmetic on constants. Invariant relied on: values narrower than 64 bits are zero-extended
// (types.h), and each folded result below follows interp/interpreter.cpp's definition of its opcode.
#include <optional>

#include "emu/common/bits.h"
#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {
namespace {

std::optional<u64> Fold(const Inst& inst) {
    const u64 a = inst.args[0].imm();
    const u64 b = inst.num_args > 1 ? inst.args[1].imm() : 0;
    const unsigned bits = BitsOf(inst.type);
    const u64 mask = MaskOf(inst.type);
    switch (inst.op) {
        case Opcode::Add: return (a + b) & mask;
        case Opcode::Sub: return (a - b) & mask;
        case Opcode::And: return a & b;
        case Opcode::Or: return a | b;
        case Opcode::Xor: return a ^ b;
        case Opcode::Not: return ~a & mask;
        case Opcode::Shl: return b >= bits ? 0 : (a << b) & mask;
        case Opcode::Shr: return b >= bits ? 0 : a >> b;
        case Opcode::ZeroExtend: return a;
        case Opcode::Truncate: return a & mask;
        case Opcode::SignExtend: return SignExtend(a, BitsOf(inst.args[0].type())) & mask;
        default: return std::nullopt;
    }
}

}  // namespace

void ConstantFoldingPass(Block& block) {
    std::vector<Value> replacement(block.size());
    for (u32 i = 0; i < block.size(); ++i) {
        Inst& inst = block.inst(i);
        bool all_imm = inst.num_args > 0;
        for (unsigned n = 0; n < inst.num_args; ++n) {
            Value& v = inst.args[n];
            if (v.is_inst() && !replacement[v.inst()].empty()) v = replacement[v.inst()];
            all_imm = all_imm && v.is_imm();
        }
        if (!all_imm || !IsIntType(inst.type)) continue;
        if (const auto folded = Fold(inst)) replacement[i] = Value::Imm(inst.type, *folded);
    }
}

}  // namespace emu::cpu::ir
