#include "devices/gpu/bochs_display.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "emu/common/log.h"

namespace emu::devices::gpu {

namespace {

constexpr u64 k64K = 0x10000;
constexpr std::align_val_t kPageAlign{4096};

bool ValidBpp(u32 bpp) { return bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32; }
u32 BytesPerPixel(u32 bpp) { return (bpp + 7) / 8; }

// Expands an n-bit colour channel to 8 bits.
u32 Expand(u32 value, unsigned bits) { return (value << (8 - bits)) | (value >> (2 * bits - 8)); }

u32 ToXrgb(const u8* p, const ScanoutInfo& info) {
    switch (info.bpp) {
    case 32: {
        const u32 v = u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24;
        // BGRX8888: the bytes are X, R, G, B in memory order.
        return info.big_endian ? (u32{p[1]} << 16 | u32{p[2]} << 8 | p[3]) : (v & 0xFFFFFF);
    }
    case 24: return u32{p[2]} << 16 | u32{p[1]} << 8 | p[0];
    case 16: {
        const u32 v = u32{p[0]} | u32{p[1]} << 8;
        return Expand(v >> 11, 5) << 16 | Expand((v >> 5) & 0x3F, 6) << 8 | Expand(v & 0x1F, 5);
    }
    case 15: {
        const u32 v = u32{p[0]} | u32{p[1]} << 8;
        return Expand((v >> 10) & 0x1F, 5) << 16 | Expand((v >> 5) & 0x1F, 5) << 8 | Expand(v & 0x1F, 5);
    }
    default: return u32{p[0]} * 0x010101;  // 8 bpp: the DAC palette is not modelled; the index shows as a grey level
    }
}

}  // namespace

void BochsDisplay::AlignedFree::operator()(u8* p) const { ::operator delete[](p, kPageAlign); }

// The BAR is a power of two and may be larger than VRAM: beyond it reads are 0 and writes are dropped.
BochsDisplay::BochsDisplay(u64 vram_bytes, mmu::Memslots* slots, bool log_dirty)
    : vram_bytes_(std::clamp(vram_bytes / k64K * k64K, kMinVramBytes, kMaxVramBytes)),
      vram_(new (kPageAlign) u8[vram_bytes_]()),
      slots_(slots),
      log_dirty_(log_dirty),
      vram_bar_(
          [this](u64 offset, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              if (offset + data.size() > vram_bytes_) return std::fill(data.begin(), data.end(), u8{0});
              std::memcpy(data.data(), vram_.get() + offset, data.size());
          },
          [this](u64 offset, std::span<const u8> data) {
              std::lock_guard lock(mutex_);
              if (offset + data.size() > vram_bytes_) return;
              std::memcpy(vram_.get() + offset, data.data(), data.size());
              ++generation_;
          }),
      regs_bar_([this](u64 offset, std::span<u8> data) { ReadRegs(offset, data); },
                [this](u64 offset, std::span<const u8> data) { WriteRegs(offset, data); }) {
    regs_.dispi[dispi::kId] = dispi::kId5;
    regs_.dispi[dispi::kBpp] = 8;
    regs_.vga_attr_index = kVgaAttrPaletteSource;  // on until a driver blanks it
}

BochsDisplay::~BochsDisplay() { MapVram(std::nullopt); }

void BochsDisplay::MapVram(std::optional<u64> base) {
    if (!slots_) return;
    const HostPtr host(vram_.get());
    vram_in_slot_ = false;
    if (base) {
        const auto flags = log_dirty_ ? mmu::SlotFlags::LogDirtyPages : mmu::SlotFlags::None;
        const auto placed = slots_->SetMemoryRegion(kVramSlot, Gpa(*base), vram_bytes_, flags, host);
        if (placed) {
            vram_in_slot_ = true;
            std::lock_guard lock(mutex_);
            ++generation_;  // whatever was logged at the old place is not in the new slot's log
            return;
        }
        // E.g. the guest put BAR0 over RAM: then nothing decodes VRAM, as a BAR on an occupied MMIO range.
        log::Log(log::Category::GuestErrors, "gpu: VRAM at {:#x} not mapped: memslot error {}", *base,
                 static_cast<int>(placed.error()));
    }
    (void)slots_->SetMemoryRegion(kVramSlot, Gpa(0), 0, mmu::SlotFlags::None, host);  // no slot: nothing to delete
}

void BochsDisplay::FoldDirtyLog() const {
    if (!log_dirty_ || !vram_in_slot_) return;
    const auto dirty = slots_->GetAndClearDirtyLog(kVramSlot);
    if (!dirty || std::all_of(dirty->begin(), dirty->end(), [](u64 word) { return word == 0; })) return;
    std::lock_guard lock(mutex_);
    ++generation_;
}

u16 BochsDisplay::ReadDispi(unsigned index) const {
    const bool caps = regs_.dispi[dispi::kEnable] & dispi::kGetCaps;
    switch (index) {
    case dispi::kXres: return caps ? dispi::kMaxXres : regs_.dispi[index];
    case dispi::kYres: return caps ? dispi::kMaxYres : regs_.dispi[index];
    case dispi::kBpp: return caps ? dispi::kMaxBpp : regs_.dispi[index];
    case dispi::kVideoMemory64K: return static_cast<u16>(vram_bytes_ / k64K);
    default: return index < dispi::kCount ? regs_.dispi[index] : 0;
    }
}

u32 BochsDisplay::BytesPerLineLocked() const {
    const u32 bpp = regs_.dispi[dispi::kBpp];
    return ValidBpp(bpp) ? u32{regs_.dispi[dispi::kVirtWidth]} * BytesPerPixel(bpp) : 0;
}

void BochsDisplay::WriteDispi(unsigned index, u16 value) {
    auto& r = regs_.dispi;
    // The virtual height is whatever fits in VRAM at the current line length (as Bochs and QEMU compute it).
    auto fit_virtual_height = [&] {
        const u32 line = BytesPerLineLocked();
        r[dispi::kVirtHeight] = line ? static_cast<u16>(std::min<u64>(vram_bytes_ / line, 0xFFFF)) : 0;
    };
    switch (index) {
    case dispi::kId:
        if ((value & 0xFFF0) == dispi::kId0 && value <= dispi::kId5) r[index] = value;
        break;
    case dispi::kBpp: r[index] = value == 0 ? 8 : value; break;
    case dispi::kEnable: {
        const bool was_enabled = r[index] & dispi::kEnabled;
        r[index] = value & (dispi::kEnabled | dispi::kGetCaps | dispi::k8BitDac | dispi::kLfbEnabled);
        if ((value & dispi::kEnabled) && !was_enabled) {
            // A mode set: the virtual screen starts as the visible one, panned to the origin, and cleared.
            r[dispi::kVirtWidth] = r[dispi::kXres];
            r[dispi::kXOffset] = r[dispi::kYOffset] = 0;
            fit_virtual_height();
            if (!(value & dispi::kNoClearMem)) {
                const u64 bytes = std::min<u64>(u64{BytesPerLineLocked()} * r[dispi::kYres], vram_bytes_);
                std::memset(vram_.get(), 0, bytes);
            }
        }
        break;
    }
    case dispi::kVirtWidth:
        r[index] = value;
        fit_virtual_height();
        break;
    case dispi::kVideoMemory64K: break;  // read-only
    default:
        if (index < dispi::kCount) r[index] = value;
        break;
    }
}

u8 BochsDisplay::ReadVgaPort(u16 port) {
    switch (port) {
    case kVgaAttrIndex: return regs_.vga_attr_index;
    case kVgaMiscRead: return regs_.vga_misc;
    case kVgaInputStatus1: regs_.vga_attr_flipflop = false; return 0;
    default: return 0;
    }
}

void BochsDisplay::WriteVgaPort(u16 port, u8 value) {
    switch (port) {
    case kVgaAttrIndex:
        // Index and data writes alternate; the palette and mode registers behind the data writes are not modelled.
        if (!regs_.vga_attr_flipflop) regs_.vga_attr_index = value & 0x3F;
        regs_.vga_attr_flipflop = !regs_.vga_attr_flipflop;
        break;
    case kVgaMiscWrite: regs_.vga_misc = value; break;
    default: break;
    }
}

void BochsDisplay::ReadRegs(u64 offset, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        const u64 at = offset + i;
        u8 byte = 0;
        if (at >= kVgaPortsOffset && at < kVgaPortsOffset + kVgaPortsBytes) {
            byte = ReadVgaPort(static_cast<u16>(kVgaPortBase + (at - kVgaPortsOffset)));
        } else if (at >= kDispiOffset && at < kDispiOffset + 2 * dispi::kCount) {
            byte = static_cast<u8>(ReadDispi(static_cast<unsigned>((at - kDispiOffset) / 2)) >> (8 * (at & 1)));
        } else if (at >= kQextOffset && at < kQextOffset + kQextBytes) {
            const u64 image = kQextBytes | u64{regs_.endian} << 32;
            byte = static_cast<u8>(image >> (8 * (at - kQextOffset)));
        }
        data[i] = byte;  // EDID (none: the driver then offers its built-in modes) and holes read as 0
    }
}

void BochsDisplay::WriteRegs(u64 offset, std::span<const u8> data) {
    std::lock_guard lock(mutex_);
    ++generation_;
    for (size_t i = 0; i < data.size(); ++i) {
        const u64 at = offset + i;
        if (at >= kVgaPortsOffset && at < kVgaPortsOffset + kVgaPortsBytes) {
            WriteVgaPort(static_cast<u16>(kVgaPortBase + (at - kVgaPortsOffset)), data[i]);
        } else if (at >= kDispiOffset && at < kDispiOffset + 2 * dispi::kCount) {
            // A dispi register takes effect once per access that covers it: merge the bytes this access writes.
            const auto index = static_cast<unsigned>((at - kDispiOffset) / 2);
            u16 value = regs_.dispi[index];
            const bool low = (at & 1) == 0;
            value = low ? static_cast<u16>((value & 0xFF00) | data[i]) : static_cast<u16>((value & 0x00FF) | data[i] << 8);
            if (low && i + 1 < data.size()) {
                value = static_cast<u16>((value & 0x00FF) | data[i + 1] << 8);
                ++i;
            }
            WriteDispi(index, value);
        } else if (at >= kQextEndian && at < kQextEndian + 4) {
            const unsigned shift = static_cast<unsigned>(8 * (at - kQextEndian));
            regs_.endian = (regs_.endian & ~(u32{0xFF} << shift)) | u32{data[i]} << shift;
        }
    }
}

ScanoutInfo BochsDisplay::InfoLocked() const {
    const auto& r = regs_.dispi;
    const u32 bpp = r[dispi::kBpp];
    if (!(r[dispi::kEnable] & dispi::kEnabled) || !ValidBpp(bpp)) return {};
    const u32 width = r[dispi::kXres], height = r[dispi::kYres];
    if (width == 0 || height == 0 || r[dispi::kVirtWidth] < width) return {};
    const u32 bytes = BytesPerPixel(bpp);
    const u32 pitch = BytesPerLineLocked();
    const u64 offset = u64{r[dispi::kYOffset]} * pitch + u64{r[dispi::kXOffset]} * bytes;
    if (offset + u64{height - 1} * pitch + u64{width} * bytes > vram_bytes_) return {};  // does not fit: nothing shown
    return ScanoutInfo{.enabled = true, .width = width, .height = height, .pitch = pitch, .bpp = bpp, .offset = offset,
                       .big_endian = regs_.endian == kQextBigEndian};
}

ScanoutInfo BochsDisplay::Info() const {
    std::lock_guard lock(mutex_);
    return InfoLocked();
}

void BochsDisplay::WithVram(const std::function<void(std::span<u8>, const ScanoutInfo&)>& fn) {
    std::lock_guard lock(mutex_);
    ++generation_;
    fn(std::span<u8>(vram_.get(), vram_bytes_), InfoLocked());
}

Frame BochsDisplay::Capture() const {
    FoldDirtyLog();
    std::lock_guard lock(mutex_);
    Frame frame;
    frame.generation = generation_;
    const ScanoutInfo info = InfoLocked();
    if (!info.enabled) return frame;
    frame.width = info.width;
    frame.height = info.height;
    frame.pixels.assign(size_t{info.width} * info.height, 0);
    if (!(regs_.vga_attr_index & kVgaAttrPaletteSource)) return frame;  // blanked: black
    const u32 bytes = BytesPerPixel(info.bpp);
    for (u32 y = 0; y < info.height; ++y) {
        const u8* line = vram_.get() + info.offset + u64{y} * info.pitch;
        u32* out = frame.pixels.data() + size_t{y} * info.width;
        for (u32 x = 0; x < info.width; ++x) out[x] = ToXrgb(line + size_t{x} * bytes, info);
    }
    return frame;
}

u64 BochsDisplay::Generation() const {
    FoldDirtyLog();
    std::lock_guard lock(mutex_);
    return generation_;
}

BochsDisplayState BochsDisplay::SaveState() const {
    std::lock_guard lock(mutex_);
    return regs_;
}

void BochsDisplay::RestoreState(const BochsDisplayState& state) {
    std::lock_guard lock(mutex_);
    regs_ = state;
    ++generation_;
}

}  // namespace emu::devices::gpu
