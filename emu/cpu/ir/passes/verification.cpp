// Verification: every instruction matches its opcodes.inc signature, refers only to earlier non-void
// results (SSA within the block), immediates sit in Imm slots, and exactly one terminator ends the block.
// Relies on nothing; every other pass relies on it.
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "emu/cpu/ir/passes/passes.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::ir {
namespace {

// Checks one argument against its signature slot; `int_type` is the instruction's Int binding.
bool CheckArg(const Block& block, u32 index, const Value& v, Type want, Type& int_type, std::string* error) {
    auto fail = [&](std::string_view why) {
        *error = fmt::format("%{} {}: {}", index, NameOf(block.inst(index).op), why);
        return false;
    };
    if (v.empty()) return fail("missing argument");
    if (v.is_inst()) {
        if (v.inst() >= index) return fail("uses a later or its own result");
        if (block.inst(v.inst()).type != v.type()) return fail("argument type differs from its definition");
        if (block.inst(v.inst()).op == Opcode::Nop) return fail("uses a removed instruction");
    }
    switch (want) {
        case Type::Imm:
            if (!v.is_imm()) return fail("slot needs an immediate");
            return true;
        case Type::Helper:
            if (v.type() != Type::Helper || !v.is_imm() || v.helper() == nullptr) return fail("slot needs a helper");
            return true;
        case Type::AnyInt:
            if (!IsIntType(v.type()) && v.type() != Type::U1) return fail("slot needs an integer");
            return true;
        case Type::Int:
            if (!IsIntType(v.type())) return fail("slot needs U8..U64");
            if (int_type == Type::Void) int_type = v.type();
            if (v.type() != int_type) return fail("Int operands of different widths");
            return true;
        default:
            if (v.type() != want) return fail(fmt::format("slot needs {}, got {}", TypeName(want), TypeName(v.type())));
            return true;
    }
}

// GPRs, RIP and RFLAGS have their own opcodes, which the passes track; generic field access must not alias
// them.
constexpr u64 kFirstGenericField = offsetof(CpuState, rflags) + sizeof(u64);

bool IsFieldAccess(Opcode op) {
    switch (op) {
        case Opcode::GetField8:
        case Opcode::GetField16:
        case Opcode::GetField32:
        case Opcode::GetField64:
        case Opcode::SetField8:
        case Opcode::SetField16:
        case Opcode::SetField32:
        case Opcode::SetField64: return true;
        default: return false;
    }
}

}  // namespace

bool Verify(const Block& block, std::string* error) {
    if (block.size() == 0 || !IsTerminator(block.insts().back().op)) {
        *error = "block does not end with a terminator";
        return false;
    }
    for (u32 i = 0; i < block.size(); ++i) {
        const Inst& inst = block.inst(i);
        const OpcodeInfo& info = InfoOf(inst.op);
        if (IsTerminator(inst.op) && i + 1 != block.size()) {
            *error = fmt::format("%{} {}: terminator before the end", i, info.name);
            return false;
        }
        if (inst.num_args != info.num_args) {
            *error = fmt::format("%{} {}: {} arguments, expected {}", i, info.name, inst.num_args, info.num_args);
            return false;
        }
        Type int_type = info.ret == Type::Int ? inst.type : Type::Void;
        if (info.ret == Type::Int ? !IsIntType(inst.type) : inst.type != info.ret) {
            *error = fmt::format("%{} {}: bad result type {}", i, info.name, TypeName(inst.type));
            return false;
        }
        for (unsigned a = 0; a < inst.num_args; ++a) {
            if (!CheckArg(block, i, inst.args[a], info.args[a], int_type, error)) return false;
        }
        if (IsFieldAccess(inst.op) && inst.args[0].imm() < kFirstGenericField) {
            *error = fmt::format("%{} {}: field offset {} overlaps the GPRs, RIP or RFLAGS", i, info.name,
                                 inst.args[0].imm());
            return false;
        }
    }
    return true;
}

void VerificationPass(const Block& block) {
    std::string error;
    if (Verify(block, &error)) return;
    std::fprintf(stderr, "IR verification failed: %s\n%s", error.c_str(), block.ToString().c_str());
    std::abort();
}

}  // namespace emu::cpu::ir
