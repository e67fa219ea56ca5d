#pragma once
// The two chipset functions of QEMU's `pc` machine: the Intel 440FX host bridge (00:00.0, 8086:1237) and the
// PIIX3 PCI-to-ISA bridge (00:01.0, 8086:7000) with its PIRQ route control registers.
//
// I440fx: identification only; PAM (0x59-0x5F) and SMRAM (0x72) are plain read/write bytes without effect
// (no firmware shadowing happens when the machine boots kernels directly).
// Piix3: PIRQRC[A-D] at 0x60-0x63 (reset 0x80: disabled) route each PIRQ wire to an ISA IRQ (3-7, 9-12, 14,
// 15; other values act as disabled), as the PIIX3 datasheet describes; the 8259 path a guest without an I/O APIC
// uses. Each PIRQ wire also drives I/O APIC input 16 + n, the static routing the DSDT's _PRT declares.
//
// Threads: PIRQ state has its own mutex; lines are driven with it held (lock order PCI host IRQ lock -> PIIX3
// -> PIC/I/O APIC).
#include <array>
#include <mutex>

#include "devices/irq/irq_line.h"
#include "devices/pci/pci_device.h"

namespace emu::devices {

class I440fx final : public PciDevice {
public:
    I440fx();
};

struct Piix3Irqs {
    std::array<IrqLine*, 16> isa{};                 // ISA IRQ lines (each reaching the 8259 and the I/O APIC)
    std::array<IrqLine*, pci::kNumPirqs> gsi{};     // I/O APIC inputs 16-19
};

class Piix3 final : public PciDevice {
public:
    explicit Piix3(const Piix3Irqs& irqs);

    void ConfigWrite(u16 reg, unsigned size, u32 value) override;
    // The level of PIRQ wire n (PciHost::SetIntxRouter target).
    void SetPirq(unsigned n, bool level);

private:
    // Call with mutex_ held: drives every line whose computed level changed.
    void DriveLocked();

    std::array<IrqLine*, 16> isa_{};
    std::array<IrqLine*, pci::kNumPirqs> gsi_{};
    NullIrqLine null_line_;
    std::mutex mutex_;
    std::array<bool, pci::kNumPirqs> pirq_{};
    std::array<u8, pci::kNumPirqs> route_{};  // PIRQRC as last written (mirrors config space)
    std::array<bool, 16> isa_level_{};
    std::array<bool, pci::kNumPirqs> gsi_level_{};
};

}  // namespace emu::devices
