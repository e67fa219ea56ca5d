#include "devices/pci/pci_device.h"

#include <bit>

#include "devices/pci/pci_host.h"

namespace emu::devices {
namespace {

void Put16(std::array<u8, pci::kConfigSize>& c, u16 reg, u16 v) {
    c[reg] = static_cast<u8>(v);
    c[reg + 1] = static_cast<u8>(v >> 8);
}

}  // namespace

PciDevice::PciDevice(const PciIds& ids) {
    Put16(config_, pci::kVendorId, ids.vendor);
    Put16(config_, pci::kDeviceId, ids.device);
    config_[pci::kRevision] = ids.revision;
    config_[pci::kClassCode] = static_cast<u8>(ids.class_code);
    config_[pci::kClassCode + 1] = static_cast<u8>(ids.class_code >> 8);
    config_[pci::kClassCode + 2] = static_cast<u8>(ids.class_code >> 16);
    config_[pci::kHeaderType] = ids.header_type;
    Put16(config_, pci::kSubsystemVendorId, ids.subsystem_vendor);
    Put16(config_, pci::kSubsystemId, ids.subsystem);
    config_[pci::kInterruptPin] = ids.interrupt_pin;
    Put16(wmask_, pci::kCommand, pci::kCommandWritable);
    Put16(w1cmask_, pci::kStatus, pci::kStatusWriteOneToClear);
    wmask_[pci::kCacheLineSize] = 0xFF;
    wmask_[pci::kLatencyTimer] = 0xFF;
    wmask_[pci::kInterruptLine] = 0xFF;
}

void PciDevice::SetRamBar(unsigned index, RamBar& ram) {
    if (index < pci::kNumBars && bars_[index].size != 0 && bars_[index].kind != BarKind::Io) bars_[index].ram = &ram;
}

void PciDevice::AddBar(unsigned index, BarKind kind, u64 size, IoDevice& device, bool prefetchable) {
    const bool wide = kind == BarKind::Mem64;
    if (index >= pci::kNumBars || (wide && index + 1 >= pci::kNumBars) || !std::has_single_bit(size)) return;
    size = std::max<u64>(size, kind == BarKind::Io ? 4 : 16);
    bars_[index] = Bar{.kind = kind, .size = size, .device = &device};
    // The writable bits are the address bits above the size: writing all ones reads back ~(size - 1) plus the
    // fixed type bits, which is how software sizes a BAR.
    const u64 address_mask = ~(size - 1) & (kind == BarKind::Io ? ~u64{0x3} : ~u64{0xF});
    u32 type = 0;
    if (kind == BarKind::Io) type = pci::kBarIo;
    if (wide) type |= pci::kBarMem64;
    if (prefetchable && kind != BarKind::Io) type |= pci::kBarPrefetchable;
    const u16 reg = static_cast<u16>(pci::kBar0 + 4 * index);
    for (unsigned i = 0; i < 4; ++i) {
        config_[reg + i] = static_cast<u8>(type >> (8 * i));
        wmask_[reg + i] = static_cast<u8>(address_mask >> (8 * i));
    }
    if (wide) {
        bars_[index + 1] = Bar{.kind = kind, .upper_half = true};
        for (unsigned i = 0; i < 4; ++i) wmask_[reg + 4 + i] = static_cast<u8>(address_mask >> (32 + 8 * i));
    }
}

u8 PciDevice::AddCapability(u8 id, std::span<const u8> body) {
    const size_t len = 2 + body.size();
    const u8 offset = next_capability_;
    if (offset + len > pci::kConfigSize) return 0;
    config_[offset] = id;
    config_[offset + 1] = 0;  // end of list
    std::copy(body.begin(), body.end(), config_.begin() + offset + 2);
    if (last_capability_ == 0) {
        config_[pci::kCapabilitiesPointer] = offset;
    } else {
        config_[last_capability_ + 1] = offset;
    }
    config_[pci::kStatus] |= pci::kStatusCapabilities;
    last_capability_ = offset;
    next_capability_ = static_cast<u8>((offset + len + 3) & ~3u);  // capabilities are dword aligned
    return offset;
}

void PciDevice::SetWritable(u16 reg, unsigned len, u8 mask) {
    for (unsigned i = 0; i < len && reg + i < pci::kConfigSize; ++i) wmask_[reg + i] = mask;
}

u16 PciDevice::Command() const { return static_cast<u16>(config_[pci::kCommand] | config_[pci::kCommand + 1] << 8); }

u32 PciDevice::ConfigRead(u16 reg, unsigned size) {
    u32 value = 0;
    for (unsigned i = 0; i < size; ++i) {
        u8 byte = config_[reg + i];
        if (reg + i == pci::kStatus && intx_level_.load(std::memory_order_relaxed)) byte |= pci::kStatusInterrupt;
        value |= u32{byte} << (8 * i);
    }
    return value;
}

void PciDevice::WriteByte(u16 reg, u8 value) {
    config_[reg] = static_cast<u8>((config_[reg] & ~wmask_[reg]) | (value & wmask_[reg]));
    config_[reg] = static_cast<u8>(config_[reg] & ~(value & w1cmask_[reg]));
}

void PciDevice::ConfigWrite(u16 reg, unsigned size, u32 value) {
    for (unsigned i = 0; i < size; ++i) WriteByte(static_cast<u16>(reg + i), static_cast<u8>(value >> (8 * i)));
}

bool PciDevice::DecodedBase(unsigned index, u64* base) const {
    const Bar& bar = bars_[index];
    if (bar.size == 0 || bar.upper_half) return false;
    const u16 reg = static_cast<u16>(pci::kBar0 + 4 * index);
    auto dword = [this](u16 r) {
        return u32{config_[r]} | u32{config_[r + 1]} << 8 | u32{config_[r + 2]} << 16 | u32{config_[r + 3]} << 24;
    };
    const u16 command = Command();
    u64 address;
    u64 limit;
    if (bar.kind == BarKind::Io) {
        if (!(command & pci::kCommandIo)) return false;
        address = dword(reg) & ~u64{0x3};
        limit = u64{1} << 16;  // x86 port space
    } else {
        if (!(command & pci::kCommandMemory)) return false;
        address = dword(reg) & ~u64{0xF};
        if (bar.kind == BarKind::Mem64) address |= u64{dword(static_cast<u16>(reg + 4))} << 32;
        limit = bar.kind == BarKind::Mem64 ? (u64{1} << 52) : (u64{1} << 32);  // 52: the x86 physical limit
    }
    // Unprogrammed (0) or still holding a sizing pattern that runs to the top of the space: not decoded.
    if (address == 0 || address + bar.size >= limit) return false;
    *base = address;
    return true;
}

void PciDevice::SetIntx(bool asserted) {
    if (host_ != nullptr) {
        host_->DeviceIntx(*this, asserted);
    } else {
        intx_level_.store(asserted, std::memory_order_relaxed);
    }
}

PciDeviceState PciDevice::SaveState() const {
    return PciDeviceState{.config = config_, .intx_level = intx_level_.load(std::memory_order_relaxed)};
}

void PciDevice::RestoreState(const PciDeviceState& state) {
    config_ = state.config;
    intx_level_.store(state.intx_level, std::memory_order_relaxed);
}

}  // namespace emu::devices
