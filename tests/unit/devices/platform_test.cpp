// QEMU's documented platform ports (isa-debug-exit, pc-testdev, Bochs power-off) and fw_cfg
// (docs/specs/fw_cfg.rst), reached through a port bus as the guest reaches them.
#include <catch2/catch.hpp>

#include <string>

#include "devices/bus/bus.h"
#include "devices/platform/fw_cfg.h"
#include "devices/platform/regs.h"
#include "devices/platform/simple_ports.h"

using namespace emu;
using namespace emu::devices;

namespace {

void OutN(Bus& bus, u64 port, u64 value, size_t width) {
    u8 bytes[8];
    StoreLe(std::span<u8>(bytes, width), value);
    bus.Write(port, std::span<const u8>(bytes, width));
}

u64 InN(Bus& bus, u64 port, size_t width) {
    u8 bytes[8] = {};
    bus.Read(port, std::span<u8>(bytes, width));
    return LoadLe(std::span<const u8>(bytes, width));
}

std::string ReadItem(Bus& bus, u16 key, size_t n) {
    OutN(bus, platform::fw_cfg::kBase, key, 2);
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(InN(bus, platform::fw_cfg::kBase + 1, 1)));
    return out;
}

u64 ReadLe(Bus& bus, u16 key, size_t n) {
    const std::string s = ReadItem(bus, key, n);
    return LoadLe(std::span<const u8>(reinterpret_cast<const u8*>(s.data()), n));
}

}  // namespace

TEST_CASE("isa-debug-exit: writing v exits with status (v << 1) | 1", "[devices][platform]") {
    Bus bus;
    std::vector<int> statuses;
    DebugExit exit([&](int status) { statuses.push_back(status); });
    REQUIRE(bus.Insert(platform::kDebugExitPort, platform::kDebugExitSize, exit).ok());
    OutN(bus, 0xF4, 0x00, 1);
    OutN(bus, 0xF4, 0x10, 1);
    CHECK(statuses == std::vector<int>{1, 0x21});
}

TEST_CASE("pc-testdev: the 0xE0 latch reads back every byte lane; 0xE4 flushes the written page",
          "[devices][platform]") {
    Bus bus;
    std::vector<u32> flushed;
    PcTestdev testdev([&](u32 address) { flushed.push_back(address); });
    REQUIRE(bus.Insert(platform::kTestdevLatchPort, platform::kTestdevLatchSize, testdev.LatchPorts()).ok());
    REQUIRE(bus.Insert(platform::kTestdevFlushPort, platform::kTestdevFlushSize, testdev.FlushPort()).ok());
    OutN(bus, 0xE0, 0x12345678, 4);
    CHECK(InN(bus, 0xE0, 4) == 0x12345678);
    CHECK(InN(bus, 0xE2, 1) == 0x34);
    OutN(bus, 0xE1, 0xAA, 1);
    CHECK(InN(bus, 0xE0, 4) == 0x1234AA78);
    CHECK(InN(bus, 0xE2, 2) == 0x1234);
    OutN(bus, 0xE4, 0x00ABC000, 4);
    CHECK(flushed == std::vector<u32>{0x00ABC000});
}

TEST_CASE("the Bochs power-off port acts on the full \"Shutdown\" sequence only", "[devices][platform]") {
    Bus bus;
    int shutdowns = 0;
    BochsShutdownPort port([&] { ++shutdowns; });
    REQUIRE(bus.Insert(platform::kBochsShutdownPort, 1, port).ok());
    for (char c : std::string("ShutdowXShutdow")) OutN(bus, 0x8900, static_cast<u8>(c), 1);
    CHECK(shutdowns == 0);
    OutN(bus, 0x8900, 'n', 1);
    CHECK(shutdowns == 1);
}

TEST_CASE("port 0x92: bit 1 is the A20 gate, writing bit 0 resets", "[devices][platform]") {
    Bus bus;
    int resets = 0;
    std::vector<bool> a20;
    SystemControlPortA port([&] { ++resets; }, [&](bool on) { a20.push_back(on); });
    PostPort post;
    REQUIRE(bus.Insert(platform::kPortA, 1, port).ok());
    REQUIRE(bus.Insert(platform::kPostPort, 1, post).ok());
    OutN(bus, 0x92, 0x02, 1);
    CHECK(InN(bus, 0x92, 1) == 0x02);
    CHECK(port.A20Enabled());
    CHECK(resets == 0);
    OutN(bus, 0x92, 0x03, 1);
    CHECK(resets == 1);
    CHECK(a20 == std::vector<bool>{true});
    OutN(bus, 0x80, 0x55, 1);  // POST codes are accepted and ignored
    CHECK(InN(bus, 0x80, 1) == 0xFF);
}

TEST_CASE("fw_cfg: signature \"QEMU\", ID 1 (no DMA), RAM size and CPU counts", "[devices][platform][fw_cfg]") {
    Bus bus;
    FwCfg fw;
    REQUIRE(bus.Insert(platform::fw_cfg::kBase, platform::fw_cfg::kPorts, fw).ok());
    fw.SetRamSize(512ull << 20);
    fw.SetCpuCounts(2, 4);
    CHECK(ReadItem(bus, 0x0000, 4) == "QEMU");
    CHECK(ReadLe(bus, 0x0001, 4) == 1);
    CHECK(ReadLe(bus, 0x0003, 8) == (512ull << 20));
    CHECK(ReadLe(bus, 0x0005, 2) == 2);
    CHECK(ReadLe(bus, 0x000F, 2) == 4);
    CHECK(InN(bus, 0x514, 4) == 0xFFFFFFFF);  // no DMA interface registers
}

TEST_CASE("fw_cfg: selecting rewinds, reads past the end return 0, unknown keys read 0",
          "[devices][platform][fw_cfg]") {
    Bus bus;
    FwCfg fw;
    REQUIRE(bus.Insert(platform::fw_cfg::kBase, platform::fw_cfg::kPorts, fw).ok());
    CHECK(ReadItem(bus, 0x0000, 6) == std::string("QEMU\0\0", 6));
    CHECK(ReadItem(bus, 0x0000, 2) == "QE");  // a new select starts over
    CHECK(ReadItem(bus, 0x1234, 2) == std::string("\0\0", 2));
}

TEST_CASE("fw_cfg: command line size counts the NUL and the data ends with it", "[devices][platform][fw_cfg]") {
    Bus bus;
    FwCfg fw;
    REQUIRE(bus.Insert(platform::fw_cfg::kBase, platform::fw_cfg::kPorts, fw).ok());
    const std::string cmdline = "console=ttyS0 panic=-1";
    fw.SetCmdline(cmdline);
    CHECK(ReadLe(bus, 0x0014, 4) == cmdline.size() + 1);
    CHECK(ReadItem(bus, 0x0015, cmdline.size() + 1) == cmdline + std::string(1, '\0'));
}

TEST_CASE("fw_cfg: the file directory lists files big-endian and sorted by name", "[devices][platform][fw_cfg]") {
    Bus bus;
    FwCfg fw;
    REQUIRE(bus.Insert(platform::fw_cfg::kBase, platform::fw_cfg::kPorts, fw).ok());
    CHECK(ReadItem(bus, 0x0019, 4) == std::string("\0\0\0\0", 4));
    auto e820 = fw.AddFile("etc/e820", std::vector<u8>(20, 0xEE));
    auto boot = fw.AddFile("bootorder", {'x', '\n'});
    REQUIRE(e820.ok());
    REQUIRE(boot.ok());
    CHECK(*e820 == 0x20);
    CHECK(*boot == 0x21);

    const std::string dir = ReadItem(bus, 0x0019, 4 + 2 * 64);
    auto be = [&](size_t at, size_t n) {
        u64 v = 0;
        for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<u8>(dir[at + i]);
        return v;
    };
    CHECK(be(0, 4) == 2);
    CHECK(be(4, 4) == 2);        // "bootorder" sorts first: size 2
    CHECK(be(8, 2) == 0x21);     // its selector
    CHECK(dir.substr(12, 10) == std::string("bootorder\0", 10));
    CHECK(be(68, 4) == 20);
    CHECK(be(72, 2) == 0x20);
    CHECK(dir.substr(76, 9) == std::string("etc/e820\0", 9));
    CHECK(ReadItem(bus, *boot, 3) == std::string("x\n\0", 3));

    CHECK(fw.AddFile("etc/e820", {}).error() == FwCfgError::DuplicateName);
    CHECK(fw.AddFile(std::string(56, 'n'), {}).error() == FwCfgError::NameTooLong);
    CHECK(fw.AddFile("", {}).error() == FwCfgError::EmptyName);
}
