#include "emu/cpu/ir/opcodes.h"

namespace emu::cpu::ir {
namespace {

template <typename... Args>
constexpr OpcodeInfo MakeInfo(std::string_view name, Type ret, Args... args) {
    static_assert(sizeof...(Args) <= kMaxArgs, "raise kMaxArgs");
    return OpcodeInfo{name, ret, static_cast<u8>(sizeof...(Args)), {args...}};
}

constexpr std::array<OpcodeInfo, kNumOpcodes> kInfos = {{
#define OPCODE(name, ret, ...) MakeInfo(#name, ret __VA_OPT__(, ) __VA_ARGS__),
#define Void Type::Void
#define U1 Type::U1
#define U8 Type::U8
#define U16 Type::U16
#define U32 Type::U32
#define U64 Type::U64
#define U128 Type::U128
#define Int Type::Int
#define AnyInt Type::AnyInt
#define Imm Type::Imm
#define Helper Type::Helper
#include "emu/cpu/ir/opcodes.inc"
#undef Helper
#undef Void
#undef Imm
#undef AnyInt
#undef Int
#undef U128
#undef U64
#undef U32
#undef U16
#undef U8
#undef U1
#undef OPCODE
}};

}  // namespace

const OpcodeInfo& InfoOf(Opcode op) { return kInfos[static_cast<unsigned>(op)]; }

bool IsTerminator(Opcode op) {
    switch (op) {
        case Opcode::ExitConst:
        case Opcode::ExitCond:
        case Opcode::ExitIndirect:
        case Opcode::ExitHalt:
        case Opcode::ExitToDispatcher:
        case Opcode::RaiseException: return true;
        default: return false;
    }
}

bool MayRaise(Opcode op) {
    switch (op) {
        case Opcode::Load:
        case Opcode::Store:
        case Opcode::CallHelper:
        case Opcode::RaiseException:
        case Opcode::RaiseExceptionIf: return true;
        default: return false;
    }
}

bool HasSideEffects(Opcode op) {
    if (op == Opcode::Nop) return false;
    return InfoOf(op).ret == Type::Void || MayRaise(op);
}

std::string_view TypeName(Type t) {
    switch (t) {
        case Type::Void: return "void";
        case Type::U1: return "u1";
        case Type::U8: return "u8";
        case Type::U16: return "u16";
        case Type::U32: return "u32";
        case Type::U64: return "u64";
        case Type::U128: return "u128";
        case Type::Helper: return "helper";
        case Type::Int: return "int";
        case Type::AnyInt: return "anyint";
        case Type::Imm: return "imm";
    }
    return "?";
}

}  // namespace emu::cpu::ir
