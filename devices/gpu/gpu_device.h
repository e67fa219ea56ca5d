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
    mmu::Memslots* slots = nullptr;     // set: VRAM is a RAM memslot where BAR0 decodes; null: MMIO
    bool log_dirty = false;             // RAM VRAM: log dirty pages (a window repaints on them; bochs_display.h)
};

class GpuDevice final : public PciDevice, private RamBar {
public:
    explicit GpuDevice(GpuDeviceConfig config);

    BochsDisplay& display() { return display_; }
    GpuEngine* engine() { return engine_.get(); }

private:
    void MapAt(std::optional<u64> base) override { display_.MapVram(base); }

    BochsDisplay display_;
    std::unique_ptr<GpuEngine> engine_;
};

}  // namespace emu::devices::gpu
