#pragma once
// Where a copy/fill engine plugs into the GPU's PCI function (gpu_device.h). The function serves the engine's MMIO
// window as its BAR4 and gives it two things: a level interrupt line (the function's INTA#) and the scanout, so that a
// BLIT can write the displayed pixels. The engine itself (its command format, GPU page tables, shadow and page-track
// client) lives in devices/gpu/engine/; this header is the whole contract between the two halves.
#include <functional>
#include <span>

#include "devices/bus/io_device.h"
#include "emu/common/types.h"

namespace emu::devices::gpu {

// What the display shows now. Valid only when `enabled`; then the visible picture is `height` lines of `pitch` bytes
// starting `offset` bytes into VRAM, each line `width` pixels of `bpp` bits (32: XRGB8888 little-endian, or BGRX8888
// when `big_endian`; 24: BGR; 16: RGB565; 15: XRGB1555; 8: palette index), and offset + (height - 1) * pitch +
// width * bytes-per-pixel <= VRAM size (the display refuses geometries that do not fit and shows nothing).
struct ScanoutInfo {
    bool enabled = false;
    u32 width = 0;
    u32 height = 0;
    u32 pitch = 0;  // bytes per line
    u32 bpp = 0;
    u64 offset = 0;  // of the first visible pixel in VRAM
    bool big_endian = false;
};

// The scanout as the engine sees it.
class Scanout {
public:
    virtual ~Scanout() = default;
    virtual ScanoutInfo Info() const = 0;
    // Runs `fn` with the whole VRAM (BAR0's bytes) and the current geometry, holding the display's lock: guest BAR0
    // accesses, register writes and screen captures wait until `fn` returns. Keep `fn` short; do not call back into
    // the display from it.
    virtual void WithVram(const std::function<void(std::span<u8> vram, const ScanoutInfo& info)>& fn) = 0;
};

// An engine: its MMIO window (BAR4) is this IoDevice. BarSize() is fixed for the engine's lifetime (a power of two,
// at least 16 bytes). Connect() is called once, before the guest runs: `set_irq(level)` drives the function's INTA#
// (level-triggered: keep it asserted until the guest acknowledges), from any thread.
class GpuEngine : public IoDevice {
public:
    virtual u64 BarSize() const = 0;
    virtual void Connect(std::function<void(bool level)> set_irq, Scanout& scanout) = 0;
};

}  // namespace emu::devices::gpu
