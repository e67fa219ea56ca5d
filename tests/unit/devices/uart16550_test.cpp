// PC16550D behaviour (PC16550D datasheet: register summary, IIR priority table, FIFO operation, loopback).
#include <catch2/catch.hpp>

#include <string>

#include "device_test_util.h"
#include "devices/serial/regs.h"
#include "devices/serial/uart16550.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

struct UartEnv : TimerEnv {
    RecordingIrqLine irq;
    BufferBackend backend;
    Uart16550 uart{timers, irq, backend};

    u8 Reg(u8 r) { return In8(uart, r); }
    void Set(u8 r, u8 v) { Out8(uart, r, v); }
    std::string Output() {
        const auto bytes = backend.TakeOutput();
        return std::string(bytes.begin(), bytes.end());
    }
    void Inject(std::string_view text) {
        backend.Inject(std::span<const u8>(reinterpret_cast<const u8*>(text.data()), text.size()));
    }
};

}  // namespace

TEST_CASE("DLAB = 1 maps offsets 0/1 to the divisor latch, DLAB = 0 to RBR/THR and IER", "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kLcr, 0x83);  // DLAB, 8N1
    env.Set(uart::kRbrThr, 0x01);
    env.Set(uart::kIer, 0x00);  // 115200 baud
    CHECK(env.Reg(uart::kRbrThr) == 0x01);
    CHECK(env.Reg(uart::kIer) == 0x00);
    CHECK(env.Output().empty());  // the divisor write did not transmit
    env.Set(uart::kLcr, 0x03);
    CHECK(env.Reg(uart::kLcr) == 0x03);
    env.Set(uart::kIer, 0xFF);
    CHECK(env.Reg(uart::kIer) == 0x0F);  // bits 7-4 are always 0
}

TEST_CASE("THR writes reach the backend and the transmitter reads idle (THRE | TEMT)", "[devices][uart]") {
    UartEnv env;
    for (char c : std::string("hi\n")) env.Set(uart::kRbrThr, static_cast<u8>(c));
    CHECK(env.Output() == "hi\n");
    CHECK(env.Reg(uart::kLsr) == (uart::kLsrThre | uart::kLsrTemt));
    env.Set(uart::kScr, 0x5A);
    CHECK(env.Reg(uart::kScr) == 0x5A);
}

TEST_CASE("loopback returns TX to RX and wires RTS/DTR/OUT1/OUT2 to CTS/DSR/RI/DCD", "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kMcr, uart::kMcrLoop);
    env.Reg(uart::kMsr);  // clear the deltas from leaving the host's modem lines
    env.Set(uart::kRbrThr, 0x55);
    CHECK(env.Output().empty());
    CHECK((env.Reg(uart::kLsr) & uart::kLsrDr) != 0);
    CHECK(env.Reg(uart::kRbrThr) == 0x55);
    CHECK((env.Reg(uart::kLsr) & uart::kLsrDr) == 0);

    env.Set(uart::kMcr, uart::kMcrLoop | uart::kMcrRts | uart::kMcrOut2);
    CHECK(env.Reg(uart::kMsr) == (uart::kMsrCts | uart::kMsrDcd | uart::kMsrDcts | uart::kMsrDdcd));
    CHECK(env.Reg(uart::kMsr) == (uart::kMsrCts | uart::kMsrDcd));  // reading MSR cleared the deltas
    env.Set(uart::kMcr, uart::kMcrLoop | uart::kMcrOut1);
    env.Set(uart::kMcr, uart::kMcrLoop);
    CHECK((env.Reg(uart::kMsr) & uart::kMsrTeri) != 0);  // RI's trailing edge
}

TEST_CASE("without FIFOs a second character before RBR is read is an overrun", "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kMcr, uart::kMcrLoop);
    env.Set(uart::kRbrThr, 'a');
    env.Set(uart::kRbrThr, 'b');
    const u8 lsr = env.Reg(uart::kLsr);
    CHECK((lsr & uart::kLsrOe) != 0);
    CHECK((lsr & uart::kLsrDr) != 0);
    CHECK((env.Reg(uart::kLsr) & uart::kLsrOe) == 0);  // reading LSR cleared OE
    CHECK(env.Reg(uart::kRbrThr) == 'b');              // the new character overwrote the old one
}

TEST_CASE("the 16-byte receive FIFO keeps order, signals the trigger level and overruns at 17",
          "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kIirFcr, 0xC7);  // enable + clear both FIFOs, trigger 14
    env.Set(uart::kMcr, uart::kMcrLoop);
    env.Set(uart::kIer, uart::kIerRda);
    for (int i = 0; i < 13; ++i) env.Set(uart::kRbrThr, static_cast<u8>('A' + i));
    CHECK(env.Reg(uart::kIirFcr) == (uart::kIirFifoEnabled | uart::kIirNone));
    env.Set(uart::kRbrThr, 'A' + 13);
    CHECK(env.Reg(uart::kIirFcr) == (uart::kIirFifoEnabled | uart::kIirRda));
    CHECK(env.irq.level);
    for (int i = 14; i < 17; ++i) env.Set(uart::kRbrThr, static_cast<u8>('A' + i));
    CHECK((env.Reg(uart::kLsr) & uart::kLsrOe) != 0);
    for (int i = 0; i < 16; ++i) CHECK(env.Reg(uart::kRbrThr) == 'A' + i);  // 'Q' (the 17th) was lost
    CHECK((env.Reg(uart::kLsr) & uart::kLsrDr) == 0);
    CHECK_FALSE(env.irq.level);
}

TEST_CASE("IIR priority: line status over received data over THR empty", "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kMcr, uart::kMcrLoop);
    env.Set(uart::kIer, uart::kIerRda | uart::kIerThre | uart::kIerRls);
    env.Set(uart::kRbrThr, '1');
    env.Set(uart::kRbrThr, '2');  // overrun
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirRls);
    env.Reg(uart::kLsr);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirRda);
    env.Reg(uart::kRbrThr);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirThre);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirNone);  // reading IIR reporting THRE cleared it
}

TEST_CASE("THRE interrupt: raised when enabled with THR empty, cleared by IIR read, re-armed by THR write",
          "[devices][uart]") {
    UartEnv env;
    CHECK_FALSE(env.irq.level);
    env.Set(uart::kIer, uart::kIerThre);
    CHECK(env.irq.level);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirThre);
    CHECK_FALSE(env.irq.level);
    env.Set(uart::kRbrThr, 'x');
    CHECK(env.irq.level);
    CHECK(env.irq.rising_edges == 2);
    env.Set(uart::kIer, 0);
    CHECK_FALSE(env.irq.level);
}

TEST_CASE("character timeout: data below the trigger level interrupts after four character times",
          "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kLcr, 0x83);
    env.Set(uart::kRbrThr, 12);  // 9600 baud
    env.Set(uart::kIer, 0);
    env.Set(uart::kLcr, 0x03);  // 8N1: 10 bits per character
    env.Set(uart::kIirFcr, 0x41);  // FIFO on, trigger 4
    env.Set(uart::kIer, uart::kIerRda);
    env.Inject("a");
    CHECK(env.Reg(uart::kIirFcr) == (uart::kIirFifoEnabled | uart::kIirNone));
    const u64 four_chars_ns = 4ull * 10 * 1'000'000'000 / 9600;  // 4.1667 ms
    env.RunUntil(four_chars_ns - 10'000);
    CHECK_FALSE(env.irq.level);
    env.RunUntil(four_chars_ns + 10'000);
    CHECK(env.irq.level);
    CHECK(env.Reg(uart::kIirFcr) == (uart::kIirFifoEnabled | uart::kIirTimeout));
    CHECK(env.Reg(uart::kRbrThr) == 'a');
    CHECK_FALSE(env.irq.level);
}

TEST_CASE("host input beyond the FIFO waits instead of overrunning", "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kIirFcr, 0x07);
    const std::string text = "the quick brown fox jumps";
    env.Inject(text);
    std::string got;
    while (env.Reg(uart::kLsr) & uart::kLsrDr) got.push_back(static_cast<char>(env.Reg(uart::kRbrThr)));
    CHECK(got == text);
    CHECK((env.Reg(uart::kLsr) & uart::kLsrOe) == 0);
}

TEST_CASE("modem status interrupt reports delta bits until MSR is read", "[devices][uart]") {
    UartEnv env;
    env.Set(uart::kMcr, uart::kMcrLoop);
    env.Reg(uart::kMsr);
    env.Set(uart::kIer, uart::kIerMsi);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirNone);
    env.Set(uart::kMcr, uart::kMcrLoop | uart::kMcrDtr);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirMsi);
    CHECK((env.Reg(uart::kMsr) & uart::kMsrDdsr) != 0);
    CHECK(env.Reg(uart::kIirFcr) == uart::kIirNone);
}
