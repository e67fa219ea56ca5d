// Intel 8254 behaviour (8254 datasheet, "Modes" and "Read Operations"), timed with a fake clock.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/timer/pit.h"
#include "devices/timer/pit_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

constexpr u64 kHz = 1'193'182;
// The instant at which the k-th input clock edge has happened: ceil(k / f) seconds.
u64 TickNs(u64 k) { return (k * 1'000'000'000ull + kHz - 1) / kHz; }

struct PitEnv : TimerEnv {
    RecordingIrqLine irq0;
    Pit pit{timers, irq0};

    void Control(u8 value) { Out8(pit.Ports(), 3, value); }
    // Counting starts when the count is written (or the gate rises): At() counts clocks from there.
    // Edges are counted from here too: in modes 2-5 the control word itself drives OUT high (one edge).
    void MarkOrigin() {
        origin = clock.NowNs();
        irq0.rising_edges = 0;
    }
    void WriteCount(unsigned ch, u16 count) {  // lohi access
        Out8(pit.Ports(), ch, static_cast<u8>(count));
        Out8(pit.Ports(), ch, static_cast<u8>(count >> 8));
        MarkOrigin();
    }
    u16 LatchedCount(unsigned ch) {
        Control(static_cast<u8>(ch << 6));  // counter latch command
        const u8 lo = In8(pit.Ports(), ch);
        const u8 hi = In8(pit.Ports(), ch);
        return static_cast<u16>(lo | (hi << 8));
    }
    u8 Status(unsigned ch) {
        Control(static_cast<u8>(0xC0 | pit::kReadBackNoCount | (2u << ch)));  // read-back: status only
        return In8(pit.Ports(), ch);
    }
    bool OutBit(unsigned ch) { return Status(ch) & pit::kStatusOut; }
    void At(u64 tick) { RunUntil(origin + TickNs(tick)); }
    u64 origin = 0;
};

}  // namespace

TEST_CASE("mode 0: OUT low, count decrements once per clock, IRQ0 rises at terminal count", "[devices][pit]") {
    PitEnv env;
    env.Control(0x30);  // counter 0, lohi, mode 0, binary
    env.WriteCount(0, 1000);
    CHECK_FALSE(env.OutBit(0));
    env.At(300);
    CHECK(env.LatchedCount(0) == 700);
    env.At(999);
    CHECK(env.irq0.rising_edges == 0);
    CHECK_FALSE(env.OutBit(0));
    env.At(1000);
    CHECK(env.irq0.rising_edges == 1);
    CHECK(env.OutBit(0));
    env.At(1010);
    CHECK(env.LatchedCount(0) == static_cast<u16>(-10));  // the counter wraps and keeps counting
    env.At(1000 + 70000);
    CHECK(env.irq0.rising_edges == 1);  // OUT stays high: one interrupt per count written
}

TEST_CASE("mode 2: rate generator with a one-clock low pulse at count 1, one IRQ0 edge per N clocks",
          "[devices][pit]") {
    PitEnv env;
    env.Control(0x34);  // counter 0, lohi, mode 2 (Linux's periodic tick)
    CHECK(env.irq0.level);  // the control word sets OUT high in mode 2
    env.WriteCount(0, 100);
    env.At(50);
    CHECK(env.LatchedCount(0) == 50);
    env.At(98);
    CHECK(env.OutBit(0));
    env.At(99);  // count = 1
    CHECK_FALSE(env.OutBit(0));
    env.At(100);  // reload: OUT high again
    CHECK(env.OutBit(0));
    CHECK(env.LatchedCount(0) == 100);
    env.At(350);
    CHECK(env.irq0.rising_edges == 3);
    CHECK(env.LatchedCount(0) == 50);
}

TEST_CASE("mode 3: square wave high for ceil(N/2) and low for floor(N/2), count steps by 2",
          "[devices][pit]") {
    PitEnv env;
    env.Control(0x36);  // counter 0, lohi, mode 3
    env.WriteCount(0, 10);
    env.At(2);
    CHECK(env.LatchedCount(0) == 6);
    env.At(4);
    CHECK(env.OutBit(0));
    env.At(5);
    CHECK_FALSE(env.OutBit(0));
    env.At(10);
    CHECK(env.OutBit(0));
    CHECK(env.irq0.rising_edges == 1);

    env.Control(0x36);
    env.WriteCount(0, 11);  // odd: high 6, low 5
    env.At(5);
    CHECK(env.OutBit(0));
    env.At(6);
    CHECK_FALSE(env.OutBit(0));
    env.At(11);
    CHECK(env.OutBit(0));
}

TEST_CASE("mode 4: OUT strobes low for one clock when the count reaches 0", "[devices][pit]") {
    PitEnv env;
    env.Control(0x38);  // counter 0, lohi, mode 4
    env.WriteCount(0, 20);
    env.At(19);
    CHECK(env.OutBit(0));
    env.At(20);
    CHECK_FALSE(env.OutBit(0));
    env.At(21);
    CHECK(env.OutBit(0));
    CHECK(env.irq0.rising_edges == 1);
}

TEST_CASE("the counter latch command freezes the value until both bytes are read", "[devices][pit]") {
    PitEnv env;
    env.Control(0x30);
    env.WriteCount(0, 5000);
    env.At(100);
    env.Control(0x00);  // latch counter 0
    env.At(500);
    env.Control(0x00);  // ignored: the first latch has not been read
    CHECK(In8(env.pit.Ports(), 0) == (4900 & 0xFF));
    env.At(900);
    CHECK(In8(env.pit.Ports(), 0) == (4900 >> 8));
    CHECK(env.LatchedCount(0) == 4100);  // the latch is released: a new one sees the live count
}

TEST_CASE("read-back returns status (OUT, NULL COUNT, RW, mode, BCD) before the count", "[devices][pit]") {
    PitEnv env;
    env.Control(0xB4);  // counter 2, lohi, mode 2
    // NULL COUNT is set by the control word until a count is written; OUT is high in mode 2.
    CHECK(env.Status(2) == (pit::kStatusOut | pit::kStatusNullCount | 0x34));
    Out8(env.pit.PortB(), 0, 0x01);  // gate 2 high
    env.WriteCount(2, 300);
    env.At(40);
    env.Control(0xC0 | (1u << 3));  // read-back counter 2: count and status
    CHECK(In8(env.pit.Ports(), 2) == (pit::kStatusOut | 0x34));
    CHECK(In8(env.pit.Ports(), 2) == (260 & 0xFF));
    CHECK(In8(env.pit.Ports(), 2) == (260 >> 8));
}

TEST_CASE("lobyte-only and hibyte-only access load and read one byte of the count", "[devices][pit]") {
    PitEnv env;
    env.Control(0x20);  // counter 0, hibyte only, mode 0
    Out8(env.pit.Ports(), 0, 0x02);  // count 0x0200
    env.MarkOrigin();
    env.At(0x100);
    CHECK(In8(env.pit.Ports(), 0) == 0x01);
    env.Control(0x10);               // counter 0, lobyte only, mode 0
    Out8(env.pit.Ports(), 0, 0x80);  // count 0x0080
    env.MarkOrigin();
    env.At(0x10);
    CHECK(In8(env.pit.Ports(), 0) == 0x70);
}

TEST_CASE("BCD counting decrements through decimal digits", "[devices][pit]") {
    PitEnv env;
    env.Control(0x31);  // counter 0, lohi, mode 0, BCD
    env.WriteCount(0, 0x1000);
    env.At(1);
    CHECK(env.LatchedCount(0) == 0x0999);
}

TEST_CASE("port 0x61: gate 2 starts counter 2, OUT2 in bit 5, refresh toggles in bit 4", "[devices][pit]") {
    PitEnv env;
    // Linux's pit_calibrate_tsc: gate high and speaker off, mode 0 on counter 2, wait for OUT2.
    Out8(env.pit.PortB(), 0, 0x00);
    env.Control(0xB0);
    env.WriteCount(2, 1000);
    env.At(5000);
    CHECK((In8(env.pit.PortB(), 0) & pit::kPortBOut2) == 0);  // gate low: no counting
    Out8(env.pit.PortB(), 0, 0x01);
    env.MarkOrigin();
    env.At(999);
    CHECK((In8(env.pit.PortB(), 0) & pit::kPortBOut2) == 0);
    env.At(1000);
    const u8 b = In8(env.pit.PortB(), 0);
    CHECK((b & pit::kPortBOut2) != 0);
    CHECK((b & pit::kPortBGate2) != 0);
    CHECK(env.irq0.rising_edges == 0);  // counter 2 is not wired to IRQ0

    env.RunUntil(30'170'000);
    const u8 r0 = In8(env.pit.PortB(), 0) & pit::kPortBRefresh;
    env.RunUntil(30'170'000 + 15'085);
    const u8 r1 = In8(env.pit.PortB(), 0) & pit::kPortBRefresh;
    CHECK(r0 != r1);
}

TEST_CASE("mode 2 with the gate low holds OUT high and restarts on the rising gate", "[devices][pit]") {
    PitEnv env;
    Out8(env.pit.PortB(), 0, 0x01);
    env.Control(0xB4);
    env.WriteCount(2, 100);
    env.At(30);
    Out8(env.pit.PortB(), 0, 0x00);
    env.At(200);
    CHECK(env.OutBit(2));
    Out8(env.pit.PortB(), 0, 0x01);  // rising gate reloads the count
    CHECK(env.LatchedCount(2) == 100);
}

TEST_CASE("mode 1: a rising gate triggers the one-shot, OUT low until terminal count", "[devices][pit]") {
    PitEnv env;
    env.Control(0xB2);  // counter 2, lohi, mode 1
    env.WriteCount(2, 50);
    env.At(500);
    CHECK(env.OutBit(2));  // armed, not triggered: OUT stays high and the count does not move
    Out8(env.pit.PortB(), 0, 0x01);
    env.MarkOrigin();
    CHECK_FALSE(env.OutBit(2));
    env.At(49);
    CHECK_FALSE(env.OutBit(2));
    CHECK(env.LatchedCount(2) == 1);
    env.At(50);
    CHECK(env.OutBit(2));
}

TEST_CASE("mode 0: a low gate suspends counting and a high gate resumes it", "[devices][pit]") {
    PitEnv env;
    Out8(env.pit.PortB(), 0, 0x01);
    env.Control(0xB0);
    env.WriteCount(2, 100);
    env.At(30);
    Out8(env.pit.PortB(), 0, 0x00);
    env.At(80);
    CHECK(env.LatchedCount(2) == 70);
    Out8(env.pit.PortB(), 0, 0x01);
    env.MarkOrigin();
    env.At(20);
    CHECK(env.LatchedCount(2) == 50);
}
