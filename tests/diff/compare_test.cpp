// The comparison must catch every kind of difference it claims to check, and ignore only what the case
// declares undefined.
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/diff/compare.h"

namespace emu::diff {
namespace {

bool Has(const Verdict& v, const std::string& field) {
    return std::find(v.fields.begin(), v.fields.end(), field) != v.fields.end();
}

struct Pair {
    GeneratedCase c;
    CaseResult native, emu;
    Pair() {
        c.input.code_length = 1;
        c.input.code[0] = 0x90;
        native.outcome = Outcome::Completed;
        native.rflags = 0x202;
        native.rip = kCodeBase + 1;
        emu = native;
    }
};

TEST_CASE("identical outcomes agree", "[diff][compare]") {
    Pair p;
    CHECK(Compare(p.c, p.native, p.emu).ok());
}

TEST_CASE("a defined flag that differs is reported, an undefined one is not", "[diff][compare]") {
    Pair p;
    p.emu.rflags ^= 0x10;  // AF
    CHECK(Has(Compare(p.c, p.native, p.emu), "rflags"));
    p.c.undefined_flags = 0x10;
    CHECK(Compare(p.c, p.native, p.emu).ok());
    p.emu.rflags ^= 0x10000;  // RF is not compared: hardware sets it in fault frames
    CHECK(Compare(p.c, p.native, p.emu).ok());
}

TEST_CASE("registers, RIP and memory differences are reported", "[diff][compare]") {
    Pair p;
    p.emu.gpr[9] = 1;
    p.emu.rip += 1;
    p.emu.num_changes = 1;
    p.emu.changes[0] = MemChange{0x10, 0xAA, 0};
    const Verdict v = Compare(p.c, p.native, p.emu);
    CHECK(Has(v, "r9"));
    CHECK(Has(v, "rip"));
    CHECK(Has(v, "memory"));
    p.c.undefined_gprs = 1u << 9;
    CHECK_FALSE(Has(Compare(p.c, p.native, p.emu), "r9"));
}

TEST_CASE("exceptions must agree in vector, error code and CR2", "[diff][compare]") {
    Pair p;
    p.native.outcome = p.emu.outcome = Outcome::Exception;
    p.native.vector = p.emu.vector = 14;
    p.native.error_code = 6;
    p.emu.error_code = 4;
    p.native.cr2 = p.emu.cr2 = kGuardBase;
    CHECK(Has(Compare(p.c, p.native, p.emu), "error_code"));
    p.emu.error_code = 6 | 0x20;  // protection-key bit: not compared
    CHECK(Compare(p.c, p.native, p.emu).ok());
    p.emu.cr2 += 1;
    CHECK(Has(Compare(p.c, p.native, p.emu), "cr2"));
    p.emu.vector = 13;
    CHECK(Has(Compare(p.c, p.native, p.emu), "vector"));
    p.emu.outcome = Outcome::Completed;
    CHECK(Has(Compare(p.c, p.native, p.emu), "outcome"));
}

TEST_CASE("a native timeout is a tester problem, not an emulator mismatch", "[diff][compare]") {
    Pair p;
    p.native.outcome = Outcome::Timeout;
    const Verdict v = Compare(p.c, p.native, p.emu);
    CHECK(v.native_trouble);
    CHECK(v.fields.empty());
}

}  // namespace
}  // namespace emu::diff
