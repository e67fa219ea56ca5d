// Intel 8259A behaviour (8259A datasheet) as seen through the PC's ports.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/irq/pic.h"
#include "devices/irq/regs.h"

using namespace emu;
using namespace emu::devices;
using emu::devices::test::In8;
using emu::devices::test::Out8;

namespace {

constexpr u8 kMasterBase = 0x20;  // vectors as Linux programs them
constexpr u8 kSlaveBase = 0x28;

struct PicEnv {
    Pic pic;
    IoDevice& master = pic.MasterPorts();
    IoDevice& slave = pic.SlavePorts();

    // The standard PC sequence: ICW1 edge+ICW4, ICW2 vector base, ICW3 cascade wiring, ICW4 8086 mode.
    explicit PicEnv(u8 icw4 = 0x01) {
        Out8(master, 0, 0x11);
        Out8(master, 1, kMasterBase);
        Out8(master, 1, 0x04);  // slave on IR2
        Out8(master, 1, icw4);
        Out8(slave, 0, 0x11);
        Out8(slave, 1, kSlaveBase);
        Out8(slave, 1, 0x02);  // slave identity 2
        Out8(slave, 1, icw4);
    }
    u8 MasterIsr() {
        Out8(master, 0, 0x0B);  // OCW3: read ISR
        return In8(master, 0);
    }
    u8 MasterIrr() {
        Out8(master, 0, 0x0A);  // OCW3: read IRR
        return In8(master, 0);
    }
    u8 SlaveIsr() {
        Out8(slave, 0, 0x0B);
        return In8(slave, 0);
    }
    void EoiMaster() { Out8(master, 0, 0x20); }
    void EoiSlave() { Out8(slave, 0, 0x20); }
};

}  // namespace

TEST_CASE("after ICW1-ICW4 an edge is delivered as ICW2 base + IR and stays in service until EOI",
          "[devices][pic]") {
    PicEnv env;
    CHECK_FALSE(env.pic.HasPendingInterrupt());
    env.pic.Input(3).Pulse();
    CHECK(env.MasterIrr() == 0x08);
    REQUIRE(env.pic.HasPendingInterrupt());
    CHECK(env.pic.Acknowledge() == kMasterBase + 3);
    CHECK(env.MasterIsr() == 0x08);
    CHECK(env.MasterIrr() == 0x00);  // INTA clears the edge-latched request
    CHECK_FALSE(env.pic.HasPendingInterrupt());
    env.EoiMaster();
    CHECK(env.MasterIsr() == 0x00);
}

TEST_CASE("ICW1 clears the IMR and the data port reads the IMR (OCW1)", "[devices][pic]") {
    PicEnv env;
    Out8(env.master, 1, 0xFB);
    CHECK(In8(env.master, 1) == 0xFB);
    Out8(env.master, 0, 0x11);
    CHECK(In8(env.master, 1) == 0x00);
}

TEST_CASE("fully nested priority: IR0 highest, lower requests wait for EOI, higher ones nest",
          "[devices][pic]") {
    PicEnv env;
    env.pic.Input(1).Pulse();
    env.pic.Input(4).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 1);
    CHECK_FALSE(env.pic.HasPendingInterrupt());  // IR4 is lower than in-service IR1
    env.pic.Input(0).Pulse();
    REQUIRE(env.pic.HasPendingInterrupt());  // IR0 is higher: it nests
    CHECK(env.pic.Acknowledge() == kMasterBase + 0);
    CHECK(env.MasterIsr() == 0x03);
    env.EoiMaster();  // non-specific EOI clears the highest-priority ISR bit: IR0
    CHECK(env.MasterIsr() == 0x02);
    CHECK_FALSE(env.pic.HasPendingInterrupt());
    env.EoiMaster();
    CHECK(env.pic.Acknowledge() == kMasterBase + 4);
}

TEST_CASE("specific EOI clears only the named ISR bit", "[devices][pic]") {
    PicEnv env;
    env.pic.Input(5).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 5);
    env.pic.Input(3).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 3);
    Out8(env.master, 0, 0x60 | 5);  // OCW2 specific EOI, level 5
    CHECK(env.MasterIsr() == 0x08);
}

TEST_CASE("masked requests stay in IRR and are delivered when unmasked", "[devices][pic]") {
    PicEnv env;
    Out8(env.master, 1, 0x10);  // mask IR4
    env.pic.Input(4).Pulse();
    CHECK(env.MasterIrr() == 0x10);
    CHECK_FALSE(env.pic.HasPendingInterrupt());
    Out8(env.master, 1, 0x00);
    REQUIRE(env.pic.HasPendingInterrupt());
    CHECK(env.pic.Acknowledge() == kMasterBase + 4);
}

TEST_CASE("rotate on non-specific EOI gives the serviced IR the lowest priority", "[devices][pic]") {
    PicEnv env;
    env.pic.Input(0).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 0);
    Out8(env.master, 0, 0xA0);  // OCW2: rotate on non-specific EOI
    env.pic.Input(0).Pulse();
    env.pic.Input(1).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 1);  // IR0 is now lowest, IR1 highest
}

TEST_CASE("set priority command makes IR L the lowest priority", "[devices][pic]") {
    PicEnv env;
    Out8(env.master, 0, 0xC0 | 4);  // OCW2 set priority: IR4 lowest, so IR5 is highest
    env.pic.Input(3).Pulse();
    env.pic.Input(6).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 6);
}

TEST_CASE("a slave IRQ cascades through master IR2 and needs EOI on both chips", "[devices][pic]") {
    PicEnv env;
    env.pic.Input(10).Pulse();
    REQUIRE(env.pic.HasPendingInterrupt());
    CHECK(env.pic.Acknowledge() == kSlaveBase + 2);
    CHECK(env.MasterIsr() == 0x04);
    CHECK(env.SlaveIsr() == 0x04);
    env.pic.Input(12).Pulse();
    CHECK_FALSE(env.pic.HasPendingInterrupt());  // master IR2 still in service
    env.EoiSlave();
    env.EoiMaster();
    CHECK(env.pic.Acknowledge() == kSlaveBase + 4);
}

TEST_CASE("INTA with no request left returns the spurious IR7 vector without setting ISR", "[devices][pic]") {
    PicEnv env;
    Out8(env.pic.ElcrPorts(), 0, 0x20);  // IRQ5 level-triggered
    env.pic.Input(5).Raise();
    REQUIRE(env.pic.HasPendingInterrupt());
    env.pic.Input(5).Lower();  // the request goes away before the CPU's INTA
    CHECK(env.pic.Acknowledge() == kMasterBase + 7);
    CHECK(env.MasterIsr() == 0x00);
}

TEST_CASE("a withdrawn slave request yields spurious IRQ15 with master IR2 in service", "[devices][pic]") {
    PicEnv env;
    Out8(env.pic.ElcrPorts(), 1, 0x04);  // IRQ10 level-triggered
    env.pic.Input(10).Raise();           // the master latches the cascade edge on IR2
    env.pic.Input(10).Lower();
    REQUIRE(env.pic.HasPendingInterrupt());
    CHECK(env.pic.Acknowledge() == kSlaveBase + 7);
    CHECK(env.MasterIsr() == 0x04);
    CHECK(env.SlaveIsr() == 0x00);
}

TEST_CASE("ELCR: a level input is re-requested after EOI while high, an edge input is not",
          "[devices][pic]") {
    PicEnv env;
    Out8(env.pic.ElcrPorts(), 0, 0xFF);
    CHECK(In8(env.pic.ElcrPorts(), 0) == 0xF8);  // IRQ0-2 are edge-only on the PIIX
    Out8(env.pic.ElcrPorts(), 1, 0xFF);
    CHECK(In8(env.pic.ElcrPorts(), 1) == 0xDE);  // IRQ8 and IRQ13 too
    Out8(env.pic.ElcrPorts(), 0, 0x08);          // IRQ3 level, IRQ4 edge

    env.pic.Input(3).Raise();
    env.pic.Input(4).Raise();
    CHECK(env.pic.Acknowledge() == kMasterBase + 3);
    env.EoiMaster();
    CHECK(env.pic.Acknowledge() == kMasterBase + 3);  // still high: requested again
    env.EoiMaster();
    env.pic.Input(3).Lower();
    CHECK(env.pic.Acknowledge() == kMasterBase + 4);
    env.EoiMaster();
    CHECK_FALSE(env.pic.HasPendingInterrupt());  // IRQ4 held high but no new edge
}

TEST_CASE("AEOI mode does not set ISR", "[devices][pic]") {
    PicEnv env(0x03);  // ICW4: 8086 mode + AEOI
    env.pic.Input(6).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 6);
    CHECK(env.MasterIsr() == 0x00);
    env.pic.Input(7).Pulse();
    CHECK(env.pic.HasPendingInterrupt());  // nothing in service blocks IR7
}

TEST_CASE("poll command returns 0x80 | level and acknowledges the request", "[devices][pic]") {
    PicEnv env;
    env.pic.Input(5).Pulse();
    Out8(env.master, 0, 0x0C);  // OCW3 poll
    CHECK(In8(env.master, 0) == (0x80 | 5));
    CHECK(env.MasterIsr() == 0x20);
    Out8(env.master, 0, 0x0C);
    CHECK(In8(env.master, 0) == 0x00);  // nothing pending
}

TEST_CASE("special mask mode lets lower priorities through while a masked level is in service",
          "[devices][pic]") {
    PicEnv env;
    env.pic.Input(1).Pulse();
    CHECK(env.pic.Acknowledge() == kMasterBase + 1);
    env.pic.Input(5).Pulse();
    CHECK_FALSE(env.pic.HasPendingInterrupt());
    Out8(env.master, 1, 0x02);  // mask IR1 ...
    Out8(env.master, 0, 0x68);  // ... and enter special mask mode (OCW3 ESMM|SMM)
    REQUIRE(env.pic.HasPendingInterrupt());
    CHECK(env.pic.Acknowledge() == kMasterBase + 5);
}

TEST_CASE("the INTR output callback follows the pending state", "[devices][pic]") {
    PicEnv env;
    std::vector<bool> levels;
    env.pic.SetOutputCallback([&](bool level) { levels.push_back(level); });
    env.pic.Input(1).Pulse();
    env.pic.Acknowledge();
    CHECK(levels == std::vector<bool>{true, false});
}
