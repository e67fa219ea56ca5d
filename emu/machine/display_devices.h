#pragma once
// The machine's display: the GPU's PCI function when the command line asks for one (-vga std, -device bochs-display,
// -device emu64-gpu), the -display sdl window on it (keys to the board's i8042, closing it powers off) and the
// -screendump-on-exit PNG.
//
// Lifetime: create after the board and page-track and before the vCPU runs (the GPU takes the first free PCI slot);
// call CloseWindow() when the run ends; destroy before the board.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "devices/gpu/gpu_device.h"
#include "emu/common/result.h"
#include "emu/machine/machine_config.h"
#include "emu/machine/pc_board.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::ui {
class SdlWindow;
}

namespace emu::machine {

class DisplayDevices {
public:
    // Plugs the GPU; -display sdl also needs it (there is nothing else to show) and opens the window. on_close runs
    // when the user closes the window.
    static Result<std::unique_ptr<DisplayDevices>, std::string> Create(const MachineConfig& config, PcBoard& board,
                                                                      mmu::Memslots& slots, mmu::PageTrack* page_track,
                                                                      std::function<void()> on_close);
    ~DisplayDevices();
    DisplayDevices(const DisplayDevices&) = delete;
    DisplayDevices& operator=(const DisplayDevices&) = delete;

    void CloseWindow();
    // Writes the picture as PNG to `path` (error message on failure). Only with a GPU.
    std::optional<std::string> Screendump(const std::string& path) const;

    devices::gpu::GpuDevice* gpu() { return gpu_.get(); }

private:
    DisplayDevices() = default;

    std::unique_ptr<devices::gpu::GpuDevice> gpu_;
    std::unique_ptr<ui::SdlWindow> window_;
};

}  // namespace emu::machine
