// The GPU copy/fill engine and its page-table shadow against real memslots and page-track: batches checked byte
// for byte, live table edits of every width, faults, stacked trackers, and memslot DELETE / MOVE / aborted DELETE
// (the shadow must hear track_remove_region at commit only).
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include <catch2/catch.hpp>

#include "devices/gpu/engine/copy_engine.h"
#include "devices/gpu/engine/gpu_pt.h"
#include "devices/gpu/engine/regs.h"
#include "devices/virtio/dma_memory.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::devices::gpu {
namespace {

using regs::FaultReason;

inline constexpr u64 kRamBytes = 4 << 20;       // slot 0: [0, 4 MiB): data, batches, fences
inline constexpr u64 kTableBase = 16 << 20;     // slot 1: [16 MiB, 17 MiB): the GPU tables
inline constexpr u64 kTableBytes = 1 << 20;
inline constexpr u64 kMovedBase = 32 << 20;     // where MOVE puts slot 1
inline constexpr u64 kBatch = 0x1000, kFence = 0x2000, kData = 0x100000;

// A 64x32 XRGB8888 display whose VRAM the test reads.
struct FakeScanout final : Scanout {
    ScanoutInfo Info() const override { return {true, 64, 32, 64 * 4, 32, 0, false}; }
    void WithVram(const std::function<void(std::span<u8>, const ScanoutInfo&)>& fn) override { fn(vram, Info()); }
    std::vector<u8> vram = std::vector<u8>(64 * 4 * 32);
};

struct Env {
    Env() {
        engine.Connect([this](bool level) { irq = level; }, scanout);
        ram = std::move(*mmu::GuestRam::Create(kRamBytes));
        tables_ram = std::move(*mmu::GuestRam::Create(kTableBytes));
        REQUIRE(slots.SetMemoryRegion(0, Gpa(0), kRamBytes, mmu::SlotFlags::None, ram.host()).ok());
        REQUIRE(slots.SetMemoryRegion(1, Gpa(kTableBase), kTableBytes, mmu::SlotFlags::None, tables_ram.host()).ok());
        root = NewTable();
    }
    u8* Host(u64 gpa) {
        if (gpa >= table_base && gpa < table_base + kTableBytes) return tables_ram.host().get() + (gpa - table_base);
        return ram.host().get() + gpa;
    }
    u64 Get64(u64 gpa) {
        u64 v;
        std::memcpy(&v, Host(gpa), 8);
        return v;
    }
    u64 NewTable() { return table_base + kPageSize * next_table++; }
    // The address of gva's leaf entry, creating tables (not through page-track: before the bind).
    u64 LeafEntry(u64 gva) {
        u64 table = root;
        for (unsigned level = kGptLevels; level > 1; --level) {
            const u64 at = table + GptIndex(gva, level) * 8;
            if (!(Get64(at) & kGptPresent)) {
                const u64 t = NewTable();
                const u64 e = t | kGptPresent;
                std::memcpy(Host(at), &e, 8);
            }
            table = Get64(at) & kGptAddrMask;
        }
        return table + GptIndex(gva, 1) * 8;
    }
    void Map(u64 gva, u64 gpa, u64 pages, bool writable = true) {
        for (u64 i = 0; i < pages; ++i) {
            const u64 e = (gpa + i * kPageSize) | kGptPresent | (writable ? kGptWritable : 0);
            std::memcpy(Host(LeafEntry(gva + i * kPageSize)), &e, 8);
        }
    }
    // A store that reaches page-track as a CPU store does.
    void GuestWrite(u64 gpa, std::span<const u8> bytes) { REQUIRE(writer.Write(gpa, bytes)); }
    template <typename T>
    void GuestStore(u64 gpa, T value) {
        GuestWrite(gpa, std::span<const u8>(reinterpret_cast<const u8*>(&value), sizeof(T)));
    }

    u32 Reg(u64 offset) {
        std::array<u8, 4> b{};
        engine.Read(offset, b);
        return static_cast<u32>(LoadLe(b));
    }
    void SetReg(u64 offset, u32 value) {
        std::array<u8, 4> b{};
        StoreLe(b, value);
        engine.Write(offset, b);
    }
    void SetReg64(u64 lo, u64 value) {
        SetReg(lo, static_cast<u32>(value));
        SetReg(lo + 4, static_cast<u32>(value >> 32));
    }
    void Bind() {
        SetReg64(regs::kCtxRootLo, root);
        SetReg(regs::kControl, regs::kCtlBind);
    }
    // Runs the commands; returns the fault reason (None on success) and checks the fence and the interrupt.
    FaultReason Run(const std::vector<regs::GpuCommand>& cmds) {
        std::memcpy(Host(kBatch), cmds.data(), cmds.size() * sizeof(regs::GpuCommand));
        SetReg64(regs::kBatchLo, kBatch);
        SetReg(regs::kBatchCount, static_cast<u32>(cmds.size()));
        SetReg64(regs::kFenceAddrLo, kFence);
        SetReg64(regs::kFenceValueLo, ++fence);
        SetReg(regs::kIntEnable, regs::kIntDone | regs::kIntFault);
        SetReg(regs::kDoorbell, 1);
        CHECK(Get64(kFence) == fence);
        CHECK(irq);
        const auto reason = static_cast<FaultReason>(Reg(regs::kFaultReason));
        CHECK(((Reg(regs::kIntStatus) & regs::kIntFault) != 0) == (reason != FaultReason::None));
        SetReg(regs::kIntStatus, regs::kIntDone | regs::kIntFault);
        CHECK_FALSE(irq);
        return reason;
    }
    u16 Count(u64 gpa) { return track.TrackCount(GfnOf(Gpa(gpa))); }

    mmu::GuestRam ram, tables_ram;
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    virtio::DmaMemory writer{slots, &track};
    FakeScanout scanout;
    std::vector<u8>& vram = scanout.vram;
    bool irq = false;
    CopyEngine engine{slots, track};
    u64 table_base = kTableBase;
    u64 root = 0;
    u64 next_table = 0;
    u64 fence = 0;
};

regs::GpuCommand Fill(u64 gva, u64 len, u32 pattern) { return {regs::kCmdFill, 0, gva, len, pattern}; }
regs::GpuCommand Copy(u64 src, u64 dst, u64 len) { return {regs::kCmdCopy, 0, src, dst, len}; }
regs::GpuCommand Blit(u64 src, u64 pitch, u64 x, u64 y, u64 w, u64 h) {
    return {regs::kCmdBlit, 0, src, pitch, x | y << 16 | w << 32 | h << 48};
}

TEST_CASE("FILL, COPY and BLIT through the GPU tables are exact, with a fence and an interrupt", "[gpu]") {
    Env env;
    const u64 gva = 0x7F00'0000'0000;  // uses all four levels' indices
    env.Map(gva, kData, 4);
    env.Bind();
    REQUIRE(env.Reg(regs::kCtxStatus) == 1);
    REQUIRE(env.Run({Fill(gva + 5, 6000, 0xA1B2C3D4), Copy(gva + 5, gva + 3 * kPageSize + 7, 4000)}) ==
            FaultReason::None);
    for (u64 i = 0; i < 6000; ++i) REQUIRE(*env.Host(kData + 5 + i) == static_cast<u8>(0xA1B2C3D4 >> (8 * (i % 4))));
    CHECK(*env.Host(kData + 4) == 0);
    CHECK(*env.Host(kData + 6005) == 0);
    CHECK(std::memcmp(env.Host(kData + 3 * kPageSize + 7), env.Host(kData + 5), 4000) == 0);
    // BLIT: 3x2 pixels from a source with a 16-byte pitch to (10, 4).
    for (u32 i = 0; i < 8; ++i) std::memcpy(env.Host(kData + 0x2000 + i * 4), &i, 4);
    REQUIRE(env.Run({Blit(gva + 0x2000, 16, 10, 4, 3, 2)}) == FaultReason::None);
    for (u32 row = 0; row < 2; ++row) {
        for (u32 col = 0; col < 3; ++col) {
            u32 pixel;
            std::memcpy(&pixel, env.vram.data() + (4 + row) * 256 + (10 + col) * 4, 4);
            CHECK(pixel == row * 4 + col);
        }
    }
    CHECK(env.vram[4 * 256 + 9 * 4] == 0);
    CHECK(env.Run({Blit(gva, 16, 62, 0, 3, 1)}) == FaultReason::BadCommand);  // outside the scanout
    CHECK(env.engine.Stats().batches == 3);
}

TEST_CASE("bind tracks each table page once; unbind balances the counts to zero", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    env.Map(0x4000'0000, kData, 1);  // a second PDPT entry: 6 tables in all
    env.Bind();
    const auto s = env.engine.Stats().shadow;
    CHECK(s.tracked_gfns == 6);
    CHECK(s.rebuilds == 1);
    for (u64 t = 0; t < env.next_table; ++t) CHECK(env.Count(kTableBase + t * kPageSize) == 1);
    CHECK(env.Count(kData) == 0);
    env.SetReg(regs::kListIndex, 0);
    CHECK(env.Reg(regs::kListGfnLo) == GfnOf(Gpa(kTableBase)));
    env.SetReg(regs::kListIndex, 6);
    CHECK(env.Reg(regs::kListGfnLo) == 0xFFFFFFFF);
    env.Bind();  // a rebind rebuilds: counts stay at one
    for (u64 t = 0; t < env.next_table; ++t) CHECK(env.Count(kTableBase + t * kPageSize) == 1);
    env.SetReg(regs::kControl, regs::kCtlUnbind);
    for (u64 t = 0; t < env.next_table; ++t) CHECK(env.Count(kTableBase + t * kPageSize) == 0);
    const auto after = env.engine.Stats().shadow;
    CHECK(after.tracked_gfns == 0);
    CHECK(after.add_gfn_calls == after.remove_gfn_calls);
    CHECK(env.Run({Fill(0, 8, 1)}) == FaultReason::NotBound);
}

TEST_CASE("edits of live entries by 8-byte stores apply at once, narrower and misaligned ones at the next command",
          "[gpu]") {
    Env env;
    env.Map(0, kData, 2);
    env.Bind();
    const u64 leaf = env.LeafEntry(0);
    auto& shadow = env.engine.shadow();
    // 8 bytes, aligned: the shadow changes before any batch.
    env.GuestStore<u64>(leaf, (kData + 0x5000) | kGptPresent | kGptWritable);
    CHECK(shadow.Translate(0x10, true).gpa == Gpa(kData + 0x5010));
    // 4-byte halves: deferred (the shadow still has the old value), resolved at the next command.
    env.GuestStore<u32>(leaf, static_cast<u32>((kData + 0x6000) | kGptPresent | kGptWritable));
    CHECK(shadow.Translate(0x10, true).gpa == Gpa(kData + 0x5010));
    REQUIRE(env.Run({Fill(0, 4, 0x11111111)}) == FaultReason::None);
    CHECK(env.Get64(kData + 0x6000) == 0x11111111);
    // 1 byte: clear P.
    env.GuestStore<u8>(leaf, 0);
    CHECK(env.Run({Fill(0, 4, 1)}) == FaultReason::NotPresent);
    CHECK(env.Reg(regs::kFaultGvaLo) == 0);
    // 2 bytes: P | W back, frame bits 15:12 from the 2-byte store.
    env.GuestStore<u16>(leaf, static_cast<u16>(0x7000 | kGptPresent | kGptWritable));
    REQUIRE(env.Run({Fill(0, 4, 0x22222222)}) == FaultReason::None);
    CHECK(env.Get64(kData + 0x7000) == 0x22222222);
    // Misaligned 8 bytes across entries 0 and 1: both re-read before the next command.
    const u64 e0 = kData | 0x8000 | kGptPresent | kGptWritable, e1 = kData | 0x9000 | kGptPresent | kGptWritable;
    std::array<u8, 16> both;
    std::memcpy(both.data(), &e0, 8);
    std::memcpy(both.data() + 8, &e1, 8);
    env.GuestWrite(leaf + 4, std::span<const u8>(both.data() + 4, 8));
    env.GuestWrite(leaf, std::span<const u8>(both.data(), 4));
    env.GuestWrite(leaf + 12, std::span<const u8>(both.data() + 12, 4));
    REQUIRE(env.Run({Fill(0, 2 * kPageSize, 0x33333333)}) == FaultReason::None);
    CHECK(env.Get64(kData + 0x8000) == 0x3333333333333333);
    CHECK(env.Get64(kData + 0x9FF8) == 0x3333333333333333);
    const auto s = env.engine.Stats().shadow;
    CHECK(s.writes_seen == 7);
    CHECK(s.partial_writes == 6);
}

TEST_CASE("repointing an upper-level entry moves the tracking to the new table", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    env.Bind();
    const u64 pd_entry = env.root + 0;  // root entry 0 -> PDPT
    const u64 old_pdpt = env.Get64(pd_entry) & kGptAddrMask;
    // A new PDPT -> PD -> PT chain built in untracked pages, then linked with one 8-byte store.
    const u64 pdpt = env.NewTable(), pd = env.NewTable(), pt = env.NewTable();
    const u64 e_pdpt = pd | kGptPresent, e_pd = pt | kGptPresent, e_pt = (kData + 0xA000) | kGptPresent | kGptWritable;
    std::memcpy(env.Host(pdpt), &e_pdpt, 8);
    std::memcpy(env.Host(pd), &e_pd, 8);
    std::memcpy(env.Host(pt), &e_pt, 8);
    env.GuestStore<u64>(pd_entry, pdpt | kGptPresent);
    CHECK(env.Count(pdpt) == 1);
    CHECK(env.Count(pt) == 1);
    CHECK(env.Count(old_pdpt) == 0);
    REQUIRE(env.Run({Fill(0, 8, 0x44444444)}) == FaultReason::None);
    CHECK(env.Get64(kData + 0xA000) == 0x4444444444444444);
}

TEST_CASE("bad translations give the fault register, never a host access", "[gpu]") {
    Env env;
    env.Map(0, kData, 1, /*writable=*/false);
    env.Map(kPageSize, 0x7000'0000, 1);  // a frame in no memslot
    const u64 bad = env.LeafEntry(2 * kPageSize);
    const u64 reserved = kData | kGptPresent | (u64{1} << 60);
    std::memcpy(env.Host(bad), &reserved, 8);
    env.Bind();
    CHECK(env.Run({Fill(0, 8, 1)}) == FaultReason::ReadOnly);
    CHECK(env.Run({Copy(0, 0x100000, 8)}) == FaultReason::NotPresent);
    CHECK(env.Run({Fill(kPageSize + 8, 8, 1)}) == FaultReason::NotRam);
    CHECK(env.Reg(regs::kFaultGvaLo) == kPageSize + 8);
    CHECK(env.Run({Fill(2 * kPageSize, 8, 1)}) == FaultReason::BadEntry);
    CHECK(env.Run({Fill(u64{1} << 48, 8, 1)}) == FaultReason::BadAddress);
    CHECK(env.Run({{99, 0, 0, 0, 0}}) == FaultReason::BadCommand);
    // The fault stops the batch at the faulting command: the first one ran, the third did not.
    env.Map(3 * kPageSize, kData + kPageSize, 1);
    env.Bind();
    CHECK(env.Run({Fill(3 * kPageSize, 4, 0x55555555), Fill(0, 4, 1), Fill(3 * kPageSize + 8, 4, 0x66666666)}) ==
          FaultReason::ReadOnly);
    CHECK(env.Reg(regs::kFaultCmd) == 1);
    CHECK(env.Get64(kData + kPageSize) == 0x55555555);
    CHECK(env.Get64(kData + kPageSize + 8) == 0);
    CHECK(env.engine.Stats().faults == 7);
    // A batch outside RAM and an over-long one.
    env.SetReg64(regs::kBatchLo, 0x7000'0000);
    env.SetReg(regs::kBatchCount, 1);
    env.SetReg(regs::kDoorbell, 1);
    CHECK(env.Reg(regs::kFaultReason) == static_cast<u32>(FaultReason::BadBatch));
}

TEST_CASE("bad register accesses and batches are refused with a defined outcome", "[gpu]") {
    Env env;
    std::array<u8, 2> narrow{0xFF, 0xFF};
    env.engine.Read(regs::kId, narrow);  // 2-byte read: ignored, reads as zero
    CHECK(narrow == std::array<u8, 2>{0, 0});
    env.engine.Write(regs::kDoorbell, narrow);  // 2-byte doorbell: ignored, no batch
    std::array<u8, 4> word{};
    env.engine.Write(regs::kDoorbell + 2, word);  // misaligned: ignored
    CHECK(env.engine.Stats().batches == 0);
    std::array<u8, 8> pair{};
    env.engine.Read(regs::kId, pair);  // an aligned 8-byte read is two dwords: ID, VERSION
    CHECK(LoadLe(pair) == (u64{regs::kVersionValue} << 32 | regs::kIdValue));
    env.SetReg(regs::kControl, 77);  // unknown control value: nothing happens
    CHECK(env.Reg(regs::kCtxStatus) == 0);
    env.Map(0, kData, 1);
    env.Bind();
    env.SetReg(regs::kBatchCount, regs::kMaxBatchCommands + 1);
    env.SetReg(regs::kDoorbell, 1);
    CHECK(env.Reg(regs::kFaultReason) == static_cast<u32>(FaultReason::BadBatch));
    CHECK(env.Run({Fill(0, regs::kMaxCommandBytes + 1, 0)}) == FaultReason::BadCommand);
    CHECK(env.Run({Fill(~u64{0} - 2, 8, 0)}) == FaultReason::BadAddress);  // wraps
    CHECK(env.Run({Blit(0, 4, 0, 0, 65, 1)}) == FaultReason::BadCommand);  // wider than the scanout
    env.SetReg64(regs::kFenceAddrLo, 0x7000'0000);  // a fence outside RAM is skipped, the batch still completes
    env.SetReg(regs::kDoorbell, 1);
    CHECK((env.Reg(regs::kIntStatus) & regs::kIntDone) != 0);
}

TEST_CASE("the engine's own writes reach page-track: onto its tables and onto another tracker's page", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    const u64 leaf = env.LeafEntry(0);
    env.Map(0x10000, leaf & ~kPageMask, 1);  // the leaf table itself, mapped as ordinary data
    env.Map(0x20000, kData + 0x3000, 1);      // a page some other client tracks (a CPU page table, say)
    env.Bind();
    std::vector<Gpa> other_writes;
    mmu::PageTrackNotifier other;
    other.track_write = [&](Gpa gpa, std::span<const u8>) {
        if (GfnOf(gpa) == GfnOf(Gpa(kData + 0x3000))) other_writes.push_back(gpa);  // clients filter by gfn
    };
    REQUIRE(env.track.Register(&other).ok());
    REQUIRE(env.track.AddGfn(GfnOf(Gpa(kData + 0x3000))).ok());
    // COPY a new leaf entry (from data at gva 0x800) onto the table through gva 0x10000 + index 0.
    const u64 entry = (kData + 0xB000) | kGptPresent | kGptWritable;
    std::memcpy(env.Host(kData + 0x800), &entry, 8);
    REQUIRE(env.Run({Copy(0x800, 0x10000 + (leaf & kPageMask), 8), Fill(0x20, 4, 0x77777777),
                     Fill(0x20000, 16, 0)}) == FaultReason::None);
    CHECK(env.Get64(kData + 0xB020) == 0x77777777);  // the second command used the new entry
    REQUIRE(other_writes.size() == 1);
    CHECK(other_writes[0] == Gpa(kData + 0x3000));
    REQUIRE(env.track.RemoveGfn(GfnOf(Gpa(kData + 0x3000))).ok());
    REQUIRE(env.track.Unregister(&other).ok());
}

TEST_CASE("a page holding tables for two trackers stacks their counts: 2 -> 1 -> 0", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    const u64 leaf_table = env.LeafEntry(0) & ~kPageMask;
    REQUIRE(env.track.AddGfn(GfnOf(Gpa(leaf_table))).ok());  // the other tracker (the CPU's shadow MMU)
    env.Bind();
    env.SetReg64(regs::kQueryGfnLo, GfnOf(Gpa(leaf_table)));
    CHECK(env.Reg(regs::kQueryTrackCount) == 2);
    CHECK(env.Reg(regs::kQueryGpuTracks) == 1);
    env.SetReg(regs::kControl, regs::kCtlUnbind);
    CHECK(env.Reg(regs::kQueryTrackCount) == 1);
    CHECK(env.Reg(regs::kQueryGpuTracks) == 0);
    REQUIRE(env.track.RemoveGfn(GfnOf(Gpa(leaf_table))).ok());
    CHECK(env.Reg(regs::kQueryTrackCount) == 0);
}

// Records, at each point of a memslot change before its commit, whether the GPU shadow was already told.
struct CommitWatch final : mmu::MemslotMmuHook, mmu::MemslotObserver {
    explicit CommitWatch(Env& env) : env(env) {
        env.slots.SetMmuHook(this);
        env.slots.AddObserver(this);
        env.slots.SetPrepareFaultInjector([this](const mmu::SlotChange&) {
            told_before_commit |= Told();
            return inject;
        });
    }
    ~CommitWatch() override {
        env.slots.SetMmuHook(nullptr);
        env.slots.RemoveObserver(this);
        env.slots.SetPrepareFaultInjector(nullptr);
    }
    u64 Told() const { return env.engine.Stats().shadow.regions_removed; }
    void OnSlotInvalidated(const mmu::SlotView&) override { told_before_commit |= Told() != 0; }
    // Registered after page-track, so a refusal here aborts a change page-track has already prepared.
    bool PrepareChange(const mmu::SlotChange&) override {
        told_before_commit |= Told() != 0;
        return !refuse;
    }
    void AbortChange(const mmu::SlotChange&) override { told_before_commit |= Told() != 0; }
    Env& env;
    bool inject = false;  // the memslot test port's way: fail at the start of prepare
    bool refuse = false;  // fail at the end of prepare
    bool told_before_commit = false;
};

TEST_CASE("DELETE of the tables' slot: told at commit only; the next batch faults; counts balance", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    env.Bind();
    CommitWatch watch(env);
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(kTableBase), 0, mmu::SlotFlags::None, env.tables_ram.host()).ok());
    CHECK_FALSE(watch.told_before_commit);
    CHECK(watch.Told() == 1);
    CHECK(env.engine.Stats().shadow.tracked_gfns == 0);
    CHECK(env.Run({Fill(0, 8, 1)}) == FaultReason::Removed);
    CHECK(env.Get64(kData) == 0);
    const auto before = env.engine.Stats().shadow;
    env.SetReg(regs::kControl, regs::kCtlUnbind);  // no RemoveGfn for counters that died with the slot
    CHECK(env.engine.Stats().shadow.remove_gfn_calls == before.remove_gfn_calls);
    CHECK(env.engine.Stats().shadow.shadow_tables == 0);
    env.Bind();
    CHECK(env.Reg(regs::kCtxStatus) == 2);  // the root is gone
}

TEST_CASE("an aborted DELETE tells the client nothing and the context keeps working", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    env.Bind();
    CommitWatch watch(env);
    SECTION("failure injected at the start of prepare") { watch.inject = true; }
    SECTION("an observer refuses after page-track prepared") { watch.refuse = true; }
    CHECK(env.slots.SetMemoryRegion(1, Gpa(kTableBase), 0, mmu::SlotFlags::None, env.tables_ram.host()).error() ==
          mmu::MemslotError::PrepareFailed);
    CHECK_FALSE(watch.told_before_commit);
    CHECK(watch.Told() == 0);
    CHECK(env.engine.Stats().shadow.tracked_gfns == 4);
    CHECK(env.Count(env.root) == 1);
    REQUIRE(env.Run({Fill(0, 8, 0x12345678)}) == FaultReason::None);
    CHECK(env.Get64(kData) == 0x1234567812345678);
}

TEST_CASE("MOVE of the tables' slot: told at commit; the next batch faults; a rebind uses the new place", "[gpu]") {
    Env env;
    env.Map(0, kData, 1);
    env.Bind();
    CommitWatch watch(env);
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(kMovedBase), kTableBytes, mmu::SlotFlags::None,
                                      env.tables_ram.host()).ok());
    CHECK_FALSE(watch.told_before_commit);
    CHECK(watch.Told() == 1);
    CHECK(env.Run({Fill(0, 8, 1)}) == FaultReason::Removed);
    // The guest rewrites its table links for the new place (through page-track: untracked now) and rebinds.
    env.table_base = kMovedBase;
    for (u64 t = 0; t < 3; ++t) {
        const u64 at = kMovedBase + t * kPageSize;
        env.GuestStore<u64>(at, (env.Get64(at) - kTableBase + kMovedBase));
    }
    env.root = kMovedBase;
    env.Bind();
    REQUIRE(env.Reg(regs::kCtxStatus) == 1);
    for (u64 t = 0; t < 4; ++t) CHECK(env.Count(kMovedBase + t * kPageSize) == 1);
    REQUIRE(env.Run({Fill(0, 8, 0x0F0F0F0F)}) == FaultReason::None);
    CHECK(env.Get64(kData) == 0x0F0F0F0F0F0F0F0F);
    env.SetReg(regs::kControl, regs::kCtlUnbind);
    for (u64 t = 0; t < 4; ++t) CHECK(env.Count(kMovedBase + t * kPageSize) == 0);
}

}  // namespace
}  // namespace emu::devices::gpu
