#pragma once
// The GPU's PCI function: QEMU's bochs-display (IDs 1234:1111, so Linux's `bochs` DRM driver binds) with its VRAM
// BAR0 and register BAR2 (bochs_display.h), and, when an engine is plugged in (gpu_engine_port.h), the engine's MMIO
// window as BAR4 and the function's INTA# as its interrupt.
#include <memory>

#include "devices/gpu/bochs_display.h"
#include "devices/gpu/gpu_engine_port.h"
#include "devices/pci/pci_device.h"

namespace emu::devices::gpu {

struct GpuDeviceConfig {
    u64 vram_bytes = kDefaultVramBytes;
    std::unique_ptr<GpuEngine> engine;  // null: the display alone (-device bochs-display)
};

class GpuDevice final : public PciDevice {
public:
    explicit GpuDevice(GpuDeviceConfig config);

    BochsDisplay& display() { return display_; }
    GpuEngine* engine() { return engine_.get(); }

private:
    BochsDisplay display_;
    std::unique_ptr<GpuEngine> engine_;
};

}  // namespace emu::devices::gpu
