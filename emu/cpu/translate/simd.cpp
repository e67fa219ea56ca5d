// x87, MMX, SSE..SSE4.2 and the FXSAVE/XSAVE family: each mnemonic listed in emu/cpu/simd/ops.inc translates to
// one CallHelper into emu/cpu/simd, which checks CR0/CR4, reads its operands and computes. The handlers below are
// generated from that table: they are all the same one-liner. (The 0F AE forms with a 66/F2/F3 prefix are #UD
// in the decoder table.)
#include "emu/cpu/simd/simd.h"
#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::Value;

namespace {
bool IsX87Escape(const DecodedInsn& insn) { return insn.opcode_map == 0 && insn.opcode >= 0xD8 && insn.opcode <= 0xDF; }

}  // namespace

bool Translator::SimdCall(const DecodedInsn& insn) {
    // Decoded by the model's CPUID: an extension it does not advertise is #UD (SDM: "If CPUID.01H:ECX.SSE4_1 = 0").
    if (const char* feature = simd::RequiredFeature(insn.mnemonic); feature && !system::HasFeature(feature)) {
        return Undefined();
    }
    simd::SimdInsn in;
    in.mnemonic = insn.mnemonic;
    in.addr_size = insn.addr_size;
    in.op_size = insn.op_size;
    in.amd = system::CpuVendor() == system::Vendor::Amd;
    unsigned n = 0;
    const Operand* mem = nullptr;
    for (unsigned i = 0; i < insn.num_operands; ++i) {
        const Operand& op = insn.operands[i];
        if (op.kind == OperandKind::Imm) {
            in.imm = static_cast<u8>(op.imm);
            continue;
        }
        if (op.kind != OperandKind::Reg && op.kind != OperandKind::Mem) continue;
        if (n == 2) return Unimplemented("more than two register/memory operands");
        const bool is_mem = op.kind == OperandKind::Mem;
        in.op[n++] = simd::OperandDesc{is_mem ? simd::OperandType::Mem : simd::OperandType::Reg, op.reg_class, op.reg,
                                       op.size};
        if (is_mem) {
            mem = &op;
            in.seg = op.mem.seg;
        }
    }
    if (IsX87Escape(insn)) {
        in.imm = insn.modrm;  // FOP = opcode[2:0] : ModRM
        in.opcode_low = insn.opcode & 7;
    }
    Value linear = mem != nullptr ? LinearAddress(*mem) : ir::Emitter::Imm64(0);
    if (simd::ImplicitDiOperand(insn.mnemonic)) {
        MemOperand di;
        di.seg = insn.seg_override != kNoReg ? insn.seg_override : static_cast<u8>(SegReg::Ds);
        di.base = static_cast<u8>(Gpr::Rdi);
        in.seg = di.seg;
        linear = LinearOf(di.seg, EffectiveAddress(di));
    }
    ir_.CallHelper(simd::kSimdHelper, ir::Emitter::Imm64(in.Pack()), linear, ir::Emitter::Imm64(rip_));
    return true;
}

#define SIMD_OP(name, cls, flags, fn) \
    bool Translator::name(const DecodedInsn& insn) { return SimdCall(insn); }
#include "emu/cpu/simd/ops.inc"
#undef SIMD_OP

}  // namespace emu::cpu::translate
