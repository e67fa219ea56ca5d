// The interpreter-vs-JIT comparison must catch any difference between two emulator runs, including flags the SDM
// leaves undefined, and the fault injector must fail exactly the data access it is armed for.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "tests/diff/backend_compare.h"

namespace emu::diff {
namespace {

constexpr u64 kAf = 0x10;
constexpr u64 kStore = kDataBase + 0x100;

bool Has(const std::vector<FieldDiff>& diffs, std::string_view name) {
    return std::any_of(diffs.begin(), diffs.end(), [&](const FieldDiff& f) { return f.name.starts_with(name); });
}

struct Pair {
    std::vector<u8> pristine = std::vector<u8>(kDataSize);
    EmuRunner interp{pristine, cpu::Backend::Interpreter};
    EmuRunner jit{pristine, cpu::Backend::Jit};
    CaseInput in;

    // mov [rdi], rax; mov [rdi+8], rbx
    Pair() {
        const u8 code[] = {0x48, 0x89, 0x07, 0x48, 0x89, 0x5F, 0x08};
        std::copy(std::begin(code), std::end(code), in.code.begin());
        in.code_length = sizeof code;
        in.gpr[0] = 0x1111111111111111;
        in.gpr[3] = 0x2222222222222222;
        in.gpr[4] = kDataBase + 0xE000;
        in.gpr[7] = kStore;
    }
};

TEST_CASE("identical runs agree and a different undefined-or-not flag does not", "[diff][backend]") {
    Pair p;
    p.interp.Run(p.in);
    p.jit.Run(p.in);
    CHECK(CompareBackends(p.interp, p.jit).empty());
    CaseInput other = p.in;
    other.rflags ^= kAf;  // nothing here writes AF: the final values differ in AF alone
    p.jit.Run(other);
    const auto diffs = CompareBackends(p.interp, p.jit);
    CHECK(FieldNames(diffs) == "rflags");
}

TEST_CASE("a register, memory and the data accesses are compared", "[diff][backend]") {
    Pair p;
    p.interp.Run(p.in);
    CaseInput other = p.in;
    other.gpr[3] = 0x3333333333333333;
    p.jit.Run(other);
    auto diffs = CompareBackends(p.interp, p.jit);
    CHECK(FieldNames(diffs) == "rbx memory");
    other = p.in;
    other.gpr[7] += 16;
    p.jit.Run(other);
    diffs = CompareBackends(p.interp, p.jit);
    CHECK(Has(diffs, "rdi"));
    CHECK(Has(diffs, "memory"));
    CHECK(Has(diffs, "data access (#1)"));
    CHECK_FALSE(FormatBackendDiff(p.interp, p.jit, diffs).empty());
}

TEST_CASE("an injected fault fails the armed access and nothing after it", "[diff][backend]") {
    Pair p;
    const FaultInjection second{2, 0x7};
    const CaseResult& r = p.interp.Run(p.in, second);
    CHECK(p.interp.injected());
    CHECK(r.outcome == Outcome::Exception);
    CHECK(r.vector == 14);
    CHECK(r.error_code == 0x7);
    CHECK(r.cr2 == kStore + 8);
    CHECK(r.rip == kCodeBase + 3);
    REQUIRE(p.interp.accesses().size() == 2);
    CHECK(p.interp.accesses()[1] == DataAccess{kStore + 8, 8, cpu::MemAccess::Write, true, true});
    CHECK(r.num_changes == 8);  // the first store only (the pristine area is all zero)

    // The self-check's broken column: the faulting store lands anyway, which the comparison must see.
    p.jit.Run(p.in, FaultInjection{2, 0x7, true});
    CHECK(FieldNames(CompareBackends(p.interp, p.jit)) == "memory");
}

}  // namespace
}  // namespace emu::diff
