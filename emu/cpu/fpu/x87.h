#pragma once
// x87 floating-point helpers: pure functions of their operands and the FPU control word (FCW), bit-exact with
// the x87 including precision control, rounding control, special operands and the masked responses.
// Operands are register values (Float80); `status` in each result carries exception flags and C0-C3.
#include <array>

#include "emu/cpu/fpu/fpu_types.h"

namespace emu::cpu::fpu {

// An operand of the two-operand arithmetic and compares: a register, or a m32fp/m64fp memory operand widened by
// WidenFloat32/64. Widening does not signal: an SNaN stays signalling (so the x87 NaN rules see it as such) and a
// denormal source is remembered so the operation raises DE, as FADD m32fp etc. do.
struct X87Operand {
    Float80 value;
    bool denormal_source = false;
    X87Operand(const Float80& v) : value(v) {}  // NOLINT: registers convert implicitly
    X87Operand(const Float80& v, bool denormal) : value(v), denormal_source(denormal) {}
};
X87Operand WidenFloat32(u32 bits);
X87Operand WidenFloat64(u64 bits);

// FADD/FSUB/FMUL/FDIV family and FSQRT: rounded to FCW.PC bits with FCW.RC. Sub is a - b, Div is a / b
// (the reversed forms swap the operands; FIADD etc. pass FromInt(m)).
X87Result Add(const X87Operand& a, const X87Operand& b, u16 fcw);
X87Result Sub(const X87Operand& a, const X87Operand& b, u16 fcw);
X87Result Mul(const X87Operand& a, const X87Operand& b, u16 fcw);
X87Result Div(const X87Operand& a, const X87Operand& b, u16 fcw);
X87Result Sqrt(const Float80& a, u16 fcw);

X87Result RoundToInteger(const Float80& a, u16 fcw);               // FRNDINT
// `amd`: where the vendors differ (a denormal ST0 returned as it is, see Unchanged() in x87_arith.cpp), AMD's way.
X87Result Scale(const Float80& st0, const Float80& st1, u16 fcw, bool amd = false);  // FSCALE
X87Pair Extract(const Float80& a, u16 fcw);                        // FXTRACT: first = exponent, second = significand
// FPREM (truncating quotient) and FPREM1 (IEEE, quotient rounded to nearest): C2 set when incomplete,
// otherwise C0, C3, C1 = quotient bits 2, 1, 0.
X87Result PartialRemainder(const Float80& st0, const Float80& st1, u16 fcw, bool amd = false);
X87Result PartialRemainderIeee(const Float80& st0, const Float80& st1, u16 fcw, bool amd = false);

// FCOM/FUCOM/FCOMI/FUCOMI/FTST (a compared with b): C3 C2 C0 = 000 (>), 001 (<), 100 (=), 111 (unordered);
// IE for unsupported operands, for SNaNs, and (ordered, quiet == false) for QNaNs; DE for denormals.
// FCOMI maps C3 C2 C0 to ZF PF CF.
u16 Compare(const X87Operand& a, const X87Operand& b, bool quiet);

// FXAM: C3 C2 C0 = class (000 unsupported, 001 NaN, 010 normal, 011 infinity, 100 zero, 110 denormal; the caller
// reports 101 for an empty register), C1 = sign.
u16 Examine(const Float80& a);

// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: the constant rounded with FCW.RC (no exceptions).
enum class Constant : u8 { One, Log2Ten, Log2E, Pi, Log10Two, LnTwo, Zero };
Float80 LoadConstant(Constant c, u16 fcw);

// FILD (exact for every width).
Float80 FromInt(i64 value);
// FIST/FISTP (truncate == false: FCW.RC) and FISTTP (truncate == true) into a `bits`-wide integer (16, 32, else 64);
// out-of-range, NaN and infinite operands give IE and the integer indefinite (only the sign bit set).
X87Out<i64> ToInt(const Float80& a, u16 fcw, unsigned bits, bool truncate);

// FLD m32fp/m64fp (exact; SNaN -> IE and quieted; denormals -> DE) and FST/FSTP m32fp/m64fp (rounded with
// FCW.RC; PC does not apply).
X87Result FromFloat32(u32 bits);
X87Result FromFloat64(u64 bits);
X87Out<u32> ToFloat32(const Float80& a, u16 fcw);
X87Out<u64> ToFloat64(const Float80& a, u16 fcw);

// FBLD/FBSTP: 18 packed BCD digits, little-endian, sign in bit 7 of byte 9.
using Bcd = std::array<u8, 10>;
Float80 FromBcd(const Bcd& bcd);
X87Out<Bcd> ToBcd(const Float80& a, u16 fcw);

// Transcendentals (x87_transcendental.cpp). FSIN/FCOS/FPTAN/FSINCOS leave the operand unchanged and set C2
// when |x| >= 2^63. FPTAN's `second` is 1.0; FSINCOS's `first` is sin, `second` cos.
X87Result Sin(const Float80& a, u16 fcw);
X87Result Cos(const Float80& a, u16 fcw);
X87Pair SinCos(const Float80& a, u16 fcw);
X87Pair Tan(const Float80& a, u16 fcw);
X87Result Atan2(const Float80& st1, const Float80& st0, u16 fcw);     // FPATAN: atan(ST1 / ST0), stored in ST1
X87Result Exp2M1(const Float80& a, u16 fcw);                          // F2XM1, |x| <= 1
X87Result YLog2X(const Float80& st1, const Float80& st0, u16 fcw);    // FYL2X: ST1 * log2(ST0)
X87Result YLog2XP1(const Float80& st1, const Float80& st0, u16 fcw);  // FYL2XP1: ST1 * log2(ST0 + 1)

}  // namespace emu::cpu::fpu
