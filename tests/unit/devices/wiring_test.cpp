// The devices wired as the PC board wires them (what emu/machine will do): standard ports on one port bus,
// PIT OUT0 -> IRQ0, COM1 -> IRQ4, RTC -> IRQ8, all through the 8259 pair to the CPU's INTA.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/backends/char_backend.h"
#include "devices/bus/bus.h"
#include "devices/irq/pic.h"
#include "devices/irq/regs.h"
#include "devices/platform/fw_cfg.h"
#include "devices/platform/regs.h"
#include "devices/platform/simple_ports.h"
#include "devices/serial/regs.h"
#include "devices/serial/uart16550.h"
#include "devices/timer/pit.h"
#include "devices/timer/pit_regs.h"
#include "devices/timer/rtc.h"
#include "devices/timer/rtc_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

struct Board : TimerEnv {
    Bus io;
    Pic pic;
    Pit pit{timers, pic.Input(0)};
    Rtc rtc{timers, pic.Input(8), 0};
    BufferBackend com1_backend;
    Uart16550 com1{timers, pic.Input(uart::kCom1Irq), com1_backend};
    FwCfg fw_cfg;
    PcTestdev testdev;
    DebugExit debug_exit{[](int) {}};
    BochsShutdownPort shutdown{[] {}};
    PostPort post;
    SystemControlPortA port_a{[] {}};

    Board() {
        REQUIRE(io.Insert(pic::kMasterBase, pic::kChipPorts, pic.MasterPorts()).ok());
        REQUIRE(io.Insert(pic::kSlaveBase, pic::kChipPorts, pic.SlavePorts()).ok());
        REQUIRE(io.Insert(pic::kElcrBase, pic::kElcrPorts, pic.ElcrPorts()).ok());
        REQUIRE(io.Insert(pit::kBase, pit::kPorts, pit.Ports()).ok());
        REQUIRE(io.Insert(pit::kPortB, 1, pit.PortB()).ok());
        REQUIRE(io.Insert(rtc::kBase, rtc::kPorts, rtc.Ports()).ok());
        REQUIRE(io.Insert(uart::kCom1Base, uart::kPorts, com1).ok());
        REQUIRE(io.Insert(platform::fw_cfg::kBase, platform::fw_cfg::kPorts, fw_cfg).ok());
        REQUIRE(io.Insert(platform::kTestdevLatchPort, platform::kTestdevLatchSize, testdev.LatchPorts()).ok());
        REQUIRE(io.Insert(platform::kTestdevFlushPort, platform::kTestdevFlushSize, testdev.FlushPort()).ok());
        REQUIRE(io.Insert(platform::kDebugExitPort, platform::kDebugExitSize, debug_exit).ok());
        REQUIRE(io.Insert(platform::kBochsShutdownPort, 1, shutdown).ok());
        REQUIRE(io.Insert(platform::kPostPort, 1, post).ok());
        REQUIRE(io.Insert(platform::kPortA, 1, port_a).ok());
        // Linux's init_8259A: vectors 0x30 / 0x38, slave on IR2, 8086 mode.
        for (auto [port, value] : {std::pair<u16, u8>{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                   {0xA0, 0x11}, {0xA1, 0x38}, {0xA1, 0x02}, {0xA1, 0x01}})
            Out(port, value);
    }
    void Out(u16 port, u8 value) { io.Write(port, std::span<const u8>(&value, 1)); }
    u8 In(u16 port) {
        u8 value = 0;
        io.Read(port, std::span<u8>(&value, 1));
        return value;
    }
    // The CPU side: take every pending interrupt and EOI it, as a guest handler would.
    std::vector<u8> TakeInterrupts() {
        std::vector<u8> vectors;
        while (pic.HasPendingInterrupt()) {
            const u8 vector = pic.Acknowledge();
            vectors.push_back(vector);
            if (vector >= 0x38) Out(0xA0, 0x20);
            Out(0x20, 0x20);
        }
        return vectors;
    }
};

}  // namespace

TEST_CASE("PIT mode 2 on counter 0 reaches the CPU as vector base + 0 once per period", "[devices][wiring]") {
    Board board;
    board.Out(0x43, 0x34);
    board.Out(0x40, 0x9C);  // count 0x2E9C = 11932: a 100 Hz tick (10.0001 ms)
    board.Out(0x40, 0x2E);
    board.TakeInterrupts();  // the control word's own OUT edge
    int ticks = 0;
    board.RunUntil(100'000'000, [&] {  // 100 ms at ~100 Hz
        for (u8 v : board.TakeInterrupts()) {
            CHECK(v == 0x30);
            ++ticks;
        }
    });
    CHECK(ticks == 9);  // periods end at 10.0001 ms, ..., 90.0009 ms; the 10th at 100.001 ms
}

TEST_CASE("COM1 received data reaches the CPU as IRQ4, the RTC periodic interrupt as IRQ8", "[devices][wiring]") {
    Board board;
    board.Out(uart::kCom1Base + uart::kIer, uart::kIerRda);
    const u8 byte = 'k';
    board.com1_backend.Inject(std::span<const u8>(&byte, 1));
    CHECK(board.TakeInterrupts() == std::vector<u8>{0x34});
    CHECK(board.In(uart::kCom1Base) == 'k');

    board.Out(rtc::kBase, rtc::kRegB);
    board.Out(rtc::kBase + 1, rtc::kB24h | rtc::kBPie);
    board.RunUntil(1'000'000);  // the first 1024 Hz period ends at 976.6 us
    CHECK(board.TakeInterrupts() == std::vector<u8>{0x38 + 0});
}

TEST_CASE("unclaimed ports between the standard devices read as all-ones", "[devices][wiring]") {
    Board board;
    CHECK(board.In(0x22) == 0xFF);
    CHECK(board.In(0x3F0) == 0xFF);
    CHECK(board.In(0x514) == 0xFF);
}
