// Miscellaneous: NOP PAUSE HLT UD0 UD1 UD2 INT INT1 INT3 INTO CPUID RDTSC RDTSCP RDPID, fences, prefetches and
// cache-line flushes (no-ops for a coherent host; MFENCE is a host fence).
#include <atomic>
#include <cstddef>

#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/system/msr.h"
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::Value;

bool Translator::NOP(const DecodedInsn&) { return true; }
namespace {
u64 Pause(ir::HelperEnv& env, u64, u64, u64) {
    env.memory.SpinPause();
    return 0;
}
const ir::HelperInfo kPauseHelper{"Pause", &Pause};

// Guest stores are host stores (x86-TSO both), which a later load may pass; MFENCE forbids that across vCPUs.
u64 Fence(ir::HelperEnv&, u64, u64, u64) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return 0;
}
const ir::HelperInfo kFenceHelper{"Fence", &Fence};
}  // namespace

bool Translator::PAUSE(const DecodedInsn&) {
    ir_.CallHelper(kPauseHelper);
    return true;
}
bool Translator::LFENCE(const DecodedInsn&) { return true; }
bool Translator::MFENCE(const DecodedInsn&) {
    ir_.CallHelper(kFenceHelper);
    return true;
}
bool Translator::SFENCE(const DecodedInsn&) { return true; }
bool Translator::PREFETCH(const DecodedInsn&) { return true; }
bool Translator::PREFETCHW(const DecodedInsn&) { return true; }
// Cache hints: no architectural effect, and they never fault (SDM: PREFETCHh).
bool Translator::PREFETCHNTA(const DecodedInsn&) { return true; }
bool Translator::PREFETCHT0(const DecodedInsn&) { return true; }
bool Translator::PREFETCHT1(const DecodedInsn&) { return true; }
bool Translator::PREFETCHT2(const DecodedInsn&) { return true; }
// TODO(translate): CLFLUSH* should fault like a byte load on an inaccessible address.
bool Translator::CLFLUSH(const DecodedInsn&) { return true; }
// CPUID does not advertise CLFLUSHOPT or CLWB (leaf 7 EBX[23], EBX[24]): their 66-prefixed encodings are #UD.
bool Translator::CLFLUSHOPT(const DecodedInsn&) { return Undefined(); }
bool Translator::CLWB(const DecodedInsn&) { return Undefined(); }

bool Translator::HLT(const DecodedInsn&) {
    ir_.RaiseExceptionIf(ir_.CmpNe(Cpl(), ir::Emitter::Imm8(0)), vec::GP, 0);
    ir_.ExitHalt(next_rip_);
    return false;
}

bool Translator::UD0(const DecodedInsn&) { return Undefined(); }
bool Translator::UD1(const DecodedInsn&) { return Undefined(); }
bool Translator::UD2(const DecodedInsn&) { return Undefined(); }

namespace {
enum SoftKind : u64 { kIntN, kInt3, kInto, kInt1 };
}

// The helper gets (vector | kind << 8, next RIP, the instruction's RIP): a fault while delivering the interrupt is
// a fault of the instruction, which saves its own RIP (SDM Vol. 3 6.5, 6.12.1).
void Translator::CallSoftInt(u8 vector, u64 kind) {
    ir_.CallHelper(kSoftIntHelper, ir::Emitter::Imm64(vector | (kind << 8)), ir::Emitter::Imm64(next_rip_),
                   ir::Emitter::Imm64(rip_));
}

bool Translator::SoftwareInterrupt(u8 vector) {
    const u64 kind = insn_->mnemonic == Mnemonic::INT3 ? kInt3 : insn_->mnemonic == Mnemonic::INT1 ? kInt1 : kIntN;
    CallSoftInt(vector, kind);
    ir_.ExitConst(next_rip_);  // not reached: the helper always raises
    return false;
}

bool Translator::INT(const DecodedInsn& insn) { return SoftwareInterrupt(static_cast<u8>(insn.operands[0].imm)); }
bool Translator::INT3(const DecodedInsn&) { return SoftwareInterrupt(vec::BP); }
bool Translator::INT1(const DecodedInsn&) { return SoftwareInterrupt(vec::DB); }

bool Translator::INTO(const DecodedInsn&) {
    if (mode_.decode == DecodeMode::Bits64) return Undefined();
    CallSoftInt(vec::OF, kInto);
    return true;
}

bool Translator::CPUID(const DecodedInsn&) {
    ir_.CallHelper(kCpuidHelper);
    return true;
}

bool Translator::RDTSC(const DecodedInsn&) {
    ir_.CallHelper(kRdtscHelper, ir::Emitter::Imm64(0));
    return true;
}

// RDPID r: the TSC_AUX MSR (the processor ID), without RDTSCP's time stamp.
bool Translator::RDPID(const DecodedInsn& insn) {
    const Value aux = ir_.GetField(static_cast<u32>(offsetof(CpuState, tsc_aux)), ir::Type::U64);
    Write(insn.operands[0], ir_.And(aux, ir::Emitter::Imm64(0xFFFFFFFF)));
    return true;
}

bool Translator::RDTSCP(const DecodedInsn&) {
    ir_.CallHelper(kRdtscHelper, ir::Emitter::Imm64(1));
    return true;
}

// --- Helpers

namespace {

// INT n, INT3 and INTO are software interrupts (trap: the saved RIP is the next instruction; delivery
// checks the gate's DPL). INT1 (ICEBP) is a #DB trap without the DPL check. INTO traps only if OF is set.
u64 SoftInt(ir::HelperEnv& env, u64 packed, u64 next_rip, u64 rip) {
    const u64 kind = packed >> 8;
    if (kind == kInto && !(env.state.rflags & rflags::OF)) return 0;
    ir::Fault f = ir::MakeFault(static_cast<u8>(packed));
    f.software = true;
    f.icebp = kind == kInt1;
    f.next_rip = next_rip;
    f.insn_rip = rip;
    env.fault = f;
    return 0;
}

u64 Cpuid(ir::HelperEnv& env, u64, u64, u64) {
    CpuState& s = env.state;
    const system::CpuidResult r =
        system::Cpuid(static_cast<u32>(s.reg(Gpr::Rax)), static_cast<u32>(s.reg(Gpr::Rcx)), s);
    s.reg(Gpr::Rax) = r.eax;
    s.reg(Gpr::Rbx) = r.ebx;
    s.reg(Gpr::Rcx) = r.ecx;
    s.reg(Gpr::Rdx) = r.edx;
    return 0;
}

u64 Rdtsc(ir::HelperEnv& env, u64 with_aux, u64, u64) {
    CpuState& s = env.state;
    if ((s.cr4 & cr4::TSD) && s.cpl() != 0 && s.mode() != CpuMode::Real) return env.Raise(vec::GP, 0);
    const u64 tsc = system::GuestTsc(s, env.memory);  // WRMSR(TSC) moves it
    s.reg(Gpr::Rax) = tsc & 0xFFFFFFFF;
    s.reg(Gpr::Rdx) = tsc >> 32;
    if (with_aux) s.reg(Gpr::Rcx) = s.tsc_aux & 0xFFFFFFFF;
    return 0;
}

}  // namespace

const ir::HelperInfo kSoftIntHelper{"SoftInt", &SoftInt};
const ir::HelperInfo kCpuidHelper{"Cpuid", &Cpuid};
const ir::HelperInfo kRdtscHelper{"Rdtsc", &Rdtsc};

}  // namespace emu::cpu::translate
