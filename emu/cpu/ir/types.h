#pragma once
// IR value types. Integer values narrower than 64 bits are kept zero-extended by every backend, so a U8 value
// is always in 0..255. `Int` and `AnyInt` are only used in opcodes.inc signatures: `Int` is one of U8..U64 and
// all `Int` slots of one instruction (result included) share it; `AnyInt` is any of U1..U64 on its own.
#include <string_view>

#include "emu/common/types.h"

namespace emu::cpu::ir {

enum class Type : u8 {
    Void,
    U1,
    U8,
    U16,
    U32,
    U64,
    U128,    // SSE values (no ops use it yet)
    Helper,  // an immediate naming a helper function (CallHelper's first argument)
    // Signature-only types:
    Int,     // one of U8..U64, the same for every Int slot of an instruction
    AnyInt,  // one of U1..U64, independent of the other slots
    Imm,     // any immediate constant (not the result of an instruction)
};

std::string_view TypeName(Type t);

// Width in bits of an integer type (U1 = 1); 0 for non-integers.
constexpr unsigned BitsOf(Type t) {
    switch (t) {
        case Type::U1: return 1;
        case Type::U8: return 8;
        case Type::U16: return 16;
        case Type::U32: return 32;
        case Type::U64: return 64;
        case Type::U128: return 128;
        default: return 0;
    }
}

constexpr bool IsIntType(Type t) { return t == Type::U8 || t == Type::U16 || t == Type::U32 || t == Type::U64; }

// The integer type holding `bytes` bytes (1, 2, 4 or 8).
constexpr Type IntTypeOfSize(unsigned bytes) {
    switch (bytes) {
        case 1: return Type::U8;
        case 2: return Type::U16;
        case 4: return Type::U32;
        default: return Type::U64;
    }
}

// All-ones mask of an integer type's width.
constexpr u64 MaskOf(Type t) {
    const unsigned bits = BitsOf(t);
    return bits >= 64 ? ~u64{0} : (u64{1} << bits) - 1;
}

}  // namespace emu::cpu::ir
