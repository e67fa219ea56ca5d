#pragma once
// An IR value: the result of an earlier instruction of the same block (SSA), or an immediate constant.
#include <cassert>

#include "emu/common/types.h"
#include "emu/cpu/ir/types.h"

namespace emu::cpu::ir {

struct HelperInfo;

class Value {
public:
    static constexpr u32 kNoInst = ~u32{0};

    constexpr Value() = default;
    // The result of instruction number `index` of the block.
    static constexpr Value OfInst(u32 index, Type type) { return Value(type, index, 0); }
    static constexpr Value Imm(Type type, u64 value) { return Value(type, kNoInst, value & MaskOf(type)); }
    static Value OfHelper(const HelperInfo* helper) {
        return Value(Type::Helper, kNoInst, reinterpret_cast<u64>(helper));
    }

    constexpr Type type() const { return type_; }
    constexpr bool empty() const { return type_ == Type::Void; }
    constexpr bool is_imm() const { return type_ != Type::Void && inst_ == kNoInst; }
    constexpr bool is_inst() const { return inst_ != kNoInst; }
    constexpr u32 inst() const { return inst_; }
    constexpr u64 imm() const { return imm_; }
    const HelperInfo* helper() const { return reinterpret_cast<const HelperInfo*>(imm_); }

    // Renumbers the referenced instruction (block compaction).
    void set_inst(u32 index) { inst_ = index; }

    friend constexpr bool operator==(const Value&, const Value&) = default;

private:
    constexpr Value(Type type, u32 inst, u64 imm) : type_(type), inst_(inst), imm_(imm) {}

    Type type_ = Type::Void;
    u32 inst_ = kNoInst;
    u64 imm_ = 0;
};

}  // namespace emu::cpu::ir
