#include "devices/pci/pci_host.h"

#include <vector>

#include "emu/common/log.h"

namespace emu::devices {
namespace {

constexpr unsigned Index(unsigned slot, unsigned function) { return slot * pci::kFunctionsPerDevice + function; }

// CONFIG_ADDRESS fields.
constexpr unsigned AddrBus(u32 a) { return (a >> 16) & 0xFF; }
constexpr unsigned AddrSlot(u32 a) { return (a >> 11) & 0x1F; }
constexpr unsigned AddrFunction(u32 a) { return (a >> 8) & 0x7; }
constexpr u16 AddrRegister(u32 a) { return static_cast<u16>(a & 0xFC); }

// True if a write to [reg, reg + size) touches the command register or a BAR.
bool TouchesDecode(u16 reg, unsigned size) {
    const unsigned end = reg + size;
    const bool command = reg < pci::kCommand + 2 && end > pci::kCommand;
    const bool bars = reg < pci::kBar0 + 4 * pci::kNumBars && end > pci::kBar0;
    return command || bars;
}

}  // namespace

const char* PciErrorMessage(PciError error) {
    switch (error) {
    case PciError::BadAddress: return "PCI slot must be 0-31 and function 0-7";
    case PciError::SlotBusy: return "that PCI slot/function already has a device";
    case PciError::AlreadyAttached: return "the device is already attached to a PCI host";
    }
    return "unknown PCI error";
}

PciHost::PciHost(Bus& io, Bus& mmio, Defer defer)
    : io_(io),
      mmio_(mmio),
      defer_(std::move(defer)),
      ports_(
          [this](u64 offset, std::span<u8> data) {
              u32 value = 0xFFFFFFFF;
              {
                  std::lock_guard lock(mutex_);
                  if (offset == 0 && data.size() == 4) {
                      value = state_.config_address;
                  } else if (offset == 1 && data.size() == 1) {
                      value = state_.reset_control;
                  } else if (offset >= 4) {
                      const unsigned byte = static_cast<unsigned>(offset - 4);
                      const unsigned size = std::min<unsigned>(static_cast<unsigned>(data.size()), 4 - byte);
                      value = ReadLocked(state_.config_address, byte, size);
                  }
              }
              StoreLe(data, value);
          },
          [this](u64 offset, std::span<const u8> data) {
              const u32 value = static_cast<u32>(LoadLe(data));
              bool remap = false;
              std::function<void(bool)> reset;
              bool hard = false;
              {
                  std::lock_guard lock(mutex_);
                  if (offset == 0 && data.size() == 4) {
                      state_.config_address = value & pci::kConfigAddressMask;
                  } else if (offset == 1 && data.size() == 1) {
                      // PIIX3 RCR: RST_CPU written as 1 resets; SYS_RST picks a hard reset. Only SYS_RST stays.
                      if (value & pci::kRcrResetCpu) {
                          reset = reset_callback_;
                          hard = value & pci::kRcrSystemReset;
                      }
                      state_.reset_control = static_cast<u8>(value & pci::kRcrSystemReset);
                  } else if (offset >= 4) {
                      const unsigned byte = static_cast<unsigned>(offset - 4);
                      const unsigned size = std::min<unsigned>(static_cast<unsigned>(data.size()), 4 - byte);
                      remap = WriteLocked(state_.config_address, byte, size, value);
                  }
              }
              AfterWrite(remap);
              if (reset) reset(hard);
          }) {}

Result<void, PciError> PciHost::Attach(unsigned slot, unsigned function, PciDevice& device) {
    if (slot >= pci::kDevicesPerBus || function >= pci::kFunctionsPerDevice) return Err(PciError::BadAddress);
    std::lock_guard lock(mutex_);
    if (functions_[Index(slot, function)] != nullptr) return Err(PciError::SlotBusy);
    if (device.host_ != nullptr) return Err(PciError::AlreadyAttached);
    functions_[Index(slot, function)] = &device;
    device.host_ = this;
    device.slot_ = static_cast<u8>(slot);
    return {};
}

PciDevice* PciHost::FindLocked(unsigned bus, unsigned slot, unsigned function) const {
    if (bus != 0 || slot >= pci::kDevicesPerBus || function >= pci::kFunctionsPerDevice) return nullptr;
    return functions_[Index(slot, function)];
}

PciDevice* PciHost::Function(unsigned slot, unsigned function) const {
    std::lock_guard lock(mutex_);
    return FindLocked(0, slot, function);
}

u32 PciHost::ReadLocked(u32 address, unsigned byte, unsigned size) {
    if (!(address & pci::kConfigEnable)) return 0xFFFFFFFF;
    PciDevice* device = FindLocked(AddrBus(address), AddrSlot(address), AddrFunction(address));
    if (device == nullptr) return 0xFFFFFFFF;  // no function: the master abort reads all ones
    return device->ConfigRead(static_cast<u16>(AddrRegister(address) + byte), size);
}

bool PciHost::WriteLocked(u32 address, unsigned byte, unsigned size, u32 value) {
    if (!(address & pci::kConfigEnable)) return false;
    PciDevice* device = FindLocked(AddrBus(address), AddrSlot(address), AddrFunction(address));
    if (device == nullptr) return false;
    const u16 reg = static_cast<u16>(AddrRegister(address) + byte);
    device->ConfigWrite(reg, size, value);
    if (!TouchesDecode(reg, size)) return false;
    const bool disabled = device->Command() & pci::kCommandIntxDisable;
    if (disabled != device->intx_disabled_.load(std::memory_order_relaxed)) {
        device->intx_disabled_.store(disabled, std::memory_order_relaxed);
        std::lock_guard irq_lock(irq_mutex_);
        UpdateIntxLocked(*device);
    }
    return true;
}

u32 PciHost::ConfigRead(unsigned bus, unsigned slot, unsigned function, u16 reg, unsigned size) {
    if (reg >= pci::kConfigSize || size == 0 || size > 4 || reg % size != 0) return 0xFFFFFFFF;
    const u32 address = pci::kConfigEnable | (bus & 0xFF) << 16 | (slot & 0x1F) << 11 | (function & 7) << 8;
    std::lock_guard lock(mutex_);
    return ReadLocked(address | (reg & 0xFC), reg & 3, size);
}

void PciHost::ConfigWrite(unsigned bus, unsigned slot, unsigned function, u16 reg, unsigned size, u32 value) {
    if (reg >= pci::kConfigSize || size == 0 || size > 4 || reg % size != 0) return;
    const u32 address = pci::kConfigEnable | (bus & 0xFF) << 16 | (slot & 0x1F) << 11 | (function & 7) << 8;
    bool remap;
    {
        std::lock_guard lock(mutex_);
        remap = WriteLocked(address | (reg & 0xFC), reg & 3, size, value);
    }
    AfterWrite(remap);
}

void PciHost::AfterWrite(bool remap) {
    if (!remap) return;
    if (defer_) {
        defer_([this] { ApplyMappings(); });
    } else {
        ApplyMappings();
    }
}

void PciHost::ApplyMappings() {
    std::lock_guard map_lock(map_mutex_);
    struct Want {
        PciDevice* device;
        unsigned index;
        bool decoded;
        u64 base;
    };
    std::vector<Want> wants;
    {
        std::lock_guard lock(mutex_);
        for (PciDevice* device : functions_) {
            if (device == nullptr) continue;
            for (unsigned i = 0; i < pci::kNumBars; ++i) {
                Want w{device, i, false, 0};
                w.decoded = device->DecodedBase(i, &w.base);
                if (device->bars_[i].size != 0) wants.push_back(w);
            }
        }
    }
    // Unmap everything that moved first, so a swap of two BARs does not collide with itself.
    for (const Want& w : wants) {
        PciDevice::Bar& bar = w.device->bars_[w.index];
        if (bar.ram || !bar.mapped || (w.decoded && bar.mapped_base == w.base)) continue;
        Bus& bus = bar.kind == BarKind::Io ? io_ : mmio_;
        (void)bus.Remove(bar.mapped_base);
        bar.mapped = false;
    }
    for (const Want& w : wants) {
        PciDevice::Bar& bar = w.device->bars_[w.index];
        if (bar.ram) {
            // RAM moves as a whole (its owner's memslot MOVE, DELETE or CREATE), only when its decode changed.
            if (bar.mapped == w.decoded && (!w.decoded || bar.mapped_base == w.base)) continue;
            bar.ram->MapAt(w.decoded ? std::optional<u64>(w.base) : std::nullopt);
            bar.mapped = w.decoded;
            bar.mapped_base = w.base;
            continue;
        }
        if (bar.mapped || !w.decoded) continue;
        Bus& bus = bar.kind == BarKind::Io ? io_ : mmio_;
        const auto inserted = bus.Insert(w.base, bar.size, *bar.device);
        if (!inserted.ok()) {
            if (log::Enabled(log::Category::GuestErrors))
                log::Log(log::Category::GuestErrors, "pci: BAR{} of slot {} at {:#x} (+{:#x}) not mapped: {}", w.index,
                         w.device->slot_, w.base, bar.size, BusErrorMessage(inserted.error()));
            continue;
        }
        bar.mapped = true;
        bar.mapped_base = w.base;
    }
}

void PciHost::SetResetCallback(std::function<void(bool)> callback) {
    std::lock_guard lock(mutex_);
    reset_callback_ = std::move(callback);
}

void PciHost::SetIntxRouter(std::function<void(unsigned, bool)> router) {
    std::lock_guard lock(irq_mutex_);
    intx_router_ = std::move(router);
}

void PciHost::DeviceIntx(PciDevice& device, bool asserted) {
    std::lock_guard lock(irq_mutex_);
    device.intx_level_.store(asserted, std::memory_order_relaxed);
    UpdateIntxLocked(device);
}

void PciHost::UpdateIntxLocked(PciDevice& device) {
    const u8 pin = device.InterruptPin();
    if (pin < 1 || pin > 4) return;
    const bool contribute = device.intx_level_.load(std::memory_order_relaxed) &&
                            !device.intx_disabled_.load(std::memory_order_relaxed);
    if (contribute == device.intx_contributing_) return;
    device.intx_contributing_ = contribute;
    const unsigned pirq = PciSwizzle(device.slot_, pin - 1u);
    const unsigned before = pirq_count_[pirq];
    pirq_count_[pirq] = contribute ? before + 1 : before - 1;
    if ((before == 0) != (pirq_count_[pirq] == 0) && intx_router_) intx_router_(pirq, pirq_count_[pirq] != 0);
}

PciHostState PciHost::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void PciHost::RestoreState(const PciHostState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
}

void PciHost::RestoreDevice(PciDevice& device, const PciDeviceState& state) {
    {
        std::lock_guard lock(mutex_);
        device.RestoreState(state);
        device.intx_disabled_.store(device.Command() & pci::kCommandIntxDisable, std::memory_order_relaxed);
        std::lock_guard irq_lock(irq_mutex_);
        UpdateIntxLocked(device);
    }
    AfterWrite(true);
}

}  // namespace emu::devices
