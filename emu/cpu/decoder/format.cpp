// Names and a short Intel-syntax printer for decoded instructions (logs, test failures, decoder-check).
#include <array>
#include <cstdio>

#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/decoder/mnemonic.h"

namespace emu::cpu {
namespace {

constexpr std::string_view kMnemonicNames[] = {
#define EMU64_MNEMONIC(name) #name,
#include "emu/cpu/decoder/tables/mnemonics.inc"
#undef EMU64_MNEMONIC
};
static_assert(std::size(kMnemonicNames) == static_cast<size_t>(Mnemonic::Count));

constexpr std::string_view kGpr64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                         "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr std::string_view kGpr32[16] = {"eax", "ecx", "edx",  "ebx",  "esp",  "ebp",  "esi",  "edi",
                                         "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
constexpr std::string_view kGpr16[16] = {"ax",  "cx",  "dx",   "bx",   "sp",   "bp",   "si",   "di",
                                         "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"};
constexpr std::string_view kGpr8[16] = {"al",  "cl",  "dl",   "bl",   "spl",  "bpl",  "sil",  "dil",
                                        "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"};
constexpr std::string_view kGpr8High[4] = {"ah", "ch", "dh", "bh"};
constexpr std::string_view kSeg[6] = {"es", "cs", "ss", "ds", "fs", "gs"};
constexpr std::string_view kCond[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                                        "s", "ns", "p", "np", "l", "ge", "le", "g"};

}  // namespace

std::string_view GprName(unsigned reg, unsigned size) {
    reg &= 15;
    switch (size) {
        case 1: return kGpr8[reg];
        case 2: return kGpr16[reg];
        case 4: return kGpr32[reg];
        default: return kGpr64[reg];
    }
}

namespace {

std::string Hex(u64 v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string_view SizeKeyword(unsigned size) {
    switch (size) {
        case 1: return "byte ";
        case 2: return "word ";
        case 4: return "dword ";
        case 8: return "qword ";
        case 10: return "tbyte ";
        case 16: return "xmmword ";
        default: return "";
    }
}

std::string FormatMem(const Operand& o, unsigned addr_size) {
    std::string s(SizeKeyword(o.size));
    s += kSeg[o.mem.seg % 6];
    s += ":[";
    bool any = false;
    if (o.mem.rip_relative) {
        s += addr_size == 4 ? "eip" : "rip";
        any = true;
    }
    if (o.mem.base != kNoReg) {
        s += GprName(o.mem.base, addr_size);
        any = true;
    }
    if (o.mem.index != kNoReg) {
        if (any) s += '+';
        s += GprName(o.mem.index, addr_size);
        s += '*' + std::to_string(o.mem.scale);
        any = true;
    }
    if (o.mem.disp != 0 || !any) {
        if (any) s += o.mem.disp < 0 ? "-" : "+";
        s += Hex(any && o.mem.disp < 0 ? 0 - static_cast<u64>(o.mem.disp) : static_cast<u64>(o.mem.disp));
    }
    return s + ']';
}

}  // namespace

std::string FormatReg(const Operand& o) {
    if (o.kind != OperandKind::Reg) return "";
    switch (o.reg_class) {
        case RegClass::Gpr: return std::string(o.high8 ? kGpr8High[o.reg & 3] : GprName(o.reg, o.size));
        case RegClass::Seg: return std::string(kSeg[o.reg % 6]);
        case RegClass::Cr: return "cr" + std::to_string(o.reg);
        case RegClass::Dr: return "dr" + std::to_string(o.reg);
        case RegClass::X87: return "st(" + std::to_string(o.reg) + ")";
        case RegClass::Mmx: return "mm" + std::to_string(o.reg);
        case RegClass::Xmm: return "xmm" + std::to_string(o.reg);
    }
    return "?";
}

std::string FormatOperand(const Operand& o, const DecodedInsn& insn) {
    switch (o.kind) {
        case OperandKind::None: return "";
        case OperandKind::Reg: return FormatReg(o);
        case OperandKind::Mem: return FormatMem(o, insn.addr_size);
        case OperandKind::Imm: return Hex(o.imm);
        case OperandKind::Rel: {
            const i64 rel = static_cast<i64>(o.imm);
            return std::string(rel < 0 ? "$-" : "$+") + Hex(rel < 0 ? 0 - o.imm : o.imm);
        }
        case OperandKind::FarPtr: return Hex(o.far_selector) + ":" + Hex(o.imm);
    }
    return "?";
}

std::string_view MnemonicName(Mnemonic m) {
    const auto i = static_cast<size_t>(m);
    return i < std::size(kMnemonicNames) ? kMnemonicNames[i] : "?";
}

std::string_view DecodeErrorName(DecodeError error) {
    switch (error) {
        case DecodeError::Undefined: return "undefined opcode (#UD)";
        case DecodeError::TooLong: return "instruction longer than 15 bytes (#GP)";
        case DecodeError::LockNotAllowed: return "LOCK not allowed here (#UD)";
        case DecodeError::Truncated: return "instruction bytes end early";
    }
    return "?";
}

std::string FormatInsn(const DecodedInsn& insn) {
    std::string s;
    if (insn.prefixes & prefix::Lock) s += "LOCK ";
    if (insn.mandatory_prefix == 0) {
        if (insn.prefixes & prefix::Rep) s += "REP ";
        if (insn.prefixes & prefix::Repne) s += "REPNE ";
    }
    std::string_view name = MnemonicName(insn.mnemonic);
    const bool has_cond = insn.mnemonic == Mnemonic::JCC || insn.mnemonic == Mnemonic::SETCC ||
                          insn.mnemonic == Mnemonic::CMOVCC || insn.mnemonic == Mnemonic::FCMOVCC;
    if (has_cond) {
        s += name.substr(0, name.size() - 2);  // drop "CC"
        for (char c : kCond[insn.cond & 15]) s += static_cast<char>(c - 'a' + 'A');
    } else {
        s += name;
    }
    if (insn.num_operands == 0 && insn.data_size != 0 && insn.data_size != insn.op_size)
        s += " (" + std::to_string(insn.data_size * 8) + "-bit)";
    for (unsigned i = 0; i < insn.num_operands; ++i) {
        s += i == 0 ? " " : ", ";
        s += FormatOperand(insn.operands[i], insn);
    }
    return s;
}

}  // namespace emu::cpu
