// BCD adjustments (16/32-bit modes only): AAA AAS AAM AAD DAA DAS, in one helper following the SDM's
// Operation sections. Flags the SDM leaves undefined are left unchanged (see undefined_flags.cpp).
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

namespace {
enum BcdKind : unsigned { kAaa, kAas, kAam, kAad, kDaa, kDas };
}

bool Translator::BcdOp(const DecodedInsn& insn, unsigned kind) {
    if (mode_.decode == DecodeMode::Bits64) return Undefined();
    const u64 imm = insn.num_operands > 0 ? insn.operands[0].imm & 0xFF : 10;
    ir_.CallHelper(kBcdHelper, ir::Emitter::Imm64(kind), ir::Emitter::Imm64(imm));
    return true;
}

bool Translator::AAA(const DecodedInsn& insn) { return BcdOp(insn, kAaa); }
bool Translator::AAS(const DecodedInsn& insn) { return BcdOp(insn, kAas); }
bool Translator::AAM(const DecodedInsn& insn) { return BcdOp(insn, kAam); }
bool Translator::AAD(const DecodedInsn& insn) { return BcdOp(insn, kAad); }
bool Translator::DAA(const DecodedInsn& insn) { return BcdOp(insn, kDaa); }
bool Translator::DAS(const DecodedInsn& insn) { return BcdOp(insn, kDas); }

namespace {

using namespace rflags;

u64 SzpOf(u8 al) {
    return (al & 0x80 ? SF : 0) | (al == 0 ? ZF : 0) | (ir::ParityEven(al) ? PF : 0);
}

u64 Bcd(ir::HelperEnv& env, u64 kind, u64 imm, u64) {
    u64& rax = env.state.reg(Gpr::Rax);
    u64& f = env.state.rflags;
    u8 al = static_cast<u8>(rax), ah = static_cast<u8>(rax >> 8);
    const bool adjust_low = (al & 0x0F) > 9 || (f & AF);
    switch (kind) {
        case kAaa:
        case kAas: {
            const u16 ax = static_cast<u16>(rax);
            const u16 r = adjust_low ? (kind == kAaa ? ax + 0x106 : ax - 6 - 0x100) : ax;
            al = static_cast<u8>(r) & 0x0F;
            ah = static_cast<u8>(r >> 8);
            f = (f & ~(AF | CF)) | (adjust_low ? AF | CF : 0);
            break;
        }
        case kAam:
            if (imm == 0) return env.Raise(vec::DE);
            ah = static_cast<u8>(al / imm);
            al = static_cast<u8>(al % imm);
            f = (f & ~(SF | ZF | PF)) | SzpOf(al);
            break;
        case kAad:
            al = static_cast<u8>(al + ah * imm);
            ah = 0;
            f = (f & ~(SF | ZF | PF)) | SzpOf(al);
            break;
        case kDaa:
        case kDas: {
            const u8 old_al = al;
            const bool old_cf = f & CF;
            bool cf = false;
            if (adjust_low) {
                cf = old_cf || (kind == kDaa ? al > 0xF9 : al < 6);
                al = static_cast<u8>(kind == kDaa ? al + 6 : al - 6);
            }
            if (old_al > 0x99 || old_cf) {
                al = static_cast<u8>(kind == kDaa ? al + 0x60 : al - 0x60);
                cf = true;
            }
            f = (f & ~(SF | ZF | PF | AF | CF)) | SzpOf(al) | (adjust_low ? AF : 0) | (cf ? CF : 0);
            break;
        }
        default: break;
    }
    rax = (rax & ~u64{0xFFFF}) | (u64{ah} << 8) | al;
    return 0;
}

}  // namespace

const ir::HelperInfo kBcdHelper{"Bcd", &Bcd};

}  // namespace emu::cpu::translate
