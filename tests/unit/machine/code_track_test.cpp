// Self-modifying-code detection as a page-track client (jit.md section 2 item 5, page-track.md): VcpuMemory adds
// one write-track count on each RAM page an instruction fetch reads, and its notifier reports the written range to the
// vCPU (TakeCodeWritten/CodeWrites, the kCodeWritten exit bit) for every writer: a CPU store through the memory path
// and a device write reported with PageTrack::OnTrackedWrite (DMA); the count goes when the vCPU releases the page
// (ReleaseCodePage: no translation from it is left). A DELETE or MOVE of the
// slot forgets its pages (their counts died with it), and destroying the VcpuMemory removes the counts it still
// holds. Both MMU modes, with 32-bit paging on: the shadow MMU keeps its own counts on the page tables.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "devices/bus/bus.h"
#include "devices/virtio/dma_memory.h"
#include "emu/common/log.h"
#include "emu/cpu/exit_request.h"
#include "emu/machine/vcpu_memory.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

using namespace emu;
using emu::machine::MmuMode;
using emu::machine::VcpuMemory;

namespace {

constexpr u64 kMiB = u64{1} << 20;
constexpr u64 kP = 1, kRw = 2;
constexpr u64 kPd = 0x1000, kPt = 0x2000;      // 32-bit paging: one PD, one PT identity-mapping 0..4 MiB
constexpr u64 kData = 0x8000;                  // a data page in slot 0
constexpr u64 kCodeBase = 1 * kMiB;            // slot 1: 1 MiB of code pages
constexpr u64 kMovedBase = 3 * kMiB;           // where a MOVE puts slot 1 (still identity-mapped)
constexpr u64 kCode[3] = {kCodeBase + 0x0000, kCodeBase + 0x5000, kCodeBase + 0x9000};
constexpr Gfn kCodeGfn[3] = {kCode[0] >> kPageShift, kCode[1] >> kPageShift, kCode[2] >> kPageShift};

// Captures the PageTrack log category (where a count going below zero or an unbalanced remove is reported as BUG).
class LogCapture {
public:
    LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1024)) {
        saved_ = std::exchange(log::Logger().sinks(), {sink_});
        log::SetEnabled(u32{1} << static_cast<u32>(log::Category::PageTrack));
    }
    ~LogCapture() {
        log::SetEnabled(0);
        log::Logger().sinks() = saved_;
    }
    std::vector<std::string> Errors() const {
        std::vector<std::string> bad;
        for (const std::string& line : sink_->last_formatted()) {
            if (line.find("BUG") != std::string::npos || line.find("underflow") != std::string::npos ||
                line.find("cannot be tracked") != std::string::npos || line.find("failed") != std::string::npos) {
                bad.push_back(line);
            }
        }
        return bad;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::vector<spdlog::sink_ptr> saved_;
};

struct Env {
    LogCapture log;
    mmu::GuestRam low = std::move(mmu::GuestRam::Create(kMiB).value());
    mmu::GuestRam code = std::move(mmu::GuestRam::Create(kMiB).value());
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    devices::Bus mmio, pio;
    std::optional<VcpuMemory> memory;
    std::atomic<u32> exit_word{0};
    cpu::CpuState s;
    MmuMode mode;

    explicit Env(MmuMode m) : mode(m) {
        REQUIRE(slots.SetMemoryRegion(0, Gpa(0), kMiB, mmu::SlotFlags::None, low.host()).ok());
        CreateCodeSlot(kCodeBase);
        Set(kPd, kPt | kP | kRw, 4);
        for (u64 i = 0; i < 1024; ++i) Set(kPt + 4 * i, (i << kPageShift) | kP | kRw, 4);
        for (u64 i = 0; i < kMiB; i += 16) std::memset(code.host().get() + i, 0x90, 16);  // NOPs
        // 32-bit protected mode, CPL 0, paging on.
        s.cr0 = cpu::cr0::PE | cpu::cr0::ET | cpu::cr0::PG;
        s.cr4 = 0;
        s.cr3 = kPd;
        s.segment(cpu::SegReg::Cs) = cpu::Segment{0x8, 0, 0xFFFFFFFF, 0xC09B};
        s.segment(cpu::SegReg::Ss) = cpu::Segment{0x10, 0, 0xFFFFFFFF, 0xC093};
        Attach(&track);
    }

    // A new memory path; its first access sees the memslot generation for the first time ("drop everything"),
    // which is drained here.
    void Attach(mmu::PageTrack* page_track) {
        memory.emplace(slots, page_track, mmio, pio, mode);
        memory->SetExitSignal(&exit_word);
        Load(kData);
        REQUIRE(TakeWritten() == std::vector<Gfn>{kAll});
        exit_word = 0;
    }

    void CreateCodeSlot(u64 base) {
        REQUIRE(slots.SetMemoryRegion(1, Gpa(base), kMiB, mmu::SlotFlags::None, code.host()).ok());
    }
    void Set(u64 gpa, u64 value, size_t size = 8) { std::memcpy(low.host().get() + gpa, &value, size); }

    void Fetch(u64 linear) {
        u8 bytes[15];
        cpu::MemFault fault;
        REQUIRE(memory->Read(s, linear, bytes, sizeof bytes, cpu::MemAccess::Fetch, false, &fault));
    }
    void Store(u64 linear, u8 value) {
        cpu::MemFault fault;
        REQUIRE(memory->Write(s, linear, &value, 1, false, &fault));
    }
    u8 Load(u64 linear) {
        u8 value = 0;
        cpu::MemFault fault;
        REQUIRE(memory->Read(s, linear, &value, 1, cpu::MemAccess::Read, false, &fault));
        return value;
    }
    // What the inline path (the JIT) would do with a store to linear: Hit = store inline, unseen.
    mmu::TlbLookupKind StoreLookup(u64 linear) {
        return memory->tlb().Lookup(mmu::MmuIndex::Supervisor, linear, mmu::AccessType::Write).kind;
    }
    // The ranges reported since the last call, as a vCPU takes them.
    std::vector<cpu::CodeWrite> TakeWrites() {
        if (!memory->TakeCodeWritten()) return {};
        const auto writes = memory->CodeWrites();
        return std::vector<cpu::CodeWrite>(writes.begin(), writes.end());
    }
    // The pages reported since the last call ({} when none; kAll when every translation must go), released as a vCPU
    // releases a page once the write dropped the last translation made from it.
    std::vector<Gfn> TakeWritten() {
        if (!memory->TakeCodeWritten()) return {};
        const auto writes = memory->CodeWrites();
        if (writes.empty()) return {kAll};
        std::vector<Gfn> pages;
        for (const cpu::CodeWrite& w : writes) {
            if (std::find(pages.begin(), pages.end(), w.gpa >> kPageShift) == pages.end()) {
                pages.push_back(w.gpa >> kPageShift);
            }
        }
        for (const Gfn gfn : pages) memory->ReleaseCodePage(gfn);
        return pages;
    }
    bool TakeExitBit() { return (exit_word.exchange(0) & cpu::exit_bit::kCodeWritten) != 0; }
    void FetchAll() {
        for (const u64 linear : kCode) Fetch(linear);
    }
    std::vector<u16> Counts() {
        std::vector<u16> counts;
        for (const Gfn gfn : kCodeGfn) counts.push_back(track.TrackCount(gfn));
        return counts;
    }

    static constexpr Gfn kAll = ~Gfn{0};
};

const char* Name(MmuMode mode) { return mode == MmuMode::Walk ? "walk" : "shadow"; }

using Counts = std::vector<u16>;
using Pages = std::vector<Gfn>;

}  // namespace

TEST_CASE("an instruction fetch write-tracks its page once, and a CPU store to it drops the count and reports it",
          "[machine][smc]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    REQUIRE(e.memory->mmu_mode() == mode);

    // A store before any fetch: the page is plain data, its write TLB entry lets stores run inline.
    e.Store(kCode[0] + 0x100, 0x90);
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::Hit);
    CHECK(e.Counts() == Counts{0, 0, 0});

    e.FetchAll();
    CHECK(e.Counts() == Counts{1, 1, 1});
    e.FetchAll();  // already code pages: no second count
    e.Fetch(kCode[1] + 0x800);
    CHECK(e.Counts() == Counts{1, 1, 1});
    CHECK(e.TakeWritten() == Pages{});
    CHECK_FALSE(e.TakeExitBit());
    // The entry filled before the fetch was demoted: inline stores to the page now take the slow path.
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::SlowPath);
    for (const u64 linear : kCode) CHECK(e.track.IsWriteTracked(Gpa(linear)));
    // A data page next to them is untouched.
    e.Store(kData, 1);
    CHECK(e.StoreLookup(kData) == mmu::TlbLookupKind::Hit);
    CHECK(e.TakeWritten() == Pages{});

    // A CPU store into the second page: reported, the page still tracked until the vCPU releases it.
    e.Store(kCode[1] + 0x234, 0xC3);
    CHECK(e.Counts() == Counts{1, 1, 1});
    CHECK(e.TakeExitBit());
    CHECK(e.StoreLookup(kCode[1]) == mmu::TlbLookupKind::SlowPath);
    CHECK(e.TakeWritten() == Pages{kCodeGfn[1]});
    CHECK(e.Counts() == Counts{1, 0, 1});
    CHECK(e.TakeWritten() == Pages{});  // released: reported once
    // Releasing it dropped the stale write entry: the next store refills it, and stores run inline again.
    CHECK(e.StoreLookup(kCode[1]) == mmu::TlbLookupKind::Miss);
    e.Store(kCode[1] + 0x235, 0xC3);  // no code made from it since: not reported again
    CHECK(e.StoreLookup(kCode[1]) == mmu::TlbLookupKind::Hit);
    CHECK(e.TakeWritten() == Pages{});
    CHECK(e.Counts() == Counts{1, 0, 1});

    // Fetching from it again makes it a code page again.
    e.Fetch(kCode[1]);
    CHECK(e.Counts() == Counts{1, 1, 1});
    CHECK(e.StoreLookup(kCode[1]) == mmu::TlbLookupKind::SlowPath);
    e.Store(kCode[1], 0x90);
    CHECK(e.TakeWritten() == Pages{kCodeGfn[1]});
    CHECK(e.log.Errors().empty());
}

TEST_CASE("a device write reported through PageTrack::OnTrackedWrite (DMA) reports a code page like a CPU store",
          "[machine][smc]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    e.FetchAll();
    REQUIRE(e.Counts() == Counts{1, 1, 1});

    // A device on its own thread writes guest RAM, then tells page-track, as every writer does.
    std::thread device([&] {
        const u8 bytes[4] = {0xC3, 0xC3, 0xC3, 0xC3};
        const u64 gpa = kCode[2] + 0x40;
        std::memcpy(e.code.host().get() + (gpa - kCodeBase), bytes, sizeof bytes);
        if (e.track.IsWriteTracked(Gpa(gpa))) e.track.OnTrackedWrite(Gpa(gpa), bytes);
    });
    device.join();
    CHECK(e.TakeExitBit());
    CHECK(e.TakeWritten() == Pages{kCodeGfn[2]});
    CHECK(e.Counts() == Counts{1, 1, 0});
    CHECK(e.Load(kCode[2] + 0x40) == 0xC3);

    e.Fetch(kCode[2]);
    CHECK(e.Counts() == Counts{1, 1, 1});
    CHECK(e.log.Errors().empty());
}

TEST_CASE("virtio DMA (DmaMemory) onto translated code and onto a shadowed page table is noticed", "[machine][smc]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    e.FetchAll();
    devices::virtio::DmaMemory dma(e.slots, &e.track);
    bool written = false;
    std::thread device([&] {  // a device's worker thread completing a read request into guest RAM
        const u8 bytes[4] = {0xC3, 0xC3, 0xC3, 0xC3};
        written = dma.Write(kCode[1] + 0xFFE, bytes);  // crosses into the next (untracked) page
    });
    device.join();
    CHECK(written);
    CHECK(e.TakeExitBit());
    CHECK(e.TakeWritten() == Pages{kCodeGfn[1]});
    CHECK(e.Counts() == Counts{1, 0, 1});

    CHECK(e.Load(kData) == 0);  // maps (in shadow mode: shadows) the page table's entry for kData
    if (mode == MmuMode::Shadow) {
        const u64 calls = e.memory->shadow_mmu()->Stats().write_calls;
        const u32 pte = static_cast<u32>(kCode[0] | kP | kRw);  // kData's entry now points at a page of NOPs
        REQUIRE(dma.Write(kPt + 4 * (kData >> kPageShift), std::span<const u8>(reinterpret_cast<const u8*>(&pte), 4)));
        CHECK(e.memory->shadow_mmu()->Stats().write_calls > calls);  // the shadow MMU's write handler ran
        CHECK(e.Load(kData) == 0x90);                                // and the stale shadow entry is gone
    }
    CHECK(e.log.Errors().empty());
}

TEST_CASE("a DELETE or MOVE of the slot holding code pages forgets them without touching page-track counts",
          "[machine][smc]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    const bool move = GENERATE(false, true);
    INFO(Name(mode) << (move ? " move" : " delete"));
    Env e(mode);
    e.FetchAll();
    e.Store(kCode[0], 0x90);  // one of them written and released already: not a code page any more
    REQUIRE(e.TakeWritten() == Pages{kCodeGfn[0]});
    REQUIRE(e.Counts() == Counts{0, 1, 1});

    if (move) {
        REQUIRE(e.slots.SetMemoryRegion(1, Gpa(kMovedBase), kMiB, mmu::SlotFlags::None, e.code.host()).ok());
    } else {
        REQUIRE(e.slots.SetMemoryRegion(1, Gpa(kCodeBase), 0, mmu::SlotFlags::None, e.code.host()).ok());
    }
    CHECK(e.log.Errors().empty());  // no RemoveGfn on the dead counts
    // The next access sees the new generation: every translation goes (an empty page list).
    e.Load(kData);
    CHECK(e.TakeWritten() == Pages{Env::kAll});

    // Memory at the old place comes back with fresh counters: the forgotten pages are fetched as new code pages.
    if (move) REQUIRE(e.slots.SetMemoryRegion(1, Gpa(kCodeBase), kMiB, mmu::SlotFlags::None, e.code.host()).ok());
    else e.CreateCodeSlot(kCodeBase);
    e.Load(kData);
    CHECK(e.TakeWritten() == Pages{Env::kAll});
    CHECK(e.Counts() == Counts{0, 0, 0});
    e.Fetch(kCode[2]);  // the page fetched last before the change
    CHECK(e.Counts() == Counts{0, 0, 1});
    e.Fetch(kCode[1]);
    CHECK(e.Counts() == Counts{0, 1, 1});
    e.Store(kCode[1], 0x90);
    CHECK(e.TakeWritten() == Pages{kCodeGfn[1]});
    CHECK(e.Counts() == Counts{0, 0, 1});
    e.memory.reset();
    CHECK(e.Counts() == Counts{0, 0, 0});
    CHECK(e.log.Errors().empty());
}

TEST_CASE("destroying the VcpuMemory removes the counts it holds: every count is back to zero", "[machine][smc]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    e.FetchAll();
    e.Fetch(kData);  // code in slot 0 too, next to the page tables
    e.Store(kCode[1], 0x90);
    REQUIRE(e.TakeWritten() == Pages{kCodeGfn[1]});
    REQUIRE(e.Counts() == Counts{1, 0, 1});
    REQUIRE(e.track.TrackCount(kData >> kPageShift) == 1);
    if (mode == MmuMode::Shadow) CHECK(e.track.TrackCount(kPd >> kPageShift) >= 1);  // the shadow MMU's own

    e.memory.reset();
    for (Gfn gfn = 0; gfn < (2 * kMiB) >> kPageShift; ++gfn) {
        INFO("gfn " << gfn);
        REQUIRE(e.track.TrackCount(gfn) == 0);
    }
    CHECK_FALSE(e.track.HasExternalNotifiers());  // unregistered
    CHECK(e.log.Errors().empty());
}

TEST_CASE("without a PageTrack, stores through the memory path still report code pages (the kCode TLB flag)",
          "[machine][smc]") {
    Env e(MmuMode::Walk);
    e.Attach(nullptr);  // replaces the tracked one
    e.Store(kCode[0], 0x90);
    e.FetchAll();
    CHECK(e.Counts() == Counts{0, 0, 0});
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::SlowPath);
    e.Store(kCode[0] + 1, 0x90);
    CHECK(e.TakeExitBit());
    CHECK(e.TakeWritten() == Pages{kCodeGfn[0]});
    CHECK(e.TakeWritten() == Pages{});
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::Miss);
    e.Store(kCode[0] + 2, 0x90);
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::Hit);
    CHECK(e.TakeWritten() == Pages{});
    e.Fetch(kCode[0]);
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::SlowPath);
    CHECK(e.log.Errors().empty());
}

TEST_CASE("a code page the vCPU keeps stays tracked: every later write is reported with its range, adjacent stores as one",
          "[machine][smc]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    e.FetchAll();
    e.Store(kCode[0] + 0x10, 0x90);
    auto writes = e.TakeWrites();  // not released: the vCPU still holds translations from the page
    REQUIRE(writes.size() == 1);
    CHECK(writes[0].gpa == kCode[0] + 0x10);
    CHECK(writes[0].size == 1);
    CHECK(e.Counts() == Counts{1, 1, 1});
    CHECK(e.StoreLookup(kCode[0]) == mmu::TlbLookupKind::SlowPath);
    // A store run (a memcpy over code) is one range; a store elsewhere on the page another.
    for (u64 i = 0; i < 8; ++i) e.Store(kCode[0] + 0x100 + i, 0xC3);
    e.Store(kCode[0] + 0x800, 0xC3);
    CHECK(e.TakeExitBit());
    writes = e.TakeWrites();
    REQUIRE(writes.size() == 2);
    CHECK(writes[0].gpa == kCode[0] + 0x100);
    CHECK(writes[0].size == 8);
    CHECK(writes[1].gpa == kCode[0] + 0x800);
    CHECK(writes[1].size == 1);
    // Released at last: the count goes, and stores are not reported any more.
    e.memory->ReleaseCodePage(kCodeGfn[0]);
    CHECK(e.Counts() == Counts{0, 1, 1});
    e.Store(kCode[0] + 0x10, 0x90);
    CHECK(e.TakeWrites().empty());
    e.memory.reset();
    CHECK(e.Counts() == Counts{0, 0, 0});
    CHECK(e.log.Errors().empty());
}

// SMP (issue #12): vCPUs attached to one SharedMmu. A page becoming tracked because one vCPU fetched code from it must
// demote the writable TLB entries of every vCPU, so that another vCPU's store to it (through an entry filled before)
// reaches page-track and the first vCPU hears of it (cross-CPU self-modifying code). Both MMU modes.
TEST_CASE("a code page tracked by one vCPU catches another vCPU's store through an entry it filled before",
          "[machine][smc][smp]") {
    for (const MmuMode mode : {MmuMode::Walk, MmuMode::Shadow}) {
        Env e(mode);
        e.memory.reset();  // this test's vCPUs share one MMU instead
        {
            machine::SharedMmu shared(e.slots, &e.track, mode);
            VcpuMemory a(e.slots, &e.track, e.mmio, e.pio, shared);
            VcpuMemory b(e.slots, &e.track, e.mmio, e.pio, shared);
            std::atomic<u32> exit_a{0}, exit_b{0};
            a.SetExitSignal(&exit_a);
            b.SetExitSignal(&exit_b);
            cpu::MemFault fault;
            u8 byte = 0xCC;
            REQUIRE(b.Write(e.s, kCode[2], &byte, 1, false, &fault));  // B's TLB: kCode[2] writable
            u8 data = 0;
            REQUIRE(a.Read(e.s, kData, &data, 1, cpu::MemAccess::Read, false, &fault));
            // The first access of each reported "every translation" (a new memslot generation): drained here.
            REQUIRE(a.TakeCodeWritten());
            REQUIRE(b.TakeCodeWritten());
            u8 insn[15];
            REQUIRE(a.Read(e.s, kCode[2], insn, sizeof insn, cpu::MemAccess::Fetch, false, &fault));  // A tracks it
            CHECK_FALSE(a.TakeCodeWritten());
            REQUIRE(b.Write(e.s, kCode[2] + 1, &byte, 1, false, &fault));
            REQUIRE(a.TakeCodeWritten());
            const std::span<const cpu::CodeWrite> writes = a.CodeWrites();
            REQUIRE(writes.size() == 1);
            CHECK(writes[0].gpa == kCode[2] + 1);
            CHECK(e.track.TrackCount(kCodeGfn[2]) == 1);  // A's count stays until A releases the page
            a.ReleaseCodePage(kCodeGfn[2]);
            CHECK(e.track.TrackCount(kCodeGfn[2]) == 0);
        }
        CHECK(e.log.Errors().empty());
    }
}
