// HPET behaviour per the IA-PC HPET specification 1.0a (section 2.3 registers, 2.3.9 periodic mode), timed with
// a fake clock.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/timer/hpet.h"
#include "devices/timer/hpet_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

struct HpetEnv : TimerEnv {
    std::array<RecordingIrqLine, 24> gsi;
    RecordingIrqLine irq0, irq8;
    Hpet hpet{timers, Wiring()};

    HpetIrqs Wiring() {
        HpetIrqs irqs;
        for (unsigned i = 0; i < 24; ++i) irqs.gsi[i] = &gsi[i];
        irqs.irq0 = &irq0;
        irqs.irq8 = &irq8;
        return irqs;
    }
    u64 Read64(u64 offset) { return In64(hpet, offset); }
    u32 Read32(u64 offset) { return In32(hpet, offset); }
    void Write64(u64 offset, u64 value) { Out64(hpet, offset, value); }
    void Write32(u64 offset, u32 value) { Out32(hpet, offset, value); }
    static u64 T(unsigned n, u64 reg) { return 0x100 + 0x20 * n + reg; }
};

}  // namespace

TEST_CASE("hpet: capabilities advertise 3 timers, 64-bit counter, legacy route, vendor 8086, 10 ns",
          "[devices][hpet]") {
    HpetEnv env;
    const u64 cap = env.Read64(0x000);
    CHECK((cap & 0xFF) == 0x01);                // revision
    CHECK(((cap >> 8) & 0x1F) == 2);            // NUM_TIM_CAP = timers - 1
    CHECK((cap >> 13 & 1) == 1);                // COUNT_SIZE_CAP
    CHECK((cap >> 15 & 1) == 1);                // LEG_RT_CAP
    CHECK(((cap >> 16) & 0xFFFF) == 0x8086);
    CHECK((cap >> 32) == 10'000'000);           // femtoseconds per tick
    CHECK(env.Read32(0x004) == 10'000'000);     // the high dword alone
    const u64 tcap = env.Read64(HpetEnv::T(0, 0));
    CHECK((tcap & (1 << 4)) != 0);              // periodic capable
    CHECK((tcap & (1 << 5)) != 0);              // 64-bit capable
    CHECK((tcap >> 32) == 0x00FF0104);          // route capability as QEMU's pc
    CHECK(env.Read64(HpetEnv::T(0, 8)) == ~u64{0});  // comparators reset to all ones
}

TEST_CASE("hpet: main counter runs at 100 MHz only while enabled and is writable while halted", "[devices][hpet]") {
    HpetEnv env;
    env.RunUntil(1000);
    CHECK(env.Read64(0xF0) == 0);
    env.Write64(0x10, hpet::kEnable);
    env.RunUntil(2000);
    CHECK(env.Read64(0xF0) == 100);
    env.Write64(0x10, 0);
    env.RunUntil(5000);
    CHECK(env.Read64(0xF0) == 100);
    env.Write32(0xF4, 0x1);  // high half
    CHECK(env.Read64(0xF0) == 0x1'0000'0064ull);
    env.Write64(0x10, hpet::kEnable);
    env.RunUntil(5010);
    CHECK(env.Read32(0xF0) == 0x65);
}

TEST_CASE("hpet: one-shot edge timer pulses its routed I/O APIC pin when the counter reaches the comparator",
          "[devices][hpet]") {
    HpetEnv env;
    env.Write64(HpetEnv::T(2, 0), hpet::kTnIntEnable | (u64{20} << 9));  // route to GSI 20
    env.Write64(HpetEnv::T(2, 8), 500);
    env.Write64(0x10, hpet::kEnable);
    env.RunUntil(4999);
    CHECK(env.gsi[20].rising_edges == 0);
    env.RunUntil(5000);
    CHECK(env.gsi[20].rising_edges == 1);
    CHECK_FALSE(env.gsi[20].level);
    CHECK(env.Read64(0x20) == 0);  // edge mode leaves GINTR_STA alone
    env.RunUntil(1'000'000);
    CHECK(env.gsi[20].rising_edges == 1);  // 64-bit one-shot: the next match is 2^64 ticks away
}

TEST_CASE("hpet: a route outside Tn_INT_ROUTE_CAP is not accepted", "[devices][hpet]") {
    HpetEnv env;
    env.Write64(HpetEnv::T(1, 0), u64{17} << 9);
    env.Write64(HpetEnv::T(1, 0), u64{5} << 9);  // pin 5 is not in 0x00FF0104
    CHECK(((env.Read64(HpetEnv::T(1, 0)) >> 9) & 0x1F) == 17);
}

TEST_CASE("hpet: level timer sets GINTR_STA and holds the line until written 1", "[devices][hpet]") {
    HpetEnv env;
    env.Write64(HpetEnv::T(1, 0), hpet::kTnIntEnable | hpet::kTnLevel | (u64{16} << 9));
    env.Write64(HpetEnv::T(1, 8), 10);
    env.Write64(0x10, hpet::kEnable);
    env.RunUntil(100);
    CHECK(env.gsi[16].level);
    CHECK(env.Read64(0x20) == 0x2);
    env.Write64(0x20, 0x1);  // another timer's bit: no effect
    CHECK(env.gsi[16].level);
    env.Write64(0x20, 0x2);
    CHECK_FALSE(env.gsi[16].level);
    CHECK(env.Read64(0x20) == 0);
}

TEST_CASE("hpet: periodic mode with VAL_SET, the accumulator adds the period on every match", "[devices][hpet]") {
    HpetEnv env;
    env.Write64(0x10, hpet::kEnable);
    env.RunUntil(1000);  // counter = 100
    // Linux's hpet_set_periodic: 32-bit mode with VAL_SET, comparator = now + period, then comparator = period
    // (32-bit writes: in 64-bit mode the comparator's all-ones high half would stay).
    env.Write64(HpetEnv::T(0, 0),
                hpet::kTnIntEnable | hpet::kTnPeriodic | hpet::kTnValSet | hpet::kTn32Bit | (u64{2} << 9));
    env.Write32(HpetEnv::T(0, 8), 100 + 1000);
    env.Write32(HpetEnv::T(0, 8), 1000);
    CHECK((env.Read64(HpetEnv::T(0, 0)) & hpet::kTnValSet) == 0);  // VAL_SET clears itself
    CHECK(env.Read64(HpetEnv::T(0, 8)) == 1100);
    env.RunUntil(1000 + 10'000 * 5);  // five periods of 1000 ticks
    CHECK(env.gsi[2].rising_edges == 5);
    CHECK(env.Read64(HpetEnv::T(0, 8)) == 1100 + 5 * 1000);
}

TEST_CASE("hpet: legacy replacement routes timer 0 to IRQ0 and timer 1 to IRQ8", "[devices][hpet]") {
    HpetEnv env;
    std::vector<bool> legacy_calls;
    env.hpet.SetLegacyCallback([&](bool on) { legacy_calls.push_back(on); });
    env.Write64(HpetEnv::T(0, 0), hpet::kTnIntEnable | (u64{20} << 9));
    env.Write64(HpetEnv::T(0, 8), 10);
    env.Write64(HpetEnv::T(1, 0), hpet::kTnIntEnable | (u64{21} << 9));
    env.Write64(HpetEnv::T(1, 8), 20);
    env.Write64(0x10, hpet::kEnable | hpet::kLegacyReplacement);
    env.RunUntil(1000);
    CHECK(env.irq0.rising_edges == 1);
    CHECK(env.irq8.rising_edges == 1);
    CHECK(env.gsi[20].rising_edges == 0);
    CHECK(env.gsi[21].rising_edges == 0);
    REQUIRE(legacy_calls.size() == 1);
    CHECK(legacy_calls[0]);
}

TEST_CASE("hpet: 32-bit mode compares and wraps the low 32 bits", "[devices][hpet]") {
    HpetEnv env;
    env.Write64(0xF0, 0xFFFF'FFF0ull);  // 16 ticks before the 32-bit wrap
    env.Write64(HpetEnv::T(0, 0), hpet::kTnIntEnable | hpet::kTn32Bit | (u64{20} << 9));
    env.Write64(HpetEnv::T(0, 8), 0x1'0000'0010ull);  // upper half is dropped in 32-bit mode
    CHECK(env.Read64(HpetEnv::T(0, 8)) == 0x10);
    env.Write64(0x10, hpet::kEnable);
    env.RunUntil(310);  // 31 ticks: still before low32 == 0x10
    CHECK(env.gsi[20].rising_edges == 0);
    env.RunUntil(320);  // 32 ticks: counter = 0x1'0000'0010
    CHECK(env.gsi[20].rising_edges == 1);
}
