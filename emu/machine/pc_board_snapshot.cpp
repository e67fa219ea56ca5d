// PcBoard's snapshot: the legacy devices in a fixed order, then the PCI functions by slot. Interrupt controllers are
// restored before the devices that drive their inputs, so that a device re-driving a saved level causes no edge.
#include <fmt/format.h>

#include "emu/machine/device_state_codec.h"
#include "emu/machine/pc_board.h"

namespace emu::machine {
struct PcBoard::BoardState {
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

namespace {

template <typename Codec, typename State>
bool BoardFields(Codec& c, State& s) {
    return c.Field(s.pic) && c.Field(s.ioapic) && c.Field(s.lapic) && c.Field(s.pit) && c.Field(s.rtc) &&
           c.Field(s.hpet) && c.Field(s.com1) && c.Field(s.com2) && c.Field(s.acpi_pm) && I8042Fields(c, s.i8042) &&
           c.Field(s.fw_cfg) && c.Field(s.pci_host) && c.Field(s.nmi_pending);
}

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
    const BoardState s{pic_.SaveState(), ioapic_.SaveState(),   cpus_[0]->lapic().SaveState(),  pit_.SaveState(),
                       rtc_.SaveState(), hpet_.SaveState(),     com1_.SaveState(),    com2_.SaveState(),
                       acpi_pm_.SaveState(), i8042_.SaveState(), fw_cfg_.SaveState(), pci_.SaveState(),
                       cpus_[0]->nmi_pending()};
    BoardFields(out, s);
}

std::function<void()> PcBoard::DecodeSnapshot(snapshot::Decoder& in) {
    BoardState s;
    if (!BoardFields(in, s)) return {};
    return [this, s] { Restore(s); };
}

void PcBoard::Restore(const BoardState& s) {
    pic_.RestoreState(s.pic);
    ioapic_.RestoreState(s.ioapic);
    RestoreCpu(0, s.lapic, s.nmi_pending);
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
}

void PcBoard::RestoreCpu(unsigned index, const devices::LocalApicState& lapic, bool nmi_pending) {
    PcCpuPort& port = *cpus_.at(index);
    port.lapic().RestoreState(lapic);
    // The window follows the restored IA32_APIC_BASE, as after the guest's own WRMSR.
    (void)port.WriteApicBase(lapic.base_msr);
    port.set_nmi_pending(nmi_pending);
}

void PcBoard::SaveApSnapshot(unsigned index, snapshot::Encoder& out) {
    PcCpuPort& port = *cpus_.at(index);
    out.Field(port.lapic().SaveState());
    out.Bool(port.nmi_pending());
}

std::function<void()> PcBoard::DecodeApSnapshot(unsigned index, snapshot::Decoder& in) {
    devices::LocalApicState lapic;
    bool nmi_pending = false;
    if (index == 0 || index >= cpus_.size() || !in.Field(lapic) || !in.Bool(nmi_pending)) return {};
    return [this, index, lapic, nmi_pending] { RestoreCpu(index, lapic, nmi_pending); };
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
    ForEachFunction(pci_, [&](unsigned, unsigned, devices::PciDevice& device) { out.Field(device.SaveState()); });
}

std::function<void()> PcBoard::DecodePciFunctions(snapshot::Decoder& in) {
    std::vector<std::pair<devices::PciDevice*, devices::PciDeviceState>> states;
    bool ok = true;
    ForEachFunction(pci_, [&](unsigned, unsigned, devices::PciDevice& device) {
        devices::PciDeviceState state;
        ok = ok && in.Field(state);
        states.emplace_back(&device, state);
    });
    if (!ok) return {};
    return [this, states] {
        for (const auto& [device, state] : states) pci_.RestoreDevice(*device, state);
        RunDeferred();  // the BAR remaps RestoreDevice queued
    };
}

}  // namespace emu::machine
