// The APIC side of the pc board wired as emu/machine will wire it: ISA IRQs fan out to the 8259 and the I/O
// APIC (IRQ0 on pin 2, per the MADT override), the I/O APIC talks to the local APIC through an ApicRouter, the
// local APIC's EOI broadcast goes back to the I/O APIC, and the vCPU polls an InterruptController.
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/irq/apic_regs.h"
#include "devices/irq/ioapic.h"
#include "devices/irq/local_apic.h"
#include "devices/irq/pic.h"
#include "devices/platform/acpi_pm.h"
#include "devices/timer/hpet.h"
#include "devices/timer/hpet_regs.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

struct ApicBoard : TimerEnv {
    Pic pic;
    ApicRouter router;
    Ioapic ioapic{router};
    LocalApic lapic{timers, LocalApic::Config{}, &router, [this](u8 v) { ioapic.Eoi(v); }};
    InterruptController cpu{lapic, &pic};
    std::array<FanoutIrqLine, 16> isa;  // ISA IRQ n -> 8259 input n and I/O APIC input (n == 0 ? 2 : n)
    Hpet hpet{timers, HpetWiring()};
    AcpiPm pm{timers, isa[9], [] {}};

    HpetIrqs HpetWiring() {
        HpetIrqs irqs;
        for (unsigned i = 0; i < 24; ++i) irqs.gsi[i] = &ioapic.Input(i);
        irqs.irq0 = &isa[0];
        irqs.irq8 = &isa[8];
        return irqs;
    }
    ApicBoard() {
        router.Add(lapic);
        for (unsigned irq = 0; irq < 16; ++irq) {
            isa[irq].Connect(pic.Input(irq));
            isa[irq].Connect(ioapic.Input(irq == 0 ? 2 : irq));
        }
        Out32(lapic, apic::kRegSvr, apic::kSvrEnable | 0xFF);
        Out32(lapic, apic::kRegLvtLint0, apic::kLvtMasked | 0x700);  // Linux masks the virtual wire in APIC mode
    }
    void Route(unsigned pin, u64 rte) {
        Out32(ioapic, apic::kIoregsel, 0x11 + 2 * pin);
        Out32(ioapic, apic::kIowin, static_cast<u32>(rte >> 32));
        Out32(ioapic, apic::kIoregsel, 0x10 + 2 * pin);
        Out32(ioapic, apic::kIowin, static_cast<u32>(rte));
    }
    // The CPU's side: take every pending interrupt and EOI it.
    std::vector<u8> TakeAll() {
        std::vector<u8> taken;
        while (cpu.HasInterrupt()) {
            taken.push_back(cpu.AcknowledgeInterrupt());
            Out32(lapic, apic::kRegEoi, 0);
        }
        return taken;
    }
};

}  // namespace

TEST_CASE("pc board: HPET legacy timer 0 ticks reach the CPU through I/O APIC pin 2", "[devices][wiring]") {
    ApicBoard b;
    b.Route(2, 0x30);  // IRQ0 -> vector 0x30, edge
    Out64(b.hpet, 0x100, hpet::kTnIntEnable | hpet::kTnPeriodic | hpet::kTnValSet);
    Out64(b.hpet, 0x108, 100'000);  // 1 ms at 100 MHz: the comparator (VAL_SET) ...
    Out64(b.hpet, 0x108, 100'000);  // ... then the period
    Out64(b.hpet, 0x010, hpet::kEnable | hpet::kLegacyReplacement);
    int ticks = 0;
    b.RunUntil(10'000'000, [&] { ticks += static_cast<int>(b.TakeAll().size()); });
    CHECK(ticks == 10);
}

TEST_CASE("pc board: the level-triggered SCI is redelivered after EOI while the PM status stays set",
          "[devices][wiring]") {
    ApicBoard b;
    b.Route(9, apic::kRteLevel | 0x39);
    Out16(b.pm, 2, 0x0100);  // PWRBTN_EN
    b.pm.PressPowerButton();
    REQUIRE(b.cpu.HasInterrupt());
    CHECK(b.cpu.AcknowledgeInterrupt() == 0x39);
    Out32(b.lapic, apic::kRegEoi, 0);  // EOI broadcast: pin 9 still asserted -> delivered again
    REQUIRE(b.cpu.HasInterrupt());
    CHECK(b.cpu.AcknowledgeInterrupt() == 0x39);
    Out16(b.pm, 0, 0x0100);  // the guest's handler clears PWRBTN_STS ...
    Out32(b.lapic, apic::kRegEoi, 0);  // ... then EOIs: nothing more
    CHECK_FALSE(b.cpu.HasInterrupt());
}
