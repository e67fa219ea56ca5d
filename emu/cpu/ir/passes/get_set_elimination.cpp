// Get/set elimination for general-purpose registers. Invariant relied on: within a block nothing but
// GetGpr*/SetGpr* instructions touches the GPRs, except CallHelper (treated as reading and writing all of
// them). Forward: a GetGpr of the width last set or read is replaced by that value, and one of another width by a
// truncation or zero extension of it where that is exact. Backward: a SetGpr that
// a later SetGpr of the same register fully overwrites is dropped, unless something in between reads the
// register or may raise (an exception handler sees the architectural registers) or may stop (StopPoints).
#include <array>
#include <optional>

#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {
namespace {

// Register accessors: width slot 0..4 = 8, 8H, 16, 32, 64 bits.
struct Access {
    bool is_get;
    unsigned slot;
};

std::optional<Access> AccessOf(Opcode op) {
    switch (op) {
        case Opcode::GetGpr8: return Access{true, 0};
        case Opcode::GetGpr8H: return Access{true, 1};
        case Opcode::GetGpr16: return Access{true, 2};
        case Opcode::GetGpr32: return Access{true, 3};
        case Opcode::GetGpr64: return Access{true, 4};
        case Opcode::SetGpr8: return Access{false, 0};
        case Opcode::SetGpr8H: return Access{false, 1};
        case Opcode::SetGpr16: return Access{false, 2};
        case Opcode::SetGpr32: return Access{false, 3};
        case Opcode::SetGpr64: return Access{false, 4};
        default: return std::nullopt;
    }
}

constexpr unsigned kSlots = 5;

constexpr unsigned kSlot32 = 3, kSlot64 = 4;

// A get of `slot` when the register's value is known at another width: the narrower value is a truncation of any
// wider one (never of AH..BH), and the 64-bit value is the 32-bit one zero-extended after a 32-bit write. Rewrites
// `inst` into that operation and returns true.
bool DeriveGet(Inst& inst, unsigned slot, const std::array<Value, kSlots>& known, bool upper_zero) {
    if (slot == 1) return false;
    for (unsigned wider = kSlot64; wider > slot && wider >= 2; --wider) {
        if (known[wider].empty()) continue;
        inst = Inst{Opcode::Truncate, inst.type, 1, {known[wider]}};
        return true;
    }
    if (slot == kSlot64 && upper_zero && !known[kSlot32].empty()) {
        inst = Inst{Opcode::ZeroExtend, inst.type, 1, {known[kSlot32]}};
        return true;
    }
    return false;
}

void ForwardValues(Block& block) {
    std::array<std::array<Value, kSlots>, 16> known{};
    std::array<bool, 16> upper_zero{};  // the last write was 32 bits wide: bits 63:32 are 0
    std::vector<Value> replacement(block.size());
    for (u32 i = 0; i < block.size(); ++i) {
        Inst& inst = block.inst(i);
        for (unsigned a = 0; a < inst.num_args; ++a) {
            Value& v = inst.args[a];
            if (v.is_inst() && !replacement[v.inst()].empty()) v = replacement[v.inst()];
        }
        if (inst.op == Opcode::CallHelper) {
            known = {};
            upper_zero = {};
        }
        const auto access = AccessOf(inst.op);
        if (!access) continue;
        const unsigned reg = static_cast<unsigned>(inst.args[0].imm()) & 15;
        if (access->is_get) {
            Value& k = known[reg][access->slot];
            if (!k.empty()) {
                replacement[i] = k;
                inst = Inst{};
            } else {
                DeriveGet(inst, access->slot, known[reg], upper_zero[reg]);
                k = Value::OfInst(i, inst.type);
            }
            continue;
        }
        known[reg] = {};
        known[reg][access->slot] = inst.args[1];
        upper_zero[reg] = access->slot == kSlot32;
        // AH..BH live in registers 0-3 only; a write to the low byte does not change them, nor vice versa.
    }
}

void DropOverwrittenSets(Block& block) {
    // Registers whose every bit is overwritten later before any read or possible exception.
    u32 dead = 0;
    const std::vector<bool> stops = StopPoints(block);
    for (u32 i = block.size(); i-- > 0;) {
        Inst& inst = block.inst(i);
        if (MayRaise(inst.op) || IsTerminator(inst.op) || stops[i]) {
            dead = 0;
            continue;
        }
        const auto access = AccessOf(inst.op);
        if (!access) continue;
        const u32 bit = u32{1} << (inst.args[0].imm() & 15);
        if (access->is_get) {
            dead &= ~bit;
        } else if (dead & bit) {
            inst = Inst{};
        } else if (access->slot >= 3) {  // 32- and 64-bit writes replace the whole register
            dead |= bit;
        }
    }
}

}  // namespace

void GetSetEliminationPass(Block& block) {
    ForwardValues(block);
    DropOverwrittenSets(block);
}

}  // namespace emu::cpu::ir
