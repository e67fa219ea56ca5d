#include "devices/gpu/gpu_device.h"

namespace emu::devices::gpu {

namespace {

PciIds IdsFor(bool with_engine) {
    return PciIds{.vendor = kVendorQemu,
                  .device = kDeviceBochs,
                  .class_code = kClassDisplayOther,
                  .revision = kRevision,
                  .subsystem_vendor = kSubsystemVendorQemu,
                  .subsystem = kSubsystemQemu,
                  .interrupt_pin = static_cast<u8>(with_engine ? 1 : 0)};  // the display alone never interrupts
}

// The smallest power of two >= n (and >= 16, the smallest memory BAR).
u64 BarSizeFor(u64 n) {
    u64 size = 16;
    while (size < n) size <<= 1;
    return size;
}

}  // namespace

GpuDevice::GpuDevice(GpuDeviceConfig config)
    : PciDevice(IdsFor(config.engine != nullptr)),
      display_(config.vram_bytes, config.slots, config.log_dirty),
      engine_(std::move(config.engine)) {
    AddBar(kVramBar, BarKind::Mem32, BarSizeFor(display_.vram_bytes()), display_.vram_bar(), /*prefetchable=*/true);
    if (config.slots) SetRamBar(kVramBar, *this);
    AddBar(kRegsBar, BarKind::Mem32, kRegsBarBytes, display_.regs_bar());
    if (engine_) {
        AddBar(kEngineBar, BarKind::Mem32, BarSizeFor(engine_->BarSize()), *engine_);
        engine_->Connect([this](bool level) { SetIntx(level); }, display_);
    }
}

}  // namespace emu::devices::gpu
