#include "emu/machine/display_devices.h"

#include <algorithm>

#include "emu/machine/gpu_engine_factory.h"
#include "emu/ui/screendump.h"
#include "emu64_config.h"
#if EMU64_HAVE_SDL
#include "emu/ui/sdl_window.h"
#endif

namespace emu::ui {
#if !EMU64_HAVE_SDL
class SdlWindow {};  // never made: without SDL2, -display sdl is refused before the machine is built
#endif
}  // namespace emu::ui

namespace emu::machine {

Result<std::unique_ptr<DisplayDevices>, std::string> DisplayDevices::Create(const MachineConfig& config,
                                                                           PcBoard& board, mmu::Memslots& slots,
                                                                           mmu::PageTrack* page_track,
                                                                           std::function<void()> on_close) {
    std::unique_ptr<DisplayDevices> set(new DisplayDevices);
    const auto spec = std::find_if(config.devices.begin(), config.devices.end(),
                                   [](const DeviceSpec& d) { return IsDisplay(d.kind); });
    const bool sdl = EffectiveDisplay(config) == "sdl";
    if (spec == config.devices.end()) {
        if (sdl) return Err(std::string("-display sdl: no display device to show (add -vga std or -device bochs-display)"));
        return set;
    }
    devices::gpu::GpuDeviceConfig gpu;
    if (spec->vram_bytes) gpu.vram_bytes = spec->vram_bytes;
    gpu.slots = &slots;  // VRAM as RAM: guest accesses are memory accesses, not device exits
    gpu.log_dirty = sdl;  // only a window needs to know when the guest drew (the screendump reads VRAM as it is)
    if (spec->kind == DeviceKind::Emu64Gpu) {
        gpu.engine = MakeGpuEngine(slots, page_track);
        if (!gpu.engine) return Err("-device " + spec->text + ": the copy engine is not implemented yet");
    }
    set->gpu_ = std::make_unique<devices::gpu::GpuDevice>(std::move(gpu));
    if (auto error = board.AddPciDevice(*set->gpu_)) return Err("-device " + spec->text + ": " + *error);
#if EMU64_HAVE_SDL
    if (sdl) {
        ui::SdlWindowConfig window;
        window.display = &set->gpu_->display();
        window.keyboard = [&board](std::span<const u8> bytes) { board.keyboard().KeyboardInput(bytes); };
        window.on_close = std::move(on_close);
        auto opened = ui::SdlWindow::Open(std::move(window));
        if (!opened) return Err(opened.error());
        set->window_ = std::move(*opened);
    }
#else
    (void)on_close;
#endif
    return set;
}

DisplayDevices::~DisplayDevices() { CloseWindow(); }

void DisplayDevices::CloseWindow() { window_.reset(); }

std::optional<std::string> DisplayDevices::Screendump(const std::string& path) const {
    if (!gpu_) return "no display device";
    return ui::WritePng(path, gpu_->display().Capture());
}

}  // namespace emu::machine
