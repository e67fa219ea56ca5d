// The 8042 keyboard controller and its PS/2 devices, driven the way Linux's i8042/atkbd/psmouse probe them.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/platform/i8042.h"
#include "devices/platform/i8042_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

struct KbcEnv {
    RecordingIrqLine irq1, irq12;
    int resets = 0;
    std::vector<bool> a20;
    I8042 kbc{irq1, irq12, [this] { ++resets; }, [this](bool on) { a20.push_back(on); }};

    u8 Status() { return In8(kbc.CommandPort(), 0); }
    void Command(u8 c) { Out8(kbc.CommandPort(), 0, c); }
    void Data(u8 d) { Out8(kbc.DataPort(), 0, d); }
    // Reads every byte the controller has, as i8042_flush does.
    std::vector<u8> Drain() {
        std::vector<u8> out;
        while (Status() & i8042::kStatusObf) out.push_back(In8(kbc.DataPort(), 0));
        return out;
    }
    void SetCtr(u8 ctr) {
        Command(0x60);
        Data(ctr);
    }
};

using Bytes = std::vector<u8>;

}  // namespace

TEST_CASE("i8042: self-test answers 0x55 and sets SYS; interface tests answer 0", "[devices][i8042]") {
    KbcEnv env;
    CHECK((env.Status() & i8042::kStatusObf) == 0);
    env.SetCtr(0x00);
    CHECK((env.Status() & i8042::kStatusSys) == 0);
    env.Command(0xAA);
    CHECK(env.Drain() == Bytes{0x55});
    CHECK((env.Status() & i8042::kStatusSys) != 0);
    env.Command(0xAB);
    env.Command(0xA9);
    CHECK(env.Drain() == Bytes{0x00, 0x00});
}

TEST_CASE("i8042: command byte reads back and port disable bits follow 0xAD/0xAE/0xA7/0xA8", "[devices][i8042]") {
    KbcEnv env;
    env.Command(0x20);
    CHECK(env.Drain() == Bytes{0x47});  // firmware's value: both IRQs, SYS, translation
    env.Command(0xAD);
    env.Command(0xA7);
    env.Command(0x20);
    CHECK(env.Drain() == Bytes{0x47 | 0x10 | 0x20});
    env.Command(0xAE);
    env.Command(0xA8);
    env.Command(0x20);
    CHECK(env.Drain() == Bytes{0x47});
    CHECK((env.Status() & i8042::kStatusCmd) != 0);  // last write went to the command port
}

TEST_CASE("i8042: output port bit 0 low and the 0xFE pulse reset the CPU; A20 follows bit 1", "[devices][i8042]") {
    KbcEnv env;
    env.Command(0xD0);
    CHECK(env.Drain() == Bytes{0x0F});
    env.Command(0xD1);
    env.Data(0x0D);  // A20 off
    REQUIRE(env.a20 == std::vector<bool>{false});
    CHECK(env.resets == 0);
    env.Command(0xDF);
    REQUIRE(env.a20 == std::vector<bool>{false, true});
    env.Command(0xD1);
    env.Data(0x0E);  // bit 0 = 0: reset
    CHECK(env.resets == 1);
    env.Command(0xFF);  // pulses nothing (all bits 1)
    CHECK(env.resets == 1);
    env.Command(0xFE);
    CHECK(env.resets == 2);
}

TEST_CASE("i8042: keyboard reset, identify (translated and not), enable/disable and LEDs", "[devices][i8042]") {
    KbcEnv env;
    env.Drain();
    env.Data(0xFF);
    CHECK(env.Drain() == Bytes{0xFA, 0xAA});
    env.SetCtr(0x05);  // translation off
    env.Data(0xF2);
    CHECK(env.Drain() == Bytes{0xFA, 0xAB, 0x83});
    env.SetCtr(0x45);  // translation on: the 8042 turns ID byte 0x83 into 0x41
    env.Data(0xF2);
    CHECK(env.Drain() == Bytes{0xFA, 0xAB, 0x41});
    env.Data(0xF5);
    env.Data(0xF4);
    CHECK(env.Drain() == Bytes{0xFA, 0xFA});
    env.Data(0xED);
    env.Data(0x07);
    CHECK(env.Drain() == Bytes{0xFA, 0xFA});
    env.Data(0xF0);
    env.Data(0x00);  // get scan set
    CHECK(env.Drain() == Bytes{0xFA, 0xFA, 0x02});
    env.Data(0xEE);
    CHECK(env.Drain() == Bytes{0xEE});
}

TEST_CASE("i8042: IRQ1 gives one edge per keyboard byte when CTR bit 0 is set", "[devices][i8042]") {
    KbcEnv env;
    env.SetCtr(0x01);
    env.Data(0xFF);  // two bytes queued
    CHECK(env.irq1.rising_edges == 1);
    CHECK(env.irq1.level);
    In8(env.kbc.DataPort(), 0);
    CHECK(env.irq1.rising_edges == 2);  // the second byte raises a new edge
    In8(env.kbc.DataPort(), 0);
    CHECK_FALSE(env.irq1.level);
    env.SetCtr(0x00);
    env.Data(0xF4);
    CHECK(env.irq1.rising_edges == 2);  // interrupts off
    CHECK(env.Drain() == Bytes{0xFA});
    CHECK(env.irq12.rising_edges == 0);
}

TEST_CASE("i8042: aux loopback (0xD3) raises IRQ12 with the aux status bit; the mouse answers via 0xD4",
          "[devices][i8042]") {
    KbcEnv env;
    env.Command(0xD3);
    env.Data(0x5A);  // Linux's i8042_check_aux loopback
    CHECK((env.Status() & (i8042::kStatusObf | i8042::kStatusAuxObf)) == 0x21);
    CHECK(env.irq12.level);
    CHECK(env.Drain() == Bytes{0x5A});
    CHECK_FALSE(env.irq12.level);
    env.Command(0xD4);
    env.Data(0xFF);
    CHECK(env.Drain() == Bytes{0xFA, 0xAA, 0x00});
    env.Command(0xD4);
    env.Data(0xF2);
    CHECK(env.Drain() == Bytes{0xFA, 0x00});
    env.Command(0xD4);
    env.Data(0xF3);
    env.Command(0xD4);
    env.Data(200);
    env.Command(0xD4);
    env.Data(0xE9);
    CHECK(env.Drain() == Bytes{0xFA, 0xFA, 0xFA, 0x00, 0x02, 200});
}

TEST_CASE("i8042: host keys arrive while the keyboard scans and its port is enabled", "[devices][i8042]") {
    KbcEnv env;
    const Bytes a_press = {0x1E}, a_release = {0x9E};
    env.kbc.KeyboardInput(a_press);  // not scanning yet (no F4 since power-on)
    CHECK(env.Drain().empty());
    env.Data(0xF4);  // enable scanning, as atkbd does
    CHECK(env.Drain() == Bytes{0xFA});
    env.kbc.KeyboardInput(a_press);
    CHECK(env.irq1.level);
    env.kbc.KeyboardInput(Bytes{0xE0, 0x48});  // Up: an extended key, both bytes in order
    env.kbc.KeyboardInput(a_release);
    CHECK(env.Drain() == Bytes{0x1E, 0xE0, 0x48, 0x9E});
    env.Command(0xAD);  // the host holds the keyboard port off: keys are dropped, not queued
    env.kbc.KeyboardInput(a_press);
    CHECK(env.Drain().empty());
    env.Command(0xAE);
    env.kbc.KeyboardInput(a_press);
    CHECK(env.Drain() == a_press);
}
