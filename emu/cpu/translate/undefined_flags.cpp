// The table behind UndefinedFlagsMask, from each instruction's "Flags Affected" section in SDM Vol. 2.
#include "emu/cpu/translate/undefined_flags.h"

#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::translate {
namespace {

using namespace rflags;

// Shifts and rotates: nothing for a zero count; OF beyond a count of 1; AF for shifts; CF for SHL/SHR when
// the count reaches the width, and everything for SHLD/SHRD counts above the width.
u64 ShiftMask(Mnemonic m, const DecodedInsn& insn) {
    const bool shift = m == Mnemonic::SHL || m == Mnemonic::SHR || m == Mnemonic::SAR;
    const bool dbl = m == Mnemonic::SHLD || m == Mnemonic::SHRD;
    const unsigned count_index = dbl ? 2 : 1;
    const unsigned bits = insn.operands[0].size * 8;
    const u64 count_mask = bits == 64 ? 0x3F : 0x1F;
    u64 mask = (shift || dbl) ? AF | OF : OF;
    if (insn.num_operands <= count_index) return shift || dbl ? AF : 0;  // by-1 forms
    const Operand& count = insn.operands[count_index];
    if (count.kind != OperandKind::Imm) {
        if (bits < 32 && (shift || dbl)) mask |= dbl ? Arith : CF;
        return mask;
    }
    const u64 n = count.imm & count_mask;
    if (n == 0) return 0;
    if (n == 1) mask &= ~OF;
    if (m != Mnemonic::SAR && shift && n >= bits) mask |= CF;
    if (dbl && n > bits) mask |= Arith;
    return mask;
}

}  // namespace

u64 UndefinedFlagsMask(Mnemonic m, const DecodedInsn& insn) {
    switch (m) {
        case Mnemonic::AND:
        case Mnemonic::OR:
        case Mnemonic::XOR:
        case Mnemonic::TEST: return AF;
        case Mnemonic::SHL:
        case Mnemonic::SHR:
        case Mnemonic::SAR:
        case Mnemonic::ROL:
        case Mnemonic::ROR:
        case Mnemonic::RCL:
        case Mnemonic::RCR:
        case Mnemonic::SHLD:
        case Mnemonic::SHRD: return ShiftMask(m, insn);
        case Mnemonic::MUL:
        case Mnemonic::IMUL: return SF | ZF | AF | PF;
        case Mnemonic::DIV:
        case Mnemonic::IDIV: return Arith;
        case Mnemonic::BT:
        case Mnemonic::BTS:
        case Mnemonic::BTR:
        case Mnemonic::BTC: return OF | SF | AF | PF;
        case Mnemonic::BSF:
        case Mnemonic::BSR: return CF | OF | SF | AF | PF;
        case Mnemonic::LZCNT:
        case Mnemonic::TZCNT: return OF | SF | AF | PF;
        case Mnemonic::AAA:
        case Mnemonic::AAS: return OF | SF | ZF | PF;
        case Mnemonic::AAM:
        case Mnemonic::AAD: return OF | AF | CF;
        case Mnemonic::DAA:
        case Mnemonic::DAS: return OF;
        default: return 0;
    }
}

}  // namespace emu::cpu::translate
