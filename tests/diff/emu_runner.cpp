#include "tests/diff/emu_runner.h"

#include <algorithm>
#include <cstring>

#include "tests/diff/fx_state.h"

namespace emu::diff {

namespace {
constexpr u8 kHlt = 0xF4;
// Access rights as in cpu_state.h: type[3:0], S[4], DPL[6:5], P[7], L[13], D/B[14], G[15].
constexpr u32 kUserCode64 = 0xB | 0x10 | 0x60 | 0x80 | 0x2000 | 0x8000;
constexpr u32 kUserData = 0x3 | 0x10 | 0x60 | 0x80 | 0x4000 | 0x8000;
}  // namespace

EmuRunner::EmuRunner(std::span<const u8> pristine, cpu::Backend backend)
    : backend_(backend), pristine_(pristine.begin(), pristine.end()), vcpu_(front_, backend) {
    pristine_.resize(kDataSize);
    std::memcpy(memory_.data().data(), pristine_.data(), kDataSize);
}

void EmuRunner::SetUpState(const CaseInput& input) {
    using namespace cpu;
    CpuState& s = vcpu_.state();
    ResetState(s);
    s.cr0 = cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::AM | cr0::PG;
    s.cr4 = cr4::PAE | cr4::PGE | cr4::OSFXSR | cr4::OSXMMEXCPT;
    s.efer = efer::SCE | efer::LME | efer::LMA | efer::NXE;
    s.segment(SegReg::Cs) = Segment{0x33, 0, 0xFFFFFFFF, kUserCode64};
    // The selectors of a Linux 64-bit process: SS = __USER_DS, DS = ES = 0 (visible in the x87 FDS).
    s.segment(SegReg::Ss) = Segment{0x2B, 0, 0xFFFFFFFF, kUserData};
    for (SegReg r : {SegReg::Ds, SegReg::Es}) s.segment(r) = Segment{0, 0, 0xFFFFFFFF, kUserData};
    s.segment(SegReg::Fs) = Segment{0, 0, 0xFFFFFFFF, kUserData};
    s.segment(SegReg::Gs) = Segment{0, 0, 0xFFFFFFFF, kUserData};
    s.idtr = DescriptorTable{0, 0};  // no IDT: the first exception stops the run
    s.gdtr = DescriptorTable{0, 0};
    s.tr = Segment{0x40, 0, 0x67, 0x8B};  // a busy 64-bit TSS without an I/O bitmap
    s.xcr0 = 3;  // x87 | SSE, as XSAVE with EDX:EAX = 3 sees it on the host
    s.cr4 |= cr4::OSXSAVE;
    LoadFx(input.fx, s);
    s.gpr = input.gpr;
    s.rflags = (input.rflags & ~u64{0x3000}) | 0x202;
    s.rip = kCodeBase;
    s.halted = false;
}

const CaseResult& EmuRunner::Run(const CaseInput& input, FaultInjection injection, const StateAdjust& adjust) {
    CaseResult& out = result_;
    out = CaseResult{};
    const unsigned len = std::min<unsigned>(input.code_length, kMaxCodeBytes);
    std::span<u8> code = memory_.code();
    std::fill(code.begin(), code.end(), u8{0});
    std::copy_n(input.code.begin(), len, code.begin());
    code[len] = kHlt;
    ApplyPatches(input, memory_.data());
    SetUpState(input);
    if (adjust) adjust(vcpu_.state());
    const u64 end = vcpu_.state().rip + len;
    vcpu_.InvalidateAllCode();
    front_.Arm(injection);

    const cpu::RunResult r = vcpu_.Run(instruction_limit_);
    instructions_ = r.instructions;
    const cpu::CpuState& s = vcpu_.state();
    out.gpr = s.gpr;
    out.rflags = s.rflags;
    StoreFx(s, out.fx);
    switch (r.reason) {
        case cpu::StopReason::Halted:
            out.outcome = Outcome::Completed;
            out.rip = s.rip - 1;  // after the HLT
            break;
        case cpu::StopReason::Exception:
            if (r.exception && r.exception->rip == end && r.exception->vector == cpu::vec::GP) {
                out.outcome = Outcome::Completed;  // our HLT at CPL 3
                out.rip = end;
            } else if (r.exception) {
                out.outcome = Outcome::Exception;
                out.vector = r.exception->vector;
                out.error_code = r.exception->has_error_code ? r.exception->error_code : 0;
                out.cr2 = r.exception->vector == cpu::vec::PF ? r.exception->cr2 : 0;
                out.rip = r.exception->rip;
            } else {
                out.outcome = Outcome::Crashed;
            }
            break;
        case cpu::StopReason::InstructionLimit: out.outcome = Outcome::Timeout; out.rip = s.rip; break;
        default: out.outcome = Outcome::Crashed; out.rip = s.rip; break;
    }
    CollectChangesAndRestore(memory_.data(), pristine_, out);
    return out;
}

std::string_view BackendName(cpu::Backend backend) {
    return backend == cpu::Backend::Jit ? "jit" : "interp";
}

}  // namespace emu::diff
