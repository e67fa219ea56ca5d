#include "emu/machine/pc_board.h"

#include <ctime>
#include <stdexcept>
#include <string>

#include "devices/irq/apic_regs.h"
#include "devices/pci/regs.h"
#include "devices/platform/acpi_pm_regs.h"
#include "devices/platform/i8042_regs.h"
#include "devices/platform/regs.h"
#include "devices/serial/regs.h"
#include "devices/timer/hpet_regs.h"
#include "emu/common/log.h"

namespace emu::machine {

namespace {

devices::HpetIrqs HpetWiring(devices::Ioapic& ioapic, std::array<devices::FanoutIrqLine, 16>& isa) {
    devices::HpetIrqs irqs;
    for (unsigned i = 0; i < irqs.gsi.size(); ++i) irqs.gsi[i] = &ioapic.Input(i);
    irqs.irq0 = &isa[0];
    irqs.irq8 = &isa[8];
    return irqs;
}

}  // namespace

PcBoard::PcBoard(devices::TimerQueue& timers, const PcBoardConfig& config)
    : ioapic_(router_),
      pit_(timers, pit_irq_),
      rtc_(timers, rtc_irq_, static_cast<i64>(std::time(nullptr))),
      hpet_(timers, HpetWiring(ioapic_, isa_)),
      com1_(timers, isa_[devices::uart::kCom1Irq], *config.com1),
      com2_(timers, isa_[devices::uart::kCom2Irq], config.com2 ? *config.com2 : no_com2_),
      acpi_pm_(timers, isa_[9], [on_exit = config.on_exit] { on_exit(0); }),
      i8042_(isa_[1], isa_[12], config.on_reset),
      debug_exit_(config.on_exit),
      shutdown_([on_exit = config.on_exit] { on_exit(0); }),
      port_a_(config.on_reset),
      pci_(pio_, mmio_, [this](std::function<void()> work) {
          std::lock_guard lock(deferred_mutex_);
          deferred_.push_back(std::move(work));
      }) {
    // ISA IRQ n reaches the 8259 input n and the I/O APIC pin n, except IRQ0, which the MADT overrides to pin 2.
    for (unsigned irq = 0; irq < isa_.size(); ++irq) {
        isa_[irq].Connect(pic_.Input(irq));
        isa_[irq].Connect(ioapic_.Input(irq == 0 ? 2 : irq));
    }
    apic_ids_ = config.apic_ids;
    for (size_t index = 0; index < apic_ids_.size(); ++index) {
        // The 8259's INTR reaches only the BSP's LINT0 (virtual wire mode), as on a PC.
        const bool bsp = index == 0;
        cpus_.push_back(std::make_unique<PcCpuPort>(
            timers, devices::LocalApic::Config{.apic_id = static_cast<u8>(apic_ids_[index]), .bsp = bsp}, router_,
            ioapic_, bsp ? &pic_ : nullptr));
        router_.Add(cpus_.back()->lapic());
    }
    hpet_.SetLegacyCallback([this](bool legacy) {
        pit_irq_.SetOpen(!legacy);
        rtc_irq_.SetOpen(!legacy);
    });

    devices::Piix3Irqs piix;
    for (unsigned irq = 0; irq < piix.isa.size(); ++irq) piix.isa[irq] = &isa_[irq];
    for (unsigned n = 0; n < piix.gsi.size(); ++n) piix.gsi[n] = &ioapic_.Input(16 + n);
    southbridge_ = std::make_unique<devices::Piix3>(piix);
    (void)pci_.Attach(0, 0, northbridge_);
    (void)pci_.Attach(1, 0, *southbridge_);
    pci_.SetIntxRouter([this](unsigned pirq, bool level) { southbridge_->SetPirq(pirq, level); });
    pci_.SetResetCallback([on_reset = config.on_reset](bool) { on_reset(); });

    rtc_.SetMemorySize(config.below_4g, config.above_4g);
    fw_cfg_.SetRamSize(config.ram_bytes);
    fw_cfg_.SetCpuCounts(static_cast<u16>(apic_ids_.size()), static_cast<u16>(apic_ids_.size()));
    fw_cfg_.SetCmdline(config.cmdline);

    namespace platform = devices::platform;
    InsertPort(0x20, 2, pic_.MasterPorts());
    InsertPort(0xA0, 2, pic_.SlavePorts());
    InsertPort(0x4D0, 2, pic_.ElcrPorts());
    InsertPort(0x40, 4, pit_.Ports());
    InsertPort(0x61, 1, pit_.PortB());
    InsertPort(0x70, 2, rtc_.Ports());
    InsertPort(devices::uart::kCom1Base, devices::uart::kPorts, com1_);
    InsertPort(devices::uart::kCom2Base, devices::uart::kPorts, com2_);
    InsertPort(devices::i8042::kDataPort, 1, i8042_.DataPort());
    InsertPort(devices::i8042::kCommandPort, 1, i8042_.CommandPort());
    InsertPort(devices::acpi_pm::kBase, devices::acpi_pm::kPorts, acpi_pm_);
    InsertPort(devices::pci::kConfigAddressPort, devices::pci::kConfigPorts, pci_.Ports());
    InsertPort(platform::fw_cfg::kBase, platform::fw_cfg::kPorts, fw_cfg_);
    InsertPort(platform::kDebugExitPort, platform::kDebugExitSize, debug_exit_);
    InsertPort(platform::kTestdevLatchPort, platform::kTestdevLatchSize, testdev_.LatchPorts());
    InsertPort(platform::kTestdevFlushPort, platform::kTestdevFlushSize, testdev_.FlushPort());
    InsertPort(platform::kBochsShutdownPort, 1, shutdown_);
    InsertPort(platform::kPostPort, 1, post_);
    InsertPort(platform::kFpuErrorPort, 1, fpu_error_);
    InsertPort(platform::kPortA, 1, port_a_);
    InsertMmio(devices::apic::kIoapicBase, devices::apic::kIoapicSize, ioapic_);
    InsertMmio(devices::hpet::kBase, devices::hpet::kSize, hpet_);
    InsertMmio(platform::kTestdevIomemBase, platform::kTestdevIomemSize, testdev_.Iomem());
}

PcBoard::~PcBoard() = default;

void PcBoard::InsertPort(u64 base, u64 size, devices::IoDevice& device) {
    if (auto r = pio_.Insert(base, size, device); !r) {
        throw std::logic_error("PC board: port " + std::to_string(base) + ": " + devices::BusErrorMessage(r.error()));
    }
}

void PcBoard::InsertMmio(u64 base, u64 size, devices::IoDevice& device) {
    if (auto r = mmio_.Insert(base, size, device); !r) {
        throw std::logic_error("PC board: MMIO " + std::to_string(base) + ": " + devices::BusErrorMessage(r.error()));
    }
}

PcCpuPort::PcCpuPort(devices::TimerQueue& timers, const devices::LocalApic::Config& config, devices::ApicBus& bus,
                     devices::Ioapic& ioapic, devices::Pic* pic)
    : lapic_(std::make_unique<devices::LocalApic>(timers, config, &bus, [&ioapic](u8 vector) { ioapic.Eoi(vector); })),
      interrupts_(std::make_unique<devices::InterruptController>(*lapic_, pic)),
      window_(lapic_->Base()) {}

bool PcCpuPort::WriteApicBase(u64 value) {
    if (!lapic_->SetBase(value)) return false;
    // SDM: a base that overlaps other devices is undefined; this CPU's window wins over the shared bus there.
    window_.store(lapic_->Enabled() && !lapic_->X2apic() ? lapic_->Base() : 0, std::memory_order_release);
    return true;
}

bool PcCpuPort::WritePlatformMsr(u32 index, u64 value) {
    return index == devices::apic::kMsrApicBase ? WriteApicBase(value) : lapic_->WriteMsr(index, value);
}

bool PcCpuPort::HasNmi() {
    if (!nmi_pending_) nmi_pending_ = interrupts_->TakeNmi();
    return nmi_pending_;
}

u64 PcBoard::InstallAcpiTables(PhysWriter& memory) {
    devices::AcpiConfig acpi;
    acpi.num_cpus = static_cast<unsigned>(apic_ids_.size());
    acpi.apic_ids = apic_ids_;
    auto tables = devices::BuildAcpiTables(acpi);
    if (!tables) return 0;
    if (!memory.WritePhys(tables->tables.address, tables->tables.bytes) ||
        !memory.WritePhys(tables->rsdp.address, tables->rsdp.bytes)) {
        return 0;
    }
    return tables->rsdp.address;
}

std::optional<std::string> PcBoard::AddPciDevice(devices::PciDevice& device) {
    namespace pci = devices::pci;
    const unsigned slot = next_pci_slot_;
    if (slot >= pci::kDevicesPerBus) return "no free PCI slot";
    if (auto r = pci_.Attach(slot, 0, device); !r) return devices::PciErrorMessage(r.error());
    ++next_pci_slot_;
    // BAR sizing as firmware does it: write all ones, read back the size mask (PCI 3.0 section 6.2.5.1).
    for (unsigned bar = 0; bar < pci::kNumBars; ++bar) {
        const u16 reg = static_cast<u16>(pci::kBar0 + 4 * bar);
        pci_.ConfigWrite(0, slot, 0, reg, 4, 0xFFFFFFFF);
        const u32 mask = pci_.ConfigRead(0, slot, 0, reg, 4);
        if (mask == 0 || (mask & pci::kBarIo) || (mask & pci::kBarMem64)) {
            pci_.ConfigWrite(0, slot, 0, reg, 4, 0);
            continue;  // unimplemented, or kinds no device of ours uses yet
        }
        const u64 size = (u64{~(mask & ~u32{0xF})} + 1) & 0xFFFFFFFF;  // the lowest address bit that sticks
        const bool large = size >= kLargeBar;
        u64& next = large ? next_large_bar_address_ : next_bar_address_;
        const u64 base = (next + size - 1) & ~(size - 1);
        if (size == 0 || base + size > (large ? kPciLargeBarWindowEnd : kPciBarWindowEnd)) return "the PCI window is full";
        pci_.ConfigWrite(0, slot, 0, reg, 4, static_cast<u32>(base));
        next = base + size;
    }
    const u16 command = static_cast<u16>(pci_.ConfigRead(0, slot, 0, pci::kCommand, 2));
    pci_.ConfigWrite(0, slot, 0, pci::kCommand, 2, command | pci::kCommandMemory);
    RunDeferred();  // the BAR mappings those writes queued: no bus access is in flight before the vCPU runs
    return std::nullopt;
}

void PcBoard::DeliverMsi(u64 address, u32 data) {
    // Intel SDM vol. 3 section 11.11: address 0xFEE, destination ID in bits 19:12, destination mode in bit 2;
    // data: vector in bits 7:0, delivery mode in bits 10:8. MSIs are edges (the trigger bit only matters to
    // the I/O APIC's EOI, which an MSI never involves).
    if ((address >> 20) != 0xFEE) {
        log::Log(log::Category::GuestErrors, "MSI to {:#x} (not the APIC window): dropped", address);
        return;
    }
    router_.DeliverInterrupt(devices::ApicMessage{
        .dest = static_cast<u8>(address >> 12),
        .logical = ((address >> 2) & 1) != 0,
        .vector = static_cast<u8>(data),
        .mode = static_cast<devices::apic::DeliveryMode>((data >> 8) & 7),
        .level = false,
    });
}

void PcBoard::RunDeferred() {
    for (;;) {
        std::function<void()> work;
        {
            std::lock_guard lock(deferred_mutex_);
            if (deferred_.empty()) return;
            work = std::move(deferred_.front());
            deferred_.pop_front();
        }
        work();
    }
}

}  // namespace emu::machine
