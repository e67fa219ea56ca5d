#include "emu/machine/pc_snapshot.h"

#include <fmt/format.h>

#include <cstring>
#include <functional>
#include <sstream>

#include "devices/gpu/gpu_device.h"
#include "emu/cpu/system/msr.h"
#include "emu/snapshot/snapshot_file.h"

namespace emu::machine {
namespace {

using snapshot::Decoder;
using snapshot::Encoder;

constexpr u64 kEndOfRuns = ~u64{0};

bool IsZeroPage(const u8* page) {
    u64 words[kPageSize / sizeof(u64)];
    std::memcpy(words, page, kPageSize);
    u64 any = 0;
    for (const u64 w : words) any |= w;
    return any == 0;
}

// Pages as runs of non-zero pages: (first page, count, bytes)..., then kEndOfRuns. Zero pages cost nothing.
void EncodePages(Encoder& out, const u8* base, u64 bytes) {
    const u64 pages = bytes / kPageSize;
    for (u64 p = 0; p < pages;) {
        if (IsZeroPage(base + p * kPageSize)) {
            ++p;
            continue;
        }
        u64 end = p + 1;
        while (end < pages && !IsZeroPage(base + end * kPageSize)) ++end;
        out.U64(p);
        out.U64(end - p);
        out.Bytes(std::span<const u8>(base + p * kPageSize, (end - p) * kPageSize));
        p = end;
    }
    out.U64(kEndOfRuns);
}

struct PageRun {
    u64 first = 0;
    std::span<const u8> bytes;
};

// Reads and checks the runs of a region of `pages` pages (in order, inside the region) without applying them.
bool DecodeRuns(Decoder& in, u64 pages, std::vector<PageRun>& runs) {
    u64 next = 0;
    for (;;) {
        u64 first = 0, count = 0;
        if (!in.U64(first)) return false;
        if (first == kEndOfRuns) return true;
        PageRun run{first, {}};
        if (!in.U64(count) || count == 0 || first < next || first > pages || count > pages - first ||
            !in.Bytes(count * kPageSize, run.bytes)) {
            return false;
        }
        next = first + count;
        runs.push_back(run);
    }
}

// Makes `base` hold the runs (zero elsewhere); `changed(offset)` is told of every page whose bytes changed.
void ApplyRuns(u8* base, u64 pages, const std::vector<PageRun>& runs, const std::function<void(u64)>& changed) {
    auto set_page = [&](u64 page, const u8* src) {
        u8* dst = base + page * kPageSize;
        if (src ? std::memcmp(dst, src, kPageSize) == 0 : IsZeroPage(dst)) return;
        if (src) std::memcpy(dst, src, kPageSize);
        else std::memset(dst, 0, kPageSize);
        changed(page * kPageSize);
    };
    u64 page = 0;
    for (const PageRun& run : runs) {
        for (; page < run.first; ++page) set_page(page, nullptr);
        for (u64 i = 0; i < run.bytes.size() / kPageSize; ++i, ++page) set_page(page, run.bytes.data() + i * kPageSize);
    }
    for (; page < pages; ++page) set_page(page, nullptr);
}

devices::gpu::GpuDevice* Gpu(const PcSnapshotTarget& t) { return t.display ? t.display->gpu() : nullptr; }

u64 VramBytes(const PcSnapshotTarget& t) {
    devices::gpu::GpuDevice* gpu = Gpu(t);
    return gpu ? gpu->display().vram_bytes() : 0;
}

// Guest RAM's slots: not the display's VRAM slot, which is saved with the display and follows BAR0 (the restored PCI
// configuration puts it back).
std::vector<mmu::SlotView> RamSlots(const PcSnapshotTarget& t) {
    std::vector<mmu::SlotView> slots = t.slots->Slots();
    std::erase_if(slots, [](const mmu::SlotView& slot) { return slot.id == devices::gpu::kVramSlot; });
    return slots;
}

// What must be the same on both sides, one item a line (compared as text, so a mismatch names the line).
std::string MachineDescription(const PcSnapshotTarget& t) {
    std::string out;
    for (const mmu::SlotView& slot : RamSlots(t)) {
        out += fmt::format("RAM slot at {:#x}, {} KiB\n", slot.base.value(), slot.size >> 10);
    }
    std::istringstream pci(t.board->PciInventory());
    for (std::string line; std::getline(pci, line);) out += "PCI function " + line + "\n";
    out += fmt::format("display VRAM {} KiB\n", VramBytes(t) >> 10);
    if (!t.aps.empty()) out += fmt::format("vCPUs {}\n", t.aps.size() + 1);  // (absent: one, as before SMP snapshots)
    return out;
}

// The first line that differs, for the refusal message.
std::string FirstDifference(const std::string& saved, const std::string& here) {
    std::istringstream a(saved), b(here);
    for (;;) {
        std::string la, lb;
        const bool more_a = static_cast<bool>(std::getline(a, la));
        const bool more_b = static_cast<bool>(std::getline(b, lb));
        if (!more_a && !more_b) return "";
        if (la != lb) {
            return fmt::format("the snapshot has {}, this machine has {}", more_a ? "'" + la + "'" : "nothing more",
                               more_b ? "'" + lb + "'" : "nothing more");
        }
    }
}

std::optional<std::string> RefuseSave(const PcSnapshotTarget& t) {
    for (const DriveSpec& drive : t.config->drives) {
        if (!drive.read_only) {
            return "-drive " + drive.file +
                   " is writable and disk contents are not part of a snapshot: attach it with readonly=on to save";
        }
    }
    devices::gpu::GpuDevice* gpu = Gpu(t);
    if (gpu && gpu->engine()) {
        return std::string("the GPU copy engine's state (its contexts and shadow) is not saved: no snapshots with "
                           "-gpu-engine or -device emu64-gpu");
    }
    return std::nullopt;
}

// A vCPU's saved state, its guest TSC going on from the saved value; its TLB and translated code start again.
void RestoreVcpu(cpu::Vcpu& vcpu, VcpuMemory& memory, cpu::CpuState state, u64 saved_tsc) {
    state.tsc_offset = saved_tsc - memory.ClockNs();
    memory.SetTscOffset(static_cast<i64>(state.tsc_offset));
    vcpu.state() = state;
    memory.ResetAfterRestore();
    vcpu.InvalidateAllCode();
}

snapshot::Section Make(std::string name, Encoder& e) { return snapshot::Section{std::move(name), std::move(e.bytes())}; }

}  // namespace

std::string SnapshotPath(const MachineConfig& config, const std::string& name) {
    if (name.find('/') != std::string::npos || name.ends_with(snapshot::kFileSuffix)) return name;
    const std::string dir = config.snapshot_dir.empty() ? "." : config.snapshot_dir;
    return dir + "/" + name + snapshot::kFileSuffix;
}

std::optional<std::string> SavePcSnapshot(const PcSnapshotTarget& t, const std::string& path) {
    if (auto refusal = RefuseSave(t)) return refusal;
    std::vector<snapshot::Section> sections;
    {
        Encoder e;
        e.String(MachineDescription(t));
        sections.push_back(Make("machine", e));
    }
    const cpu::CpuState& state = t.vcpu->state();
    {
        Encoder e;
        e.U64(t.clock->NowNs());
        e.U64(cpu::system::GuestTsc(state, *t.vcpu_memory));
        sections.push_back(Make("clock", e));
    }
    {
        Encoder e;
        e.Pod(state);
        sections.push_back(Make("cpu", e));
    }
    {
        Encoder e;
        t.board->SaveSnapshot(e);
        sections.push_back(Make("board", e));
    }
    {
        Encoder e;
        t.board->SavePciFunctions(e);
        sections.push_back(Make("pci", e));
    }
    {
        Encoder e;
        t.virtio->SaveSnapshot(e);
        sections.push_back(Make("virtio", e));
    }
    if (devices::gpu::GpuDevice* gpu = Gpu(t)) {
        Encoder e;
        e.Pod(gpu->display().SaveState());
        gpu->display().WithVram([&](std::span<u8> vram, const auto&) { EncodePages(e, vram.data(), vram.size()); });
        sections.push_back(Make("display", e));
    }
    if (!t.aps.empty()) {
        Encoder e;
        e.U32(static_cast<u32>(t.aps.size()));
        for (size_t i = 0; i < t.aps.size(); ++i) {
            const PcSnapshotAp& ap = t.aps[i];
            e.Pod(ap.vcpu->state());
            e.U64(cpu::system::GuestTsc(ap.vcpu->state(), *ap.memory));
            e.Bool(ap.waiting_for_sipi());
            t.board->SaveApSnapshot(static_cast<unsigned>(i + 1), e);
        }
        sections.push_back(Make("aps", e));
    }
    {
        Encoder e;
        const std::vector<mmu::SlotView> slots = RamSlots(t);
        e.U32(static_cast<u32>(slots.size()));
        for (const mmu::SlotView& slot : slots) EncodePages(e, slot.host.get(), slot.size);
        sections.push_back(Make("ram", e));
    }
    if (auto written = snapshot::WriteSnapshotFile(path, sections); !written) return written.error();
    return std::nullopt;
}

std::optional<std::string> LoadPcSnapshot(const PcSnapshotTarget& t, const std::string& path) {
    auto image = snapshot::ReadSnapshotFile(path);
    if (!image) return "snapshot file " + path + " " + std::string(snapshot::Message(image.error()));
    auto section = [&](const char* name) -> std::optional<Decoder> {
        const snapshot::SnapshotImage::View* view = image->Find(name);
        if (!view) return std::nullopt;
        return Decoder(view->data);
    };
    auto malformed = [&](const char* name) { return fmt::format("{} is corrupt: its {} section is malformed", path, name); };
    for (const char* name : {"machine", "clock", "cpu", "board", "pci", "virtio", "ram"}) {
        if (!image->Find(name)) return fmt::format("{} is not a PC machine snapshot: it has no {} section", path, name);
    }

    // Everything is checked before the machine changes.
    std::string saved_machine;
    if (Decoder d = *section("machine"); !d.String(saved_machine)) return malformed("machine");
    if (std::string diff = FirstDifference(saved_machine, MachineDescription(t)); !diff.empty()) {
        return "the snapshot was taken on a different machine configuration: " + diff;
    }
    u64 saved_now = 0, saved_tsc = 0;
    if (Decoder d = *section("clock"); !d.U64(saved_now) || !d.U64(saved_tsc)) return malformed("clock");
    cpu::CpuState cpu_state;
    if (Decoder d = *section("cpu"); !d.Pod(cpu_state)) return malformed("cpu");
    const std::vector<mmu::SlotView> slots = RamSlots(t);
    std::vector<std::vector<PageRun>> slot_runs(slots.size());
    Decoder ram = *section("ram");
    u32 slot_count = 0;
    if (!ram.U32(slot_count) || slot_count != slots.size()) return malformed("ram");
    for (size_t i = 0; i < slots.size(); ++i) {
        if (!DecodeRuns(ram, slots[i].npages(), slot_runs[i])) return malformed("ram");
    }
    Decoder board = *section("board"), pci = *section("pci"), virtio = *section("virtio");
    const std::function<void()> restore_board = t.board->DecodeSnapshot(board);
    if (!restore_board) return malformed("board");
    const std::function<void()> restore_pci = t.board->DecodePciFunctions(pci);
    if (!restore_pci) return malformed("pci");
    const std::function<void()> restore_virtio = t.virtio->DecodeSnapshot(virtio);
    if (!restore_virtio) return malformed("virtio");
    struct ApState {
        cpu::CpuState state;
        u64 tsc = 0;
        bool waiting_for_sipi = false;
        std::function<void()> restore_board_part;
    };
    std::vector<ApState> aps(t.aps.size());
    if (!t.aps.empty()) {
        std::optional<Decoder> d = section("aps");
        u32 count = 0;
        if (!d || !d->U32(count) || count != t.aps.size()) return malformed("aps");
        for (size_t i = 0; i < aps.size(); ++i) {
            ApState& ap = aps[i];
            if (!d->Pod(ap.state) || !d->U64(ap.tsc) || !d->Bool(ap.waiting_for_sipi)) return malformed("aps");
            ap.restore_board_part = t.board->DecodeApSnapshot(static_cast<unsigned>(i + 1), *d);
            if (!ap.restore_board_part) return malformed("aps");
        }
    }
    devices::gpu::GpuDevice* gpu = Gpu(t);
    std::optional<Decoder> display = section("display");
    devices::gpu::BochsDisplayState display_state;
    std::vector<PageRun> vram_runs;
    if (gpu && (!display || !display->Pod(display_state) ||
                !DecodeRuns(*display, gpu->display().vram_bytes() / kPageSize, vram_runs))) {
        return malformed("display");
    }

    // Guest RAM first, reported page by page to page-track like any other writer's bytes: the shadow MMU zaps what it
    // built from a changed page table, the code cache drops translations of changed code, the GPU shadow re-reads.
    for (size_t i = 0; i < slots.size(); ++i) {
        const mmu::SlotView& slot = slots[i];
        ApplyRuns(slot.host.get(), slot.npages(), slot_runs[i], [&](u64 offset) {
            const Gpa gpa = slot.base + offset;
            if (t.page_track->IsWriteTracked(gpa)) {
                t.page_track->OnTrackedWrite(gpa, std::span<const u8>(slot.host.get() + offset, kPageSize));
            }
        });
    }
    // Devices keep times on the machine clock: it goes on from the saved instant, then they re-arm their timers.
    t.clock->Rebase(saved_now);
    restore_board();
    restore_pci();
    restore_virtio();
    if (gpu) {
        gpu->display().WithVram(
            [&](std::span<u8> vram, const auto&) { ApplyRuns(vram.data(), vram.size() / kPageSize, vram_runs, [](u64) {}); });
        gpu->display().RestoreState(display_state);
    }
    // The guest TSC goes on from its saved value too, and the local APIC's TSC-deadline timer with it.
    RestoreVcpu(*t.vcpu, *t.vcpu_memory, cpu_state, saved_tsc);
    for (size_t i = 0; i < aps.size(); ++i) {
        aps[i].restore_board_part();
        RestoreVcpu(*t.aps[i].vcpu, *t.aps[i].memory, aps[i].state, aps[i].tsc);
        t.aps[i].set_waiting_for_sipi(aps[i].waiting_for_sipi);
    }
    return std::nullopt;
}

}  // namespace emu::machine
