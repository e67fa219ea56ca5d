#pragma once
// The Bochs VBE "dispi" display as QEMU's bochs-display models it: VRAM behind a linear framebuffer BAR, and a
// register page (regs.h) holding the dispi registers, a few VGA ports (only what Linux's bochs driver uses to blank
// the screen) and QEMU's extension registers. The guest sets a mode (XRES, YRES, BPP, ENABLE with LFB_ENABLED) and
// pans with VIRT_WIDTH and X/Y_OFFSET; the display turns that into a ScanoutInfo and captures frames from it for the
// host (screendump, window).
//
// VRAM is MMIO behind BAR0 (every guest access a device access), or, given the machine's memslots, guest RAM: a
// memslot (kVramSlot) wherever the guest puts BAR0, so the vCPU reads and writes it as memory. With log_dirty (a
// window shows the picture) the slot logs dirty pages and a frame's generation moves when the log shows a written
// page, as QEMU's VGA refreshes from dirty logging; without it (headless) guest writes to VRAM do not move it.
// Dirty logging costs every VRAM store the vCPU's slow write path (mmu/softtlb kNotDirty): about 80 ms per
// full-screen 3 MiB copy under Linux, against none without it.
//
// Threads: register accesses, MMIO VRAM accesses, captures from the UI and the engine's WithVram take one mutex.
// Guest writes to RAM-backed VRAM do not (they race with a capture as on real hardware: a frame may be torn).
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/gpu/bochs_display_state.h"
#include "devices/gpu/gpu_engine_port.h"
#include "emu/common/types.h"
#include "mmu/memslots/memslots.h"

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

// The memslot id RAM-backed VRAM takes (device slots count down from the top; the machine's RAM counts up from 0).
inline constexpr mmu::SlotId kVramSlot = mmu::kMaxSlots - 1;

class BochsDisplay final : public Scanout {
public:
    // vram_bytes: a multiple of 64 KiB between kMinVramBytes and kMaxVramBytes. slots: null for MMIO VRAM.
    explicit BochsDisplay(u64 vram_bytes, mmu::Memslots* slots = nullptr, bool log_dirty = false);
    ~BochsDisplay() override;
    BochsDisplay(const BochsDisplay&) = delete;
    BochsDisplay& operator=(const BochsDisplay&) = delete;

    // BAR0 (VRAM) and BAR2 (registers).
    IoDevice& vram_bar() { return vram_bar_; }
    IoDevice& regs_bar() { return regs_bar_; }
    u64 vram_bytes() const { return vram_bytes_; }
    // RAM-backed VRAM: puts its memslot at `base` (BAR0's address), or removes it (nullopt). Outside any guest access
    // and any memslot read section (the PCI host's mapping step, devices/pci/pci_device.h RamBar).
    void MapVram(std::optional<u64> base);

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
    // RAM-backed VRAM: a dirty page since the last look bumps the generation. Without the mutex held.
    void FoldDirtyLog() const;

    struct AlignedFree {
        void operator()(u8* p) const;
    };

    const u64 vram_bytes_;
    std::unique_ptr<u8[], AlignedFree> vram_;  // page-aligned: a memslot's host memory must be
    mmu::Memslots* const slots_;
    const bool log_dirty_;
    std::atomic<bool> vram_in_slot_{false};
    mutable std::mutex mutex_;
    BochsDisplayState regs_;
    mutable u64 generation_ = 0;
    IoDeviceThunk vram_bar_;
    IoDeviceThunk regs_bar_;
};

}  // namespace emu::devices::gpu
