// I/O APIC (82093AA datasheet) and xAPIC local APIC (Intel SDM Vol. 3 chapter 11), exercised through their
// MMIO registers with a fake clock.
#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include "device_test_util.h"
#include "devices/irq/apic_regs.h"
#include "devices/irq/ioapic.h"
#include "devices/irq/local_apic.h"
#include "devices/irq/pic.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

// Records what the I/O APIC sends.
struct RecordingApicBus final : ApicBus {
    void DeliverInterrupt(const ApicMessage& msg) override { messages.push_back(msg); }
    std::vector<ApicMessage> messages;
};

struct IoapicEnv {
    RecordingApicBus bus;
    Ioapic ioapic{bus};

    u32 ReadReg(u8 index) {
        Out32(ioapic, apic::kIoregsel, index);
        return In32(ioapic, apic::kIowin);
    }
    void WriteReg(u8 index, u32 value) {
        Out32(ioapic, apic::kIoregsel, index);
        Out32(ioapic, apic::kIowin, value);
    }
    void Program(unsigned pin, u64 rte) {
        WriteReg(static_cast<u8>(0x11 + 2 * pin), static_cast<u32>(rte >> 32));
        WriteReg(static_cast<u8>(0x10 + 2 * pin), static_cast<u32>(rte));
    }
    u64 Rte(unsigned pin) {
        return ReadReg(static_cast<u8>(0x10 + 2 * pin)) | u64{ReadReg(static_cast<u8>(0x11 + 2 * pin))} << 32;
    }
};

struct ApicEnv : TimerEnv {
    LocalApic apic{timers, LocalApic::Config{}};
    int wakeups = 0;
    std::vector<u8> eois;

    ApicEnv() { apic.SetWakeup([this] { ++wakeups; }); }
    u32 Reg(u32 offset) { return In32(apic, offset); }
    void Set(u32 offset, u32 value) { Out32(apic, offset, value); }
    void Enable() { Set(apic::kRegSvr, apic::kSvrEnable | 0xFF); }
    void SelfIpi(u8 vector) { Set(apic::kRegIcrLow, (1u << 18) | vector); }  // shorthand: self, fixed
    bool IrrBit(u8 v) { return (Reg(apic::kRegIrr + 0x10 * (v / 32)) >> (v % 32)) & 1; }
    bool IsrBit(u8 v) { return (Reg(apic::kRegIsr + 0x10 * (v / 32)) >> (v % 32)) & 1; }
    bool TmrBit(u8 v) { return (Reg(apic::kRegTmr + 0x10 * (v / 32)) >> (v % 32)) & 1; }
};

}  // namespace

// ---------------------------------------------------------------- I/O APIC

TEST_CASE("ioapic: ID, version 0x20 with 24 entries, arbitration, entries reset masked", "[devices][ioapic]") {
    IoapicEnv env;
    CHECK(env.ReadReg(apic::kIoapicVer) == 0x00170020);  // max redirection entry 23 in bits 23-16
    env.WriteReg(apic::kIoapicId, 0x0A000000);
    CHECK(env.ReadReg(apic::kIoapicId) == 0x0A000000);
    CHECK(env.ReadReg(apic::kIoapicArb) == 0x0A000000);
    env.WriteReg(apic::kIoapicVer, 0x12345678);  // read-only
    CHECK(env.ReadReg(apic::kIoapicVer) == 0x00170020);
    for (unsigned pin = 0; pin < 24; ++pin) CHECK(env.Rte(pin) == apic::kRteMasked);
    // IOREGSEL reads back; read-only bits of an entry ignore writes.
    Out32(env.ioapic, apic::kIoregsel, 0x13);
    CHECK(In32(env.ioapic, apic::kIoregsel) == 0x13);
    env.Program(3, 0xFF00'0000'0000'0000ull | apic::kRteRemoteIrr | apic::kRteDeliveryStatus | 0x31);
    CHECK(env.Rte(3) == (0xFF00'0000'0000'0000ull | 0x31));
}

TEST_CASE("ioapic: an edge pin sends one fixed message per rising edge with the entry's fields",
          "[devices][ioapic]") {
    IoapicEnv env;
    env.Program(4, (u64{3} << 56) | apic::kRteDestLogical | (u64{1} << 8) | 0x34);  // lowest priority, logical
    env.ioapic.Input(4).Raise();
    env.ioapic.Input(4).Raise();  // no new edge
    REQUIRE(env.bus.messages.size() == 1);
    const ApicMessage m = env.bus.messages[0];
    CHECK(m.dest == 3);
    CHECK(m.logical);
    CHECK(m.vector == 0x34);
    CHECK(m.mode == apic::DeliveryMode::LowestPriority);
    CHECK_FALSE(m.level);
    env.ioapic.Input(4).Lower();
    env.ioapic.Input(4).Pulse();
    CHECK(env.bus.messages.size() == 2);
}

TEST_CASE("ioapic: a masked edge is latched and delivered on unmask", "[devices][ioapic]") {
    IoapicEnv env;
    env.Program(1, apic::kRteMasked | 0x41);
    env.ioapic.Input(1).Pulse();
    CHECK(env.bus.messages.empty());
    env.Program(1, 0x41);
    REQUIRE(env.bus.messages.size() == 1);
    CHECK(env.bus.messages[0].vector == 0x41);
}

TEST_CASE("ioapic: level-triggered remote IRR blocks redelivery until EOI; EOI redelivers a held line",
          "[devices][ioapic]") {
    IoapicEnv env;
    env.Program(10, apic::kRteLevel | 0x5A);
    env.ioapic.Input(10).Raise();
    REQUIRE(env.bus.messages.size() == 1);
    CHECK(env.bus.messages[0].level);
    CHECK((env.Rte(10) & apic::kRteRemoteIrr) != 0);
    env.ioapic.Input(10).Lower();
    env.ioapic.Input(10).Raise();
    CHECK(env.bus.messages.size() == 1);  // remote IRR still set
    env.ioapic.Eoi(0x5B);                  // another vector: no effect
    CHECK((env.Rte(10) & apic::kRteRemoteIrr) != 0);
    env.ioapic.Eoi(0x5A);
    CHECK(env.bus.messages.size() == 2);  // still asserted: delivered again, remote IRR set again
    CHECK((env.Rte(10) & apic::kRteRemoteIrr) != 0);
    env.ioapic.Input(10).Lower();
    Out32(env.ioapic, apic::kIoapicEoi, 0x5A);  // the version-0x20 EOI register
    CHECK((env.Rte(10) & apic::kRteRemoteIrr) == 0);
    CHECK(env.bus.messages.size() == 2);
}

TEST_CASE("ioapic: physical destination, NMI and ExtINT delivery modes pass through", "[devices][ioapic]") {
    IoapicEnv env;
    env.Program(0, (u64{7} << 8));               // ExtINT (virtual wire through the I/O APIC)
    env.Program(5, (u64{2} << 56) | (u64{4} << 8));  // NMI to APIC 2
    env.ioapic.Input(0).Pulse();
    env.ioapic.Input(5).Pulse();
    REQUIRE(env.bus.messages.size() == 2);
    CHECK(env.bus.messages[0].mode == apic::DeliveryMode::ExtInt);
    CHECK(env.bus.messages[1].mode == apic::DeliveryMode::Nmi);
    CHECK(env.bus.messages[1].dest == 2);
    CHECK_FALSE(env.bus.messages[1].logical);
}

// ---------------------------------------------------------------- local APIC registers

TEST_CASE("lapic: reset values per SDM 11.4.7.1 and version 0x50014", "[devices][lapic]") {
    ApicEnv env;
    CHECK(env.Reg(apic::kRegId) == 0);
    CHECK(env.Reg(apic::kRegVersion) == 0x00050014);
    CHECK(env.Reg(apic::kRegSvr) == 0xFF);
    CHECK(env.Reg(apic::kRegDfr) == 0xFFFFFFFF);
    CHECK(env.Reg(apic::kRegLvtTimer) == apic::kLvtMasked);
    CHECK(env.Reg(apic::kRegLvtLint0) == 0x700);  // BSP: ExtINT virtual wire (as QEMU)
    CHECK(env.Reg(apic::kRegLvtLint1) == apic::kLvtMasked);
    CHECK(env.apic.BaseMsr() == (0xFEE00000 | apic::kApicBaseEnable | apic::kApicBaseBsp));
    CHECK(env.apic.Enabled());
}

TEST_CASE("lapic: DFR keeps its reserved ones, LDR keeps bits 31-24, divide keeps bits 0,1,3", "[devices][lapic]") {
    ApicEnv env;
    env.Set(apic::kRegDfr, 0);
    CHECK(env.Reg(apic::kRegDfr) == 0x0FFFFFFF);
    env.Set(apic::kRegLdr, 0x12345678);
    CHECK(env.Reg(apic::kRegLdr) == 0x12000000);
    env.Set(apic::kRegTimerDivide, 0xFF);
    CHECK(env.Reg(apic::kRegTimerDivide) == 0xB);
}

TEST_CASE("lapic: software disable masks the LVTs and keeps them masked", "[devices][lapic]") {
    ApicEnv env;
    env.Set(apic::kRegLvtTimer, 0x40);
    CHECK(env.Reg(apic::kRegLvtTimer) == (apic::kLvtMasked | 0x40));  // still disabled: mask sticks
    env.Enable();
    env.Set(apic::kRegLvtTimer, 0x40);
    CHECK(env.Reg(apic::kRegLvtTimer) == 0x40);
    env.Set(apic::kRegSvr, 0xFF);
    CHECK(env.Reg(apic::kRegLvtTimer) == (apic::kLvtMasked | 0x40));
}

TEST_CASE("lapic: SetBase relocates, refuses reserved bits, and clearing the enable bit disables", "[devices][lapic]") {
    ApicEnv env;
    CHECK_FALSE(env.apic.SetBase(0xFEE00000 | apic::kApicBaseEnable | 1));
    REQUIRE(env.apic.SetBase(0xFED00000 | apic::kApicBaseEnable));
    CHECK(env.apic.Base() == 0xFED00000);
    CHECK((env.apic.BaseMsr() & apic::kApicBaseBsp) != 0);  // read-only
    env.Enable();
    REQUIRE(env.apic.SetBase(0xFEE00000));
    CHECK_FALSE(env.apic.Enabled());
    CHECK((env.Reg(apic::kRegSvr) & apic::kSvrEnable) == 0);
    env.apic.Accept(ApicMessage{.vector = 0x40});
    CHECK_FALSE(env.apic.HasPendingInterrupt());
}

// ---------------------------------------------------------------- acceptance, priority, EOI

TEST_CASE("lapic: a software-disabled APIC drops fixed interrupts", "[devices][lapic]") {
    ApicEnv env;
    env.apic.Accept(ApicMessage{.vector = 0x40});
    CHECK_FALSE(env.IrrBit(0x40));
    env.Enable();
    env.apic.Accept(ApicMessage{.vector = 0x40});
    CHECK(env.IrrBit(0x40));
    CHECK(env.wakeups == 1);
}

TEST_CASE("lapic: PPR follows TPR and the in-service class; only a higher class is delivered",
          "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.SelfIpi(0x52);
    REQUIRE(env.apic.HasPendingInterrupt());
    CHECK(env.apic.Acknowledge() == 0x52);
    CHECK(env.IsrBit(0x52));
    CHECK_FALSE(env.IrrBit(0x52));
    CHECK(env.Reg(apic::kRegPpr) == 0x50);  // ISRV class, sub-class zero
    env.SelfIpi(0x55);                      // same class: waits
    CHECK_FALSE(env.apic.HasPendingInterrupt());
    env.SelfIpi(0x61);                      // higher class: nests
    REQUIRE(env.apic.HasPendingInterrupt());
    CHECK(env.apic.Acknowledge() == 0x61);
    CHECK(env.Reg(apic::kRegPpr) == 0x60);
    env.Set(apic::kRegEoi, 0);  // EOI retires the highest in-service vector (0x61)
    CHECK_FALSE(env.IsrBit(0x61));
    CHECK(env.IsrBit(0x52));
    env.Set(apic::kRegEoi, 0);
    CHECK(env.Reg(apic::kRegPpr) == 0);
    REQUIRE(env.apic.HasPendingInterrupt());
    CHECK(env.apic.Acknowledge() == 0x55);
    env.Set(apic::kRegEoi, 0);
    // TPR: PPR = TPR when its class is at least the in-service class; vectors at or below the class wait.
    env.Set(apic::kRegTpr, 0x73);
    CHECK(env.Reg(apic::kRegPpr) == 0x73);
    env.SelfIpi(0x7F);
    CHECK_FALSE(env.apic.HasPendingInterrupt());
    CHECK(env.apic.Acknowledge() == 0xFF);  // nothing deliverable: the spurious vector
    env.Set(apic::kRegTpr, 0x60);
    CHECK(env.apic.HasPendingInterrupt());
    CHECK(env.Reg(apic::kRegApr) == 0x70);  // SDM 11.6.2.1: the IRR class wins over TPR
}

TEST_CASE("lapic: EOI of a level-triggered vector broadcasts to the I/O APIC", "[devices][lapic]") {
    TimerEnv timer_env;
    std::vector<u8> eois;
    ApicRouter router;
    LocalApic lapic{timer_env.timers, LocalApic::Config{}, &router, [&](u8 v) { eois.push_back(v); }};
    router.Add(lapic);
    Ioapic ioapic{router};
    Out32(lapic, apic::kRegSvr, apic::kSvrEnable | 0xFF);
    // Pin 9 level-triggered to vector 0x49, physical destination APIC 0; pin 4 edge to vector 0x44.
    Out32(ioapic, apic::kIoregsel, 0x10 + 2 * 9);
    Out32(ioapic, apic::kIowin, apic::kRteLevel | 0x49);
    Out32(ioapic, apic::kIoregsel, 0x10 + 2 * 4);
    Out32(ioapic, apic::kIowin, 0x44);
    ioapic.Input(9).Raise();
    ioapic.Input(4).Pulse();
    CHECK(lapic.Acknowledge() == 0x49);
    CHECK((In32(lapic, apic::kRegTmr + 0x20) >> (0x49 - 64)) & 1);  // TMR set for a level message
    Out32(lapic, apic::kRegEoi, 0);
    REQUIRE(eois.size() == 1);
    CHECK(eois[0] == 0x49);
    CHECK(lapic.Acknowledge() == 0x44);
    Out32(lapic, apic::kRegEoi, 0);
    CHECK(eois.size() == 1);  // edge-triggered: no broadcast
}

TEST_CASE("lapic: illegal vectors set ESR, which latches on write", "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.SelfIpi(0x05);
    CHECK(env.Reg(apic::kRegEsr) == 0);  // not latched yet
    env.Set(apic::kRegEsr, 0);
    CHECK(env.Reg(apic::kRegEsr) == apic::kEsrSendIllegalVector);
    env.apic.Accept(ApicMessage{.vector = 0x0A});
    env.Set(apic::kRegEsr, 0);
    CHECK(env.Reg(apic::kRegEsr) == apic::kEsrReceiveIllegalVector);
    env.Set(apic::kRegEsr, 0);
    CHECK(env.Reg(apic::kRegEsr) == 0);
}

TEST_CASE("lapic: INIT and SIPI reach the startup handler in arrival order and wake the vCPU", "[devices][lapic][smp]") {
    ApicEnv env;
    std::vector<std::pair<apic::DeliveryMode, u8>> seen;
    int wakes = 0;
    env.apic.SetStartupHandler([&](const ApicMessage& msg) { seen.emplace_back(msg.mode, msg.vector); });
    env.apic.SetWakeup([&] { ++wakes; });
    env.apic.Accept(ApicMessage{.mode = apic::DeliveryMode::Init});
    env.apic.Accept(ApicMessage{.vector = 0x9A, .mode = apic::DeliveryMode::StartUp});
    env.apic.Accept(ApicMessage{.vector = 0x30, .mode = apic::DeliveryMode::Fixed});  // not a startup message
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].first == apic::DeliveryMode::Init);
    CHECK(seen[1] == std::pair{apic::DeliveryMode::StartUp, u8{0x9A}});
    CHECK(wakes >= 2);
}

TEST_CASE("lapic: an INIT reset clears the registers but keeps the APIC ID and IA32_APIC_BASE", "[devices][lapic][smp]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegId, 5u << 24);
    env.Set(apic::kRegTpr, 0x20);
    env.Set(apic::kRegLdr, 0x01000000);
    env.Set(apic::kRegLvtTimer, 0x30);
    REQUIRE(env.apic.SetBase(0xFEF00000 | apic::kApicBaseEnable));
    env.apic.InitReset();
    CHECK(env.apic.Id() == 5);
    CHECK(env.apic.BaseMsr() == (0xFEF00000 | apic::kApicBaseEnable | apic::kApicBaseBsp));  // BSP: read-only
    CHECK(env.Reg(apic::kRegTpr) == 0);
    CHECK(env.Reg(apic::kRegLdr) == 0);
    CHECK((env.Reg(apic::kRegSvr) & apic::kSvrEnable) == 0);  // software-disabled, as at power-up
    CHECK(env.Reg(apic::kRegLvtTimer) == apic::kLvtMasked);
    env.apic.Reset();  // a power-on reset restores the configured ID and base
    CHECK(env.apic.Id() == 0);
    CHECK(env.apic.Base() == apic::kLapicBase);
}

TEST_CASE("lapic: INIT and SIPI are recorded; NMI via ICR and LINT1", "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegIcrHigh, 0);
    env.Set(apic::kRegIcrLow, 0x000C4500);  // INIT, assert, all excluding self: nobody else
    CHECK(env.apic.InitCount() == 0);
    env.Set(apic::kRegIcrLow, 0x00004500);  // INIT to APIC 0 (ourselves)
    env.Set(apic::kRegIcrLow, 0x00004608);  // SIPI vector 8
    CHECK(env.apic.InitCount() == 1);
    CHECK(env.apic.SipiCount() == 1);
    CHECK(env.apic.LastSipiVector() == 8);
    env.Set(apic::kRegIcrLow, 0x00044400);  // NMI to self
    CHECK(env.apic.TakeNmi());
    CHECK_FALSE(env.apic.TakeNmi());
    env.Set(apic::kRegLvtLint1, 0x400);  // LINT1: NMI
    env.apic.Lint(1).Pulse();
    CHECK(env.apic.TakeNmi());
}

TEST_CASE("lapic: logical flat and cluster destinations match LDR", "[devices][lapic]") {
    ApicEnv env;
    env.Set(apic::kRegLdr, 0x04000000);  // flat bit 2
    CHECK(env.apic.MatchesDestination(0x06, true));
    CHECK_FALSE(env.apic.MatchesDestination(0x01, true));
    env.Set(apic::kRegDfr, 0x0FFFFFFF);  // cluster model
    env.Set(apic::kRegLdr, 0x32000000);  // cluster 3, member bit 1
    CHECK(env.apic.MatchesDestination(0x32, true));
    CHECK(env.apic.MatchesDestination(0x3F, true));
    CHECK_FALSE(env.apic.MatchesDestination(0x22, true));
    CHECK(env.apic.MatchesDestination(0x00, false));
    CHECK(env.apic.MatchesDestination(0xFF, false));
    CHECK_FALSE(env.apic.MatchesDestination(0x01, false));
}

// ---------------------------------------------------------------- timer

TEST_CASE("lapic timer: one-shot counts down at 1 GHz / divisor and fires once", "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegTimerDivide, 0x0);  // divide by 2
    env.Set(apic::kRegLvtTimer, 0x30);
    env.Set(apic::kRegTimerInitial, 1000);  // 2000 ns
    env.RunUntil(500);
    CHECK(env.Reg(apic::kRegTimerCurrent) == 750);
    env.RunUntil(1999);
    CHECK_FALSE(env.IrrBit(0x30));
    env.RunUntil(2000);
    CHECK(env.IrrBit(0x30));
    CHECK(env.Reg(apic::kRegTimerCurrent) == 0);
    CHECK(env.apic.Acknowledge() == 0x30);
    env.Set(apic::kRegEoi, 0);
    env.RunUntil(100000);
    CHECK_FALSE(env.IrrBit(0x30));
}

TEST_CASE("lapic timer: periodic reloads, divide-by-1 encoding, masked LVT still counts", "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegTimerDivide, 0xB);  // divide by 1
    env.Set(apic::kRegLvtTimer, (1u << 17) | 0x31);
    env.Set(apic::kRegTimerInitial, 100);
    int delivered = 0;
    env.RunUntil(1000, [&] {
        if (env.apic.HasPendingInterrupt()) {
            env.apic.Acknowledge();
            env.Set(apic::kRegEoi, 0);
            ++delivered;
        }
    });
    CHECK(delivered == 10);
    env.RunUntil(1030);
    CHECK(env.Reg(apic::kRegTimerCurrent) == 70);
    env.Set(apic::kRegLvtTimer, (1u << 17) | apic::kLvtMasked | 0x31);
    env.RunUntil(2000);
    CHECK_FALSE(env.IrrBit(0x31));
    CHECK(env.Reg(apic::kRegTimerCurrent) == 100);  // reloaded at 2000
    env.Set(apic::kRegTimerInitial, 0);  // stops it
    CHECK(env.Reg(apic::kRegTimerCurrent) == 0);
}

TEST_CASE("lapic timer: each divide configuration divides the 1 GHz bus clock as SDM figure 11-10 lists",
          "[devices][lapic]") {
    // Divide configuration register bits 3,1,0 -> divisor.
    const std::pair<u32, u32> table[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                         {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
    for (const auto& [dcr, divisor] : table) {
        ApicEnv env;
        env.Enable();
        env.Set(apic::kRegTimerDivide, dcr);
        env.Set(apic::kRegLvtTimer, 0x30);
        env.Set(apic::kRegTimerInitial, 100'000);
        env.RunUntil(u64{1000} * divisor);  // 1000 counts
        CHECK(env.Reg(apic::kRegTimerCurrent) == 99'000);
        env.RunUntil(u64{100'000} * divisor - 1);
        CHECK_FALSE(env.IrrBit(0x30));
        env.RunUntil(u64{100'000} * divisor);
        CHECK(env.IrrBit(0x30));
    }
}

TEST_CASE("lapic timer: a masked one-shot counts to zero silently; unmasking later delivers nothing",
          "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegTimerDivide, 0xB);
    env.Set(apic::kRegLvtTimer, apic::kLvtMasked | 0x30);
    env.Set(apic::kRegTimerInitial, 1000);
    env.RunUntil(400);
    CHECK(env.Reg(apic::kRegTimerCurrent) == 600);
    env.RunUntil(5000);
    CHECK(env.Reg(apic::kRegTimerCurrent) == 0);
    env.Set(apic::kRegLvtTimer, 0x30);
    env.RunUntil(10000);
    CHECK_FALSE(env.IrrBit(0x30));
    CHECK(env.wakeups == 0);
    // A new initial count rearms it (SDM 11.5.4: writing the initial count starts a count).
    env.Set(apic::kRegTimerInitial, 1000);
    env.RunUntil(11000);
    CHECK(env.IrrBit(0x30));
}

TEST_CASE("lapic timer: writing the initial count restarts the count; writing 0 stops it", "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegTimerDivide, 0xB);
    env.Set(apic::kRegLvtTimer, (1u << 17) | 0x31);  // periodic
    env.Set(apic::kRegTimerInitial, 1000);
    env.RunUntil(700);
    CHECK(env.Reg(apic::kRegTimerCurrent) == 300);
    env.Set(apic::kRegTimerInitial, 2000);  // restart from 2000 at t = 700
    CHECK(env.Reg(apic::kRegTimerCurrent) == 2000);
    env.RunUntil(2699);
    CHECK_FALSE(env.IrrBit(0x31));
    env.RunUntil(2700);
    CHECK(env.IrrBit(0x31));
    env.Set(apic::kRegTimerInitial, 0);
    CHECK(env.Reg(apic::kRegTimerCurrent) == 0);
    env.apic.Acknowledge();
    env.Set(apic::kRegEoi, 0);
    env.RunUntil(100000);
    CHECK_FALSE(env.IrrBit(0x31));
}

TEST_CASE("lapic: a self-IPI with the ICR 'self' shorthand ignores the destination field", "[devices][lapic]") {
    ApicEnv env;
    env.Enable();
    env.Set(apic::kRegIcrHigh, 0x05000000);  // another APIC ID: the shorthand wins (SDM 11.6.1)
    env.Set(apic::kRegIcrLow, (1u << 18) | 0x45);
    CHECK(env.IrrBit(0x45));
    CHECK((env.Reg(apic::kRegIcrLow) & apic::kIcrDeliveryStatus) == 0);  // idle: the send completed
    CHECK(env.wakeups == 1);
}

TEST_CASE("lapic timer: TSC-deadline fires at the deadline and disarms", "[devices][lapic]") {
    TimerEnv t;
    LocalApic lapic{t.timers, LocalApic::Config{.tsc_hz = 2'000'000'000}};  // 2 GHz TSC
    Out32(lapic, apic::kRegSvr, apic::kSvrEnable | 0xFF);
    lapic.SetTscDeadline(1000);  // not in TSC-deadline mode: ignored
    CHECK(lapic.TscDeadline() == 0);
    Out32(lapic, apic::kRegLvtTimer, (2u << 17) | 0x32);
    Out32(lapic, apic::kRegTimerInitial, 5);  // ignored in TSC-deadline mode
    CHECK(In32(lapic, apic::kRegTimerInitial) == 0);
    lapic.SetTscDeadline(4000);  // 2000 ns
    t.RunUntil(1999);
    CHECK_FALSE(lapic.HasPendingInterrupt());
    t.RunUntil(2000);
    CHECK(lapic.HasPendingInterrupt());
    CHECK(lapic.TscDeadline() == 0);
}

TEST_CASE("lapic timer: the TSC-deadline follows the CPU's TSC offset and the MSR interface", "[devices][lapic]") {
    TimerEnv t;
    LocalApic lapic{t.timers, LocalApic::Config{}};  // 1 GHz: TSC = clock ns + offset
    Out32(lapic, apic::kRegSvr, apic::kSvrEnable | 0xFF);
    Out32(lapic, apic::kRegLvtTimer, (2u << 17) | 0x32);
    lapic.SetTscOffset(1'000'000);        // the CPU's TSC is 1 ms ahead of the clock
    REQUIRE(lapic.WriteMsr(apic::kMsrTscDeadline, 1'003'000));  // TSC 1'003'000 = clock 3000 ns
    CHECK(*lapic.ReadMsr(apic::kMsrTscDeadline) == 1'003'000);
    lapic.SetTscOffset(2'000'000);        // WRMSR(TSC) moved the counter 1 ms forward: the deadline is passed
    t.RunUntil(1);
    CHECK(lapic.HasPendingInterrupt());
    CHECK(*lapic.ReadMsr(apic::kMsrTscDeadline) == 0);
    CHECK_FALSE(lapic.ReadMsr(0x803));    // x2APIC registers only in x2APIC mode
}

// ---------------------------------------------------------------- facade

TEST_CASE("interrupt controller: 8259 reaches the CPU through LINT0 ExtINT or a disabled APIC", "[devices][lapic]") {
    TimerEnv t;
    Pic pic;
    LocalApic lapic{t.timers, LocalApic::Config{}};
    InterruptController ic{lapic, &pic};
    int wakeups = 0;
    ic.SetWakeup([&] { ++wakeups; });
    // Program the 8259 pair as Linux does (vectors 0x30/0x38).
    for (auto [port, value] : {std::pair<u16, u8>{0, 0x11}, {1, 0x30}, {1, 0x04}, {1, 0x01}})
        Out8(pic.MasterPorts(), port, value);
    pic.Input(1).Pulse();
    CHECK(wakeups == 1);
    REQUIRE(ic.HasInterrupt());  // LINT0 is ExtINT at reset (virtual wire)
    CHECK(ic.AcknowledgeInterrupt() == 0x31);
    Out8(pic.MasterPorts(), 0, 0x20);  // 8259 EOI
    Out32(lapic, apic::kRegSvr, apic::kSvrEnable | 0xFF);
    Out32(lapic, apic::kRegLvtLint0, apic::kLvtMasked | 0x700);
    pic.Input(3).Pulse();
    CHECK_FALSE(ic.HasInterrupt());  // LINT0 masked: the 8259 is cut off
    REQUIRE(lapic.SetBase(0xFEE00000));  // globally disabled: the 8259 drives INTR directly
    CHECK(ic.HasInterrupt());
    CHECK(ic.AcknowledgeInterrupt() == 0x33);
}

TEST_CASE("interrupt controller: APIC interrupts and the timer wake a halted vCPU", "[devices][lapic]") {
    TimerEnv t;
    LocalApic lapic{t.timers, LocalApic::Config{}};
    InterruptController ic{lapic, nullptr};
    int wakeups = 0;
    ic.SetWakeup([&] { ++wakeups; });
    Out32(lapic, apic::kRegSvr, apic::kSvrEnable | 0xFF);
    Out32(lapic, apic::kRegLvtTimer, 0xEC);
    Out32(lapic, apic::kRegTimerDivide, 0xB);
    Out32(lapic, apic::kRegTimerInitial, 50);
    t.RunUntil(50);
    CHECK(wakeups == 1);
    REQUIRE(ic.HasInterrupt());
    CHECK(ic.AcknowledgeInterrupt() == 0xEC);
}
