// Multiplication and division: MUL IMUL (one-, two- and three-operand forms) DIV IDIV.
// MUL/IMUL set CF = OF = "the result did not fit"; SF ZF AF PF are undefined and left unchanged.
// DIV/IDIV leave all status flags unchanged (all undefined) and raise #DE on a zero divisor or overflow.
#include <limits>

#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

namespace {
constexpr unsigned kRax = 0, kRdx = 2;
}

// Writes hi:lo of a one-operand multiply to AX (bytes) or rDX:rAX.
static void WriteWideProduct(ir::Emitter& ir, unsigned size, Value lo, Value hi) {
    if (size == 1) {
        const Value high = ir.Shl(ir.ZeroExtend(hi, Type::U16), ir::Emitter::Imm8(8));
        const Value ax = ir.Or(high, ir.ZeroExtend(lo, Type::U16));
        ir.SetGpr(kRax, 2, ax);
        return;
    }
    ir.SetGpr(kRax, size, lo);
    ir.SetGpr(kRdx, size, hi);
}

bool Translator::MUL(const DecodedInsn& insn) {
    const Value s = Read(insn.operands[0]);
    const Value a = ir_.GetGpr(kRax, insn.operands[0].size);
    const Value lo = ir_.Mul(a, s), hi = ir_.UMulHi(a, s);
    WriteWideProduct(ir_, insn.operands[0].size, lo, hi);
    const Value overflow = ir_.CmpNe(hi, ir::Emitter::ImmOf(hi.type(), 0));
    ir_.SetFlag(rflags::CF, overflow);
    ir_.SetFlag(rflags::OF, overflow);
    return true;
}

bool Translator::IMUL(const DecodedInsn& insn) {
    Value a, b;
    if (insn.num_operands == 1) {
        b = Read(insn.operands[0]);
        a = ir_.GetGpr(kRax, insn.operands[0].size);
    } else {
        const Operand& src1 = insn.operands[insn.num_operands == 3 ? 1 : 0];
        a = Read(src1);
        b = ir_.Resize(Read(insn.operands[insn.num_operands == 3 ? 2 : 1]), a.type());
    }
    const Value lo = ir_.Mul(a, b), hi = ir_.SMulHi(a, b);
    const unsigned bits = ir::BitsOf(lo.type());
    const Value overflow = ir_.CmpNe(hi, ir_.Sar(lo, ir::Emitter::Imm8(bits - 1)));
    if (insn.num_operands == 1) {
        WriteWideProduct(ir_, bits / 8, lo, hi);
    } else {
        Write(insn.operands[0], lo);
    }
    ir_.SetFlag(rflags::CF, overflow);
    ir_.SetFlag(rflags::OF, overflow);
    return true;
}

bool Translator::DIV(const DecodedInsn& insn) {
    const Value divisor = Read(insn.operands[0]);
    ir_.CallHelper(kDivHelper, divisor, ir::Emitter::Imm64(insn.operands[0].size), ir::Emitter::Imm64(0));
    return true;
}

bool Translator::IDIV(const DecodedInsn& insn) {
    const Value divisor = Read(insn.operands[0]);
    ir_.CallHelper(kDivHelper, divisor, ir::Emitter::Imm64(insn.operands[0].size), ir::Emitter::Imm64(1));
    return true;
}

// --- Helper: the dividend is AX (byte form) or rDX:rAX; quotient and remainder go back the same way.

namespace {

u64 Divide(ir::HelperEnv& env, u64 divisor, u64 size, u64 is_signed) {
    CpuState& s = env.state;
    const unsigned bits = static_cast<unsigned>(size) * 8;
    const u64 mask = bits == 64 ? ~u64{0} : (u64{1} << bits) - 1;
    divisor &= mask;
    if (divisor == 0) return env.Raise(vec::DE);
    const u64 rax = s.reg(Gpr::Rax), rdx = s.reg(Gpr::Rdx);
    const u128 dividend = size == 1 ? (rax & 0xFFFF) : ((static_cast<u128>(rdx & mask) << bits) | (rax & mask));
    u64 quotient, remainder;
    if (is_signed) {
        const i128 n = static_cast<i128>(dividend << (128 - 2 * bits)) >> (128 - 2 * bits);
        const i128 d = static_cast<i64>(divisor << (64 - bits)) >> (64 - bits);
        if (n == std::numeric_limits<i128>::min() && d == -1) return env.Raise(vec::DE);
        const i128 q = n / d, r = n % d;
        const i128 limit = i128{1} << (bits - 1);
        if (q >= limit || q < -limit) return env.Raise(vec::DE);
        quotient = static_cast<u64>(q) & mask;
        remainder = static_cast<u64>(r) & mask;
    } else {
        const u128 q = dividend / divisor;
        if (q > mask) return env.Raise(vec::DE);
        quotient = static_cast<u64>(q);
        remainder = static_cast<u64>(dividend % divisor);
    }
    if (size == 1) {
        s.reg(Gpr::Rax) = (rax & ~u64{0xFFFF}) | (remainder << 8) | quotient;
    } else if (size == 2) {
        s.reg(Gpr::Rax) = (rax & ~u64{0xFFFF}) | quotient;
        s.reg(Gpr::Rdx) = (rdx & ~u64{0xFFFF}) | remainder;
    } else {  // 32-bit results zero-extend like any 32-bit register write
        s.reg(Gpr::Rax) = quotient;
        s.reg(Gpr::Rdx) = remainder;
    }
    return 0;
}

}  // namespace

const ir::HelperInfo kDivHelper{"Divide", &Divide};

}  // namespace emu::cpu::translate
