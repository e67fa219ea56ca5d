#pragma once
// The decoder's output: one x86 instruction, fully decoded, independent of any backend. This header is
// the contract between emu/cpu/decoder (which fills it) and emu/cpu/translate (which reads it).
#include <array>

#include "emu/common/types.h"
#include "emu/cpu/decoder/mnemonic.h"

namespace emu::cpu {

// Execution mode as far as decoding is concerned: default operand/address size and 64-bit rules.
enum class DecodeMode : u8 { Bits16, Bits32, Bits64 };

enum class OperandKind : u8 {
    None,
    Reg,     // a register of `reg_class`, number `reg`
    Mem,     // a memory operand (ModRM/SIB/disp, or moffs, or implicit string operands are NOT operands)
    Imm,     // immediate, already sign- or zero-extended to `size` as the SDM says for the opcode
    Rel,     // relative branch target: `imm` holds the sign-extended displacement
    FarPtr,  // ptr16:16 / ptr16:32: `imm` offset, `far_selector` selector
};

enum class RegClass : u8 {
    Gpr,     // reg 0-15; with size 1 and `high8` set: AH, CH, DH, BH
    Seg,     // ES CS SS DS FS GS = 0-5
    Cr,      // CR0-CR15
    Dr,      // DR0-DR15
    X87,     // ST(i), i relative to TOP
    Mmx,     // MM0-7
    Xmm,     // XMM0-15
};

inline constexpr u8 kNoReg = 0xFF;

struct MemOperand {
    u8 seg = 0;           // effective segment (SegReg numbering), after overrides and the SS default for rBP/rSP
    u8 base = kNoReg;     // GPR number or kNoReg
    u8 index = kNoReg;    // GPR number or kNoReg
    u8 scale = 1;         // 1, 2, 4, 8
    bool rip_relative = false;  // disp is relative to the address of the next instruction
    i64 disp = 0;         // sign-extended displacement
};

struct Operand {
    OperandKind kind = OperandKind::None;
    RegClass reg_class = RegClass::Gpr;
    u8 size = 0;       // operand size in bytes (1, 2, 4, 8, 10, 16, ...), or 0 for "no data" (LEA's memory, INVLPG)
    u8 reg = 0;
    bool high8 = false;
    MemOperand mem{};
    u64 imm = 0;
    u16 far_selector = 0;
};

// Prefix bits seen on the instruction.
namespace prefix {
inline constexpr u16 Lock = 1 << 0;
inline constexpr u16 Rep = 1 << 1;    // F3
inline constexpr u16 Repne = 1 << 2;  // F2
inline constexpr u16 OpSize = 1 << 3; // 66
inline constexpr u16 AddrSize = 1 << 4; // 67
inline constexpr u16 Seg = 1 << 5;    // any segment override
inline constexpr u16 Rex = 1 << 6;
}  // namespace prefix

struct DecodedInsn {
    Mnemonic mnemonic = Mnemonic::Invalid;
    u8 length = 0;        // total bytes, prefixes included (1..15)
    u8 op_size = 0;       // effective operand size in bytes: 2, 4 or 8 (1 is expressed per operand)
    u8 addr_size = 0;     // effective address size in bytes: 2, 4 or 8
    u16 prefixes = 0;     // prefix:: bits
    u8 seg_override = kNoReg;  // SegReg number of the last segment override, or kNoReg
    u8 rex = 0;           // the REX byte, or 0
    u8 opcode_map = 0;    // 0 = one-byte, 1 = 0F, 2 = 0F38, 3 = 0F3A
    u8 opcode = 0;        // the opcode byte within its map
    bool has_modrm = false;
    u8 modrm = 0;
    u8 cond = 0;          // condition code 0-15 for Jcc/SETcc/CMOVcc/FCMOVcc (low nibble of the opcode)
    u8 num_operands = 0;
    std::array<Operand, 4> operands{};  // in Intel order: destination first

    // --- Added by the decoder (emu/cpu/decoder/decoder.h documents the conventions) ---
    // Effective data width in bytes (1, 2, 4, 8) of the operation. It matters for instructions whose width is
    // implicit: string ops (MOVS..SCAS, INS/OUTS carry no operands at all), IN/OUT, CBW/CWD families, PUSHF/
    // POPF, PUSHA/POPA, IRET, XLAT, LEAVE... It is 1 for byte forms, else op_size (at most 4 for IN/OUT/INS/OUTS).
    u8 data_size = 0;
    // The mandatory prefix that selected an SSE-style variant: 0 (none), 0x66, 0xF3 or 0xF2. When it is 0x66 the
    // 66 did not change op_size.
    u8 mandatory_prefix = 0;
};

// Why decoding stopped without an instruction.
enum class DecodeError : u8 {
    Undefined,       //!< #UD: invalid or reserved encoding in this mode
    TooLong,         //!< #GP(0): the instruction would exceed 15 bytes
    LockNotAllowed,  //!< #UD: LOCK on an instruction or operand form that cannot be locked
    Truncated,       //!< the byte source ended before the instruction did (the fetcher turns this into #PF)
};

}  // namespace emu::cpu
