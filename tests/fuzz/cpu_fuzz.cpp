// Decoder, translator and both CPU backends on random code (issue #16): the input is the CPU mode, a snippet of up to
// 160 bytes, the registers and flags it starts with and patches of the data area; it runs in the differential
// tester's sandbox (tests/diff/emu_runner.h: code and data at fixed linear addresses, no paging, no IDT) on the
// interpreter and on the JIT. Neither may crash, and they must end the same way: the same registers, flags, memory,
// exception (vector, error code, CR2) and instruction count (backend_compare.h).
//
// Modes: real mode, 16- and 32-bit protected mode, 64-bit mode and compatibility mode with 16- or 32-bit code, each
// protected one at CPL 0 or 3. 16-bit code runs with CS based at the code page and the data segments at the data
// area, so that 16-bit offsets reach both; the others use flat segments.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "emu/common/log.h"
#include "tests/diff/backend_compare.h"
#include "tests/diff/case.h"
#include "tests/diff/emu_runner.h"
#include "tests/diff/fp_values.h"
#include "tests/diff/rng.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace emu;
using namespace emu::diff;

// A loop that rewrites its own next instruction is translated again at every iteration: 0.2-0.5 ms under ASan (15 us
// natively). At the differential tester's 100,000 instructions one input took 40 s, at 20,000 another took 4 s alone
// and 65 s on a loaded machine (libFuzzer timeouts). 5,000 still runs loops of a thousand iterations to their end.
constexpr u64 kFuzzInstructionLimit = 5000;

struct Runners {
    Runners() : pristine(Pattern()), interp(pristine, cpu::Backend::Interpreter), jit(pristine, cpu::Backend::Jit) {
        interp.SetInstructionLimit(kFuzzInstructionLimit);
        jit.SetInstructionLimit(kFuzzInstructionLimit);
    }
    static std::vector<u8> Pattern() {
        std::vector<u8> bytes(kDataSize);
        FillPristine(0x5EED, bytes);
        return bytes;
    }
    std::vector<u8> pristine;
    EmuRunner interp, jit;
};

// Register values: often pointers into the data area (so that memory operands hit mapped memory, the guard area
// or the page boundary), otherwise any 64-bit value.
u64 TakeRegister(fuzz::FuzzInput& in) {
    const u8 kind = in.Take<u8>();
    const u64 raw = in.Take<u64>();
    if (kind < 128) return kDataBase + raw % (kDataSize + kGuardSize / 16);
    if (kind < 160) return raw & 0xFF;
    return raw;
}

enum class Mode : u8 { Real, Protected16, Protected32, Long64, Compat16, Compat32, kCount };

// Access rights as in cpu_state.h: type[3:0], S[4], DPL[6:5], P[7], L[13], D/B[14], G[15].
constexpr u32 kCode = 0xB | 0x10 | 0x80, kData = 0x3 | 0x10 | 0x80, kLong = 0x2000, kBig = 0x4000 | 0x8000;

// The runner starts in 64-bit mode at CPL 3; this moves the state to `mode` at `cpl`.
void EnterMode(cpu::CpuState& s, Mode mode, unsigned cpl) {
    using namespace cpu;
    const bool code16 = mode == Mode::Real || mode == Mode::Protected16 || mode == Mode::Compat16;
    const bool long_mode = mode == Mode::Long64 || mode == Mode::Compat16 || mode == Mode::Compat32;
    if (mode == Mode::Real) cpl = 0;
    const u32 dpl = cpl << 5;
    if (!long_mode) {
        s.efer &= ~(efer::LME | efer::LMA);
        s.cr0 &= ~u64{cr0::PG};
    }
    if (mode == Mode::Real) s.cr0 &= ~u64{cr0::PE};
    const u16 rpl = static_cast<u16>(cpl);
    const u64 data_base = code16 ? kDataBase : 0;
    const u32 limit = code16 ? 0xFFFF : 0xFFFFFFFF;
    const u32 data_rights = kData | dpl | (code16 ? 0 : kBig);
    u32 code_rights = kCode | dpl;
    if (mode == Mode::Long64) code_rights |= kLong | 0x8000;
    else if (!code16) code_rights |= kBig;
    const u16 code_selector = mode == Mode::Real ? 0 : static_cast<u16>(0x10 | rpl);
    const u16 data_selector = mode == Mode::Real ? 0 : static_cast<u16>(0x18 | rpl);
    s.segment(SegReg::Cs) = Segment{code_selector, code16 ? kCodeBase : 0, limit, code_rights};
    for (SegReg r : {SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs}) {
        s.segment(r) = Segment{data_selector, data_base, limit, data_rights};
    }
    if (code16) s.rip = 0;
    if (mode != Mode::Long64) {
        for (u64& reg : s.gpr) reg &= 0xFFFFFFFF;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    static Runners runners;  // the sandboxes are built once; each Run starts from the pristine state
    static const bool logging = [] {  // EMU64_FUZZ_LOG=in_asm,exec,... (as -d) to triage a replayed input
        std::string bad;
        const char* items = std::getenv("EMU64_FUZZ_LOG");
        const std::optional<u32> mask = items ? log::ParseCategories(items, &bad) : std::nullopt;
        if (mask) log::SetEnabled(*mask);
        if (mask) log::Logger().flush_on(spdlog::level::trace);  // a disagreement aborts: keep every line
        return mask.has_value();
    }();
    (void)logging;
    fuzz::FuzzInput in(data, size);
    const u8 mode_byte = in.Take<u8>();
    const auto mode = static_cast<Mode>(mode_byte % static_cast<u8>(Mode::kCount));
    const unsigned cpl = mode_byte & 0x80 ? 3 : 0;
    CaseInput input;
    for (u64& reg : input.gpr) reg = TakeRegister(in);
    input.gpr[4] = kDataBase + kDataSize - 0x100;  // RSP: a stack inside the data area
    input.rflags = (in.Take<u32>() & 0xCD5) | 0x202;  // status flags and DF; IF set as at CPL 3
    Rng fp_rng(in.Take<u64>());  // the x87/SSE state: a value mix the differential tester uses
    gen::RandomFpState(fp_rng, input.fx);
    input.num_patches = static_cast<u8>(in.TakeBelow(kMaxPatches + 1));
    for (unsigned i = 0; i < input.num_patches; ++i) {
        MemPatch& patch = input.patches[i];
        patch.offset = static_cast<u16>(in.Take<u16>() % (kDataSize - kPatchBytes));
        patch.length = static_cast<u8>(1 + in.TakeBelow(kPatchBytes));
        for (u8& b : patch.bytes) b = in.Take<u8>();
    }
    const auto code = in.Rest().first(std::min<size_t>(in.Rest().size(), kMaxCodeBytes));
    input.code_length = static_cast<u8>(code.size());
    std::copy(code.begin(), code.end(), input.code.begin());

    const EmuRunner::StateAdjust adjust = [&](cpu::CpuState& s) { EnterMode(s, mode, cpl); };
    runners.interp.Run(input, {}, adjust);
    runners.jit.Run(input, {}, adjust);
    const std::vector<FieldDiff> diffs = CompareBackends(runners.interp, runners.jit);
    if (!diffs.empty()) {
        std::fprintf(stderr, "cpu_fuzz: the backends disagree (mode %u, CPL %u):\n%s", static_cast<unsigned>(mode), cpl,
                     FormatBackendDiff(runners.interp, runners.jit, diffs).c_str());
        std::abort();
    }
    return 0;
}
