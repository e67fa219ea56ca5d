// The GPU's PCI function and its Bochs dispi display (devices/gpu/): the IDs and BARs Linux's bochs driver probes,
// the register page as bochs.c accesses it (16-bit dispi registers at 0x500, VGA ports at 0x400, QEMU extension
// registers at 0x600), mode set and panning into the scanout, captures in every pixel format, refused geometries,
// the engine's plug-in point (BAR4, INTA#, WithVram), and VRAM as a dirty-logged memslot behind BAR0.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "devices/bus/bus.h"
#include "devices/gpu/gpu_device.h"
#include "devices/pci/pci_host.h"
#include "mmu/memslots/guest_ram.h"

using namespace emu;
using namespace emu::devices::gpu;
using emu::devices::Bus;
using emu::devices::LoadLe;
using emu::devices::PciHost;
using emu::devices::StoreLe;

namespace {

u64 Read(devices::IoDevice& device, u64 offset, unsigned size) {
    std::vector<u8> data(size);
    device.Read(offset, data);
    return LoadLe(data);
}

void Write(devices::IoDevice& device, u64 offset, unsigned size, u64 value) {
    std::vector<u8> data(size);
    StoreLe(data, value);
    device.Write(offset, data);
}

u16 Dispi(BochsDisplay& d, unsigned index) { return static_cast<u16>(Read(d.regs_bar(), kDispiOffset + 2 * index, 2)); }
void SetDispi(BochsDisplay& d, unsigned index, u16 value) { Write(d.regs_bar(), kDispiOffset + 2 * index, 2, value); }

// The mode set of bochs_hw_setmode (drivers/gpu/drm/tiny/bochs.c).
void SetMode(BochsDisplay& d, u16 width, u16 height, u16 bpp) {
    SetDispi(d, dispi::kEnable, 0);
    SetDispi(d, dispi::kBpp, bpp);
    SetDispi(d, dispi::kXres, width);
    SetDispi(d, dispi::kYres, height);
    SetDispi(d, dispi::kEnable, dispi::kEnabled | dispi::kLfbEnabled);
}

class FakeEngine final : public GpuEngine {
public:
    u64 BarSize() const override { return 0x1000; }
    void Connect(std::function<void(bool)> set_irq, Scanout& scanout) override {
        irq = std::move(set_irq);
        display = &scanout;
    }
    void Read(u64 offset, std::span<u8> data) override { StoreLe(data, 0xE0000000 | offset); }
    void Write(u64, std::span<const u8>) override {}

    std::function<void(bool)> irq;
    Scanout* display = nullptr;
};

}  // namespace

TEST_CASE("dispi registers read as bochs.c expects", "[gpu]") {
    BochsDisplay d(16 << 20);
    CHECK((Dispi(d, dispi::kId) & 0xFFF0) == dispi::kId0);
    CHECK(Dispi(d, dispi::kVideoMemory64K) == 256);  // 16 MiB in 64 KiB units
    // The ID register keeps only the interface versions it knows.
    SetDispi(d, dispi::kId, 0xB0C2);
    CHECK(Dispi(d, dispi::kId) == 0xB0C2);
    SetDispi(d, dispi::kId, 0x1234);
    CHECK(Dispi(d, dispi::kId) == 0xB0C2);
    // GETCAPS: the maxima instead of the current values.
    SetDispi(d, dispi::kXres, 800);
    SetDispi(d, dispi::kEnable, dispi::kGetCaps);
    CHECK(Dispi(d, dispi::kXres) == dispi::kMaxXres);
    CHECK(Dispi(d, dispi::kBpp) == dispi::kMaxBpp);
    SetDispi(d, dispi::kEnable, 0);
    CHECK(Dispi(d, dispi::kXres) == 800);
    // QEMU extension registers: their size, then the framebuffer byte order (little-endian until told).
    CHECK(Read(d.regs_bar(), kQextSize, 4) == kQextBytes);
    CHECK(Read(d.regs_bar(), kQextEndian, 4) == kQextLittleEndian);
    Write(d.regs_bar(), kQextEndian, 4, kQextBigEndian);
    CHECK(Read(d.regs_bar(), kQextEndian, 4) == kQextBigEndian);
    // No EDID: the header reads as zeros (the driver then offers its own modes).
    CHECK(Read(d.regs_bar(), kEdidOffset, 8) == 0);
}

TEST_CASE("a mode set gives the scanout; panning moves it; bad geometries show nothing", "[gpu]") {
    BochsDisplay d(4 << 20);
    CHECK_FALSE(d.Info().enabled);
    CHECK(d.Capture().width == 0);
    SetMode(d, 640, 480, 32);
    ScanoutInfo info = d.Info();
    REQUIRE(info.enabled);
    CHECK(info.width == 640);
    CHECK(info.height == 480);
    CHECK(info.pitch == 2560);
    CHECK(info.offset == 0);
    // The virtual height is what fits in VRAM at this pitch.
    CHECK(Dispi(d, dispi::kVirtHeight) == (4 << 20) / 2560);
    // bochs_hw_setbase: a wider virtual screen and a y offset (a second buffer below the first).
    SetDispi(d, dispi::kVirtWidth, 1024);
    SetDispi(d, dispi::kYOffset, 480);
    SetDispi(d, dispi::kXOffset, 8);
    info = d.Info();
    CHECK(info.pitch == 4096);
    CHECK(info.offset == 480u * 4096 + 8 * 4);
    // Panned past the end of VRAM: nothing shown rather than a read outside it.
    SetDispi(d, dispi::kYOffset, 1000);
    CHECK_FALSE(d.Info().enabled);
    CHECK(d.Capture().pixels.empty());
    SetDispi(d, dispi::kYOffset, 0);
    SetDispi(d, dispi::kVirtWidth, 100);  // narrower than the visible width
    CHECK_FALSE(d.Info().enabled);
    SetMode(d, 640, 480, 12);  // no such depth
    CHECK_FALSE(d.Info().enabled);
    SetMode(d, 4000, 4000, 32);  // 64 MB: larger than VRAM
    CHECK_FALSE(d.Info().enabled);
}

TEST_CASE("captures convert every depth to XRGB; VGA blanking shows black", "[gpu]") {
    BochsDisplay d(1 << 20);
    auto pixel_after = [&](u16 bpp, std::vector<u8> bytes) {
        SetMode(d, 8, 2, bpp);
        d.vram_bar().Write(0, bytes);
        return d.Capture().pixels.at(0);
    };
    CHECK(pixel_after(32, {0x33, 0x22, 0x11, 0xFF}) == 0x112233);
    CHECK(pixel_after(24, {0x33, 0x22, 0x11}) == 0x112233);
    CHECK(pixel_after(16, {0x00, 0xF8}) == 0xFF0000);  // RGB565 red
    CHECK(pixel_after(16, {0xE0, 0x07}) == 0x00FF00);  // green
    CHECK(pixel_after(15, {0x1F, 0x00}) == 0x0000FF);  // XRGB1555 blue
    CHECK(pixel_after(8, {0x80}) == 0x808080);         // no palette: the index as grey
    Write(d.regs_bar(), kQextEndian, 4, kQextBigEndian);
    CHECK(pixel_after(32, {0xFF, 0x11, 0x22, 0x33}) == 0x112233);  // BGRX8888
    Write(d.regs_bar(), kQextEndian, 4, kQextLittleEndian);
    // A mode set clears the visible part of VRAM unless NOCLEARMEM.
    SetDispi(d, dispi::kEnable, 0);
    SetDispi(d, dispi::kEnable, dispi::kEnabled | dispi::kLfbEnabled);
    CHECK(d.Capture().pixels.at(0) == 0);
    // bochs_hw_blank: the attribute index without bit 5 blanks, with it unblanks. Reading 0x3DA resets the
    // index/data flip-flop first.
    const std::vector<u8> white = {0xFF, 0xFF, 0xFF, 0};
    SetMode(d, 8, 2, 32);
    d.vram_bar().Write(0, white);
    (void)Read(d.regs_bar(), kVgaPortsOffset + (kVgaInputStatus1 - kVgaPortBase), 1);
    Write(d.regs_bar(), kVgaPortsOffset, 1, 0);
    CHECK(d.Capture().pixels.at(0) == 0);
    (void)Read(d.regs_bar(), kVgaPortsOffset + (kVgaInputStatus1 - kVgaPortBase), 1);
    Write(d.regs_bar(), kVgaPortsOffset, 1, kVgaAttrPaletteSource);
    CHECK(d.Capture().pixels.at(0) == 0xFFFFFF);
}

TEST_CASE("guest writes bump the frame generation", "[gpu]") {
    BochsDisplay d(1 << 20);
    SetMode(d, 8, 2, 32);
    const u64 before = d.Generation();
    d.vram_bar().Write(4, std::vector<u8>{1, 2, 3, 4});
    CHECK(d.Generation() > before);
    CHECK(d.Capture().generation == d.Generation());
}

TEST_CASE("the PCI function: bochs-display IDs and BARs, with and without an engine", "[gpu]") {
    Bus io, mmio;
    PciHost host(io, mmio);
    GpuDevice display{GpuDeviceConfig{}};
    REQUIRE(host.Attach(2, 0, display).ok());
    CHECK(host.ConfigRead(0, 2, 0, 0x00, 4) == 0x11111234);
    CHECK((host.ConfigRead(0, 2, 0, 0x08, 4) >> 8) == kClassDisplayOther);
    CHECK((host.ConfigRead(0, 2, 0, 0x08, 4) & 0xFF) == kRevision);
    CHECK(host.ConfigRead(0, 2, 0, 0x3D, 1) == 0);  // the display alone has no interrupt
    // BAR sizes as firmware probes them; BAR0 prefetchable.
    auto bar_mask = [&](unsigned slot, unsigned bar) {
        host.ConfigWrite(0, slot, 0, static_cast<u16>(0x10 + 4 * bar), 4, 0xFFFFFFFF);
        return host.ConfigRead(0, slot, 0, static_cast<u16>(0x10 + 4 * bar), 4);
    };
    CHECK(bar_mask(2, 0) == (~u32{(16 << 20) - 1} | 0x8));
    CHECK(bar_mask(2, 2) == ~u32{0xFFF});
    CHECK(bar_mask(2, 4) == 0);
    // The register page and VRAM decode once placed and enabled.
    host.ConfigWrite(0, 2, 0, 0x10, 4, 0xF0000000);
    host.ConfigWrite(0, 2, 0, 0x18, 4, 0xFE000000);
    host.ConfigWrite(0, 2, 0, 0x04, 2, 0x2);
    std::vector<u8> id(2);
    mmio.Read(0xFE000000 + kDispiOffset, id);
    CHECK((LoadLe(id) & 0xFFF0) == dispi::kId0);

    auto engine = std::make_unique<FakeEngine>();
    FakeEngine* e = engine.get();
    GpuDevice gpu{GpuDeviceConfig{1 << 20, std::move(engine)}};
    REQUIRE(host.Attach(3, 0, gpu).ok());
    CHECK(host.ConfigRead(0, 3, 0, 0x3D, 1) == 1);  // INTA#
    CHECK(bar_mask(3, 4) == ~u32{0xFFF});
    REQUIRE(e->display == &gpu.display());
    // The engine reaches VRAM under the display's lock and sees the geometry.
    SetMode(gpu.display(), 8, 2, 32);
    e->display->WithVram([](std::span<u8> vram, const ScanoutInfo& info) {
        CHECK(vram.size() == (1u << 20));
        CHECK(info.enabled);
        vram[0] = 0x44;
    });
    CHECK(gpu.display().Capture().pixels.at(0) == 0x44);
    e->irq(true);  // no router attached: only that it can be called
    e->irq(false);
}

// -device emu64-gpu and bochs-display on the PC machine: VRAM is a memslot with dirty logging wherever BAR0 decodes,
// so the vCPU reads and writes it as RAM (its memory path calls MarkDirty for a dirty-logged page, as done here).
TEST_CASE("RAM-backed VRAM: a dirty-logged memslot follows BAR0, written pages move the frame generation", "[gpu]") {
    mmu::Memslots slots;
    Bus io, mmio;
    PciHost host(io, mmio);  // no defer: each BAR change is applied at once
    GpuDevice gpu{GpuDeviceConfig{.vram_bytes = 1 << 20, .slots = &slots, .log_dirty = true}};
    REQUIRE(host.Attach(2, 0, gpu).ok());
    CHECK_FALSE(slots.GetSlot(kVramSlot));
    host.ConfigWrite(0, 2, 0, 0x10, 4, 0xE0000000);
    host.ConfigWrite(0, 2, 0, 0x04, 2, 0x2);
    auto slot = slots.GetSlot(kVramSlot);
    REQUIRE(slot);
    CHECK(slot->base.value() == 0xE0000000);
    CHECK(slot->size == (1u << 20));
    CHECK(mmu::HasFlag(slot->flags, mmu::SlotFlags::LogDirtyPages));
    std::vector<u8> word(4);
    CHECK_FALSE(mmio.Read(0xE0000000, word));  // nothing on the MMIO bus there

    SetMode(gpu.display(), 8, 2, 32);
    const u64 before = gpu.display().Generation();
    auto at = slots.TranslateForWrite(Gpa(0xE0000004));
    REQUIRE(at);
    const u8 red[4] = {0x00, 0x00, 0xFF, 0x00};
    std::memcpy(at->get(), red, 4);
    CHECK(gpu.display().Generation() == before);  // the write is not logged yet
    CHECK(slots.MarkDirty(Gpa(0xE0000004)));
    const u64 after = gpu.display().Generation();
    CHECK(after > before);
    CHECK(gpu.display().Generation() == after);  // the log was cleared by the look
    CHECK(gpu.display().Capture().pixels.at(1) == 0xFF0000);

    // The guest moves BAR0: the same memory at the new place. Decoding off: no slot.
    host.ConfigWrite(0, 2, 0, 0x10, 4, 0xD0000000);
    slot = slots.GetSlot(kVramSlot);
    REQUIRE(slot);
    CHECK(slot->base.value() == 0xD0000000);
    auto moved = slots.Translate(Gpa(0xD0000004));
    REQUIRE(moved);
    CHECK(moved->get()[2] == 0xFF);
    host.ConfigWrite(0, 2, 0, 0x04, 2, 0x0);
    CHECK_FALSE(slots.GetSlot(kVramSlot));

    // BAR0 over RAM: the slot is refused (nothing decodes VRAM there) and the RAM stays as it was.
    auto ram = mmu::GuestRam::Create(16 << 20);
    REQUIRE(ram);
    REQUIRE(slots.SetMemoryRegion(0, Gpa(0), 16 << 20, mmu::SlotFlags::None, ram->host()));
    host.ConfigWrite(0, 2, 0, 0x10, 4, 0x00000000);
    host.ConfigWrite(0, 2, 0, 0x04, 2, 0x2);
    CHECK_FALSE(slots.GetSlot(kVramSlot));
    CHECK(slots.GetSlot(0));
    CHECK(gpu.display().Capture().width == 8);  // the display itself goes on
}

TEST_CASE("RAM-backed VRAM without dirty logging (headless): plain RAM, captures read it", "[gpu]") {
    mmu::Memslots slots;
    Bus io, mmio;
    PciHost host(io, mmio);
    GpuDevice gpu{GpuDeviceConfig{.vram_bytes = 1 << 20, .slots = &slots}};
    REQUIRE(host.Attach(2, 0, gpu).ok());
    host.ConfigWrite(0, 2, 0, 0x10, 4, 0xE0000000);
    host.ConfigWrite(0, 2, 0, 0x04, 2, 0x2);
    auto slot = slots.GetSlot(kVramSlot);
    REQUIRE(slot);
    CHECK_FALSE(mmu::HasFlag(slot->flags, mmu::SlotFlags::LogDirtyPages));
    SetMode(gpu.display(), 8, 2, 32);
    auto at = slots.TranslateForWrite(Gpa(0xE0000000));
    REQUIRE(at);
    at->get()[1] = 0xFF;  // green
    CHECK(gpu.display().Capture().pixels.at(0) == 0x00FF00);
}
