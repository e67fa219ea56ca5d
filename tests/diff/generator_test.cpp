// The generator checked against the host CPU: its cases must run natively without hanging or hitting
// anything outside the sandbox, fault only with the vectors it aims for, and be reproducible.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <vector>

#include "tests/diff/enabled_classes.h"
#include "tests/diff/generator.h"
#include "tests/diff/native_runner.h"

namespace emu::diff {
namespace {

TEST_CASE("a case depends only on the seed and its index", "[diff][generator]") {
    std::vector<u8> pristine(kDataSize);
    FillPristine(7, pristine);
    const Generator g1(42, pristine, HostFeatures::Detect(), {});
    const Generator g2(42, pristine, HostFeatures::Detect(), {});
    for (u64 i = 0; i < 200; ++i) {
        const GeneratedCase a = g1.Generate(i), b = g2.Generate(i);
        REQUIRE(a.input.code == b.input.code);
        REQUIRE(a.input.gpr == b.input.gpr);
        REQUIRE(a.input.rflags == b.input.rflags);
        REQUIRE(a.input.code_length > 0);
    }
    CHECK(g1.Generate(1).input.code != g1.Generate(2).input.code);
}

TEST_CASE("every class runs natively with only the exceptions it aims for", "[diff][generator]") {
    std::vector<u8> pristine(kDataSize);
    FillPristine(7, pristine);
    auto runner = NativeRunner::Start(pristine);
    REQUIRE(runner.ok());
    for (InsnClass cls : AllClasses()) {
        const Generator gen(99, pristine, HostFeatures::Detect(), {cls});
        std::vector<CaseInput> inputs;
        for (u64 i = 0; i < 400; ++i) inputs.push_back(gen.Generate(i).input);
        std::vector<CaseResult> results(inputs.size());
        REQUIRE((*runner)->Run(inputs, results).ok());
        std::map<int, unsigned> vectors;
        unsigned completed = 0;
        for (const CaseResult& r : results) {
            INFO("class " << ClassName(cls));
            REQUIRE(r.outcome != Outcome::Timeout);
            REQUIRE(r.outcome != Outcome::Crashed);
            if (r.outcome == Outcome::Completed) ++completed;
            else ++vectors[r.vector];
        }
        INFO("class " << ClassName(cls) << " completed " << completed);
        // x87 and SIMD classes also see #MF (pending unmasked x87 exceptions) and #XM (unmasked SIMD ones).
        const auto fp = FpClasses();
        const bool fp_class = std::find(fp.begin(), fp.end(), cls) != fp.end();
        for (auto [v, n] : vectors) {
            INFO("vector " << v << " x" << n);
            CHECK((v == 0 || v == 6 || v == 12 || v == 13 || v == 14 || (fp_class && (v == 16 || v == 19))));
        }
        const bool faults = cls == InsnClass::Invalid || cls == InsnClass::Privileged || cls == InsnClass::System;
        if (faults) CHECK(completed < 120);
        else CHECK(completed > 240);  // DIV and IDIV fault on purpose now and then
    }
}

}  // namespace
}  // namespace emu::diff
