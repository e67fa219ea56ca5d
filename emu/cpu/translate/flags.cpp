// Flag instructions: CLC STC CMC CLD STD LAHF SAHF SALC CLI STI STAC CLAC, and the POPF/CLI/STI helpers.
#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

// value: 0 clear, 1 set, -1 complement.
bool Translator::SetFlagBit(u64 flag, int value) {
    const Value v = value < 0 ? ir_.NotU1(ir_.GetFlag(flag)) : ir::Emitter::Imm1(value != 0);
    ir_.SetFlag(flag, v);
    return true;
}

bool Translator::CLC(const DecodedInsn&) { return SetFlagBit(rflags::CF, 0); }
bool Translator::STC(const DecodedInsn&) { return SetFlagBit(rflags::CF, 1); }
bool Translator::CMC(const DecodedInsn&) { return SetFlagBit(rflags::CF, -1); }
bool Translator::CLD(const DecodedInsn&) { return SetFlagBit(rflags::DF, 0); }
bool Translator::STD(const DecodedInsn&) { return SetFlagBit(rflags::DF, 1); }

// LAHF and SAHF exist in 64-bit mode only with CPUID.80000001H:ECX.LAHF-SAHF[bit 0] (#UD otherwise).
bool Translator::LahfSahfMissing() const {
    return mode_.decode == DecodeMode::Bits64 && !system::HasFeature("lahf_lm");
}

// AH <- SF:ZF:0:AF:0:PF:1:CF (bit 1 of RFLAGS is always 1, bits 3 and 5 always 0).
bool Translator::LAHF(const DecodedInsn&) {
    if (LahfSahfMissing()) return Undefined();
    ir_.SetGpr(0, 1, ir_.Truncate(ir_.GetRflags(), Type::U8), true);
    return true;
}

bool Translator::SAHF(const DecodedInsn&) {
    if (LahfSahfMissing()) return Undefined();
    constexpr u64 kMask = rflags::SF | rflags::ZF | rflags::AF | rflags::PF | rflags::CF;
    const Value ah = ir_.ZeroExtend(ir_.GetGpr(0, 1, true), Type::U64);
    const Value kept = ir_.And(ir_.GetRflags(), ir::Emitter::Imm64(~kMask));
    ir_.SetRflags(ir_.Or(kept, ir_.And(ah, ir::Emitter::Imm64(kMask))));
    return true;
}

// Undocumented: AL <- CF ? 0xFF : 0.
bool Translator::SALC(const DecodedInsn&) {
    if (mode_.decode == DecodeMode::Bits64) return Undefined();
    ir_.SetGpr(0, 1, ir_.Select(ir_.GetFlag(rflags::CF), ir::Emitter::Imm8(0xFF), ir::Emitter::Imm8(0)));
    return true;
}

bool Translator::CLI(const DecodedInsn&) {
    ir_.CallHelper(kCliHelper);
    return true;
}

bool Translator::STI(const DecodedInsn&) {
    ir_.CallHelper(kStiHelper);
    ir_.ExitToDispatcher(next_rip_, true);  // interrupts may be deliverable after the shadow
    return false;
}

// --- Helpers. IOPL-sensitive instructions outside V86 (VME/PVI are not modelled).

namespace {

bool IoplAllows(const CpuState& s) {
    if (s.mode() == CpuMode::Real) return true;
    return s.cpl() <= ((s.rflags & rflags::IOPL) >> 12);
}

u64 Cli(ir::HelperEnv& env, u64, u64, u64) {
    if (!IoplAllows(env.state)) return env.Raise(vec::GP, 0);
    env.state.rflags &= ~rflags::IF;
    return 0;
}

// STAC / CLAC (SDM Vol. 2): #UD without SMAP or at CPL > 0 (virtual-8086 mode included); they change RFLAGS.AC only.
// The model is chosen before any vCPU runs, so its answer is read once.
u64 SetAc(ir::HelperEnv& env, u64 set, u64, u64) {
    static const bool smap = system::HasFeature("smap");
    if (!smap || env.state.cpl() != 0) return env.Raise(vec::UD);
    env.state.rflags = set ? env.state.rflags | rflags::AC : env.state.rflags & ~rflags::AC;
    return 0;
}
const ir::HelperInfo kAcHelper{"SetAc", &SetAc};

u64 Sti(ir::HelperEnv& env, u64, u64, u64) {
    if (!IoplAllows(env.state)) return env.Raise(vec::GP, 0);
    if (!(env.state.rflags & rflags::IF)) env.state.interrupt_shadow = true;
    env.state.rflags |= rflags::IF;
    return 0;
}

// POPF (SDM Vol. 2 POPF Operation): which bits change depends on CPL and IOPL; RF is cleared and VM, VIP,
// VIF never change. A 16-bit POPF changes only bits 15:0.
u64 Popf(ir::HelperEnv& env, u64 value, u64 size, u64) {
    CpuState& s = env.state;
    if (s.mode() == CpuMode::Virtual8086 && ((s.rflags & rflags::IOPL) >> 12) < 3) return env.Raise(vec::GP, 0);
    u64 changeable = rflags::Arith | rflags::TF | rflags::DF | rflags::NT | rflags::AC | rflags::ID;
    const bool real_or_ring0 = s.mode() == CpuMode::Real || s.cpl() == 0;
    if (real_or_ring0) changeable |= rflags::IOPL;
    if (real_or_ring0 || s.cpl() <= ((s.rflags & rflags::IOPL) >> 12)) changeable |= rflags::IF;
    if (size == 2) changeable &= 0xFFFF;
    s.rflags = ((s.rflags & ~changeable) | (value & changeable) | rflags::Reserved1) & ~rflags::RF;
    return 0;
}

}  // namespace

const ir::HelperInfo kCliHelper{"Cli", &Cli};
const ir::HelperInfo kStiHelper{"Sti", &Sti};
const ir::HelperInfo kPopfHelper{"Popf", &Popf};

// AC selects the soft TLB a supervisor access uses (mmu/softtlb MmuIndexOf), read at each access: no block change.
bool Translator::STAC(const DecodedInsn&) {
    ir_.CallHelper(kAcHelper, ir::Emitter::Imm64(1));
    return true;
}

bool Translator::CLAC(const DecodedInsn&) {
    ir_.CallHelper(kAcHelper, ir::Emitter::Imm64(0));
    return true;
}

}  // namespace emu::cpu::translate
