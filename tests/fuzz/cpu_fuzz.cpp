// Decoder, translator and both CPU backends on random code (issue #16): the input is a snippet of up to 160 bytes,
// the registers and flags it starts with and patches of the data area; it runs in the differential tester's
// 64-bit CPL 3 sandbox (tests/diff/emu_runner.h) on the interpreter and on the JIT. Neither may crash, and they
// must end the same way: the same registers, flags, memory, exception (vector, error code, CR2) and instruction
// count (backend_compare.h).
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tests/diff/backend_compare.h"
#include "tests/diff/case.h"
#include "tests/diff/emu_runner.h"
#include "tests/diff/fp_values.h"
#include "tests/diff/rng.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace emu;
using namespace emu::diff;

struct Runners {
    Runners() : pristine(Pattern()), interp(pristine, cpu::Backend::Interpreter), jit(pristine, cpu::Backend::Jit) {}
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    static Runners runners;  // the sandboxes are built once; each Run starts from the pristine state
    fuzz::FuzzInput in(data, size);
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

    runners.interp.Run(input);
    runners.jit.Run(input);
    const std::vector<FieldDiff> diffs = CompareBackends(runners.interp, runners.jit);
    if (!diffs.empty()) {
        std::fprintf(stderr, "cpu_fuzz: the backends disagree:\n%s",
                     FormatBackendDiff(runners.interp, runners.jit, diffs).c_str());
        std::abort();
    }
    return 0;
}
