#include "emu/ui/sdl_window.h"

#include <SDL.h>

#include <chrono>
#include <cstdlib>
#include <future>

#include "emu/ui/scancodes.h"

namespace emu::ui {

namespace {

constexpr int kOffWidth = 640, kOffHeight = 480;  // the window's size while the display is off
constexpr Uint32 kFrameMs = 16;
constexpr auto kRepaintEvery = std::chrono::seconds(1);

// Copies the frame into the window's surface and shows it; a frame of another size resizes the window first.
void Show(SDL_Window* window, const devices::gpu::Frame& frame) {
    const int width = frame.width ? static_cast<int>(frame.width) : kOffWidth;
    const int height = frame.height ? static_cast<int>(frame.height) : kOffHeight;
    int w = 0, h = 0;
    SDL_GetWindowSize(window, &w, &h);
    if (w != width || h != height) SDL_SetWindowSize(window, width, height);
    SDL_Surface* target = SDL_GetWindowSurface(window);
    if (target == nullptr) return;
    SDL_FillRect(target, nullptr, SDL_MapRGB(target->format, 0, 0, 0));
    if (frame.width) {
        SDL_Surface* source = SDL_CreateRGBSurfaceWithFormatFrom(
            const_cast<u32*>(frame.pixels.data()), width, height, 32, width * 4, SDL_PIXELFORMAT_RGB888);
        if (source) {
            SDL_BlitSurface(source, nullptr, target, nullptr);
            SDL_FreeSurface(source);
        }
    }
    SDL_UpdateWindowSurface(window);
}

}  // namespace

Result<std::unique_ptr<SdlWindow>, std::string> SdlWindow::Open(SdlWindowConfig config) {
    std::unique_ptr<SdlWindow> window(new SdlWindow(std::move(config)));
    std::promise<std::string> opened;
    std::future<std::string> result = opened.get_future();
    window->thread_ = std::thread(
        [w = window.get(), &opened] { w->Loop([&opened](std::string error) { opened.set_value(std::move(error)); }); });
    std::string error = result.get();
    if (!error.empty()) {
        window->thread_.join();
        return Err("-display sdl: " + error);
    }
    return window;
}

SdlWindow::~SdlWindow() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void SdlWindow::Loop(std::function<void(std::string)> opened) {
    // The terminal's Ctrl-C stays the emulator's, not SDL's.
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    // Without a desktop to show it on, SDL would fall back to a video driver nobody sees (or the console's KMS):
    // refuse unless the user picked a driver with SDL_VIDEODRIVER.
    auto set = [](const char* name) { return std::getenv(name) != nullptr && *std::getenv(name) != '\0'; };
    if (!set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("SDL_VIDEODRIVER")) {
        opened("no X or Wayland display to open the window on (DISPLAY is not set)");
        return;
    }
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        opened(SDL_GetError());
        return;
    }
    SDL_Window* window = SDL_CreateWindow(config_.title.c_str(), SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                          kOffWidth, kOffHeight, SDL_WINDOW_SHOWN);
    if (window == nullptr) {
        opened(SDL_GetError());
        SDL_Quit();
        return;
    }
    opened({});  // `opened` refers to Open()'s frame, which returns now: not used again

    u64 shown = ~u64{0};
    auto last_paint = std::chrono::steady_clock::now();
    while (!stop_) {
        SDL_Event event;
        if (SDL_WaitEventTimeout(&event, kFrameMs)) {
            do {
                if (event.type == SDL_QUIT && config_.on_close) config_.on_close();
                if ((event.type == SDL_KEYDOWN || event.type == SDL_KEYUP) && config_.keyboard) {
                    const std::vector<u8> bytes = Set1Scancode(event.key.keysym.scancode, event.type == SDL_KEYDOWN);
                    if (!bytes.empty()) config_.keyboard(bytes);
                }
                if (event.type == SDL_WINDOWEVENT) shown = ~u64{0};  // exposed, resized: paint again
            } while (SDL_PollEvent(&event));
        }
        const auto now = std::chrono::steady_clock::now();
        if (config_.display->Generation() != shown || now - last_paint >= kRepaintEvery) {
            const devices::gpu::Frame frame = config_.display->Capture();
            Show(window, frame);
            shown = frame.generation;
            last_paint = now;
        }
    }
    SDL_DestroyWindow(window);
    SDL_Quit();
}

}  // namespace emu::ui
