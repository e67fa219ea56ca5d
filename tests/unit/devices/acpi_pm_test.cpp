// ACPI PM fixed hardware (ACPI 6.x section 4.8.3): PM timer rate and width, PM1 status/enable and the SCI, and
// SLP_TYP/SLP_EN soft-off, through the I/O ports at 0x600.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/platform/acpi_pm.h"
#include "devices/platform/acpi_pm_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

struct PmEnv : TimerEnv {
    RecordingIrqLine sci;
    int power_offs = 0;
    AcpiPm pm{timers, sci, [this] { ++power_offs; }};

    u32 In32(u64 offset) { return test::In32(pm, offset); }
    u16 In16(u64 offset) { return test::In16(pm, offset); }
    void Out16(u64 offset, u16 value) { test::Out16(pm, offset, value); }
};

}  // namespace

TEST_CASE("acpi pm: the PM timer counts at 3.579545 MHz and wraps at 24 bits", "[devices][acpi_pm]") {
    PmEnv env;
    CHECK(env.In32(8) == 0);
    env.RunUntil(1'000'000'000);  // one second
    CHECK(env.In32(8) == 3'579'545);
    env.RunUntil(10'000'000);     // (the clock only moves forward; this is a no-op)
    // 2^24 ticks later (4.687 s) the 24-bit value has wrapped to the same reading.
    env.clock.Set(1'000'000'000 + (u64{1} << 24) * 1'000'000'000 / 3'579'545 + 1);
    const u32 v = env.In32(8);
    CHECK(v < (1u << 24));
    CHECK((v - 3'579'545) % (1u << 24) <= 1);
    CHECK(env.In16(10) == (v >> 16));  // a 16-bit read of the upper half
}

TEST_CASE("acpi pm: TMR_STS sets when timer bit 23 flips and raises the SCI when enabled", "[devices][acpi_pm]") {
    PmEnv env;
    CHECK((env.In16(0) & acpi_pm::kTmr) == 0);
    env.Out16(2, acpi_pm::kTmr);  // TMR_EN
    const u64 flip_ns = (u64{1} << 23) * 1'000'000'000 / 3'579'545;  // ~2.34 s
    env.RunUntil(flip_ns - 1000);
    CHECK_FALSE(env.sci.level);
    env.RunUntil(flip_ns + 1000);
    CHECK(env.sci.level);
    CHECK((env.In16(0) & acpi_pm::kTmr) != 0);
    env.Out16(0, acpi_pm::kTmr);  // write 1 to clear
    CHECK_FALSE(env.sci.level);
    CHECK((env.In16(0) & acpi_pm::kTmr) == 0);
}

TEST_CASE("acpi pm: power button status is write-1-to-clear and gated by its enable", "[devices][acpi_pm]") {
    PmEnv env;
    env.pm.PressPowerButton();
    CHECK((env.In16(0) & acpi_pm::kPwrBtn) != 0);
    CHECK_FALSE(env.sci.level);
    env.Out16(2, acpi_pm::kPwrBtn);
    CHECK(env.sci.level);
    env.Out16(0, 0);  // writing 0 clears nothing
    CHECK(env.sci.level);
    env.Out16(0, acpi_pm::kPwrBtn);
    CHECK_FALSE(env.sci.level);
}

TEST_CASE("acpi pm: SCI_EN reads 1; SLP_EN with SLP_TYP 0 (S5) powers off, other types do not",
          "[devices][acpi_pm]") {
    PmEnv env;
    CHECK((env.In16(4) & acpi_pm::kSciEn) != 0);
    env.Out16(4, 1u << 10);  // SLP_TYP 1 without SLP_EN: nothing
    CHECK(env.power_offs == 0);
    env.Out16(4, (1u << 10) | acpi_pm::kSlpEn);  // S3-style request: not supported
    CHECK(env.power_offs == 0);
    env.Out16(4, acpi_pm::kSlpEn);               // Linux's acpi_hw_legacy_sleep for \_S5 = {0, 0}
    CHECK(env.power_offs == 1);
    CHECK((env.In16(4) & acpi_pm::kSlpEn) == 0);  // write-only
    // A byte write to the high half carries SLP_TYP and SLP_EN together.
    const u8 hi = static_cast<u8>(acpi_pm::kSlpEn >> 8);
    env.pm.Write(5, std::span<const u8>(&hi, 1));
    CHECK(env.power_offs == 2);
}
