#pragma once
// The Bochs VBE "dispi" display as QEMU's bochs-display models it: VRAM behind a linear framebuffer BAR, and a
// register page (regs.h) holding the dispi registers, a few VGA ports (only what Linux's bochs driver uses to blank
// the screen) and QEMU's extension registers. The guest sets a mode (XRES, YRES, BPP, ENABLE with LFB_ENABLED) and
// pans with VIRT_WIDTH and X/Y_OFFSET; the display turns that into a ScanoutInfo and captures frames from it for the
// host (screendump, window).
//
// Threads: every access (guest BARs from the vCPU, captures from the UI, the engine's WithVram) takes one mutex.
#include <memory>
#include <mutex>
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/gpu/bochs_display_state.h"
#include "devices/gpu/gpu_engine_port.h"
#include "emu/common/types.h"

namespace emu::devices::gpu {

// A captured picture: width * height pixels, 0x00RRGGBB, row-major. Empty (0 x 0) when the display is off.
struct Frame {
    u32 width = 0;
    u32 height = 0;
    std::vector<u32> pixels;
    // Bumped by every guest write to VRAM or to a register: a frame with the same generation as the last one shown
    // has nothing new.
    u64 generation = 0;
};

class BochsDisplay final : public Scanout {
public:
    explicit BochsDisplay(u64 vram_bytes);  // a multiple of 64 KiB between kMinVramBytes and kMaxVramBytes

    // BAR0 (VRAM) and BAR2 (registers).
    IoDevice& vram_bar() { return vram_bar_; }
    IoDevice& regs_bar() { return regs_bar_; }
    u64 vram_bytes() const { return vram_bytes_; }

    // Scanout.
    ScanoutInfo Info() const override;
    void WithVram(const std::function<void(std::span<u8>, const ScanoutInfo&)>& fn) override;

    // The visible picture converted to 0x00RRGGBB (black while blanked through the VGA attribute index).
    Frame Capture() const;
    u64 Generation() const;

    BochsDisplayState SaveState() const;
    void RestoreState(const BochsDisplayState& state);

private:
    u16 ReadDispi(unsigned index) const;
    void WriteDispi(unsigned index, u16 value);
    u8 ReadVgaPort(u16 port);
    void WriteVgaPort(u16 port, u8 value);
    void ReadRegs(u64 offset, std::span<u8> data);
    void WriteRegs(u64 offset, std::span<const u8> data);
    ScanoutInfo InfoLocked() const;
    u32 BytesPerLineLocked() const;  // VIRT_WIDTH in bytes at the current BPP

    const u64 vram_bytes_;
    std::unique_ptr<u8[]> vram_;
    mutable std::mutex mutex_;
    BochsDisplayState regs_;
    u64 generation_ = 0;
    IoDeviceThunk vram_bar_;
    IoDeviceThunk regs_bar_;
};

}  // namespace emu::devices::gpu
