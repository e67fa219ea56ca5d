#pragma once
// The devices of the PC machine and how they are wired, as on QEMU's `pc` board: ISA IRQs fan out to the
// 8259 pair and the I/O APIC (IRQ0 on pin 2), the local APIC and the PIC reach the CPU through one
// interrupt source, PCI config mechanism #1 with an i440FX host bridge and a PIIX3, the legacy ports, COM1
// (0x3F8, IRQ4) and COM2 (0x2F8, IRQ3), the ACPI PM block and ACPI tables at 0xE0000 (RSDP at 0xF0000).
// The HPET's legacy replacement mode cuts the PIT off IRQ0 and the RTC off IRQ8 (its timers 0 and 1 drive them).
#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/backends/char_backend.h"
#include "devices/bus/bus.h"
#include "devices/irq/ioapic.h"
#include "devices/irq/irq_line.h"
#include "devices/irq/local_apic.h"
#include "devices/irq/pic.h"
#include "devices/pci/pci_host.h"
#include "devices/pci/piix.h"
#include "devices/platform/acpi_pm.h"
#include "devices/platform/acpi_tables.h"
#include "devices/platform/fw_cfg.h"
#include "devices/platform/i8042.h"
#include "devices/platform/regs.h"
#include "devices/platform/simple_ports.h"
#include "devices/serial/uart16550.h"
#include "devices/timer/hpet.h"
#include "devices/timer/pit.h"
#include "devices/timer/rtc.h"
#include "devices/timer/timer_queue.h"
#include "emu/cpu/vcpu.h"
#include "emu/machine/boot/phys_writer.h"
#include "emu/snapshot/codec.h"

namespace emu::machine {

struct PcBoardConfig {
    u64 ram_bytes = 0;
    u64 below_4g = 0, above_4g = 0;
    std::string cmdline;
    devices::CharBackend* com1 = nullptr;
    devices::CharBackend* com2 = nullptr;     // null: COM2 is present with nothing attached
    std::function<void(int status)> on_exit;  // isa-debug-exit, power-off (status 0)
    std::function<void()> on_reset;           // port 0x92, i8042, 0xCF9
    std::vector<u32> apic_ids{0};             // one local APIC per vCPU, by CPU index; CPU 0 is the BSP
};

// What one vCPU sees of the board: its local APIC (with the 8259 behind LINT0 on the BSP only) as the CPU's INTR and
// NMI pins, its IA32_APIC_BASE and x2APIC MSRs, and where its xAPIC register window is decoded. Each vCPU's memory
// path sends accesses to that window here, not to the shared MMIO bus: the same address reaches each CPU's own APIC.
class PcCpuPort final : public cpu::InterruptSource {
public:
    PcCpuPort(devices::TimerQueue& timers, const devices::LocalApic::Config& config, devices::ApicBus& bus,
              devices::Ioapic& ioapic, devices::Pic* pic);

    devices::LocalApic& lapic() { return *lapic_; }
    // The physical address of the xAPIC window, 0 while it is not decoded (APIC disabled or in x2APIC mode).
    u64 LapicWindow() const { return window_.load(std::memory_order_acquire); }
    // WRMSR(IA32_APIC_BASE) with a value the CPU has validated; false: the APIC refuses it (#GP).
    bool WriteApicBase(u64 value);
    bool WritePlatformMsr(u32 index, u64 value);
    std::optional<u64> ReadPlatformMsr(u32 index) { return lapic_->ReadMsr(index); }
    void SetTscOffset(i64 offset) { lapic_->SetTscOffset(offset); }
    // Called (from any thread) when an interrupt, NMI, INIT or SIPI may have become pending for this CPU.
    void SetWakeup(std::function<void()> wakeup) { interrupts_->SetWakeup(std::move(wakeup)); }

    // cpu::InterruptSource.
    bool HasInterrupt() override { return interrupts_->HasInterrupt(); }
    u8 Acknowledge() override { return interrupts_->AcknowledgeInterrupt(); }
    bool HasNmi() override;
    void AcknowledgeNmi() override { nmi_pending_ = false; }

    bool nmi_pending() const { return nmi_pending_; }
    void set_nmi_pending(bool pending) { nmi_pending_ = pending; }

private:
    std::unique_ptr<devices::LocalApic> lapic_;
    std::unique_ptr<devices::InterruptController> interrupts_;
    bool nmi_pending_ = false;  // taken from the APIC, not yet delivered (the vCPU's thread only)
    std::atomic<u64> window_{0};
};

class PcBoard final : public cpu::InterruptSource {
public:
    PcBoard(devices::TimerQueue& timers, const PcBoardConfig& config);
    ~PcBoard() override;

    devices::Bus& pio() { return pio_; }
    devices::Bus& mmio() { return mmio_; }
    // The PS/2 keyboard's controller, for host key input (the SDL window).
    devices::I8042& keyboard() { return i8042_; }

    // Writes the ACPI tables into guest RAM; returns the RSDP address for the boot protocol (0 on failure).
    u64 InstallAcpiTables(PhysWriter& memory);

    // The vCPUs' views of the board, by CPU index (PcBoardConfig::apic_ids).
    unsigned cpu_count() const { return static_cast<unsigned>(cpus_.size()); }
    PcCpuPort& cpu(unsigned index) { return *cpus_.at(index); }

    // The BSP's (CPU 0's) side, for single-CPU users (tests): see PcCpuPort.
    bool WriteApicBase(u64 value) { return cpu(0).WriteApicBase(value); }
    bool WritePlatformMsr(u32 index, u64 value) { return cpu(0).WritePlatformMsr(index, value); }
    std::optional<u64> ReadPlatformMsr(u32 index) { return cpu(0).ReadPlatformMsr(index); }
    void SetTscOffset(i64 offset) { cpu(0).SetTscOffset(offset); }

    // FERR#: an unmasked x87 error while CR0.NE = 0 raises ISA IRQ13 until the guest writes port 0xF0.
    void SignalFpuError() { fpu_error_.Raise(); }
    // The monitor's system_powerdown: the ACPI power button (an SCI if the guest enabled it).
    void PressPowerButton() { acpi_pm_.PressPowerButton(); }

    // Plugs a PCI function into the next free slot of bus 0 (from slot 2, after the i440FX and PIIX3) and, as the
    // firmware would, places its memory BARs in the PCI window at 0xFE000000 (BARs of 1 MiB and more, such as a
    // framebuffer, in the large window below it) and enables memory decoding. Returns an
    // error message if no slot or window space is left. Call before the vCPU runs.
    std::optional<std::string> AddPciDevice(devices::PciDevice& device);
    // An MSI write (address 0xFEExxxxx, data) from a device: delivered on the APIC bus. Any thread.
    void DeliverMsi(u64 address, u32 data);

    // Runs PCI BAR remaps queued during a port access; the vCPU calls it after each port write.
    void RunDeferred();

    // Snapshots (pc_board_snapshot.cpp), with the vCPU parked: every device's state and the board's own (pending NMI,
    // the APIC window, the HPET's legacy gating), and separately the PCI functions' configuration spaces, which the
    // caller restores after checking that the snapshot's PCI inventory is this board's. Decode* change nothing: they
    // return the function that restores what they read (empty if the encoding is malformed), so that every section
    // can be checked before the machine changes.
    void SaveSnapshot(snapshot::Encoder& out);
    std::function<void()> DecodeSnapshot(snapshot::Decoder& in);
    // The PCI functions on bus 0, one "SS.F VVVV:DDDD" per line: what a snapshot's machine must match.
    std::string PciInventory() const;
    void SavePciFunctions(snapshot::Encoder& out);
    std::function<void()> DecodePciFunctions(snapshot::Decoder& in);
    // An AP's own part (CPU `index` >= 1; SaveSnapshot holds CPU 0's): its local APIC and a pending NMI.
    void SaveApSnapshot(unsigned index, snapshot::Encoder& out);
    std::function<void()> DecodeApSnapshot(unsigned index, snapshot::Decoder& in);

    // cpu::InterruptSource of the BSP (CPU 0): its local APIC, with the 8259 through LINT0.
    bool HasInterrupt() override { return cpu(0).HasInterrupt(); }
    u8 Acknowledge() override { return cpu(0).Acknowledge(); }
    bool HasNmi() override { return cpu(0).HasNmi(); }
    void AcknowledgeNmi() override { cpu(0).AcknowledgeNmi(); }
    // Called (from any thread) when an interrupt becomes pending for the BSP, to wake it when halted.
    void SetWakeup(std::function<void()> wakeup) { cpu(0).SetWakeup(std::move(wakeup)); }

private:
    struct BoardState;
    void Restore(const BoardState& state);
    void RestoreCpu(unsigned index, const devices::LocalApicState& lapic, bool nmi_pending);
    void InsertPort(u64 base, u64 size, devices::IoDevice& device);
    void InsertMmio(u64 base, u64 size, devices::IoDevice& device);

    devices::Bus pio_, mmio_;
    devices::Pic pic_;
    devices::ApicRouter router_;
    devices::Ioapic ioapic_;
    std::array<devices::FanoutIrqLine, 16> isa_;
    std::vector<std::unique_ptr<PcCpuPort>> cpus_;
    std::vector<u32> apic_ids_;
    devices::GatedIrqLine pit_irq_{isa_[0]};  // cut while the HPET is in legacy replacement mode
    devices::GatedIrqLine rtc_irq_{isa_[8]};
    devices::Pit pit_;
    devices::Rtc rtc_;
    devices::Hpet hpet_;
    devices::NullBackend no_com2_;
    devices::Uart16550 com1_;
    devices::Uart16550 com2_;
    devices::AcpiPm acpi_pm_;
    devices::I8042 i8042_;
    devices::FwCfg fw_cfg_;
    devices::DebugExit debug_exit_;
    devices::PcTestdev testdev_;
    devices::BochsShutdownPort shutdown_;
    devices::PostPort post_;
    devices::FpuErrorLatch fpu_error_{isa_[devices::platform::kFpuErrorIrq]};
    devices::SystemControlPortA port_a_;
    std::mutex deferred_mutex_;
    std::deque<std::function<void()>> deferred_;
    devices::PciHost pci_;
    devices::I440fx northbridge_;
    std::unique_ptr<devices::Piix3> southbridge_;
    unsigned next_pci_slot_ = 2;
    u64 next_bar_address_ = kPciBarWindowBase;
    u64 next_large_bar_address_ = kPciLargeBarWindowBase;

public:
    // Where AddPciDevice places BARs: the top of the DSDT's PCI window, below the I/O APIC.
    static constexpr u64 kPciBarWindowBase = 0xFE000000;
    static constexpr u64 kPciBarWindowEnd = 0xFEC00000;
    // Large BARs: inside the DSDT's PCI window (0xC0000000-0xFEBFFFFF) too, below the small ones.
    static constexpr u64 kPciLargeBarWindowBase = 0xF0000000;
    static constexpr u64 kPciLargeBarWindowEnd = kPciBarWindowBase;
    static constexpr u64 kLargeBar = u64{1} << 20;
};

}  // namespace emu::machine
