#pragma once
// `-display sdl`: an SDL2 window that shows the display device's picture and turns the host keyboard into PC scan
// codes for the guest. SDL runs on a thread of its own (every SDL call is made from it): it redraws when the
// display's generation changes (and at least every second, so a window the X server exposed is repainted), and
// closing the window ends the emulator as a power-off would.
#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "devices/gpu/bochs_display.h"
#include "emu/common/result.h"

namespace emu::ui {

struct SdlWindowConfig {
    std::string title = "emu64";
    devices::gpu::BochsDisplay* display = nullptr;      // what the window shows (not null)
    std::function<void(std::span<const u8>)> keyboard;  // receives set-1 scan code bytes
    std::function<void()> on_close;                     // the user closed the window
};

class SdlWindow {
public:
    // Opens the window (no X display, no SDL video driver: a message).
    static Result<std::unique_ptr<SdlWindow>, std::string> Open(SdlWindowConfig config);
    ~SdlWindow();
    SdlWindow(const SdlWindow&) = delete;
    SdlWindow& operator=(const SdlWindow&) = delete;

private:
    explicit SdlWindow(SdlWindowConfig config) : config_(std::move(config)) {}
    void Loop(std::function<void(std::string error)> opened);

    SdlWindowConfig config_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace emu::ui
