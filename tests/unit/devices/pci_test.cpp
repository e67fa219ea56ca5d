// PCI configuration mechanism #1, type 0 header behaviour and BAR sizing (PCI Local Bus 3.0 sections 3.2.2.3.2,
// 6.1, 6.2.5.1), the i440FX/PIIX3 identities of QEMU's pc and PIIX3 PIRQ routing.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/bus/bus.h"
#include "devices/pci/pci_host.h"
#include "devices/pci/piix.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

// A register file that remembers what was written, to see BAR accesses arrive.
struct ScratchDevice final : IoDevice {
    void Read(u64 offset, std::span<u8> data) override { StoreLe(data, offset + 0xA0); }
    void Write(u64 offset, std::span<const u8> data) override { last_write = {offset, LoadLe(data)}; }
    std::pair<u64, u64> last_write{~u64{0}, 0};
};

// A test function with an I/O BAR, a 32-bit memory BAR, a 64-bit prefetchable BAR, two capabilities and INTA#.
class TestFunction final : public PciDevice {
public:
    TestFunction()
        : PciDevice(PciIds{.vendor = 0x1AF4, .device = 0x1000, .class_code = 0x020000, .revision = 1,
                           .subsystem_vendor = 0x1AF4, .subsystem = 1, .interrupt_pin = 1}) {
        AddBar(0, BarKind::Io, 0x20, io);
        AddBar(1, BarKind::Mem32, 0x1000, mem);
        AddBar(2, BarKind::Mem64, 0x4000, mem64, true);
        const u8 body1[2] = {0x11, 0x22};
        const u8 body2[6] = {};
        cap1 = AddCapability(0x09, body1);
        cap2 = AddCapability(0x05, body2);
    }
    ScratchDevice io, mem, mem64;
    u8 cap1 = 0, cap2 = 0;
};

// The port bus dispatches the config ports; BAR remapping is deferred until the access returns, as the machine
// does it.
struct PciEnv {
    Bus io;
    Bus mmio;
    std::vector<std::function<void()>> deferred;
    PciHost host{io, mmio, [this](std::function<void()> work) { deferred.push_back(std::move(work)); }};
    I440fx i440fx;
    std::array<RecordingIrqLine, 16> isa;
    std::array<RecordingIrqLine, 4> gsi;
    Piix3 piix3{Irqs()};
    TestFunction nic;
    int resets = 0;
    bool last_hard = false;

    Piix3Irqs Irqs() {
        Piix3Irqs irqs;
        for (unsigned i = 0; i < 16; ++i) irqs.isa[i] = &isa[i];
        for (unsigned i = 0; i < 4; ++i) irqs.gsi[i] = &gsi[i];
        return irqs;
    }
    PciEnv() {
        REQUIRE(io.Insert(0xCF8, 8, host.Ports()).ok());
        REQUIRE(host.Attach(0, 0, i440fx).ok());
        REQUIRE(host.Attach(1, 0, piix3).ok());
        REQUIRE(host.Attach(3, 0, nic).ok());
        host.SetIntxRouter([this](unsigned pirq, bool level) { piix3.SetPirq(pirq, level); });
        host.SetResetCallback([this](bool hard) {
            ++resets;
            last_hard = hard;
        });
    }
    void Flush() {
        auto work = std::move(deferred);
        deferred.clear();
        for (auto& w : work) w();
    }
    void OutL(u16 port, u32 v) {
        u8 b[4];
        StoreLe(b, v);
        io.Write(port, b);
        Flush();
    }
    void OutW(u16 port, u16 v) {
        u8 b[2];
        StoreLe(b, v);
        io.Write(port, b);
        Flush();
    }
    void OutB(u16 port, u8 v) {
        io.Write(port, std::span<const u8>(&v, 1));
        Flush();
    }
    u32 InL(u16 port) {
        u8 b[4];
        io.Read(port, b);
        return static_cast<u32>(LoadLe(b));
    }
    u16 InW(u16 port) {
        u8 b[2];
        io.Read(port, b);
        return static_cast<u16>(LoadLe(b));
    }
    u8 InB(u16 port) {
        u8 b = 0;
        io.Read(port, std::span<u8>(&b, 1));
        return b;
    }
    static u32 Addr(unsigned slot, unsigned fn, unsigned reg) {
        return 0x80000000u | slot << 11 | fn << 8 | (reg & 0xFC);
    }
    u32 Cfg32(unsigned slot, unsigned reg) {
        OutL(0xCF8, Addr(slot, 0, reg));
        return InL(0xCFC);
    }
    void SetCfg32(unsigned slot, unsigned reg, u32 v) {
        OutL(0xCF8, Addr(slot, 0, reg));
        OutL(0xCFC, v);
    }
};

}  // namespace

TEST_CASE("pci: CONFIG_ADDRESS latches only dword writes and reads back without reserved bits", "[devices][pci]") {
    PciEnv env;
    env.OutL(0xCF8, 0xFFFFFFFF);
    CHECK(env.InL(0xCF8) == 0x80FFFFFC);
    env.OutL(0xCF8, 0x80000000);
    env.OutW(0xCF8, 0x1234);  // not a dword: ignored
    CHECK(env.InL(0xCF8) == 0x80000000);
}

TEST_CASE("pci: 440FX at 00:00.0 and PIIX3 at 00:01.0 identify as on QEMU's pc", "[devices][pci]") {
    PciEnv env;
    CHECK(env.Cfg32(0, 0x00) == 0x12378086);
    CHECK(env.Cfg32(0, 0x08) >> 8 == 0x060000);
    CHECK(env.Cfg32(1, 0x00) == 0x70008086);
    CHECK(env.Cfg32(1, 0x08) >> 8 == 0x060100);
    CHECK(((env.Cfg32(1, 0x0C) >> 16) & 0x80) != 0);  // multi-function header
    CHECK(env.Cfg32(1, 0x60) == 0x80808080);          // PIRQRC reset: all disabled
}

TEST_CASE("pci: absent functions, other buses and a clear enable bit read all ones", "[devices][pci]") {
    PciEnv env;
    CHECK(env.Cfg32(7, 0) == 0xFFFFFFFF);
    env.OutL(0xCF8, 0x80010000);  // bus 1, slot 0
    CHECK(env.InL(0xCFC) == 0xFFFFFFFF);
    env.OutL(0xCF8, 0x00000000);  // enable clear: slot 0 is not selected
    CHECK(env.InL(0xCFC) == 0xFFFFFFFF);
    env.OutL(0xCF8, PciEnv::Addr(0, 1, 0));  // function 1 of the host bridge
    CHECK(env.InL(0xCFC) == 0xFFFFFFFF);
}

TEST_CASE("pci: byte and word accesses at 0xCFC-0xCFF select the bytes of the dword", "[devices][pci]") {
    PciEnv env;
    env.OutL(0xCF8, PciEnv::Addr(3, 0, 0x00));
    CHECK(env.InB(0xCFC) == 0xF4);
    CHECK(env.InB(0xCFD) == 0x1A);
    CHECK(env.InW(0xCFE) == 0x1000);
    env.OutL(0xCF8, PciEnv::Addr(3, 0, 0x3C));
    env.OutB(0xCFC, 0x0B);                  // interrupt line: writable
    env.OutB(0xCFD, 0x04);                  // interrupt pin: read-only
    CHECK(env.InW(0xCFC) == 0x010B);
    env.OutL(0xCF8, PciEnv::Addr(3, 0, 0x0C));
    env.OutW(0xCFC, 0x4010);                 // cache line size + latency timer
    CHECK((env.InL(0xCFC) & 0xFFFF) == 0x4010);
    env.OutL(0xCF8, PciEnv::Addr(3, 0, 0x00));
    env.OutW(0xCFC, 0xBEEF);                 // vendor ID: read-only
    CHECK(env.InL(0xCFC) == 0x10001AF4);
}

TEST_CASE("pci: command register keeps only its writable bits; status shows the capabilities list",
          "[devices][pci]") {
    PciEnv env;
    env.SetCfg32(3, 0x04, 0xFFFF);
    CHECK((env.Cfg32(3, 0x04) & 0xFFFF) == 0x0547);
    CHECK((env.Cfg32(3, 0x04) >> 16) & 0x10);  // capabilities list bit
}

TEST_CASE("pci: BAR sizing: writing all ones reads back the size mask and the type bits", "[devices][pci]") {
    PciEnv env;
    env.SetCfg32(3, 0x10, 0xFFFFFFFF);
    CHECK(env.Cfg32(3, 0x10) == 0xFFFFFFE1);  // 32-byte I/O BAR
    env.SetCfg32(3, 0x14, 0xFFFFFFFF);
    CHECK(env.Cfg32(3, 0x14) == 0xFFFFF000);  // 4 KiB 32-bit memory
    env.SetCfg32(3, 0x18, 0xFFFFFFFF);
    env.SetCfg32(3, 0x1C, 0xFFFFFFFF);
    CHECK(env.Cfg32(3, 0x18) == 0xFFFFC00C);  // 16 KiB, 64-bit, prefetchable
    CHECK(env.Cfg32(3, 0x1C) == 0xFFFFFFFF);
    env.SetCfg32(3, 0x20, 0xFFFFFFFF);
    CHECK(env.Cfg32(3, 0x20) == 0);  // unimplemented BAR
    CHECK(env.deferred.empty());
}

TEST_CASE("pci: BARs appear on the buses when the command register enables decoding, and move",
          "[devices][pci]") {
    PciEnv env;
    env.SetCfg32(3, 0x10, 0xC000);
    env.SetCfg32(3, 0x14, 0xFEB00000);
    env.SetCfg32(3, 0x18, 0x00000000);
    env.SetCfg32(3, 0x1C, 0x00000001);  // 0x1'0000'0000
    CHECK(env.io.Find(0xC000) == nullptr);
    env.SetCfg32(3, 0x04, 0x0003);  // I/O + memory decode
    u64 offset = 0;
    CHECK(env.io.Find(0xC004, &offset) == &env.nic.io);
    CHECK(offset == 4);
    CHECK(env.mmio.Find(0xFEB00010) == &env.nic.mem);
    CHECK(env.mmio.Find(0x1'0000'0000ull) == &env.nic.mem64);
    u8 b[4];
    env.io.Read(0xC008, b);
    CHECK(LoadLe(b) == 0xA8);
    env.SetCfg32(3, 0x14, 0xFEA00000);  // move while decoding
    CHECK(env.mmio.Find(0xFEB00010) == nullptr);
    CHECK(env.mmio.Find(0xFEA00010) == &env.nic.mem);
    env.SetCfg32(3, 0x04, 0x0001);  // memory decode off
    CHECK(env.mmio.Find(0xFEA00010) == nullptr);
    CHECK(env.io.Find(0xC000) == &env.nic.io);
    env.SetCfg32(3, 0x04, 0x0000);
    CHECK(env.io.Find(0xC000) == nullptr);
}

TEST_CASE("pci: capabilities form a linked list from 0x34", "[devices][pci]") {
    PciEnv env;
    const u8 first = static_cast<u8>(env.Cfg32(3, 0x34));
    CHECK(first == 0x40);
    const u32 cap1 = env.Cfg32(3, first);
    CHECK((cap1 & 0xFF) == 0x09);
    CHECK((cap1 >> 16) == 0x2211);
    const u8 second = static_cast<u8>(cap1 >> 8);
    CHECK(second % 4 == 0);
    CHECK((env.Cfg32(3, second) & 0xFF) == 0x05);
    CHECK(((env.Cfg32(3, second) >> 8) & 0xFF) == 0);  // end of list
}

TEST_CASE("pci: INTA# of slot 3 reaches PIRQ (3 + 0 - 1) mod 4 = C: GSI 18 always, the ISA IRQ once routed",
          "[devices][pci]") {
    PciEnv env;
    static_assert(PciSwizzle(3, 0) == 2);
    static_assert(PciSwizzle(0, 0) == 3);
    env.nic.SetIntx(true);
    CHECK(env.gsi[2].level);
    for (auto& line : env.isa) CHECK_FALSE(line.level);  // PIRQRC disabled
    CHECK((env.Cfg32(3, 0x04) >> 16) & 0x08);             // status: interrupt pending
    env.OutL(0xCF8, PciEnv::Addr(1, 0, 0x60));
    env.OutB(0xCFE, 0x0B);  // PIRQC -> IRQ 11
    CHECK(env.isa[11].level);
    env.OutB(0xCFE, 0x08);  // IRQ 8 is not routable
    CHECK_FALSE(env.isa[11].level);
    CHECK_FALSE(env.isa[8].level);
    env.OutB(0xCFE, 0x0A);
    CHECK(env.isa[10].level);
    env.SetCfg32(3, 0x04, 0x0400);  // INTx Disable
    CHECK_FALSE(env.gsi[2].level);
    CHECK_FALSE(env.isa[10].level);
    env.SetCfg32(3, 0x04, 0x0000);
    CHECK(env.gsi[2].level);
    env.nic.SetIntx(false);
    CHECK_FALSE(env.gsi[2].level);
    CHECK_FALSE(env.isa[10].level);
}

TEST_CASE("pci: 0xCF9 reset control resets on RST_CPU, hard with SYS_RST", "[devices][pci]") {
    PciEnv env;
    env.OutB(0xCF9, 0x02);
    CHECK(env.resets == 0);
    CHECK(env.InB(0xCF9) == 0x02);
    env.OutB(0xCF9, 0x06);  // what the FADT's RESET_VALUE writes
    CHECK(env.resets == 1);
    CHECK(env.last_hard);
    CHECK(env.InL(0xCF8) == 0);  // the byte access did not touch CONFIG_ADDRESS
}

TEST_CASE("pci: attaching to a busy slot or a bad address fails", "[devices][pci]") {
    PciEnv env;
    TestFunction other;
    CHECK(env.host.Attach(3, 0, other).error() == PciError::SlotBusy);
    CHECK(env.host.Attach(32, 0, other).error() == PciError::BadAddress);
    CHECK(env.host.Attach(4, 0, env.nic).error() == PciError::AlreadyAttached);
}
