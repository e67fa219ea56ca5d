#include "devices/virtio/virtio_pci.h"

#include <array>

#include "emu/common/log.h"

namespace emu::devices::virtio {

namespace {

PciIds IdsFor(const VirtioDevice& device) {
    PciIds ids;
    ids.vendor = pci::kVendor;
    ids.device = static_cast<u16>(pci::kModernDeviceBase + static_cast<u16>(device.Type()));
    ids.class_code = device.PciClass();
    ids.revision = pci::kModernRevision;
    ids.subsystem_vendor = pci::kVendor;
    ids.subsystem = pci::kSubsystemId;
    ids.interrupt_pin = 1;  // INTA#, for drivers that do not enable MSI-X
    return ids;
}

// 4.1.4 struct virtio_pci_cap after its first two bytes (cap_vndr, cap_next), plus `extra` trailing bytes.
std::vector<u8> VirtioCap(u8 cfg_type, u64 offset, u64 length, std::span<const u8> extra = {}) {
    std::vector<u8> body = {static_cast<u8>(16 + extra.size()), cfg_type, static_cast<u8>(pci::kBar), 0, 0, 0};
    for (unsigned i = 0; i < 4; ++i) body.push_back(static_cast<u8>(offset >> (8 * i)));
    for (unsigned i = 0; i < 4; ++i) body.push_back(static_cast<u8>(length >> (8 * i)));
    body.insert(body.end(), extra.begin(), extra.end());
    return body;
}

void Put(std::span<u8> image, u64 offset, unsigned size, u64 value) {
    StoreLe(image.subspan(offset, size), value);
}

}  // namespace

VirtioPciTransport::VirtioPciTransport(VirtioDevice& device, DmaMemory& memory, MsiSender msi)
    : PciDevice(IdsFor(device)), device_(device), memory_(memory), msi_(std::move(msi)) {
    const unsigned n = device_.NumQueues();
    queue_regs_.resize(n);
    queues_.assign(n, SplitQueue(memory_));
    for (unsigned i = 0; i < n; ++i) queue_regs_[i].layout.size = device_.MaxQueueSize(i);
    msix_.resize(n + 1);  // one vector per queue and one for configuration changes
    AddBar(pci::kBar, BarKind::Mem32, pci::kBarSize, bar_);
    AddCapabilities();
}

VirtioPciTransport::~VirtioPciTransport() = default;

void VirtioPciTransport::AddCapabilities() {
    (void)AddCapability(pci::kCapVendorSpecific,
                        VirtioCap(pci::kCapCommonCfg, pci::kCommonCfgOffset, pci::kCommonCfgSize));
    (void)AddCapability(pci::kCapVendorSpecific, VirtioCap(pci::kCapIsrCfg, pci::kIsrOffset, 1));
    (void)AddCapability(pci::kCapVendorSpecific,
                        VirtioCap(pci::kCapDeviceCfg, pci::kDeviceCfgOffset, pci::kRegionSize));
    const std::array<u8, 4> multiplier = {pci::kNotifyOffMultiplier, 0, 0, 0};
    (void)AddCapability(pci::kCapVendorSpecific,
                        VirtioCap(pci::kCapNotifyCfg, pci::kNotifyOffset, pci::kRegionSize, multiplier));
    // MSI-X: message control (table size - 1), table and PBA offsets in the same BAR (BIR in the low 3 bits).
    const u16 table_size = static_cast<u16>(msix_.size() - 1);
    const u32 table = static_cast<u32>(pci::kMsixTableOffset) | pci::kBar;
    const u32 pba = static_cast<u32>(pci::kMsixPbaOffset) | pci::kBar;
    const std::array<u8, 10> body = {static_cast<u8>(table_size), static_cast<u8>(table_size >> 8),
                                     static_cast<u8>(table), static_cast<u8>(table >> 8), static_cast<u8>(table >> 16),
                                     static_cast<u8>(table >> 24), static_cast<u8>(pba), static_cast<u8>(pba >> 8),
                                     static_cast<u8>(pba >> 16), static_cast<u8>(pba >> 24)};
    msix_cap_ = AddCapability(pci::kCapMsix, body);
    SetWritable(msix_cap_ + 3, 1, static_cast<u8>((msix::kControlEnable | msix::kControlFunctionMask) >> 8));
}

void VirtioPciTransport::ConfigWrite(u16 reg, unsigned size, u32 value) {
    PciDevice::ConfigWrite(reg, size, value);
    const u16 control = static_cast<u16>(config()[msix_cap_ + 2] | config()[msix_cap_ + 3] << 8);
    const u16 before = msix_control_.exchange(control);
    const u16 on = msix::kControlEnable;
    const bool unmasked = (control & on) && !(control & msix::kControlFunctionMask);
    const bool was_unmasked = (before & on) && !(before & msix::kControlFunctionMask);
    if (unmasked && !was_unmasked) {
        // Messages held back while the function was masked go out now (PCI 3.0 6.8.2.9).
        std::lock_guard lock(mutex_);
        for (unsigned v = 0; v < msix_.size(); ++v) {
            if (msix_[v].pending && !(msix_[v].control & msix::kEntryMasked)) SendMsixLocked(v);
        }
    }
}

u8 VirtioPciTransport::DeviceStatus() const {
    std::lock_guard lock(mutex_);
    return status_;
}

VirtioPciState VirtioPciTransport::SaveState() const {
    std::lock_guard lock(mutex_);
    VirtioPciState state{device_feature_select_, driver_feature_select_, driver_features_, status_, isr_,
                         config_msix_vector_,    queue_select_,          {},               {}};
    for (size_t i = 0; i < queues_.size(); ++i) {
        state.queues.push_back({queues_[i].SaveState(), queue_regs_[i].layout, queue_regs_[i].msix_vector});
    }
    for (const MsixEntry& e : msix_) {
        state.msix.push_back({e.address_low, e.address_high, e.data, e.control, e.pending});
    }
    return state;
}

void VirtioPciTransport::RestoreState(const VirtioPciState& state) {
    std::lock_guard lock(mutex_);
    device_feature_select_ = state.device_feature_select;
    driver_feature_select_ = state.driver_feature_select;
    driver_features_ = state.driver_features;
    status_ = state.status;
    isr_ = state.isr;
    config_msix_vector_ = state.config_msix_vector;
    queue_select_ = state.queue_select;
    for (size_t i = 0; i < queues_.size() && i < state.queues.size(); ++i) {
        const VirtioQueueRegsState& q = state.queues[i];
        queue_regs_[i] = QueueRegs{q.layout, q.msix_vector, q.queue.enabled};
        if (auto r = queues_[i].RestoreState(q.queue, device_.MaxQueueSize(static_cast<unsigned>(i))); !r) {
            queue_regs_[i].enabled = false;
            NeedsResetLocked(QueueErrorMessage(r.error()));
        }
    }
    for (size_t v = 0; v < msix_.size() && v < state.msix.size(); ++v) {
        const MsixEntryState& e = state.msix[v];
        msix_[v] = MsixEntry{e.address_low, e.address_high, e.data, e.control, e.pending};
    }
    SetIntx(isr_ != 0 && !(msix_control_.load() & msix::kControlEnable));
}

u64 VirtioPciTransport::OfferedFeatures() const { return device_.Features() | feature::kVersion1; }

bool VirtioPciTransport::Live() const {
    return (status_ & status::kDriverOk) && !(status_ & status::kDeviceNeedsReset);
}

void VirtioPciTransport::BarRead(u64 offset, std::span<u8> data) {
    std::fill(data.begin(), data.end(), 0);
    std::lock_guard lock(mutex_);
    if (offset < pci::kCommonCfgOffset + pci::kRegionSize) {
        ReadCommonLocked(offset - pci::kCommonCfgOffset, data);
    } else if (offset < pci::kIsrOffset + pci::kRegionSize) {
        // 4.1.4.5: reading the ISR returns it and clears it, which also deasserts INTx.
        if (offset == pci::kIsrOffset) {
            data[0] = isr_;
            isr_ = 0;
            SetIntx(false);
        }
    } else if (offset < pci::kDeviceCfgOffset + pci::kRegionSize) {
        const u64 at = offset - pci::kDeviceCfgOffset;
        if (at + data.size() <= device_.ConfigSize()) device_.ReadConfig(at, data);
    } else if (offset >= pci::kMsixTableOffset && offset < pci::kBarSize) {
        ReadMsixLocked(offset, data);
    }
}

void VirtioPciTransport::BarWrite(u64 offset, std::span<const u8> data) {
    After after = After::Nothing;
    unsigned notify_queue = 0;
    u64 features = 0;
    {
        std::lock_guard lock(mutex_);
        if (offset < pci::kCommonCfgOffset + pci::kRegionSize) {
            after = WriteCommonLocked(offset - pci::kCommonCfgOffset, static_cast<unsigned>(data.size()), LoadLe(data));
            features = driver_features_;
        } else if (offset >= pci::kDeviceCfgOffset && offset < pci::kDeviceCfgOffset + pci::kRegionSize) {
            const u64 at = offset - pci::kDeviceCfgOffset;
            if (at + data.size() <= device_.ConfigSize()) device_.WriteConfig(at, data);
        } else if (offset >= pci::kNotifyOffset && offset < pci::kNotifyOffset + pci::kRegionSize) {
            notify_queue = static_cast<unsigned>((offset - pci::kNotifyOffset) / pci::kNotifyOffMultiplier);
            if (notify_queue < queues_.size() && queues_[notify_queue].enabled() && Live()) after = After::Notify;
        } else if (offset >= pci::kMsixTableOffset && offset < pci::kMsixPbaOffset) {
            WriteMsixLocked(offset, data);
        }
    }
    // The device model runs without the transport lock: it calls back into PopChain/Complete.
    switch (after) {
        case After::Nothing: break;
        case After::Reset: ResetDevice(); break;
        case After::Activate: device_.Activate(*this, features); break;
        case After::Notify: device_.QueueNotify(notify_queue); break;
    }
}

void VirtioPciTransport::ReadCommonLocked(u64 offset, std::span<u8> data) {
    std::array<u8, pci::kCommonCfgSize> image{};
    const u64 offered = OfferedFeatures();
    const u32 features = device_feature_select_ < 2 ? static_cast<u32>(offered >> (32 * device_feature_select_)) : 0;
    Put(image, pci::kDeviceFeatureSelect, 4, device_feature_select_);
    Put(image, pci::kDeviceFeature, 4, features);
    Put(image, pci::kDriverFeatureSelect, 4, driver_feature_select_);
    Put(image, pci::kDriverFeature, 4,
        driver_feature_select_ < 2 ? static_cast<u32>(driver_features_ >> (32 * driver_feature_select_)) : 0);
    Put(image, pci::kConfigMsixVector, 2, config_msix_vector_);
    Put(image, pci::kNumQueues, 2, queues_.size());
    Put(image, pci::kDeviceStatus, 1, status_);
    Put(image, pci::kConfigGeneration, 1, 0);  // the device configuration never changes under the driver
    Put(image, pci::kQueueSelect, 2, queue_select_);
    if (queue_select_ < queues_.size()) {
        const QueueRegs& q = queue_regs_[queue_select_];
        // Before the driver writes a size, queue_size reads the maximum (4.1.4.3.2).
        Put(image, pci::kQueueSize, 2, q.layout.size);
        Put(image, pci::kQueueMsixVector, 2, q.msix_vector);
        Put(image, pci::kQueueEnable, 2, q.enabled ? 1 : 0);
        Put(image, pci::kQueueNotifyOff, 2, queue_select_);
        Put(image, pci::kQueueDesc, 8, q.layout.desc);
        Put(image, pci::kQueueDriver, 8, q.layout.driver);
        Put(image, pci::kQueueDevice, 8, q.layout.device);
    }
    if (offset + data.size() > image.size()) return;
    std::copy_n(image.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), data.begin());
}

VirtioPciTransport::After VirtioPciTransport::WriteCommonLocked(u64 offset, unsigned size, u64 value) {
    // 64-bit queue addresses may come as one 8-byte write or two 4-byte halves (Linux's vp_iowrite64_twopart).
    QueueRegs* q = queue_select_ < queues_.size() ? &queue_regs_[queue_select_] : nullptr;
    auto set_address = [&](u64 QueueLayout::*field, u64 base) {
        if (!q || q->enabled) return;  // no such queue; or 4.1.4.3.2: not while the queue is enabled
        u64& address = q->layout.*field;
        if (size == 8 && offset == base) address = value;
        if (size == 4) {
            const unsigned shift = offset == base ? 0 : 32;
            address = (address & ~(u64{0xFFFFFFFF} << shift)) | (value & 0xFFFFFFFF) << shift;
        }
    };
    switch (offset) {
        case pci::kDeviceFeatureSelect: device_feature_select_ = static_cast<u32>(value); break;
        case pci::kDriverFeatureSelect: driver_feature_select_ = static_cast<u32>(value); break;
        case pci::kDriverFeature:
            if (driver_feature_select_ < 2 && !(status_ & status::kFeaturesOk)) {
                const unsigned shift = 32 * driver_feature_select_;
                driver_features_ = (driver_features_ & ~(u64{0xFFFFFFFF} << shift)) | (value & 0xFFFFFFFF) << shift;
            }
            break;
        case pci::kConfigMsixVector:
            config_msix_vector_ = value < msix_.size() ? static_cast<u16>(value) : kNoVector;
            break;
        case pci::kDeviceStatus: return WriteStatusLocked(static_cast<u8>(value));
        case pci::kQueueSelect: queue_select_ = static_cast<u16>(value); break;
        case pci::kQueueSize:
            if (q && !q->enabled) q->layout.size = static_cast<u16>(value);
            break;
        case pci::kQueueMsixVector:
            // 4.1.5.1.2: a vector the device cannot use reads back as NO_VECTOR.
            if (q) q->msix_vector = value < msix_.size() ? static_cast<u16>(value) : kNoVector;
            break;
        case pci::kQueueEnable:
            if (q && value == 1 && !q->enabled) EnableQueueLocked(queue_select_);
            break;
        case pci::kQueueDesc: case pci::kQueueDesc + 4: set_address(&QueueLayout::desc, pci::kQueueDesc); break;
        case pci::kQueueDriver: case pci::kQueueDriver + 4: set_address(&QueueLayout::driver, pci::kQueueDriver); break;
        case pci::kQueueDevice: case pci::kQueueDevice + 4: set_address(&QueueLayout::device, pci::kQueueDevice); break;
        default: break;  // read-only fields
    }
    return After::Nothing;
}

VirtioPciTransport::After VirtioPciTransport::WriteStatusLocked(u8 value) {
    if (value == 0) return After::Reset;
    const u8 added = static_cast<u8>(value & ~status_);
    if (added & status::kFeaturesOk) {
        // 3.1.1: the device refuses FEATURES_OK for features it did not offer, or without VERSION_1 (no legacy).
        const u64 offered = OfferedFeatures();
        if ((driver_features_ & ~offered) != 0 || !(driver_features_ & feature::kVersion1)) {
            value = static_cast<u8>(value & ~status::kFeaturesOk);
        }
    }
    // DEVICE_NEEDS_RESET is the device's to set; the driver cannot clear it but by a reset.
    status_ = static_cast<u8>(value | (status_ & status::kDeviceNeedsReset));
    if ((added & status::kDriverOk) && (status_ & status::kFeaturesOk)) return After::Activate;
    return After::Nothing;
}

void VirtioPciTransport::EnableQueueLocked(unsigned index) {
    QueueRegs& regs = queue_regs_[index];
    const bool event_idx = (driver_features_ & feature::kEventIdx) != 0;
    const bool indirect = (driver_features_ & feature::kIndirectDesc) != 0;
    if (auto r = queues_[index].Enable(regs.layout, device_.MaxQueueSize(index), event_idx, indirect); !r) {
        NeedsResetLocked(QueueErrorMessage(r.error()));
        return;
    }
    regs.enabled = true;
}

void VirtioPciTransport::ResetDevice() {
    {
        std::lock_guard lock(mutex_);
        ++generation_;
        status_ = 0;
        isr_ = 0;
        driver_features_ = 0;
        device_feature_select_ = driver_feature_select_ = 0;
        queue_select_ = 0;
        config_msix_vector_ = kNoVector;
        for (unsigned i = 0; i < queues_.size(); ++i) {
            queues_[i].Reset();
            queue_regs_[i] = QueueRegs{};
            queue_regs_[i].layout.size = device_.MaxQueueSize(i);
        }
        SetIntx(false);
    }
    device_.Reset();
}

void VirtioPciTransport::NeedsResetLocked(const char* why) {
    log::Log(log::Category::GuestErrors, "virtio-{}: {}: device needs reset", static_cast<int>(device_.Type()), why);
    if (status_ & status::kDeviceNeedsReset) return;
    status_ |= status::kDeviceNeedsReset;
    if (status_ & status::kDriverOk) InterruptLocked(config_msix_vector_, pci::kIsrConfig);
}

std::optional<Request> VirtioPciTransport::PopChain(unsigned index) {
    std::lock_guard lock(mutex_);
    if (index >= queues_.size() || !Live()) return std::nullopt;
    auto chain = queues_[index].Pop();
    if (!chain) {
        NeedsResetLocked(QueueErrorMessage(chain.error()));
        return std::nullopt;
    }
    if (!*chain) return std::nullopt;
    return Request{std::move(**chain), generation_};
}

void VirtioPciTransport::Complete(unsigned index, const Request& request, u32 written) {
    std::lock_guard lock(mutex_);
    if (request.generation != generation_ || index >= queues_.size() || !Live()) return;
    if (auto r = queues_[index].PushUsed(request.chain.head, written); !r) {
        NeedsResetLocked(QueueErrorMessage(r.error()));
        return;
    }
    if (queues_[index].ShouldInterrupt()) InterruptLocked(queue_regs_[index].msix_vector, pci::kIsrQueue);
}

void VirtioPciTransport::InterruptLocked(u16 vector, u8 isr_bit) {
    const u16 control = msix_control_.load();
    if (control & msix::kControlEnable) {
        if (vector >= msix_.size()) return;  // NO_VECTOR: the driver wants no interrupt for this
        if ((control & msix::kControlFunctionMask) || (msix_[vector].control & msix::kEntryMasked)) {
            msix_[vector].pending = true;
            return;
        }
        SendMsixLocked(vector);
        return;
    }
    isr_ |= isr_bit;
    SetIntx(true);
}

void VirtioPciTransport::SendMsixLocked(unsigned vector) {
    MsixEntry& e = msix_[vector];
    e.pending = false;
    if (msi_) msi_(u64{e.address_high} << 32 | e.address_low, e.data);
}

void VirtioPciTransport::ReadMsixLocked(u64 offset, std::span<u8> data) {
    std::vector<u8> image;
    u64 base = 0;
    if (offset < pci::kMsixPbaOffset) {
        base = pci::kMsixTableOffset;
        for (const MsixEntry& e : msix_) {
            for (const u32 word : {e.address_low, e.address_high, e.data, e.control}) {
                for (unsigned i = 0; i < 4; ++i) image.push_back(static_cast<u8>(word >> (8 * i)));
            }
        }
    } else {
        base = pci::kMsixPbaOffset;
        image.assign((msix_.size() + 63) / 64 * 8, 0);
        for (unsigned v = 0; v < msix_.size(); ++v) {
            if (msix_[v].pending) image[v / 8] |= static_cast<u8>(1u << (v % 8));
        }
    }
    const u64 at = offset - base;
    if (at + data.size() <= image.size()) std::copy_n(image.begin() + static_cast<std::ptrdiff_t>(at), data.size(),
                                                      data.begin());
}

void VirtioPciTransport::WriteMsixLocked(u64 offset, std::span<const u8> data) {
    const u64 at = offset - pci::kMsixTableOffset;
    // Dword or qword accesses only (PCI 3.0 6.8.2: "software must not access ... with other widths").
    if ((data.size() != 4 && data.size() != 8) || (at & 3) != 0) return;
    for (u64 done = 0; done < data.size(); done += 4) {
        const u64 entry = (at + done) / msix::kEntrySize;
        if (entry >= msix_.size()) return;
        const u32 value = static_cast<u32>(LoadLe(data.subspan(done, 4)));
        MsixEntry& e = msix_[entry];
        switch ((at + done) % msix::kEntrySize) {
            case 0: e.address_low = value; break;
            case 4: e.address_high = value; break;
            case 8: e.data = value; break;
            default: {
                const bool unmasking = (e.control & msix::kEntryMasked) && !(value & msix::kEntryMasked);
                e.control = value & msix::kEntryMasked;
                const u16 control = msix_control_.load();
                if (unmasking && e.pending && (control & msix::kControlEnable) &&
                    !(control & msix::kControlFunctionMask)) {
                    SendMsixLocked(static_cast<unsigned>(entry));
                }
            }
        }
    }
}

}  // namespace emu::devices::virtio
