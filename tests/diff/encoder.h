#pragma once
// A small x86-64 instruction encoder for the differential tester: legacy prefixes, REX, one- and two-byte
// opcode maps, ModRM/SIB with every addressing form (base+disp8/disp32, SIB with index and scale,
// RIP-relative, absolute disp32, 67h address size), and immediates.
#include <vector>

#include "emu/common/types.h"

namespace emu::diff {

inline constexpr u8 kNoReg = 0xFF;

// A general-purpose register operand. high8 selects AH/CH/DH/BH (num 0-3), which forbids a REX prefix.
struct RegRef {
    u8 num = 0;
    bool high8 = false;
};

struct MemRef {
    bool rip_relative = false;  // [rip + disp32]: disp is computed from `target` when encoding
    bool absolute = false;      // [disp32] through a SIB byte with neither base nor index
    bool force_disp32 = false;  // use mod=10 even when the displacement fits in 8 bits
    u8 base = kNoReg;
    u8 index = kNoReg;          // never 4 (RSP); 12 (R12) is fine
    u8 scale_log = 0;
    i64 disp = 0;
    u64 target = 0;             // the linear address accessed (rip_relative: used to compute disp)
    bool addr32 = false;        // 67h prefix: the address is computed in 32 bits and zero-extended
};

struct Insn {
    std::vector<u8> prefixes;  // legacy prefixes, in order (F0, F2, F3, 66, 67)
    bool rex_w = false;
    bool rex_force = false;    // an 8-bit operand names SPL/BPL/SIL/DIL
    bool rex_forbidden = false;  // an 8-bit operand names AH/CH/DH/BH
    u8 map = 0;                // 0: one-byte map, 1: 0F, 2: 0F 38, 3: 0F 3A
    u8 opcode = 0;
    int opreg = -1;            // register added to the opcode (50+r, B8+r, C8+r...)
    bool has_modrm = false;
    u8 reg = 0;                // ModRM.reg: register number or /digit
    bool rm_is_mem = false;
    u8 rm_reg = 0;
    MemRef mem;
    unsigned imm_size = 0;
    u64 imm = 0;
    unsigned imm2_size = 0;    // ENTER's second immediate
    u64 imm2 = 0;

    // Sets ModRM.reg from a register operand (tracks REX needs of 8-bit registers).
    void SetReg(RegRef r, unsigned size);
    // Sets ModRM.rm to a register operand.
    void SetRmReg(RegRef r, unsigned size);
    void SetRmMem(const MemRef& m);
    // 66h or REX.W for a 2- or 8-byte operand size.
    void SetOperandSize(unsigned size);
};

// Appends the encoding of `insn`, placed at linear address `address`, to `out`. Returns false if the
// instruction cannot be encoded (AH..BH together with a REX prefix, or a RIP-relative target that is out
// of disp32 range).
bool Encode(const Insn& insn, u64 address, std::vector<u8>& out);

}  // namespace emu::diff
