#include "devices/pci/piix.h"

namespace emu::devices {
namespace {

// PIIX3 datasheet, PIRQRC: IRQ 0-2, 8 and 13 are reserved routing values.
constexpr u16 kRoutableIrqs = 0xDEF8;

}  // namespace

I440fx::I440fx()
    : PciDevice(PciIds{.vendor = pci::kIntelVendor,
                       .device = pci::kI440fxDevice,
                       .class_code = pci::kClassHostBridge,
                       .revision = pci::kI440fxRevision}) {
    SetWritable(0x59, 7);  // PAM0-6
    SetWritable(0x72, 1);  // SMRAM
}

Piix3::Piix3(const Piix3Irqs& irqs)
    : PciDevice(PciIds{.vendor = pci::kIntelVendor,
                       .device = pci::kPiix3Device,
                       .class_code = pci::kClassIsaBridge,
                       .header_type = pci::kHeaderMultiFunction}) {
    for (unsigned i = 0; i < 16; ++i) isa_[i] = irqs.isa[i] ? irqs.isa[i] : &null_line_;
    for (unsigned i = 0; i < pci::kNumPirqs; ++i) gsi_[i] = irqs.gsi[i] ? irqs.gsi[i] : &null_line_;
    for (unsigned i = 0; i < pci::kNumPirqs; ++i) {
        config()[pci::kPiix3PirqRoute + i] = pci::kPirqDisable;
        route_[i] = pci::kPirqDisable;
    }
    SetWritable(pci::kPiix3PirqRoute, pci::kNumPirqs, pci::kPirqDisable | pci::kPirqIrqMask);
}

void Piix3::ConfigWrite(u16 reg, unsigned size, u32 value) {
    PciDevice::ConfigWrite(reg, size, value);
    if (reg >= pci::kPiix3PirqRoute + pci::kNumPirqs || reg + size <= pci::kPiix3PirqRoute) return;
    std::lock_guard lock(mutex_);
    for (unsigned i = 0; i < pci::kNumPirqs; ++i) route_[i] = config()[pci::kPiix3PirqRoute + i];
    DriveLocked();
}

void Piix3::SetPirq(unsigned n, bool level) {
    if (n >= pci::kNumPirqs) return;
    std::lock_guard lock(mutex_);
    pirq_[n] = level;
    DriveLocked();
}

void Piix3::DriveLocked() {
    std::array<bool, 16> isa{};
    for (unsigned n = 0; n < pci::kNumPirqs; ++n) {
        const unsigned irq = route_[n] & pci::kPirqIrqMask;
        const bool enabled = !(route_[n] & pci::kPirqDisable) && ((kRoutableIrqs >> irq) & 1);
        if (enabled && pirq_[n]) isa[irq] = true;
        if (pirq_[n] != gsi_level_[n]) {
            gsi_level_[n] = pirq_[n];
            gsi_[n]->SetLevel(pirq_[n]);
        }
    }
    // Only lines this bridge drives change: an ISA device sharing the IRQ keeps its own level otherwise.
    for (unsigned irq = 0; irq < 16; ++irq) {
        if (isa[irq] == isa_level_[irq]) continue;
        isa_level_[irq] = isa[irq];
        isa_[irq]->SetLevel(isa[irq]);
    }
}

}  // namespace emu::devices
