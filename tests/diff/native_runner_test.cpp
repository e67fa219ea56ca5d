// Self-test of the native runner alone: snippets whose results the SDM states, run on the host CPU.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "tests/diff/native_runner.h"

namespace emu::diff {
namespace {

constexpr u64 kCF = 1, kPF = 4, kAF = 0x10, kZF = 0x40, kSF = 0x80, kOF = 0x800, kArith = 0x8D5;

CaseInput MakeCase(std::vector<u8> code, u64 rflags = 0x202) {
    CaseInput in;
    in.code_length = static_cast<u8>(code.size());
    std::copy(code.begin(), code.end(), in.code.begin());
    in.rflags = rflags;
    in.gpr[4] = kDataBase + 0x8000;  // RSP inside the data area
    return in;
}

struct Env {
    std::vector<u8> pristine = std::vector<u8>(kDataSize);
    std::unique_ptr<NativeRunner> runner;
    Env() {
        FillPristine(1, pristine);
        auto r = NativeRunner::Start(pristine);
        REQUIRE(r.ok());
        runner = std::move(*r);
    }
    CaseResult Run(const CaseInput& in) {
        std::vector<CaseInput> cases{in};
        std::vector<CaseResult> results(1);
        REQUIRE(runner->Run(cases, results).ok());
        return results[0];
    }
};

TEST_CASE("ADD AL,1 on 0x7F sets OF, SF and AF and clears CF, ZF and PF", "[diff][native]") {
    Env env;
    CaseInput in = MakeCase({0x04, 0x01}, 0x202 | kCF | kZF | kPF);
    in.gpr[0] = 0x1122334455667F;
    const CaseResult r = env.Run(in);
    REQUIRE(r.outcome == Outcome::Completed);
    CHECK(r.gpr[0] == 0x11223344556680);
    CHECK((r.rflags & kArith) == (kOF | kSF | kAF));
    CHECK(r.rip == kCodeBase + 2);
    CHECK(r.num_changes == 0);
}

TEST_CASE("ADD AL,BL on 0xFF+1 sets CF, ZF, PF and AF", "[diff][native]") {
    Env env;
    CaseInput in = MakeCase({0x00, 0xD8});
    in.gpr[0] = 0xFF;
    in.gpr[3] = 1;
    const CaseResult r = env.Run(in);
    REQUIRE(r.outcome == Outcome::Completed);
    CHECK(r.gpr[0] == 0);
    CHECK((r.rflags & kArith) == (kCF | kZF | kPF | kAF));
}

TEST_CASE("initial registers and flags reach the snippet and come back unchanged through a NOP", "[diff][native]") {
    Env env;
    CaseInput in = MakeCase({0x90}, 0x202 | kArith | 0x400);
    for (unsigned i = 0; i < 16; ++i) if (i != 4) in.gpr[i] = 0x0101010101010101ull * (i + 1);
    const CaseResult r = env.Run(in);
    REQUIRE(r.outcome == Outcome::Completed);
    CHECK(r.gpr == in.gpr);
    CHECK((r.rflags & (kArith | 0x400)) == (kArith | 0x400));
}

TEST_CASE("DIV by zero raises #DE at the DIV with the registers before it", "[diff][native]") {
    Env env;
    CaseInput in = MakeCase({0x48, 0xFF, 0xC0, 0x48, 0xF7, 0xF1});  // inc rax; div rcx
    in.gpr[0] = 5;
    const CaseResult r = env.Run(in);
    REQUIRE(r.outcome == Outcome::Exception);
    CHECK(r.vector == 0);
    CHECK(r.rip == kCodeBase + 3);
    CHECK(r.gpr[0] == 6);
}

TEST_CASE("UD2 raises #UD", "[diff][native]") {
    Env env;
    const CaseResult r = env.Run(MakeCase({0x0F, 0x0B}));
    REQUIRE(r.outcome == Outcome::Exception);
    CHECK(r.vector == 6);
    CHECK(r.rip == kCodeBase);
}

TEST_CASE("a non-canonical address raises #GP(0) and an unmapped one #PF with CR2", "[diff][native]") {
    Env env;
    CaseInput gp = MakeCase({0x8B, 0x03});  // mov eax, [rbx]
    gp.gpr[3] = 0x8000000000000000ull;
    const CaseResult r1 = env.Run(gp);
    REQUIRE(r1.outcome == Outcome::Exception);
    CHECK(r1.vector == 13);
    CHECK(r1.error_code == 0);

    CaseInput pf = MakeCase({0x89, 0x43, 0x7E});  // mov [rbx+0x7E], eax: crosses into the guard range
    pf.gpr[3] = kGuardBase - 0x80;
    const CaseResult r2 = env.Run(pf);
    REQUIRE(r2.outcome == Outcome::Exception);
    CHECK(r2.vector == 14);
    CHECK(r2.cr2 == kGuardBase);
    CHECK((r2.error_code & 7) == 6);  // not present, write, user
    CHECK(r2.num_changes == 0);       // a faulting store writes nothing
}

TEST_CASE("stores to the data area are reported and undone before the next case", "[diff][native]") {
    Env env;
    CaseInput in = MakeCase({0x89, 0x03, 0x50});  // mov [rbx], eax; push rax
    in.gpr[0] = 0xAABBCCDD;
    in.gpr[3] = kDataBase + 0x100;
    const CaseResult r = env.Run(in);
    REQUIRE(r.outcome == Outcome::Completed);
    CHECK(r.gpr[4] == kDataBase + 0x8000 - 8);
    unsigned at_rbx = 0, at_stack = 0;
    for (unsigned i = 0; i < r.num_changes; ++i) {
        if (r.changes[i].offset >= 0x100 && r.changes[i].offset < 0x104) ++at_rbx;
        if (r.changes[i].offset >= 0x7FF8 && r.changes[i].offset < 0x8000) ++at_stack;
    }
    CHECK(at_rbx + at_stack == r.num_changes);
    CHECK(at_rbx >= 1);  // a random pristine byte may equal the stored one
    const CaseResult again = env.Run(MakeCase({0x90}));
    CHECK(again.num_changes == 0);
}

TEST_CASE("a runaway snippet times out and the next case still runs", "[diff][native]") {
    Env env;
    env.runner->set_timeout_ms(300);
    std::vector<CaseInput> cases{MakeCase({0xEB, 0xFE}), MakeCase({0x04, 0x01})};
    std::vector<CaseResult> results(2);
    REQUIRE(env.runner->Run(cases, results).ok());
    CHECK(results[0].outcome == Outcome::Timeout);
    CHECK(results[1].outcome == Outcome::Completed);
}

TEST_CASE("many cases in a row keep the runner in sync", "[diff][native]") {
    Env env;
    std::vector<CaseInput> cases;
    for (unsigned i = 0; i < 1000; ++i) {
        CaseInput in = MakeCase({0x48, 0x01, 0xC8});  // add rax, rcx
        in.gpr[0] = i;
        in.gpr[1] = 3 * i;
        cases.push_back(in);
    }
    std::vector<CaseResult> results(cases.size());
    REQUIRE(env.runner->Run(cases, results).ok());
    for (unsigned i = 0; i < cases.size(); ++i) REQUIRE(results[i].gpr[0] == 4 * i);
}

TEST_CASE("the host probes agree with what the runner sees the same instructions do", "[diff][native]") {
    const HostProbes probes = ProbeHost();
    Env env;
    // PTWRITE EAX: runs, or #UD.
    const CaseResult ptwrite = env.Run(MakeCase({0xF3, 0x0F, 0xAE, 0xE0}));
    CHECK((ptwrite.outcome == Outcome::Completed) == probes.ptwrite);
    if (!probes.ptwrite) CHECK(ptwrite.vector == 6);
    // REPNE SCASB with a 32-bit address size and ECX = 0.
    CaseInput rep = MakeCase({0x67, 0xF2, 0xAE});
    rep.gpr[1] = 0xA5A5A5A500000000ull;
    rep.gpr[7] = kDataBase;
    const CaseResult r = env.Run(rep);
    REQUIRE(r.outcome == Outcome::Completed);
    CHECK((r.gpr[1] == 0) == probes.rep_a32_zero_count_clears_rcx);
    CHECK((r.gpr[1] == rep.gpr[1]) == !probes.rep_a32_zero_count_clears_rcx);
    // FLDCW [data] with #I unmasked (FCW 037E), then FSTP m32 to the guard range with the stack empty.
    CaseInput fst = MakeCase({0xD9, 0x2C, 0x25, 0x00, 0x00, 0x00, 0x20,    // fldcw [0x20000000]
                              0xD9, 0x1C, 0x25, 0x00, 0x00, 0x01, 0x20});  // fstp dword [kGuardBase]
    fst.num_patches = 1;
    fst.patches[0].offset = 0;
    fst.patches[0].length = 2;
    fst.patches[0].bytes[0] = 0x7E;
    fst.patches[0].bytes[1] = 0x03;
    const u16 fcw = 0x037F;  // FXRSTOR's FCW before the FLDCW; all registers empty
    std::memcpy(fst.fx.data() + fx::kFcw, &fcw, 2);
    const u32 mxcsr = 0x1F80;
    std::memcpy(fst.fx.data() + fx::kMxcsr, &mxcsr, 4);
    const CaseResult f = env.Run(fst);
    CHECK((f.outcome == Outcome::Completed) == probes.x87_suppressed_store_skips_checks);
    if (!probes.x87_suppressed_store_skips_checks) CHECK(f.vector == 14);
}

}  // namespace
}  // namespace emu::diff
