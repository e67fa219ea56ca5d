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

struct Ax {
    u8 al, ah;
};

// AAA / AAS: adjust AL after an unpacked BCD add or subtract, carrying into AH.
Ax AsciiAdjust(Ax ax, u64& f, bool add) {
    const bool adjust = (ax.al & 0x0F) > 9 || (f & AF);
    const u16 v = static_cast<u16>(ax.al | ax.ah << 8);
    const u16 r = adjust ? static_cast<u16>(add ? v + 0x106 : v - 6 - 0x100) : v;
    f = (f & ~(AF | CF)) | (adjust ? AF | CF : 0);
    return {static_cast<u8>(r & 0x0F), static_cast<u8>(r >> 8)};
}

// DAA / DAS: adjust AL after a packed BCD add or subtract.
Ax DecimalAdjust(Ax ax, u64& f, bool add) {
    const u8 old_al = ax.al;
    const bool old_cf = f & CF;
    const bool adjust = (ax.al & 0x0F) > 9 || (f & AF);
    bool cf = false;
    if (adjust) {
        cf = old_cf || (add ? ax.al > 0xF9 : ax.al < 6);
        ax.al = static_cast<u8>(add ? ax.al + 6 : ax.al - 6);
    }
    if (old_al > 0x99 || old_cf) {
        ax.al = static_cast<u8>(add ? ax.al + 0x60 : ax.al - 0x60);
        cf = true;
    }
    f = (f & ~(SF | ZF | PF | AF | CF)) | SzpOf(ax.al) | (adjust ? AF : 0) | (cf ? CF : 0);
    return ax;
}

u64 Bcd(ir::HelperEnv& env, u64 kind, u64 imm, u64) {
    u64& rax = env.state.reg(Gpr::Rax);
    u64& f = env.state.rflags;
    Ax ax{static_cast<u8>(rax), static_cast<u8>(rax >> 8)};
    switch (kind) {
        case kAaa: ax = AsciiAdjust(ax, f, true); break;
        case kAas: ax = AsciiAdjust(ax, f, false); break;
        case kDaa: ax = DecimalAdjust(ax, f, true); break;
        case kDas: ax = DecimalAdjust(ax, f, false); break;
        case kAam:  // AH = AL / base, AL = AL % base
            if (imm == 0) return env.Raise(vec::DE);
            ax = {static_cast<u8>(ax.al % imm), static_cast<u8>(ax.al / imm)};
            f = (f & ~(SF | ZF | PF)) | SzpOf(ax.al);
            break;
        case kAad:  // AL = AL + AH * base, AH = 0
            ax = {static_cast<u8>(ax.al + ax.ah * imm), 0};
            f = (f & ~(SF | ZF | PF)) | SzpOf(ax.al);
            break;
        default: break;
    }
    rax = (rax & ~u64{0xFFFF}) | (u64{ax.ah} << 8) | ax.al;
    return 0;
}

}  // namespace

const ir::HelperInfo kBcdHelper{"Bcd", &Bcd};

}  // namespace emu::cpu::translate
