// MC146818A behaviour (MC146818A datasheet: registers A-D, data modes, update cycle, periodic rates) with a
// fake clock. Expected calendar values were computed independently (Python's calendar.timegm).
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/timer/rtc.h"
#include "devices/timer/rtc_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

constexpr i64 kFri20240315_134530 = 1710510330;  // Friday 2024-03-15 13:45:30 UTC
constexpr i64 kFri20240315_000500 = 1710461100;
constexpr i64 kFri20240315_120000 = 1710504000;
constexpr i64 kFri19991231_235958 = 946684798;
constexpr u64 kSec = 1'000'000'000;

struct RtcEnv : TimerEnv {
    RecordingIrqLine irq8;
    Rtc rtc{timers, irq8, kFri20240315_134530};

    u8 Reg(u8 index) {
        Out8(rtc.Ports(), 0, index);
        return In8(rtc.Ports(), 1);
    }
    void SetReg(u8 index, u8 value) {
        Out8(rtc.Ports(), 0, index);
        Out8(rtc.Ports(), 1, value);
    }
    // Runs to `ns`, servicing IRQ8 like a guest handler (read C) and counting the interrupts.
    int CountInterrupts(u64 ns, u8* flags_seen = nullptr) {
        int count = 0;
        RunUntil(ns, [&] {
            if (!irq8.level) return;
            const u8 c = Reg(rtc::kRegC);
            if (flags_seen) *flags_seen |= c;
            ++count;
        });
        return count;
    }
};

}  // namespace

TEST_CASE("time registers read in BCD, 24-hour by default (register B = 0x02)", "[devices][rtc]") {
    RtcEnv env;
    CHECK(env.Reg(rtc::kRegB) == 0x02);
    CHECK(env.Reg(rtc::kSeconds) == 0x30);
    CHECK(env.Reg(rtc::kMinutes) == 0x45);
    CHECK(env.Reg(rtc::kHours) == 0x13);
    CHECK(env.Reg(rtc::kDayOfWeek) == 6);  // Sunday = 1
    CHECK(env.Reg(rtc::kDayOfMonth) == 0x15);
    CHECK(env.Reg(rtc::kMonth) == 0x03);
    CHECK(env.Reg(rtc::kYear) == 0x24);
    CHECK(env.Reg(rtc::kCentury) == 0x20);
    CHECK(env.Reg(rtc::kRegD) == rtc::kDVrt);
}

TEST_CASE("DM = 1 selects binary data", "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(rtc::kRegB, rtc::kB24h | rtc::kBDm);
    CHECK(env.Reg(rtc::kSeconds) == 30);
    CHECK(env.Reg(rtc::kHours) == 13);
    CHECK(env.Reg(rtc::kYear) == 24);
}

TEST_CASE("12-hour mode: hours 1-12 with bit 7 for PM, midnight is 12 AM", "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(rtc::kRegB, 0x00);  // BCD, 12-hour
    CHECK(env.Reg(rtc::kHours) == 0x81);
    env.SetReg(rtc::kRegB, rtc::kBDm);  // binary, 12-hour
    CHECK(env.Reg(rtc::kHours) == 0x81);
    env.SetReg(rtc::kRegB, 0x00);
    env.rtc.SetTime(kFri20240315_000500);
    CHECK(env.Reg(rtc::kHours) == 0x12);
    env.rtc.SetTime(kFri20240315_120000);
    CHECK(env.Reg(rtc::kHours) == 0x92);
}

TEST_CASE("the clock advances once per second and carries into minutes, days and the century",
          "[devices][rtc]") {
    RtcEnv env;
    env.RunUntil(90 * kSec);
    CHECK(env.Reg(rtc::kMinutes) == 0x47);
    CHECK(env.Reg(rtc::kSeconds) == 0x00);
    env.rtc.SetTime(kFri19991231_235958);
    env.RunUntil(92 * kSec);
    CHECK(env.Reg(rtc::kYear) == 0x00);
    CHECK(env.Reg(rtc::kCentury) == 0x20);
    CHECK(env.Reg(rtc::kMonth) == 0x01);
    CHECK(env.Reg(rtc::kDayOfMonth) == 0x01);
    CHECK(env.Reg(rtc::kDayOfWeek) == 7);  // 2000-01-01 was a Saturday
}

TEST_CASE("UIP is set during the 244 us before an update, and the time changes only after it",
          "[devices][rtc]") {
    RtcEnv env;
    env.RunUntil(kSec - 250'000);
    CHECK((env.Reg(rtc::kRegA) & rtc::kAUip) == 0);
    env.RunUntil(kSec - 200'000);
    CHECK((env.Reg(rtc::kRegA) & rtc::kAUip) != 0);
    CHECK(env.Reg(rtc::kSeconds) == 0x30);
    env.RunUntil(kSec);
    CHECK((env.Reg(rtc::kRegA) & rtc::kAUip) == 0);
    CHECK(env.Reg(rtc::kSeconds) == 0x31);
}

TEST_CASE("SET halts updates; the written time runs from when SET clears", "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(rtc::kRegB, rtc::kBSet | rtc::kB24h);
    env.SetReg(rtc::kHours, 0x07);
    env.SetReg(rtc::kMinutes, 0x08);
    env.SetReg(rtc::kSeconds, 0x09);
    env.RunUntil(5 * kSec);
    CHECK(env.Reg(rtc::kSeconds) == 0x09);  // frozen
    CHECK((env.Reg(rtc::kRegA) & rtc::kAUip) == 0);
    env.SetReg(rtc::kRegB, rtc::kB24h);
    env.RunUntil(7 * kSec + 1);
    CHECK(env.Reg(rtc::kHours) == 0x07);
    CHECK(env.Reg(rtc::kMinutes) == 0x08);
    CHECK(env.Reg(rtc::kSeconds) == 0x11);
    CHECK(env.Reg(rtc::kDayOfMonth) == 0x15);  // the date was left alone
    CHECK(env.rtc.Time() == kFri20240315_000500 - 5 * 60 + 7 * 3600 + 8 * 60 + 11);
}

TEST_CASE("periodic interrupt: RS selects 32768 >> (RS - 1) Hz and IRQ8 holds until C is read",
          "[devices][rtc]") {
    RtcEnv env;
    // Register A = 0x26 (BIOS default): RS = 6 -> 1024 Hz.
    CHECK((env.Reg(rtc::kRegA) & 0x7F) == 0x26);
    env.SetReg(rtc::kRegB, rtc::kB24h | rtc::kBPie);
    u8 flags = 0;
    CHECK(env.CountInterrupts(kSec, &flags) == 1024);
    CHECK((flags & (rtc::kCIrqf | rtc::kCPf)) == (rtc::kCIrqf | rtc::kCPf));
    CHECK((flags & rtc::kCAf) == 0);  // UF may also show: it is set by every update, enabled or not

    env.SetReg(rtc::kRegA, rtc::kADivider32k | 15);  // RS = 15 -> 2 Hz
    CHECK(env.CountInterrupts(2 * kSec) == 2);
    env.SetReg(rtc::kRegA, rtc::kADivider32k | 3);  // RS = 3 -> 8192 Hz
    CHECK(env.CountInterrupts(2 * kSec + kSec / 8) == 1024);
    env.SetReg(rtc::kRegA, rtc::kADivider32k | 1);  // RS = 1 repeats RS = 8: 256 Hz
    CHECK(env.CountInterrupts(3 * kSec + kSec / 8) == 256);
}

TEST_CASE("an unserviced periodic interrupt raises IRQ8 once; PF is set without PIE but IRQF is not",
          "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(rtc::kRegB, rtc::kB24h | rtc::kBPie);
    env.RunUntil(kSec / 10);
    CHECK(env.irq8.rising_edges == 1);
    CHECK(env.Reg(rtc::kRegC) == (rtc::kCIrqf | rtc::kCPf));
    CHECK_FALSE(env.irq8.level);
    CHECK(env.Reg(rtc::kRegC) == 0);  // reading C cleared it

    env.SetReg(rtc::kRegB, rtc::kB24h);
    env.RunUntil(kSec / 5);
    CHECK(env.Reg(rtc::kRegC) == rtc::kCPf);
    CHECK(env.irq8.rising_edges == 1);
}

TEST_CASE("update-ended interrupt fires once per second with UF", "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(rtc::kRegB, rtc::kB24h | rtc::kBUie);
    u8 flags = 0;
    CHECK(env.CountInterrupts(3 * kSec + 1, &flags) == 3);
    CHECK((flags & rtc::kCUf) != 0);
}

TEST_CASE("alarm interrupt fires when seconds/minutes/hours match; 0xC0-0xFF bytes match anything",
          "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(rtc::kSecondsAlarm, 0x33);
    env.SetReg(rtc::kMinutesAlarm, 0xC0);
    env.SetReg(rtc::kHoursAlarm, 0xFF);
    env.SetReg(rtc::kRegB, rtc::kB24h | rtc::kBAie);
    u8 flags = 0;
    CHECK(env.CountInterrupts(2 * kSec + 1, &flags) == 0);
    CHECK(env.CountInterrupts(3 * kSec + 1, &flags) == 1);  // 13:45:33
    CHECK((flags & rtc::kCAf) != 0);
}

TEST_CASE("index bit 7 is the NMI mask and does not select a register", "[devices][rtc]") {
    RtcEnv env;
    Out8(env.rtc.Ports(), 0, rtc::kNmiDisable | rtc::kRegD);
    CHECK(env.rtc.NmiMasked());
    CHECK(In8(env.rtc.Ports(), 1) == rtc::kDVrt);
    Out8(env.rtc.Ports(), 0, rtc::kRegD);
    CHECK_FALSE(env.rtc.NmiMasked());
}

TEST_CASE("NVRAM bytes keep what is written and the memory-size fields follow the BIOS layout",
          "[devices][rtc]") {
    RtcEnv env;
    env.SetReg(0x40, 0xA5);
    env.SetReg(0x7F, 0x5A);
    CHECK(env.Reg(0x40) == 0xA5);
    CHECK(env.Reg(0x7F) == 0x5A);
    env.SetReg(rtc::kRegC, 0xFF);  // read-only
    CHECK(env.Reg(rtc::kRegC) == 0);

    // 32 MiB below 4 GiB, 2 GiB above.
    env.rtc.SetMemorySize(32ull << 20, 2ull << 30);
    CHECK((env.Reg(0x15) | env.Reg(0x16) << 8) == 640);
    CHECK((env.Reg(0x17) | env.Reg(0x18) << 8) == 31 * 1024);  // KiB above 1 MiB
    CHECK((env.Reg(0x30) | env.Reg(0x31) << 8) == 31 * 1024);
    CHECK((env.Reg(0x34) | env.Reg(0x35) << 8) == 256);  // 16 MiB in 64 KiB units
    CHECK((env.Reg(0x5B) | env.Reg(0x5C) << 8 | env.Reg(0x5D) << 16) == 32768);
    env.rtc.SetMemorySize(3ull << 30, 0);
    CHECK((env.Reg(0x17) | env.Reg(0x18) << 8) == 0xFFFF);  // saturates
}
