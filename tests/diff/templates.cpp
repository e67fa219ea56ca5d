// The instruction templates, one per class: each picks an encoding, operands and values, emits the
// bytes and records in Builder::info what the instruction reads, writes and leaves undefined (from the
// "Flags Affected" sections of SDM Vol. 2).
#include <vector>

#include "tests/diff/builder.h"

namespace emu::diff::gen {

namespace {

using Template = bool (*)(Builder&);

// --- ALU ---------------------------------------------------------------------------------------------

void ArithFlags(Builder& b, unsigned op) {
    const bool logic = op == 1 || op == 4 || op == 6;  // OR AND XOR
    b.info.flags_written = logic ? kArith & ~AF : kArith;
    b.info.flags_undef = logic ? AF : 0;
    if (op == 2 || op == 3) b.info.flags_read = CF;  // ADC SBB
}

bool GenAlu(Builder& b) {
    Rng& rng = b.rng;
    const unsigned op = static_cast<unsigned>(rng.Below(8));
    const unsigned size = PickSize(rng);
    const bool writes = op != 7;  // CMP only reads
    ArithFlags(b, op);
    Insn in;
    in.SetOperandSize(size);
    const unsigned imm_bytes = size == 1 ? 1 : (size == 2 ? 2 : 4);
    switch (rng.Below(4)) {
        case 0: {  // Eb,Gb / Ev,Gv
            const auto rm = b.PickRm(size, writes);
            const RegRef src = b.PickSrc(size);
            in.opcode = static_cast<u8>(op * 8 + (size == 1 ? 0 : 1));
            in.SetReg(src, size);
            b.Read(src.num);
            b.SetRm(in, rm, size, true, writes);
            if (rm.mem && writes && rng.Chance(1, 4)) in.prefixes.insert(in.prefixes.begin(), 0xF0);
            break;
        }
        case 1: {  // Gb,Eb / Gv,Ev
            const RegRef dst = writes ? b.PickDst(size) : b.PickSrc(size);
            const auto rm = b.PickRm(size, false);
            in.opcode = static_cast<u8>(op * 8 + (size == 1 ? 2 : 3));
            in.SetReg(dst, size);
            b.Read(dst.num);
            if (writes) b.Write(dst.num);
            b.SetRm(in, rm, size, true, false);
            break;
        }
        case 2: {  // AL,Ib / eAX,Iz
            in.opcode = static_cast<u8>(op * 8 + (size == 1 ? 4 : 5));
            in.imm_size = imm_bytes;
            in.imm = b.PickImm(imm_bytes);
            b.Read(RAX);
            if (writes) b.Write(RAX);
            break;
        }
        default: {  // 80 /op Ib, 81 /op Iz, 83 /op Ib
            const auto rm = b.PickRm(size, writes);
            const bool sx8 = size != 1 && rng.Chance(1, 2);
            in.opcode = size == 1 ? 0x80 : (sx8 ? 0x83 : 0x81);
            in.has_modrm = true;
            in.reg = static_cast<u8>(op);
            b.SetRm(in, rm, size, true, writes);
            in.imm_size = sx8 ? 1 : imm_bytes;
            in.imm = b.PickImm(in.imm_size);
            if (rm.mem && writes && rng.Chance(1, 4)) in.prefixes.insert(in.prefixes.begin(), 0xF0);
            break;
        }
    }
    return b.Emit(in);
}

bool GenUnary(Builder& b) {
    Rng& rng = b.rng;
    const unsigned size = PickSize(rng);
    Insn in;
    in.SetOperandSize(size);
    const unsigned kind = static_cast<unsigned>(rng.Below(7));
    if (kind <= 2) {  // TEST: AF undefined, the rest defined, nothing written
        b.info.flags_written = kArith & ~AF;
        b.info.flags_undef = AF;
        if (kind == 0) {
            const auto rm = b.PickRm(size, false);
            const RegRef r = b.PickSrc(size);
            in.opcode = size == 1 ? 0x84 : 0x85;
            in.SetReg(r, size);
            b.Read(r.num);
            b.SetRm(in, rm, size, true, false);
        } else if (kind == 1) {
            const auto rm = b.PickRm(size, false);
            in.opcode = size == 1 ? 0xF6 : 0xF7;
            in.has_modrm = true;
            in.reg = 0;
            b.SetRm(in, rm, size, true, false);
            in.imm_size = size == 1 ? 1 : (size == 2 ? 2 : 4);
            in.imm = b.PickImm(in.imm_size);
        } else {
            in.opcode = size == 1 ? 0xA8 : 0xA9;
            in.imm_size = size == 1 ? 1 : (size == 2 ? 2 : 4);
            in.imm = b.PickImm(in.imm_size);
            b.Read(RAX);
        }
        return b.Emit(in);
    }
    // NOT (F6/F7 /2), NEG (/3), INC (FE/FF /0), DEC (/1)
    const auto rm = b.PickRm(size, true);
    in.has_modrm = true;
    switch (kind) {
        case 3: in.opcode = size == 1 ? 0xF6 : 0xF7; in.reg = 2; break;
        case 4: in.opcode = size == 1 ? 0xF6 : 0xF7; in.reg = 3; b.info.flags_written = kArith; break;
        default:
            in.opcode = size == 1 ? 0xFE : 0xFF;
            in.reg = static_cast<u8>(kind - 5);
            b.info.flags_written = kArith & ~CF;
            break;
    }
    b.SetRm(in, rm, size, true, true);
    if (rm.mem && rng.Chance(1, 4)) in.prefixes.insert(in.prefixes.begin(), 0xF0);
    return b.Emit(in);
}

bool GenMulDiv(Builder& b) {
    Rng& rng = b.rng;
    const unsigned op = 4 + static_cast<unsigned>(rng.Below(4));  // MUL IMUL DIV IDIV
    const unsigned size = PickSize(rng);
    const bool div = op >= 6;
    Insn in;
    in.SetOperandSize(size);
    in.opcode = size == 1 ? 0xF6 : 0xF7;
    in.has_modrm = true;
    in.reg = static_cast<u8>(op);
    const auto rm = b.PickRm(size, false, 1, 3);
    if (div && rng.Chance(3, 4)) {
        // Shape the operands so that most divisions complete: a non-zero divisor, and a high half of the
        // dividend below it (DIV) or the sign extension of the low half (IDIV).
        const bool rm_is_acc = !rm.mem && (rm.reg.num == RAX || (size > 1 && rm.reg.num == RDX));
        u64 divisor = RandomValue(rng, size);
        if (divisor == 0) divisor = 1 + rng.Below(255);
        bool shaped = false;
        if (rm.mem) shaped = b.Patch(rm.m.target, size, divisor);
        else if (!rm_is_acc && b.Shapeable(rm.reg.num) && !rm.reg.high8) {
            b.Shape(rm.reg.num, divisor);
            shaped = true;
        }
        if (shaped && b.Shapeable(RAX) && (size == 1 || b.Shapeable(RDX))) {
            const u64 low = InitialValue(rng);
            if (size == 1) {
                const u64 high = op == 6 ? rng.Below(divisor) : (low & 0x80 ? 0xFF : 0);
                b.Shape(RAX, (low & ~u64{0xFFFF}) | (high << 8) | (low & 0xFF));
            } else {
                b.Shape(RAX, low);
                const u64 high = op == 6 ? rng.Below(divisor & LowMask(size * 8))
                                         : (Bit(low, size * 8 - 1) ? ~u64{0} : 0);
                b.Shape(RDX, (InitialValue(rng) & ~LowMask(size * 8)) | (high & LowMask(size * 8)));
            }
        }
    }
    b.SetRm(in, rm, size, true, false);
    b.Read(RAX);
    b.Write(RAX);
    if (size > 1) {
        b.Write(RDX);
        if (div) b.Read(RDX);
    }
    if (div) b.info.flags_undef = kArith;
    else { b.info.flags_written = CF | OF; b.info.flags_undef = SF | ZF | AF | PF; }
    return b.Emit(in);
}

// --- shifts ------------------------------------------------------------------------------------------

// Picks a count: an immediate, or CL when RCX's value is known at this point (shaping it if untouched).
std::optional<u64> PickShiftCount(Builder& b, Insn& in, bool& use_cl) {
    use_cl = b.rng.Chance(1, 3);
    u64 count = PickCount(b.rng);
    if (use_cl) {
        if (b.Shapeable(RCX)) b.Shape(RCX, (InitialValue(b.rng) & ~u64{0xFF}) | count);
        auto v = b.Known(RCX);
        if (!v) return std::nullopt;
        count = *v & 0xFF;
        b.Read(RCX);
    } else {
        in.imm_size = 1;
        in.imm = count;
    }
    return count;
}

bool GenShift(Builder& b) {
    Rng& rng = b.rng;
    const std::array<unsigned, 7> ops{0, 1, 2, 3, 4, 5, 7};  // ROL ROR RCL RCR SHL SHR SAR
    const unsigned op = rng.Pick(ops);
    const unsigned size = PickSize(rng);
    const unsigned width = size * 8;
    Insn in;
    in.SetOperandSize(size);
    in.has_modrm = true;
    in.reg = static_cast<u8>(op);
    u64 count = 1;
    if (rng.Chance(1, 4)) {
        in.opcode = size == 1 ? 0xD0 : 0xD1;
    } else {
        bool use_cl = false;
        auto c = PickShiftCount(b, in, use_cl);
        if (!c) return false;
        count = *c;
        in.opcode = use_cl ? (size == 1 ? 0xD2 : 0xD3) : (size == 1 ? 0xC0 : 0xC1);
    }
    const auto rm = b.PickRm(size, true);
    b.SetRm(in, rm, size, true, true);
    const u64 masked = count & (size == 8 ? 63 : 31);
    if (op == 2 || op == 3) b.info.flags_read = CF;
    if (masked != 0) {
        u64 defined = CF;
        u64 undefined = 0;
        (masked == 1 ? defined : undefined) |= OF;
        if (op >= 4) {  // SHL SHR SAR: SF ZF PF from the result, AF undefined
            defined |= SF | ZF | PF;
            undefined |= AF;
            if (op != 7 && masked >= width) { defined &= ~CF; undefined |= CF; }
        }
        b.info.flags_written = defined;
        b.info.flags_undef = undefined;
    }
    return b.Emit(in);
}

bool GenShiftDouble(Builder& b) {
    Rng& rng = b.rng;
    const unsigned size = PickSize(rng, false);
    const bool left = rng.Chance(1, 2);
    Insn in;
    in.SetOperandSize(size);
    in.map = 1;
    bool use_cl = false;
    auto c = PickShiftCount(b, in, use_cl);
    if (!c) return false;
    u64 masked = *c & (size == 8 ? 63 : 31);
    // Result and flags undefined (SDM), but definite per vendor: compared where host and emulated vendor agree.
    const bool vendor_values = size == 2 && masked > 16 && b.features.same_vendor;
    if (size == 2 && masked > 16 && !vendor_values) {
        if (use_cl) return false;
        in.imm = masked = rng.Below(17);
    }
    in.opcode = static_cast<u8>((left ? 0xA4 : 0xAC) + (use_cl ? 1 : 0));
    const auto rm = b.PickRm(size, true);
    const RegRef src = b.PickSrc(size);
    in.SetReg(src, size);
    b.Read(src.num);
    b.SetRm(in, rm, size, true, true);
    if (vendor_values) {
        b.info.flags_written = CF | SF | ZF | PF | OF | AF;
    } else if (masked != 0) {
        b.info.flags_written = CF | SF | ZF | PF | (masked == 1 ? OF : 0);
        b.info.flags_undef = AF | (masked == 1 ? 0 : OF);
    }
    return b.Emit(in);
}

bool GenImul(Builder& b) {
    Rng& rng = b.rng;
    const unsigned size = PickSize(rng, false);
    Insn in;
    in.SetOperandSize(size);
    const RegRef dst = b.PickDst(size);
    const auto rm = b.PickRm(size, false);
    switch (rng.Below(3)) {
        case 0: in.map = 1; in.opcode = 0xAF; b.Read(dst.num); break;
        case 1: in.opcode = 0x69; in.imm_size = size == 2 ? 2 : 4; in.imm = b.PickImm(in.imm_size); break;
        default: in.opcode = 0x6B; in.imm_size = 1; in.imm = b.PickImm(1); break;
    }
    in.SetReg(dst, size);
    b.Write(dst.num);
    b.SetRm(in, rm, size, true, false);
    b.info.flags_written = CF | OF;
    b.info.flags_undef = SF | ZF | AF | PF;
    return b.Emit(in);
}

// --- bit instructions ----------------------------------------------------------------------------------

bool GenBitTest(Builder& b) {
    Rng& rng = b.rng;
    const unsigned op = static_cast<unsigned>(rng.Below(4));  // BT BTS BTR BTC
    const unsigned size = PickSize(rng, false);
    const bool writes = op != 0;
    Insn in;
    in.SetOperandSize(size);
    in.map = 1;
    if (rng.Chance(1, 2)) {  // 0F BA /4-7 Ib: the offset wraps inside the operand
        in.opcode = 0xBA;
        in.has_modrm = true;
        in.reg = static_cast<u8>(4 + op);
        const auto rm = b.PickRm(size, writes);
        b.SetRm(in, rm, size, true, writes);
        in.imm_size = 1;
        in.imm = rng.Below(256);
        if (rm.mem && writes && rng.Chance(1, 4)) in.prefixes.insert(in.prefixes.begin(), 0xF0);
    } else {
        in.opcode = static_cast<u8>(0xA3 + 8 * op);
        Builder::Rm rm;
        rm.mem = rng.Chance(1, 3);
        if (rm.mem) {
            // The register offset is signed and reaches beyond the operand: keep it small and the operand
            // far enough from the edges of the data range.
            rm.m = b.PickMem(size, 1, 512, false);
            auto r = b.PickShapeable();
            if (!r) return false;
            const i64 offset = static_cast<i64>(rng.Below(4096)) - 2048;
            b.Shape(*r, (InitialValue(rng) & ~LowMask(size * 8)) | (static_cast<u64>(offset) & LowMask(size * 8)));
            in.SetReg(RegRef{*r, false}, size);
            b.Read(*r);
            const i64 byte = (offset >> (size == 2 ? 4 : size == 4 ? 5 : 6)) * static_cast<i64>(size);
            MemRef touched = rm.m;
            touched.target = rm.m.target + static_cast<u64>(byte);
            in.SetRmMem(rm.m);
            b.Access(touched, size, writes);
            if (writes && rng.Chance(1, 4)) in.prefixes.insert(in.prefixes.begin(), 0xF0);
        } else {
            rm.reg = writes ? b.PickDst(size) : b.PickSrc(size);
            const RegRef src = b.PickSrc(size);
            in.SetReg(src, size);
            b.Read(src.num);
            b.SetRm(in, rm, size, true, writes);
        }
    }
    b.info.flags_written = CF;
    b.info.flags_undef = OF | SF | AF | PF;  // ZF is unaffected (SDM; an AMD EPYC host agrees)
    return b.Emit(in);
}

bool GenBitScan(Builder& b) {
    Rng& rng = b.rng;
    const unsigned size = PickSize(rng, false);
    enum { Bsf, Bsr, Popcnt, Lzcnt, Tzcnt };
    unsigned kind = static_cast<unsigned>(rng.Below(5));
    if ((kind == Popcnt && !b.features.popcnt) || (kind == Lzcnt && !b.features.lzcnt) ||
        (kind == Tzcnt && !b.features.tzcnt))
        kind = static_cast<unsigned>(rng.Below(2));
    Insn in;
    in.SetOperandSize(size);
    if (kind >= Popcnt) in.prefixes.push_back(0xF3);
    in.map = 1;
    in.opcode = kind == Bsf || kind == Tzcnt ? 0xBC : kind == Bsr || kind == Lzcnt ? 0xBD : 0xB8;
    const RegRef dst = b.PickDst(size);
    auto rm = b.PickRm(size, false);
    if (rng.Chance(1, 4)) {  // a zero source is the interesting edge
        if (rm.mem) b.Patch(rm.m.target, size, 0);
        else if (b.Shapeable(rm.reg.num) && !rm.reg.high8) b.Shape(rm.reg.num, InitialValue(rng) & ~LowMask(size * 8));
    }
    const auto src = b.KnownRm(rm, size);
    in.SetReg(dst, size);
    b.SetRm(in, rm, size, true, false);
    b.Write(dst.num);
    switch (kind) {
        case Bsf:
        case Bsr:
            b.info.flags_written = ZF;
            b.info.flags_undef = CF | OF | SF | AF | PF;
            if (!src || *src == 0) b.info.regs_undef |= RegBit(dst.num);  // destination undefined (SDM)
            break;
        case Popcnt: b.info.flags_written = kArith; break;
        default:
            b.info.flags_written = CF | ZF;
            b.info.flags_undef = OF | SF | AF | PF;
            break;
    }
    return b.Emit(in);
}

bool GenBswap(Builder& b) {
    const unsigned size = b.rng.Chance(1, 2) ? 4 : 8;
    Insn in;
    in.SetOperandSize(size);
    in.map = 1;
    in.opcode = 0xC8;
    const RegRef r = b.PickDst(size);
    in.opreg = r.num;
    b.Read(r.num);
    b.Write(r.num);
    return b.Emit(in);
}

// --- moves ---------------------------------------------------------------------------------------------

bool GenMov(Builder& b) {
    Rng& rng = b.rng;
    const unsigned size = PickSize(rng);
    Insn in;
    in.SetOperandSize(size);
    switch (rng.Below(5)) {
        case 0: {  // 88/89: r/m <- reg
            const auto rm = b.PickRm(size, true, 1, 2);
            const RegRef src = b.PickSrc(size);
            in.opcode = size == 1 ? 0x88 : 0x89;
            in.SetReg(src, size);
            b.Read(src.num);
            b.SetRm(in, rm, size, false, true);
            break;
        }
        case 1: {  // 8A/8B: reg <- r/m
            const RegRef dst = b.PickDst(size);
            const auto rm = b.PickRm(size, false, 1, 2);
            in.opcode = size == 1 ? 0x8A : 0x8B;
            in.SetReg(dst, size);
            b.Write(dst.num);
            b.SetRm(in, rm, size, true, false);
            break;
        }
        case 2: {  // C6/C7 /0: r/m <- imm
            const auto rm = b.PickRm(size, true);
            in.opcode = size == 1 ? 0xC6 : 0xC7;
            in.has_modrm = true;
            in.reg = 0;
            b.SetRm(in, rm, size, false, true);
            in.imm_size = size == 1 ? 1 : (size == 2 ? 2 : 4);
            in.imm = b.PickImm(in.imm_size);
            break;
        }
        case 3: {  // B0+r / B8+r: imm8/16/32/64
            const RegRef dst = b.PickDst(size);
            in.opcode = size == 1 ? 0xB0 : 0xB8;
            if (size == 1 && dst.high8) { in.opreg = dst.num + 4; in.rex_forbidden = true; }
            else { in.opreg = dst.num; if (size == 1 && dst.num >= 4 && dst.num < 8) in.rex_force = true; }
            in.imm_size = size;
            in.imm = size == 8 && rng.Chance(1, 2) ? InitialValue(rng) : b.PickImm(size);
            b.Write(dst.num);
            break;
        }
        default: {  // A0-A3: AL/rAX <-> moffs64
            const bool store = rng.Chance(1, 2);
            const MemRef m = b.PickMem(size, 1, 0, true);
            in.opcode = static_cast<u8>((store ? 0xA2 : 0xA0) + (size == 1 ? 0 : 1));
            in.imm_size = 8;
            in.imm = m.target;
            b.Access(m, size, store);
            if (store) b.Read(RAX);
            else b.Write(RAX);
            break;
        }
    }
    return b.Emit(in);
}

bool GenMovExtend(Builder& b) {
    Rng& rng = b.rng;
    Insn in;
    unsigned dst_size, src_size;
    switch (rng.Below(3)) {
        case 0:  // MOVZX / MOVSX from a byte
            dst_size = PickSize(rng, false);
            src_size = 1;
            in.map = 1;
            in.opcode = rng.Chance(1, 2) ? 0xB6 : 0xBE;
            break;
        case 1:  // MOVZX / MOVSX from a word
            dst_size = rng.Chance(1, 2) ? 4 : 8;
            src_size = 2;
            in.map = 1;
            in.opcode = rng.Chance(1, 2) ? 0xB7 : 0xBF;
            break;
        default:  // MOVSXD r64, r/m32, or the plain 32-bit form without REX.W
            dst_size = rng.Chance(3, 4) ? 8 : 4;
            src_size = 4;
            in.opcode = 0x63;
            break;
    }
    in.SetOperandSize(dst_size);
    const RegRef dst = b.PickDst(dst_size);
    in.SetReg(dst, dst_size);
    b.Write(dst.num);
    const auto rm = b.PickRm(src_size, false);
    b.SetRm(in, rm, src_size, true, false);
    return b.Emit(in);
}

bool GenLea(Builder& b) {
    Rng& rng = b.rng;
    const unsigned size = PickSize(rng, false);
    Insn in;
    in.SetOperandSize(size);
    if (rng.Chance(1, 4)) in.prefixes.push_back(0x67);
    in.opcode = 0x8D;
    const RegRef dst = b.PickDst(size);
    in.SetReg(dst, size);
    b.Write(dst.num);
    MemRef m;  // never accessed: any register and displacement will do
    switch (rng.Below(6)) {
        case 0: m.rip_relative = true; m.target = kCodeBase + rng.Below(0x100000); break;
        case 1: m.absolute = true; m.disp = static_cast<i32>(rng.Next()); break;
        default:
            m.base = static_cast<u8>(rng.Below(16));
            if (rng.Chance(1, 2)) {
                do m.index = static_cast<u8>(rng.Below(16)); while (m.index == RSP);
                m.scale_log = static_cast<u8>(rng.Below(4));
                b.Read(m.index);
            }
            if (rng.Chance(1, 8)) m.base = kNoReg;  // index only (or absolute)
            else b.Read(m.base);
            m.disp = rng.Chance(1, 2) ? static_cast<i8>(rng.Next()) : static_cast<i32>(rng.Next());
            if (rng.Chance(1, 4)) m.disp = 0;
            m.force_disp32 = rng.Chance(1, 8);
            break;
    }
    in.SetRmMem(m);
    return b.Emit(in);
}

bool GenExchange(Builder& b) {
    Rng& rng = b.rng;
    Insn in;
    const unsigned kind = static_cast<unsigned>(rng.Below(6));
    if (kind <= 2) {  // XCHG r/m,reg (86/87), XADD (0F C0/C1), CMPXCHG (0F B0/B1)
        const unsigned size = PickSize(rng);
        in.SetOperandSize(size);
        const auto rm = b.PickRm(size, true);
        const RegRef reg = b.PickDst(size);
        in.SetReg(reg, size);
        if (kind == 0) {
            in.opcode = size == 1 ? 0x86 : 0x87;
        } else {
            in.map = 1;
            in.opcode = static_cast<u8>((kind == 1 ? 0xC0 : 0xB0) + (size == 1 ? 0 : 1));
            b.info.flags_written = kArith;
            if (rm.mem && rng.Chance(1, 3)) in.prefixes.insert(in.prefixes.begin(), 0xF0);
        }
        if (kind == 2) {
            // Half of the CMPXCHGs compare equal: the accumulator gets the destination's value.
            if (rng.Chance(1, 2) && b.Shapeable(RAX) && !(!rm.mem && rm.reg.num == RAX)) {
                if (auto v = b.KnownRm(rm, size)) b.Shape(RAX, (InitialValue(rng) & ~LowMask(size * 8)) | *v);
            }
            b.Read(RAX);
            b.Write(RAX);
        }
        b.Read(reg.num);
        if (kind != 2) b.Write(reg.num);
        b.SetRm(in, rm, size, true, true);
        return b.Emit(in);
    }
    if (kind == 3) {  // 90+r: XCHG rAX, r (90 alone is NOP, even with a 32-bit operand size)
        const unsigned size = PickSize(rng, false);
        in.SetOperandSize(size);
        in.opcode = 0x90;
        const RegRef r = b.PickDst(size);
        in.opreg = r.num;
        b.Read(r.num);
        b.Write(r.num);
        b.Read(RAX);
        b.Write(RAX);
        return b.Emit(in);
    }
    // CMPXCHG8B / CMPXCHG16B m (0F C7 /1)
    const bool wide = kind == 5 && b.features.cx16;
    const unsigned size = wide ? 16 : 8;
    in.map = 1;
    in.opcode = 0xC7;
    in.has_modrm = true;
    in.reg = 1;
    in.rex_w = wide;
    if (rng.Chance(1, 3)) in.prefixes.push_back(0xF0);
    // CMPXCHG16B needs a 16-byte aligned operand (#GP(0) otherwise): mostly aligned, sometimes not.
    const unsigned align = wide && rng.Chance(7, 8) ? 16 : 1;
    const MemRef m = b.PickMem(size, align);
    if (rng.Chance(1, 2) && b.Shapeable(RAX) && b.Shapeable(RDX)) {
        const u64 lo = InitialValue(rng), hi = InitialValue(rng);
        b.Shape(RAX, lo);
        b.Shape(RDX, hi);
        if (wide) b.Patch(m.target, 16, lo, hi);
        else b.Patch(m.target, 8, (lo & 0xFFFFFFFF) | (hi << 32));
    }
    in.SetRmMem(m);
    b.Access(m, size, true);
    for (u8 r : {RAX, RDX, RBX, RCX}) b.Read(r);
    b.Write(RAX);
    b.Write(RDX);
    b.info.flags_written = ZF;
    return b.Emit(in);
}

// --- control flow ------------------------------------------------------------------------------------

// Emits `branch` (whose last byte is its rel8, or last four its rel32) jumping over a `mov r32, imm32`
// marker, so a taken branch skips the marker and a fall-through runs it.
bool EmitBranchOverMarker(Builder& b, std::vector<u8> branch, bool rel32) {
    Insn marker;
    const RegRef r = b.PickDst(4);
    marker.opcode = 0xB8;
    marker.opreg = r.num;
    marker.imm_size = 4;
    marker.imm = b.rng.Next() & 0xFFFFFFFF;
    b.Write(r.num);
    std::vector<u8> marker_bytes;
    if (!Encode(marker, 0, marker_bytes)) return false;
    const u8 skip = static_cast<u8>(marker_bytes.size());
    if (rel32) branch.insert(branch.end(), {skip, 0, 0, 0});
    else branch.push_back(skip);
    return b.EmitBytes(branch) && b.EmitBytes(marker_bytes);
}

bool GenCond(Builder& b) {
    Rng& rng = b.rng;
    const unsigned cc = static_cast<unsigned>(rng.Below(16));
    Insn in;
    switch (rng.Below(5)) {
        case 0: {  // SETcc r/m8
            b.info.flags_read = CondFlags(cc);
            in.map = 1;
            in.opcode = static_cast<u8>(0x90 + cc);
            const auto rm = b.PickRm(1, true);
            b.SetRm(in, rm, 1, false, true);
            return b.Emit(in);
        }
        case 1: {  // CMOVcc: the destination is written (zero-extended for 32 bits) even when false
            b.info.flags_read = CondFlags(cc);
            const unsigned size = PickSize(rng, false);
            in.SetOperandSize(size);
            in.map = 1;
            in.opcode = static_cast<u8>(0x40 + cc);
            const RegRef dst = b.PickDst(size);
            in.SetReg(dst, size);
            b.Read(dst.num);
            b.Write(dst.num);
            const auto rm = b.PickRm(size, false);
            b.SetRm(in, rm, size, true, false);
            return b.Emit(in);
        }
        case 2:
        case 3: {  // Jcc rel8 / rel32 or JMP, over a marker
            const bool near = rng.Chance(1, 2);
            const bool jmp = rng.Chance(1, 8);
            if (!jmp) b.info.flags_read = CondFlags(cc);
            std::vector<u8> bytes;
            if (jmp) bytes = {static_cast<u8>(near ? 0xE9 : 0xEB)};
            else if (near) bytes = {0x0F, static_cast<u8>(0x80 + cc)};
            else bytes = {static_cast<u8>(0x70 + cc)};
            return EmitBranchOverMarker(b, bytes, near);
        }
        default: {  // LOOP / LOOPE / LOOPNE / JRCXZ, optionally with a 32-bit counter (67h)
            const u8 op = static_cast<u8>(0xE0 + rng.Below(4));
            if (op != 0xE3) {
                b.Read(RCX);
                b.Write(RCX);
                if (op != 0xE2) b.info.flags_read = ZF;
            } else {
                b.Read(RCX);
            }
            std::vector<u8> bytes;
            if (rng.Chance(1, 4)) bytes.push_back(0x67);
            bytes.push_back(op);
            return EmitBranchOverMarker(b, bytes, false);
        }
    }
}

bool GenConvert(Builder& b) {
    const unsigned size = PickSize(b.rng, false);
    Insn in;
    in.SetOperandSize(size);
    const bool widen_into_rdx = b.rng.Chance(1, 2);
    in.opcode = widen_into_rdx ? 0x99 : 0x98;  // CWD/CDQ/CQO : CBW/CWDE/CDQE
    b.Read(RAX);
    b.Write(widen_into_rdx ? RDX : RAX);
    return b.Emit(in);
}

bool GenFlagOps(Builder& b) {
    Rng& rng = b.rng;
    std::array<u8, 7> ops{0xF8, 0xF9, 0xF5, 0xFC, 0xFD, 0x9F, 0x9E};  // CLC STC CMC CLD STD LAHF SAHF
    const u8 op = ops[rng.Below(b.features.lahf64 ? 7 : 5)];
    switch (op) {
        case 0xF8: case 0xF9: b.info.flags_written = CF; break;
        case 0xF5: b.info.flags_read = CF; b.info.flags_written = CF; break;
        case 0x9F: b.info.flags_read = SF | ZF | AF | PF | CF; b.Read(RAX); b.Write(RAX); break;
        case 0x9E: b.info.flags_written = SF | ZF | AF | PF | CF; b.Read(RAX); break;
        default: break;
    }
    const u8 bytes[1] = {op};
    return b.EmitBytes(bytes);
}

bool GenString(Builder& b) {
    Rng& rng = b.rng;
    enum { Movs, Cmps, Stos, Lods, Scas };
    const unsigned kind = static_cast<unsigned>(rng.Below(5));
    const bool uses_rsi = kind == Movs || kind == Cmps || kind == Lods;
    const bool uses_rdi = kind != Lods;
    const bool compares = kind == Cmps || kind == Scas;
    const unsigned rep = static_cast<unsigned>(rng.Below(compares ? 3 : 2));  // none, F3, F2
    if ((uses_rsi && !b.Shapeable(RSI)) || (uses_rdi && !b.Shapeable(RDI)) || (rep && !b.Shapeable(RCX)))
        return false;
    const unsigned size = PickSize(rng);
    std::vector<u8> bytes;
    const bool addr32 = rng.Chance(1, 8);
    if (addr32) bytes.push_back(0x67);
    if (rep) bytes.push_back(rep == 1 ? 0xF3 : 0xF2);
    if (size == 2) bytes.insert(bytes.begin(), 0x66);
    if (size == 8) bytes.push_back(0x48);
    const std::array<u8, 5> base_op{0xA4, 0xA6, 0xAA, 0xAC, 0xAE};
    bytes.push_back(static_cast<u8>(base_op[kind] + (size == 1 ? 0 : 1)));
    // Counts stay small and pointers sit well inside the ordinary data range, so either direction fits.
    const u64 count = rep ? rng.Below(17) : 1;
    auto pointer = [&] { return kDataBase + 0x400 + rng.Below(kStackLow - 0x800); };
    if (uses_rsi) { b.Shape(RSI, pointer()); b.Read(RSI); b.Write(RSI); }
    if (uses_rdi) {
        u64 rdi = pointer();
        if (uses_rsi && rng.Chance(1, 4)) rdi = b.s.input.gpr[RSI] + rng.Below(16) - 8;  // overlapping copy
        b.Shape(RDI, rdi);
        b.Read(RDI);
        b.Write(RDI);
    }
    if (rep) {
        u64 upper = addr32 ? InitialValue(rng) & ~u64{0xFFFFFFFF} : 0;
        // No iteration with a 32-bit address size: whether RCX[63:32] survives is host-specific
        // (HostFeatures::rep_a32_zero_count_clears_rcx), so there it starts as zero.
        if (count == 0 && b.features.rep_a32_zero_count_clears_rcx) upper = 0;
        b.Shape(RCX, upper | count);
        b.Read(RCX);
        b.Write(RCX);
    }
    if (kind == Stos || kind == Scas || kind == Movs) b.Read(RAX);
    if (kind == Lods) b.Write(RAX);
    const u64 span = count * size + 16;
    if (uses_rsi) b.TouchMem(b.s.input.gpr[RSI] - span, static_cast<unsigned>(2 * span));
    if (uses_rdi) b.TouchMem(b.s.input.gpr[RDI] - span, static_cast<unsigned>(2 * span));
    if (kind == Movs || kind == Stos) b.s.mem_written = true;
    if (compares && count > 0) b.info.flags_written = kArith;
    return b.EmitBytes(bytes);
}

// --- stack ---------------------------------------------------------------------------------------------

bool GenStack(Builder& b) {
    Rng& rng = b.rng;
    b.info.stack = true;
    b.Write(RSP);
    b.Read(RSP);
    switch (rng.Below(9)) {
        case 0: {  // PUSH r64 / r16 (PUSH RSP pushes the old value)
            const bool word = rng.Chance(1, 4);
            const u8 r = static_cast<u8>(rng.Below(16));
            Insn in;
            if (word) in.prefixes.push_back(0x66);
            in.opcode = 0x50;
            in.opreg = r;
            b.Read(r);
            return b.Emit(in);
        }
        case 1: {  // POP r64 / r16
            const bool word = rng.Chance(1, 4);
            const RegRef r = b.PickDst(8);
            Insn in;
            if (word) in.prefixes.push_back(0x66);
            in.opcode = 0x58;
            in.opreg = r.num;
            b.Write(r.num);
            return b.Emit(in);
        }
        case 2: {  // PUSH imm8 / imm32 / imm16
            Insn in;
            const unsigned form = static_cast<unsigned>(rng.Below(3));
            if (form == 2) in.prefixes.push_back(0x66);
            in.opcode = form == 0 ? 0x6A : 0x68;
            in.imm_size = form == 0 ? 1 : form == 1 ? 4 : 2;
            in.imm = b.PickImm(in.imm_size);
            return b.Emit(in);
        }
        case 3: {  // PUSH m (FF /6) or POP m (8F /0)
            const bool push = rng.Chance(1, 2);
            const MemRef m = b.PickMem(8);
            Insn in;
            in.opcode = push ? 0xFF : 0x8F;
            in.has_modrm = true;
            in.reg = push ? 6 : 0;
            in.SetRmMem(m);
            b.Access(m, 8, !push);
            return b.Emit(in);
        }
        case 4: {  // PUSHFQ reads every flag
            b.info.flags_read = kArith;
            const u8 bytes[1] = {0x9C};
            return b.EmitBytes(bytes);
        }
        case 5: {  // PUSH imm32; POPFQ. IF and IOPL changes are silently ignored at CPL 3 with IOPL 0.
            u64 value = 0x2 | (rng.Next() & (kArith | DF));
            if (rng.Chance(1, 4)) value |= rng.Next() & 0x3200;  // IOPL, IF
            b.info.flags_written = kArith;
            const u8 bytes[6] = {0x68, u8(value), u8(value >> 8), u8(value >> 16), 0, 0x9D};
            return b.EmitBytes(bytes);
        }
        case 6: {  // CALL rel32 to a RET, whose return lands on a JMP over it
            const u8 bytes[8] = {0xE8, 2, 0, 0, 0, 0xEB, 1, 0xC3};
            return b.EmitBytes(bytes);
        }
        case 7: {  // CALL next; POP r (read RIP), or PUSH imm8; CALL; RET imm16 popping the extra slot
            if (rng.Chance(1, 2)) {
                const RegRef r = b.PickDst(8);
                Insn pop;
                pop.opcode = 0x58;
                pop.opreg = r.num;
                b.Write(r.num);
                const u8 call[5] = {0xE8, 0, 0, 0, 0};
                return b.EmitBytes(call) && b.Emit(pop);
            }
            const u8 bytes[12] = {0x6A, static_cast<u8>(rng.Next()), 0xE8, 2, 0, 0, 0, 0xEB, 3, 0xC2, 8, 0};
            return b.EmitBytes(bytes);
        }
        default: {  // ENTER n,0 then, mostly, LEAVE
            const u16 frame = static_cast<u16>(rng.Below(3) == 0 ? rng.Below(64) : 8 * rng.Below(8));
            b.Read(RBP);
            b.Write(RBP);
            const u8 enter[4] = {0xC8, u8(frame), u8(frame >> 8), 0};
            if (!b.EmitBytes(enter)) return false;
            if (rng.Chance(3, 4)) {
                const u8 leave[1] = {0xC9};
                return b.EmitBytes(leave);
            }
            return true;
        }
    }
}

// --- misc ------------------------------------------------------------------------------------------

bool GenMisc(Builder& b) {
    Rng& rng = b.rng;
    Insn in;
    switch (rng.Below(3)) {
        case 0: {  // MOVBE r, m / m, r (0F 38 F0/F1): memory operand only
            if (!b.features.movbe) return false;
            const unsigned size = PickSize(rng, false);
            const bool load = rng.Chance(1, 2);
            in.SetOperandSize(size);
            in.map = 2;
            in.opcode = load ? 0xF0 : 0xF1;
            const RegRef r = load ? b.PickDst(size) : b.PickSrc(size);
            in.SetReg(r, size);
            const MemRef m = b.PickMem(size);
            in.SetRmMem(m);
            b.Access(m, size, !load);
            if (load) b.Write(r.num);
            else b.Read(r.num);
            return b.Emit(in);
        }
        case 1: {  // XLAT: AL = [RBX + zero-extended AL]
            if (!b.Shapeable(RBX)) return false;
            b.Shape(RBX, kDataBase + rng.Below(kStackLow - 256));
            b.s.pinned |= RegBit(RBX);
            b.TouchMem(b.s.input.gpr[RBX], 256);
            b.Read(RBX);
            b.Read(RAX);
            b.Write(RAX);
            const u8 bytes[2] = {0x48, 0xD7};
            return b.EmitBytes(std::span<const u8>(bytes).subspan(rng.Chance(1, 2) ? 0 : 1));
        }
        default: {  // NOP r/m (0F 1F /0): decodes a full ModRM, touches nothing
            const unsigned size = PickSize(rng, false);
            in.SetOperandSize(size);
            in.map = 1;
            in.opcode = 0x1F;
            in.has_modrm = true;
            in.reg = 0;
            if (rng.Chance(1, 2)) {
                in.SetRmReg(b.PickSrc(size), size);
            } else {
                MemRef m;
                m.base = static_cast<u8>(rng.Below(16));
                m.disp = static_cast<i32>(rng.Next());
                in.SetRmMem(m);
            }
            return b.Emit(in);
        }
    }
}

bool GenCrcAdx(Builder& b) {
    Rng& rng = b.rng;
    Insn in;
    switch (rng.Below(2)) {
        case 0: {  // CRC32 r32/r64, r/m8/16/32/64 (F2 0F 38 F0/F1)
            if (!b.features.crc32) return false;
            const unsigned src_size = PickSize(rng);
            in.prefixes.push_back(0xF2);
            if (src_size == 2) in.prefixes.insert(in.prefixes.begin(), 0x66);
            in.rex_w = src_size == 8 || (src_size == 1 && rng.Chance(1, 2));
            in.map = 2;
            in.opcode = src_size == 1 ? 0xF0 : 0xF1;
            const RegRef dst = b.PickDst(4);
            in.SetReg(dst, 4);
            b.Read(dst.num);
            b.Write(dst.num);
            const auto rm = b.PickRm(src_size, false);
            b.SetRm(in, rm, src_size, true, false);
            return b.Emit(in);
        }
        default: {  // ADCX (66) / ADOX (F3) 0F 38 F6: carry in and out through CF or OF only
            if (!b.features.adx) return false;
            const bool adox = rng.Chance(1, 2);
            const unsigned size = rng.Chance(1, 2) ? 4 : 8;
            in.prefixes.push_back(adox ? 0xF3 : 0x66);
            in.rex_w = size == 8;
            in.map = 2;
            in.opcode = 0xF6;
            const RegRef dst = b.PickDst(size);
            in.SetReg(dst, size);
            b.Read(dst.num);
            b.Write(dst.num);
            const auto rm = b.PickRm(size, false);
            b.SetRm(in, rm, size, true, false);
            b.info.flags_read = b.info.flags_written = adox ? OF : CF;
            return b.Emit(in);
        }
    }
}

// --- faults --------------------------------------------------------------------------------------------

bool GenInvalid(Builder& b) {
    Rng& rng = b.rng;
    b.info.ends_case = true;
    static const std::vector<std::vector<u8>> kEncodings = {
        {0x0F, 0x0B},                    // UD2
        {0x0F, 0xB9, 0xC0},              // UD1 eax, eax
        {0xF0, 0x01, 0xC0},              // LOCK ADD eax, eax: register destination
        {0xF0, 0x89, 0xC8},              // LOCK MOV eax, ecx: not lockable
        {0xF0, 0x90},                    // LOCK NOP
        {0x0F, 0xC7, 0xC8},              // CMPXCHG8B with a register operand
        {0x06}, {0x07}, {0x0E}, {0x16}, {0x17}, {0x1E}, {0x1F},  // PUSH/POP ES/CS/SS/DS
        {0x27}, {0x2F}, {0x37}, {0x3F},  // DAA DAS AAA AAS
        {0x60}, {0x61}, {0xCE}, {0xD6},  // PUSHA POPA INTO SALC
        {0xD4, 0x0A}, {0xD5, 0x0A},      // AAM AAD
        {0x82, 0xC0, 0x01},              // 82: the old alias of 80
        {0x9A, 1, 2, 3, 4, 5, 6},        // CALL far ptr16:32
        {0xEA, 1, 2, 3, 4, 5, 6},        // JMP far ptr16:32
    };
    if (rng.Chance(1, 4)) {  // a pile of 66h prefixes: 14 or 15 bytes still run, 16 bytes is #GP(0)
        const unsigned prefixes = 12 + static_cast<unsigned>(rng.Below(3));
        std::vector<u8> bytes(prefixes, 0x66);
        bytes.push_back(0x01);
        bytes.push_back(0xC0);
        b.Read(RAX);
        b.Write(RAX);
        b.info.flags_written = kArith;
        b.info.ends_case = prefixes + 2 > 15;
        return b.EmitBytes(bytes);
    }
    return b.EmitBytes(kEncodings[rng.Below(kEncodings.size())]);
}

bool GenPrivileged(Builder& b) {
    b.info.ends_case = true;
    static const std::vector<std::vector<u8>> kEncodings = {
        {0xF4},                          // HLT
        {0xFA}, {0xFB},                  // CLI STI
        {0xE4, 0x80}, {0xE6, 0x80}, {0xEC}, {0xEE}, {0xED}, {0x66, 0xEF},  // IN/OUT: no I/O bitmap
        {0x6C}, {0x6E},                  // INSB OUTSB: the I/O check comes before the memory access
    };
    return b.EmitBytes(kEncodings[b.rng.Below(kEncodings.size())]);
}

bool GenSystem(Builder& b) {
    Rng& rng = b.rng;
    b.info.ends_case = true;
    static const std::vector<std::vector<u8>> kEncodings = {
        {0x0F, 0x06}, {0x0F, 0x08}, {0x0F, 0x09},  // CLTS INVD WBINVD
        {0x0F, 0x20, 0xC0}, {0x0F, 0x22, 0xC0},    // MOV rax,cr0 / cr0,rax
        {0x0F, 0x21, 0xC0}, {0x0F, 0x23, 0xC0},    // MOV rax,dr0 / dr0,rax
        {0x0F, 0x32}, {0x0F, 0x30},      // RDMSR WRMSR
        {0x0F, 0x01, 0xF8},              // SWAPGS
        {0x0F, 0x00, 0xD0}, {0x0F, 0x00, 0xD8},    // LLDT ax, LTR ax
        {0x0F, 0x01, 0xF0},              // LMSW ax
    };
    if (rng.Chance(1, 4)) {  // LGDT LIDT INVLPG: the privilege check comes before the memory access
        const std::array<u8, 3> digits{2, 3, 7};
        Insn in;
        in.map = 1;
        in.opcode = 0x01;
        in.has_modrm = true;
        in.reg = rng.Pick(digits);
        MemRef m;
        m.rip_relative = true;
        m.target = kDataBase + rng.Below(kStackLow);
        in.SetRmMem(m);
        return b.Emit(in);
    }
    return b.EmitBytes(kEncodings[rng.Below(kEncodings.size())]);
}

constexpr auto kTemplates = std::to_array<Template>({
    GenAlu, GenUnary, GenMulDiv, GenShift, GenShiftDouble, GenImul, GenBitTest, GenBitScan, GenBswap, GenMov,
    GenMovExtend, GenLea, GenExchange, GenCond, GenConvert, GenFlagOps, GenString, GenStack, GenMisc, GenCrcAdx,
    GenInvalid, GenPrivileged, GenSystem, GenX87Arith, GenX87Mem, GenX87Misc, GenX87Trans, GenSseFloat,
    GenSseConvert, GenSimdInt, GenSsse3, GenSse41, GenSse42, GenFpState,
});
// One template per EMU64_DIFF_CLASSES row, in order. (Counted rather than checked for a trailing null: with the
// sanitizers, -fno-delete-null-pointer-checks makes a function's address compared with null no constant.)
static_assert(kTemplates.size() == kNumClasses, "a class in EMU64_DIFF_CLASSES has no template");

}  // namespace

bool RunTemplate(InsnClass cls, Builder& b) { return kTemplates[static_cast<unsigned>(cls)](b); }

}  // namespace emu::diff::gen
