// PcBoard's snapshot: the legacy devices in a fixed order, then the PCI functions by slot. Interrupt controllers are
// restored before the devices that drive their inputs, so that a device re-driving a saved level causes no edge.
#include <fmt/format.h>

#include "emu/machine/device_state_codec.h"
#include "emu/machine/pc_board.h"

namespace emu::machine {
namespace {

struct BoardState {
    devices::PicState pic;
    devices::IoapicState ioapic;
    devices::LocalApicState lapic;
    devices::PitState pit;
    devices::RtcState rtc;
    devices::HpetState hpet;
    devices::UartState com1, com2;
    devices::AcpiPmState acpi_pm;
    devices::I8042State i8042;
    devices::FwCfgState fw_cfg;
    devices::PciHostState pci_host;
    bool nmi_pending = false;
};

template <typename F>
void ForEachFunction(const devices::PciHost& pci, F&& f) {
    for (unsigned slot = 0; slot < devices::pci::kDevicesPerBus; ++slot) {
        for (unsigned fn = 0; fn < devices::pci::kFunctionsPerDevice; ++fn) {
            if (devices::PciDevice* device = pci.Function(slot, fn)) f(slot, fn, *device);
        }
    }
}

}  // namespace

void PcBoard::SaveSnapshot(snapshot::Encoder& out) {
    out.Pod(pic_.SaveState());
    out.Pod(ioapic_.SaveState());
    out.Pod(lapic_->SaveState());
    out.Pod(pit_.SaveState());
    out.Pod(rtc_.SaveState());
    out.Pod(hpet_.SaveState());
    out.Pod(com1_.SaveState());
    out.Pod(com2_.SaveState());
    out.Pod(acpi_pm_.SaveState());
    Encode(out, i8042_.SaveState());
    out.Pod(fw_cfg_.SaveState());
    out.Pod(pci_.SaveState());
    out.Bool(nmi_pending_);
}

bool PcBoard::LoadSnapshot(snapshot::Decoder& in) {
    BoardState s;
    const bool ok = in.Pod(s.pic) && in.Pod(s.ioapic) && in.Pod(s.lapic) && in.Pod(s.pit) && in.Pod(s.rtc) &&
                    in.Pod(s.hpet) && in.Pod(s.com1) && in.Pod(s.com2) && in.Pod(s.acpi_pm) && Decode(in, s.i8042) &&
                    in.Pod(s.fw_cfg) && in.Pod(s.pci_host) && in.Bool(s.nmi_pending);
    if (!ok) return false;
    pic_.RestoreState(s.pic);
    ioapic_.RestoreState(s.ioapic);
    lapic_->RestoreState(s.lapic);
    // The window follows the restored IA32_APIC_BASE, as after the guest's own WRMSR.
    (void)WriteApicBase(s.lapic.base_msr);
    // The HPET tells the board of legacy replacement only when the guest changes it: set the gates here.
    const bool legacy = s.hpet.config & devices::hpet::kLegacyReplacement;
    pit_irq_.SetOpen(!legacy);
    rtc_irq_.SetOpen(!legacy);
    hpet_.RestoreState(s.hpet);
    pit_.RestoreState(s.pit);
    rtc_.RestoreState(s.rtc);
    com1_.RestoreState(s.com1);
    com2_.RestoreState(s.com2);
    acpi_pm_.RestoreState(s.acpi_pm);
    i8042_.RestoreState(s.i8042);
    fw_cfg_.RestoreState(s.fw_cfg);
    pci_.RestoreState(s.pci_host);
    nmi_pending_ = s.nmi_pending;
    return true;
}

std::string PcBoard::PciInventory() const {
    std::string out;
    ForEachFunction(pci_, [&](unsigned slot, unsigned fn, devices::PciDevice& device) {
        const u32 ids = device.ConfigRead(devices::pci::kVendorId, 4);
        out += fmt::format("{:02x}.{} {:04x}:{:04x}\n", slot, fn, ids & 0xFFFF, ids >> 16);
    });
    return out;
}

void PcBoard::SavePciFunctions(snapshot::Encoder& out) {
    ForEachFunction(pci_, [&](unsigned, unsigned, devices::PciDevice& device) { out.Pod(device.SaveState()); });
}

bool PcBoard::LoadPciFunctions(snapshot::Decoder& in) {
    std::vector<std::pair<devices::PciDevice*, devices::PciDeviceState>> states;
    bool ok = true;
    ForEachFunction(pci_, [&](unsigned, unsigned, devices::PciDevice& device) {
        devices::PciDeviceState state;
        ok = ok && in.Pod(state);
        states.emplace_back(&device, state);
    });
    if (!ok) return false;
    for (auto& [device, state] : states) pci_.RestoreDevice(*device, state);
    RunDeferred();  // the BAR remaps RestoreDevice queued
    return true;
}

}  // namespace emu::machine
