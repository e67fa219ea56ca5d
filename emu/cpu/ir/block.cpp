#include "emu/cpu/ir/block.h"

#include <fmt/format.h>

#include "emu/cpu/ir/helper.h"

namespace emu::cpu::ir {

Value Block::Append(Opcode op, Type type, std::initializer_list<Value> args) {
    Inst inst;
    inst.op = op;
    inst.type = type;
    inst.num_args = static_cast<u8>(args.size());
    unsigned i = 0;
    for (const Value& v : args) inst.args[i++] = v;
    insts_.push_back(inst);
    return type == Type::Void ? Value() : Value::OfInst(size() - 1, type);
}

std::vector<u32> Block::UseCounts() const {
    std::vector<u32> uses(insts_.size(), 0);
    for (const Inst& inst : insts_) {
        for (unsigned i = 0; i < inst.num_args; ++i) {
            if (inst.args[i].is_inst()) ++uses[inst.args[i].inst()];
        }
    }
    return uses;
}

void Block::Compact() {
    std::vector<u32> new_index(insts_.size(), Value::kNoInst);
    u32 next = 0;
    for (u32 i = 0; i < insts_.size(); ++i) {
        if (insts_[i].op == Opcode::Nop) continue;
        new_index[i] = next;
        Inst inst = insts_[i];
        for (unsigned a = 0; a < inst.num_args; ++a) {
            if (inst.args[a].is_inst()) inst.args[a].set_inst(new_index[inst.args[a].inst()]);
        }
        insts_[next++] = inst;
    }
    insts_.resize(next);
}

namespace {

std::string FormatValue(const Value& v) {
    if (v.is_inst()) return fmt::format("%{}", v.inst());
    if (v.type() == Type::Helper) return std::string(v.helper()->name);
    return fmt::format("{:#x}:{}", v.imm(), TypeName(v.type()));
}

}  // namespace

std::string Block::ToString() const {
    std::string out = fmt::format("block {:#x} ({} guest insns)\n", start_rip_, guest_insns_);
    for (u32 i = 0; i < insts_.size(); ++i) {
        const Inst& inst = insts_[i];
        if (inst.type != Type::Void) {
            out += fmt::format("  %{} = {}:{}", i, NameOf(inst.op), TypeName(inst.type));
        } else {
            out += fmt::format("  {}", NameOf(inst.op));
        }
        for (unsigned a = 0; a < inst.num_args; ++a) out += (a ? ", " : " ") + FormatValue(inst.args[a]);
        out += '\n';
    }
    return out;
}

}  // namespace emu::cpu::ir
