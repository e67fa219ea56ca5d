// Bit instructions: BT BTS BTR BTC BSF BSR POPCNT LZCNT TZCNT CRC32.
#include <bit>

#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

namespace {
enum BitAction { kTest, kSet, kReset, kComplement };
}

// BT* dst, offset. With a register offset and a memory operand the offset addresses a bit string: the
// operand moves by (signed offset / width) units. CF receives the bit; OF SF AF PF are undefined and left
// unchanged, ZF is unaffected.
bool Translator::BitTest(const DecodedInsn& insn, int action) {
    const Operand& dst = insn.operands[0];
    const Operand& off_op = insn.operands[1];
    const Type t = TypeOf(dst);
    const unsigned bits = dst.size * 8;
    const Value offset = ir_.Resize(Read(off_op), t);
    const Value bit = ir_.And(offset, ir::Emitter::ImmOf(t, bits - 1));
    Value addr;
    Value v;
    if (dst.kind == OperandKind::Mem) {
        addr = LinearAddress(dst);
        if (off_op.kind == OperandKind::Reg) {
            const unsigned shift = static_cast<unsigned>(std::countr_zero(bits));
            const Value units = ir_.SignExtend(ir_.Sar(offset, ir::Emitter::Imm8(shift)), Type::U64);
            addr = ir_.Add(addr, ir_.Mul(units, ir::Emitter::Imm64(dst.size)));
        }
        v = action != kTest ? LoadForUpdate(addr, t, MemFlagsOf(dst)) : ir_.Load(addr, t, MemFlagsOf(dst));
    } else {
        v = Read(dst);
    }
    const Value mask = ir_.Shl(ir::Emitter::ImmOf(t, 1), ir_.Truncate(bit, Type::U8));
    const Value cf = ir_.CmpNe(ir_.And(v, mask), ir::Emitter::ImmOf(t, 0));
    if (action != kTest) {
        Value r = action == kSet ? ir_.Or(v, mask) : action == kReset ? ir_.And(v, ir_.Not(mask)) : ir_.Xor(v, mask);
        if (dst.kind == OperandKind::Mem) {
            StoreUpdate(addr, r, MemFlagsOf(dst));
        } else {
            Write(dst, r);
        }
    }
    ir_.SetFlag(rflags::CF, cf);
    return true;
}

bool Translator::BT(const DecodedInsn& insn) { return BitTest(insn, kTest); }
bool Translator::BTS(const DecodedInsn& insn) { return BitTest(insn, kSet); }
bool Translator::BTR(const DecodedInsn& insn) { return BitTest(insn, kReset); }
bool Translator::BTC(const DecodedInsn& insn) { return BitTest(insn, kComplement); }

// BSF/BSR: a zero source sets ZF and leaves the destination unchanged (what Intel and AMD hardware do;
// the SDM says undefined). CF OF SF AF PF are undefined and left unchanged.
bool Translator::BSF(const DecodedInsn& insn) {
    const Value s = Read(insn.operands[1]);
    const Value zero = ir_.CmpEq(s, ir::Emitter::ImmOf(s.type(), 0));
    WriteRegUnless(insn.operands[0], zero, ir_.CountTrailingZeros(s));
    ir_.SetFlag(rflags::ZF, zero);
    return true;
}

bool Translator::BSR(const DecodedInsn& insn) {
    const Value s = Read(insn.operands[1]);
    const Value zero = ir_.CmpEq(s, ir::Emitter::ImmOf(s.type(), 0));
    const Value top = ir::Emitter::ImmOf(s.type(), ir::BitsOf(s.type()) - 1);
    WriteRegUnless(insn.operands[0], zero, ir_.Sub(top, ir_.CountLeadingZeros(s)));
    ir_.SetFlag(rflags::ZF, zero);
    return true;
}

// POPCNT clears OF SF AF CF PF and sets ZF for a zero source.
bool Translator::POPCNT(const DecodedInsn& insn) {
    const Value s = Read(insn.operands[1]);
    Write(insn.operands[0], ir_.PopCount(s));
    for (u64 flag : {rflags::OF, rflags::SF, rflags::AF, rflags::CF, rflags::PF}) {
        ir_.SetFlag(flag, ir::Emitter::Imm1(false));
    }
    ir_.SetFlag(rflags::ZF, ir_.CmpEq(s, ir::Emitter::ImmOf(s.type(), 0)));
    return true;
}

// LZCNT/TZCNT: CF = (source is zero), ZF = (result is zero); OF SF AF PF undefined and left unchanged.
bool Translator::ZeroCount(const DecodedInsn& insn, bool leading) {
    const Value s = Read(insn.operands[1]);
    const Value r = leading ? ir_.CountLeadingZeros(s) : ir_.CountTrailingZeros(s);
    Write(insn.operands[0], r);
    ir_.SetFlag(rflags::CF, ir_.CmpEq(s, ir::Emitter::ImmOf(s.type(), 0)));
    ir_.SetFlag(rflags::ZF, ir_.CmpEq(r, ir::Emitter::ImmOf(r.type(), 0)));
    return true;
}

// Without the extension CPUID advertises (ABM for LZCNT, BMI1 for TZCNT) the F3 prefix is ignored and the encoding
// runs as BSR/BSF, as on hardware that predates it (SDM Vol. 2 LZCNT and TZCNT: "On processors that do not
// support ..., the instruction byte encoding is executed as BSR/BSF").
bool Translator::LZCNT(const DecodedInsn& insn) {
    return system::HasFeature("abm") ? ZeroCount(insn, true) : BSR(insn);
}
bool Translator::TZCNT(const DecodedInsn& insn) {
    return system::HasFeature("bmi1") ? ZeroCount(insn, false) : BSF(insn);
}

// CRC32 r, r/m: accumulates CRC-32C (Castagnoli) over the source bytes; the result is 32 bits, zero-extended
// into a 64-bit destination. Flags are unchanged. #UD unless the model advertises SSE4.2 (translator.cpp).
bool Translator::CRC32(const DecodedInsn& insn) {
    const Operand& src = insn.operands[1];
    const Value data = Read(src);
    const Value crc = ir_.GetGpr(insn.operands[0].reg, 4);
    const Value r = ir_.CallHelper(kCrc32Helper, crc, data, ir::Emitter::Imm64(src.size));
    Write(insn.operands[0], ir_.Truncate(r, Type::U32));
    return true;
}

namespace {

u64 Crc32(ir::HelperEnv&, u64 crc, u64 data, u64 size) {
    u32 c = static_cast<u32>(crc);
    for (u64 byte = 0; byte < size; ++byte) {
        c ^= static_cast<u8>(data >> (8 * byte));
        for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));  // reflected polynomial
    }
    return c;
}

}  // namespace

const ir::HelperInfo kCrc32Helper{"Crc32", &Crc32};

}  // namespace emu::cpu::translate
