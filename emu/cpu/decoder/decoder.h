#pragma once
// x86 instruction decoder: bytes -> DecodedInsn, driven by the opcode tables in tables/*.inc.
//
// Conventions on top of decoded_insn.h:
// - Operand sizes follow the SDM: 64-bit mode defaults to 32-bit operands, REX.W gives 64 and wins over 66,
//   66 gives 16. Default-64 instructions (PUSH/POP, LEAVE, ENTER, PUSHF/POPF, MOV seg pushes...) use 64 or, with
//   66, 16. Near branches (Jcc, JMP, CALL, RET, LOOPcc, JrCXZ, XBEGIN) are forced to 64 bits in 64-bit mode and
//   ignore 66, as Intel CPUs do (AMD would truncate to 16 bits).
// - A 66 used as a mandatory prefix (an SSE variant selected by 66) does not change op_size.
// - Byte registers: with size 1 and no REX, numbers 4-7 are AH, CH, DH, BH: Operand::reg = 0-3 and high8 = true.
// - Memory operands: MemOperand::seg is the last segment override, else SS for rBP/rSP-based addresses (BP-based
//   in 16-bit addressing), else DS. In 64-bit mode ES/CS/SS/DS overrides are ignored (the SDM's null prefixes):
//   MemOperand::seg keeps the default then, while DecodedInsn::seg_override still reports the last override as
//   written (string instructions: their base is 0 in 64-bit mode either way). Moffs (A0-A3) are Mem operands
//   with only a disp.
// - Rep/Repne: only the last of F2/F3 is reported (it is the one that takes effect).
// - Immediates (OperandKind::Imm) are sign-extended as the SDM says and truncated to Operand::size bytes; Rel
//   displacements are sign-extended to 64 bits.
// - String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) have no operands: data_size, addr_size,
//   seg_override and the Rep/Repne prefix bits describe them. Other implicit operands (AL/AX of MUL, XMM0 of
//   BLENDV) are not listed either.
// - VEX (C4/C5), EVEX (62) and XOP (8F) encodings are #UD (no AVX is advertised): Decode returns Undefined;
//   DecodeLength still measures them.
#include <span>
#include <string>

#include "emu/common/result.h"
#include "emu/common/types.h"
#include "emu/cpu/decoder/decoded_insn.h"

namespace emu::cpu {

inline constexpr unsigned kMaxInsnLength = 15;

// Decodes one instruction from the start of `bytes` (which may be shorter than 15 bytes: Truncated means the
// instruction needs more).
Result<DecodedInsn, DecodeError> Decode(std::span<const u8> bytes, DecodeMode mode);

// The length of the instruction at `bytes` as the CPU would fetch it, including encodings that Decode() rejects
// after measuring them (LOCK misuse) and VEX/EVEX/XOP instructions (vex_family = true). For tools and tests.
struct InsnLength {
    u8 length = 0;
    bool vex_family = false;
};
Result<InsnLength, DecodeError> DecodeLength(std::span<const u8> bytes, DecodeMode mode);

// A one-line Intel-syntax rendering for logs and test failures, e.g. "ADD dword [rbx+rsi*4+0x10], 0x5".
std::string FormatInsn(const DecodedInsn& insn);

std::string_view DecodeErrorName(DecodeError error);

// Pieces of FormatInsn, for tools that compare with other disassemblers. Register names are lower-case Intel
// ("eax", "ah", "r8b", "xmm3", "st(1)", "cr0"); FormatReg returns "" for a non-register operand.
std::string_view GprName(unsigned reg, unsigned size);
std::string FormatReg(const Operand& operand);
std::string FormatOperand(const Operand& operand, const DecodedInsn& insn);

}  // namespace emu::cpu
