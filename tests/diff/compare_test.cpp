// The comparison must catch every kind of difference it claims to check, and ignore only what the case
// declares undefined.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

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

// Sets the bytes of an image stored at data offset `at` (offset within the image -> value) in a result's changes.
void Store(CaseResult& r, u16 at, std::initializer_list<std::pair<u16, u8>> bytes) {
    for (auto [offset, value] : bytes) r.changes[r.num_changes++] = MemChange{static_cast<u16>(at + offset), value, 0};
}

HostFeatures IntelHost() {
    HostFeatures h;
    h.intel_x87_pointers = h.fdp_excptn_only = h.fcs_fds_deprecated = true;
    return h;
}

TEST_CASE("x87 image pointers are masked only where the host's documented model differs", "[diff][compare]") {
    constexpr u16 kAt = 0x100;
    Pair p;
    p.c.x87_images[0] = X87Image{kAt, X87ImageKind::Fx32};
    // FSW.ES = 0; the host stored FIP (offset 8) and its zero FCS (12), the emulator zeros and CS 0x33.
    Store(p.native, kAt, {{2, 0x01}, {8, 0x10}});
    Store(p.emu, kAt, {{2, 0x01}, {12, 0x33}});
    CHECK(Has(Compare(p.c, p.native, p.emu), "memory"));
    CHECK(Compare(p.c, p.native, p.emu, IntelHost()).ok());
    HostFeatures fcs_only;
    fcs_only.fcs_fds_deprecated = true;
    CHECK(Has(Compare(p.c, p.native, p.emu, fcs_only), "memory"));  // FIP is not FCS
    // With ES = 1 both store FIP: a difference there is reported on any host.
    p = Pair{};
    p.c.x87_images[0] = X87Image{kAt, X87ImageKind::Fx32};
    Store(p.native, kAt, {{2, 0x81}, {8, 0x10}});
    Store(p.emu, kAt, {{2, 0x81}, {8, 0x20}});
    CHECK(Has(Compare(p.c, p.native, p.emu, IntelHost()), "memory"));
    // FNSTENV stores FIP on both; FOP (bits 26:16 of the dword at 16) only after an unmasked exception on Intel.
    p = Pair{};
    p.c.x87_images[0] = X87Image{kAt, X87ImageKind::Env32};
    Store(p.native, kAt, {{4, 0x01}});
    Store(p.emu, kAt, {{4, 0x01}, {18, 0xC1}});
    CHECK(Has(Compare(p.c, p.native, p.emu), "memory"));
    CHECK(Compare(p.c, p.native, p.emu, IntelHost()).ok());
    p.emu.changes[p.emu.num_changes++] = MemChange{static_cast<u16>(kAt + 12), 0x44, 0};  // FIP
    CHECK(Has(Compare(p.c, p.native, p.emu, IntelHost()), "memory"));
    // Bytes outside the images are never masked.
    p = Pair{};
    Store(p.emu, kAt, {{8, 0x10}});
    CHECK(Has(Compare(p.c, p.native, p.emu, IntelHost()), "memory"));
}

TEST_CASE("a faulting MMX store may show the MMX transition only on a host that makes it", "[diff][compare]") {
    Pair p;
    const std::array<u8, 3> movq_store{0x0F, 0x7F, 0x00};  // movq qword ptr [rax], mm0
    std::copy(movq_store.begin(), movq_store.end(), p.c.input.code.begin());
    p.c.input.code_length = 3;
    p.native.outcome = p.emu.outcome = Outcome::Exception;
    p.native.vector = p.emu.vector = 14;
    p.native.rip = p.emu.rip = kCodeBase;
    p.native.cr2 = p.emu.cr2 = kGuardBase;
    p.native.error_code = p.emu.error_code = 6;
    // The emulator: TOP = 5, ST(i) is physical register (5 + i) & 7. The host: TOP = 0, ST(i) is register i.
    const u16 emu_fsw = 5 << 11, native_fsw = 0;
    std::memcpy(p.emu.fx.data() + fx::kFsw, &emu_fsw, 2);
    std::memcpy(p.native.fx.data() + fx::kFsw, &native_fsw, 2);
    for (unsigned phys = 0; phys < 8; ++phys) {
        p.native.fx[fx::kSt + 16 * phys] = static_cast<u8>(0x10 + phys);
        p.emu.fx[fx::kSt + 16 * ((phys - 5) & 7)] = static_cast<u8>(0x10 + phys);
    }
    HostFeatures host;
    CHECK(Has(Compare(p.c, p.native, p.emu, host), "fsw"));
    host.mmx_store_fault_sets_top = true;
    CHECK(Compare(p.c, p.native, p.emu, host).ok());
    p.emu.fx[fx::kSt + 16 * ((2 - 5) & 7)] ^= 1;  // physical register 2 really differs: the host's ST(2)
    CHECK(Has(Compare(p.c, p.native, p.emu, host), "st2"));
    p.emu.fx[fx::kSt + 16 * ((2 - 5) & 7)] ^= 1;
    p.c.input.code[1] = 0x6F;  // movq mm0, qword ptr [rax]: a load, no transition
    CHECK(Has(Compare(p.c, p.native, p.emu, host), "fsw"));
}

}  // namespace
}  // namespace emu::diff
