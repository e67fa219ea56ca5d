#pragma once
// A basic block of IR: a straight-line list of instructions covering one or more guest instructions and
// ending with exactly one terminator. Values are SSA: each instruction's result is defined once and used
// only by later instructions of the same block.
#include <array>
#include <string>
#include <vector>

#include "emu/common/types.h"
#include "emu/cpu/ir/opcodes.h"
#include "emu/cpu/ir/value.h"

namespace emu::cpu::ir {

struct Inst {
    Opcode op = Opcode::Nop;
    Type type = Type::Void;  // result type (the concrete type for Int results)
    u8 num_args = 0;
    std::array<Value, kMaxArgs> args{};

    const Value& arg(unsigned i) const { return args[i]; }
};

class Block {
public:
    Block() = default;
    explicit Block(u64 start_rip) : start_rip_(start_rip) {}

    u64 start_rip() const { return start_rip_; }
    // Guest instructions covered (GuestInsn markers).
    u32 guest_insns() const { return guest_insns_; }
    // Bytes of guest code covered, from start_rip (for code invalidation).
    u32 guest_bytes() const { return guest_bytes_; }
    void NoteGuestInsn(u32 length) {
        ++guest_insns_;
        guest_bytes_ += length;
    }

    std::vector<Inst>& insts() { return insts_; }
    const std::vector<Inst>& insts() const { return insts_; }
    const Inst& inst(u32 i) const { return insts_[i]; }
    Inst& inst(u32 i) { return insts_[i]; }
    u32 size() const { return static_cast<u32>(insts_.size()); }

    Value Append(Opcode op, Type type, std::initializer_list<Value> args);
    bool terminated() const { return !insts_.empty() && IsTerminator(insts_.back().op); }

    // Number of uses of each instruction's result.
    std::vector<u32> UseCounts() const;
    // Drops Nop instructions and renumbers references.
    void Compact();

    std::string ToString() const;

private:
    u64 start_rip_ = 0;
    u32 guest_insns_ = 0;
    u32 guest_bytes_ = 0;
    std::vector<Inst> insts_;
};

}  // namespace emu::cpu::ir
