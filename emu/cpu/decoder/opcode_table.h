#pragma once
// The decoder's opcode tables: operand specifications (tables/operands.inc) and opcode rows (tables/map_*.inc,
// tables/x87.inc). Internal to emu/cpu/decoder (and its tests). A row matches an opcode byte in a map plus a
// key (ModRM.reg / mod / rm, mandatory prefix, REX.W, REX.B, mode); among the rows of one opcode the most
// specific matching row wins (Specificity() below), so reading order in the .inc files does not matter.
#include <array>
#include <span>

#include "emu/common/types.h"
#include "emu/cpu/decoder/decoded_insn.h"

namespace emu::cpu::tables {

enum class OperandSource : u8 {
    None,
    Rm,      // ModRM.rm: register (mod = 11) or memory
    RmMem,   // ModRM.rm, memory only: mod = 11 is #UD
    RmReg,   // ModRM.rm, register only: mod != 11 is #UD
    Reg,     // ModRM.reg
    OpReg,   // low 3 bits of the opcode, extended by REX.B
    Imm,     // immediate
    Const1,  // the constant 1
    Rel,     // relative branch displacement
    Moffs,   // absolute offset of address size (A0-A3)
    FarImm,  // ptr16:16 / ptr16:32
    Fixed,   // a fixed register
};

enum class SizeRule : u8 { None, B, W, D, Q, V, Z, Y, P, S, T, X, A, DQ, O };

enum class OpSpec : u8 {
#define EMU64_OPERAND(name, source, reg_class, size, alt, fixed) name,
#include "emu/cpu/decoder/tables/operands.inc"
#undef EMU64_OPERAND
    Count
};

struct OpSpecInfo {
    OperandSource source;
    RegClass reg_class;
    SizeRule size;
    SizeRule alt;
    u8 fixed;
    const char* name;
};

const OpSpecInfo& SpecInfo(OpSpec spec);

// Row attributes: key bits (which encodings the row matches) and flags (how it decodes). Short names after the
// SDM's superscripts (i64, o64, d64, f64) so the .inc rows read like the opcode map.
using Attr = u64;
namespace attr {
inline constexpr unsigned kRegShift = 0, kModShift = 4, kRmShift = 6, kPfxShift = 10, kWShift = 13;
inline constexpr unsigned kModeShift = 16, kCcShift = 28;
inline constexpr Attr kRegMask = Attr{0xF} << kRegShift;
inline constexpr Attr kModMask = Attr{3} << kModShift;
inline constexpr Attr kRmMask = Attr{0xF} << kRmShift;
inline constexpr Attr kPfxMask = Attr{7} << kPfxShift;
inline constexpr Attr kWMask = Attr{3} << kWShift;
inline constexpr Attr kModeMask = Attr{3} << kModeShift;
inline constexpr Attr kCcMask = Attr{0x1F} << kCcShift;
}  // namespace attr

constexpr Attr G(unsigned reg) { return Attr(reg + 1) << attr::kRegShift; }  // ModRM.reg == reg ("/reg")
inline constexpr Attr MEM = Attr{1} << attr::kModShift;                      // mod != 11
inline constexpr Attr REG = Attr{2} << attr::kModShift;                      // mod == 11
constexpr Attr RM(unsigned rm) { return (Attr(rm + 1) << attr::kRmShift) | REG; }  // mod == 11, rm == rm
constexpr Attr MODRM(unsigned byte) { return G((byte >> 3) & 7) | RM(byte & 7); }   // exact ModRM byte >= C0
inline constexpr Attr NP = Attr{1} << attr::kPfxShift;   // no 66/F2/F3
inline constexpr Attr P66 = Attr{2} << attr::kPfxShift;  // 66 (and no F2/F3)
inline constexpr Attr PF3 = Attr{3} << attr::kPfxShift;  // F3 last of F2/F3
inline constexpr Attr PF2 = Attr{4} << attr::kPfxShift;  // F2 last of F2/F3
inline constexpr Attr W0 = Attr{1} << attr::kWShift;
inline constexpr Attr W1 = Attr{2} << attr::kWShift;
inline constexpr Attr RB0 = Attr{1} << 15;                // REX.B clear (90 is NOP, 41 90 is XCHG r8)
inline constexpr Attr I64 = Attr{1} << attr::kModeShift;  // invalid in 64-bit mode
inline constexpr Attr O64 = Attr{2} << attr::kModeShift;  // valid only in 64-bit mode
inline constexpr Attr D64 = Attr{1} << 20;     // 64-bit mode: operand size 64 by default, 66 gives 16
inline constexpr Attr F64 = Attr{1} << 21;     // 64-bit mode: operand size 64, 66 ignored (Intel behaviour)
inline constexpr Attr LK = Attr{1} << 22;      // LOCK allowed when the destination is memory
inline constexpr Attr BYTE = Attr{1} << 23;    // data_size 1 (implicit-width byte forms: MOVSB, INSB, XLAT...)
inline constexpr Attr WZ = Attr{1} << 24;      // data_size min(op_size, 4) (IN/OUT/INS/OUTS)
inline constexpr Attr X8 = Attr{1} << 25;      // the row covers opcode .. opcode+7 (register in opcode)
inline constexpr Attr X16 = Attr{1} << 26;     // the row covers opcode .. opcode+15, cond = low nibble
inline constexpr Attr MODREG = Attr{1} << 27;  // mod is ignored and rm is a register (MOV CR/DR)
constexpr Attr CC(unsigned cond) { return Attr(cond + 1) << attr::kCcShift; }  // explicit cond (FCMOVcc)

struct Row {
    u8 map;  // 0 one-byte, 1 0F, 2 0F38, 3 0F3A
    u8 opcode;
    Mnemonic mnemonic;
    std::array<OpSpec, 3> ops;
    Attr attrs;
};

// The most specific row wins; rows of the same opcode with equal specificity must never both match.
constexpr unsigned Specificity(Attr a) {
    return ((a & attr::kPfxMask) ? 8 : 0) + ((a & attr::kRegMask) ? 4 : 0) + ((a & attr::kRmMask) ? 2 : 0) +
           ((a & attr::kModMask) ? 1 : 0) + ((a & attr::kWMask) ? 1 : 0) + ((a & RB0) ? 1 : 0) +
           ((a & attr::kModeMask) ? 1 : 0);
}

// Everything a row's key is compared with.
struct MatchKey {
    bool has_modrm;
    u8 modrm;
    u8 prefix_class;  // 0 none, 1 = 66, 2 = F3, 3 = F2 (NP/P66/PF3/PF2 minus one)
    bool rex_w;
    bool rex_b;
    DecodeMode mode;
};
bool RowMatches(const Row& row, const MatchKey& key);

struct OpcodeEntry {
    std::span<const Row* const> rows;  // most specific first
    bool has_modrm = false;
};
const OpcodeEntry& Lookup(u8 map, u8 opcode);

// All rows with X8/X16 expanded (for table self-checks in tests).
std::span<const Row> AllRows();

}  // namespace emu::cpu::tables
