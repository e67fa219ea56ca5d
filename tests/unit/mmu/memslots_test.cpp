// Memslots: KVM's change classification and rejections, the two-phase update (invalidate, MMU hook, prepare,
// abort/commit), generations, lookups (against a linear-scan oracle), dirty logging, GuestRam, write-track
// storage and lookups racing with updates.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <latch>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"

using namespace emu;
using namespace emu::mmu;

namespace {

constexpr u64 kMiB = u64{1} << 20;
constexpr u64 kGiB = u64{1} << 30;

// Host backing for the slots of one test: a NORESERVE region, pages touched only where written.
struct Env {
    GuestRam ram = std::move(*GuestRam::Create(64 * kMiB));
    Memslots slots;

    HostPtr Host(u64 offset) const { return ram.host() + offset; }
    Result<ChangeKind, MemslotError> Set(SlotId id, u64 base, u64 size, SlotFlags flags, u64 host_offset) {
        return slots.SetMemoryRegion(id, Gpa(base), size, flags, Host(host_offset));
    }
};

// Records hook and observer calls; can veto prepare and check lookups from inside the hook.
struct Recorder : MemslotMmuHook, MemslotObserver {
    std::vector<SlotView> invalidated;
    std::vector<SlotChange> prepared, aborted, committed;
    bool refuse = false;
    std::function<void(const SlotView&)> in_hook;

    void OnSlotInvalidated(const SlotView& old) override {
        invalidated.push_back(old);
        if (in_hook) in_hook(old);
    }
    bool PrepareChange(const SlotChange& c) override {
        prepared.push_back(c);
        return !refuse;
    }
    void AbortChange(const SlotChange& c) override { aborted.push_back(c); }
    void CommitChange(const SlotChange& c) override { committed.push_back(c); }
};

}  // namespace

TEST_CASE("each change is classified as kvm_set_memory_region does", "[memslots]") {
    Env env;
    const SlotFlags log = SlotFlags::LogDirtyPages;
    // (operation, expected kind, expected slot 3 afterwards or nullopt)
    CHECK(*env.Set(3, 0x100000, 0x200000, SlotFlags::None, 0) == ChangeKind::Create);   // unknown id
    CHECK(*env.Set(3, 0x100000, 0x200000, SlotFlags::None, 0) == ChangeKind::Unchanged);  // identical
    CHECK(*env.Set(3, 0x100000, 0x200000, log, 0) == ChangeKind::FlagsOnly);            // only flags differ
    CHECK(*env.Set(3, 0x800000, 0x200000, log, 0) == ChangeKind::Move);                 // new base
    CHECK(*env.Set(3, 0x400000, 0x200000, SlotFlags::None, 0) == ChangeKind::Move);     // base and flags: MOVE
    const std::optional<SlotView> s = env.slots.GetSlot(3);
    REQUIRE(s);
    CHECK(s->base == Gpa(0x400000));
    CHECK(s->size == 0x200000);
    CHECK(s->flags == SlotFlags::None);
    CHECK(s->host == env.Host(0));
    CHECK(*env.Set(3, 0, 0, SlotFlags::None, 0) == ChangeKind::Delete);                 // size 0
    CHECK_FALSE(env.slots.GetSlot(3));
    CHECK(*env.Set(3, 0x0, 0x1000, SlotFlags::ReadOnly, 0) == ChangeKind::Create);      // deleted id: CREATE
}

TEST_CASE("invalid changes are rejected with their error and change nothing", "[memslots]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x100000, SlotFlags::None, 0).ok());
    REQUIRE(env.Set(2, 0x400000, 0x100000, SlotFlags::ReadOnly, 0x100000).ok());
    Recorder rec;
    env.slots.SetMmuHook(&rec);
    env.slots.AddObserver(&rec);
    const std::vector<SlotView> before = env.slots.Slots();
    const u64 generation = env.slots.Generation();

    struct Case {
        const char* what;
        SlotId id;
        u64 base, size;
        SlotFlags flags;
        HostPtr host;
        MemslotError error;
    };
    const HostPtr h = env.Host(0x200000);
    const Case cases[] = {
        {"unaligned base", 5, 0x1000800, 0x1000, SlotFlags::None, h, MemslotError::UnalignedBase},
        {"unaligned size", 5, 0x1000000, 0x1800, SlotFlags::None, h, MemslotError::UnalignedSize},
        {"unaligned host", 5, 0x1000000, 0x1000, SlotFlags::None, h + 8, MemslotError::UnalignedHost},
        {"null host", 5, 0x1000000, 0x1000, SlotFlags::None, HostPtr(), MemslotError::UnalignedHost},
        {"unknown flags", 5, 0x1000000, 0x1000, SlotFlags(4), h, MemslotError::InvalidFlags},
        {"id too large", kMaxSlots, 0x1000000, 0x1000, SlotFlags::None, h, MemslotError::InvalidId},
        {"wraps", 5, ~u64{0xfff}, 0x2000, SlotFlags::None, h, MemslotError::OutOfRange},
        {"beyond 52 bits", 5, (u64{1} << 52) - 0x1000, 0x2000, SlotFlags::None, h, MemslotError::OutOfRange},
        {"too many pages", 5, 0, (kMaxSlotPages + 1) << 12, SlotFlags::None, h, MemslotError::TooLarge},
        {"delete unknown id", 7, 0, 0, SlotFlags::None, h, MemslotError::NoSuchSlot},
        {"resize in place", 1, 0x100000, 0x200000, SlotFlags::None, env.Host(0), MemslotError::Resize},
        {"shrink while moving", 1, 0x900000, 0x1000, SlotFlags::None, env.Host(0), MemslotError::Resize},
        {"new host for existing id", 1, 0x100000, 0x100000, SlotFlags::None, h, MemslotError::HostChange},
        {"toggle read-only", 2, 0x400000, 0x100000, SlotFlags::None, env.Host(0x100000),
         MemslotError::ReadOnlyChange},
        {"create overlapping", 5, 0x1ff000, 0x2000, SlotFlags::None, h, MemslotError::Overlap},
        {"create covering", 5, 0, 0x1000000, SlotFlags::None, h, MemslotError::Overlap},
        {"move onto another", 1, 0x480000, 0x100000, SlotFlags::None, env.Host(0), MemslotError::Overlap},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        const auto r = env.slots.SetMemoryRegion(c.id, Gpa(c.base), c.size, c.flags, c.host);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == c.error);
        CHECK(env.slots.Slots() == before);
        CHECK(env.slots.Generation() == generation);
    }
    CHECK(rec.invalidated.empty());
    CHECK(rec.prepared.empty());
    CHECK(rec.committed.empty());
    // A MOVE may overlap its own old range (KVM excludes the slot itself from the overlap check).
    CHECK(*env.Set(1, 0x180000, 0x100000, SlotFlags::None, 0) == ChangeKind::Move);
}

TEST_CASE("the generation advances once per committed change, never for no-ops or rejections", "[memslots]") {
    Env env;
    u64 g = env.slots.Generation();
    CHECK((g & kGenerationInProgress) == 0);
    auto expect_step = [&](u64 steps) {
        const u64 now = env.slots.Generation();
        CHECK(now == g + steps);
        g = now;
    };
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());
    expect_step(1);
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());  // unchanged
    expect_step(0);
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::LogDirtyPages, 0).ok());
    expect_step(1);
    REQUIRE(env.Set(0, 0x20000, 0x10000, SlotFlags::LogDirtyPages, 0).ok());
    expect_step(1);
    REQUIRE_FALSE(env.Set(0, 0x20000, 0x20000, SlotFlags::None, 0).ok());
    expect_step(0);
    REQUIRE(env.Set(0, 0, 0, SlotFlags::None, 0).ok());
    expect_step(1);
    // The view carries the generation of the snapshot it came from.
    REQUIRE(env.Set(4, 0, 0x1000, SlotFlags::None, 0).ok());
    CHECK(env.slots.FindSlot(Gpa(0))->generation == env.slots.Generation());
}

TEST_CASE("DELETE and MOVE hide the old slot before the MMU hook runs, then commit", "[memslots]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    REQUIRE(env.Set(2, 0x200000, 0x10000, SlotFlags::None, 0x10000).ok());
    const u64 generation = env.slots.Generation();
    Recorder rec;
    env.slots.SetMmuHook(&rec);
    env.slots.AddObserver(&rec);
    int hook_checks = 0;
    rec.in_hook = [&](const SlotView& old) {
        // The hook runs before prepare, and the old slot is already invisible to every lookup.
        CHECK(rec.prepared.empty());
        CHECK_FALSE(env.slots.Translate(old.base));
        CHECK_FALSE(env.slots.Translate(old.base + 0xfff0));
        CHECK_FALSE(env.slots.FindSlot(old.base));
        CHECK_FALSE(env.slots.GetSlot(old.id));
        CHECK(env.slots.Translate(Gpa(0x200000)) == env.Host(0x10000));  // others stay
        CHECK(env.slots.Generation() == ((generation + hook_checks) | kGenerationInProgress));
        ++hook_checks;
    };

    SECTION("delete") {
        REQUIRE(*env.Set(1, 0, 0, SlotFlags::None, 0) == ChangeKind::Delete);
        CHECK(hook_checks == 1);
        REQUIRE(rec.committed.size() == 1);
        CHECK(rec.committed[0].kind == ChangeKind::Delete);
        CHECK(rec.committed[0].old_slot->base == Gpa(0x100000));
        CHECK_FALSE(rec.committed[0].new_slot);
        CHECK_FALSE(env.slots.Translate(Gpa(0x100000)));
    }
    SECTION("move") {
        REQUIRE(*env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0) == ChangeKind::Move);
        CHECK(hook_checks == 1);
        REQUIRE(rec.invalidated.size() == 1);
        CHECK(rec.invalidated[0].base == Gpa(0x100000));
        REQUIRE(rec.committed.size() == 1);
        CHECK(rec.committed[0].old_slot->base == Gpa(0x100000));
        CHECK(rec.committed[0].new_slot->base == Gpa(0x300000));
        CHECK(rec.committed[0].new_slot->generation == generation + 1);
        CHECK_FALSE(env.slots.Translate(Gpa(0x100000)));
        CHECK(env.slots.Translate(Gpa(0x300123)) == env.Host(0x123));
    }
    SECTION("create and flags-only do not call the MMU hook") {
        REQUIRE(env.Set(3, 0x400000, 0x1000, SlotFlags::None, 0x20000).ok());
        REQUIRE(env.Set(3, 0x400000, 0x1000, SlotFlags::LogDirtyPages, 0x20000).ok());
        CHECK(rec.invalidated.empty());
        CHECK(rec.committed.size() == 2);
    }
    CHECK(env.slots.Generation() == generation + rec.committed.size());
}

TEST_CASE("a failed prepare aborts: slots, generation and lookups are restored, nobody commits", "[memslots]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    REQUIRE(env.Set(2, 0x200000, 0x10000, SlotFlags::LogDirtyPages, 0x10000).ok());
    REQUIRE(env.slots.MarkDirty(Gpa(0x203000)));
    Recorder first, second;
    env.slots.SetMmuHook(&first);
    env.slots.AddObserver(&first);
    env.slots.AddObserver(&second);
    const std::vector<SlotView> before = env.slots.Slots();
    const u64 generation = env.slots.Generation();

    SECTION("injected failure") {
        int injected = 0;
        env.slots.SetPrepareFaultInjector([&](const SlotChange&) { return ++injected > 0; });
        CHECK(env.Set(1, 0, 0, SlotFlags::None, 0).error() == MemslotError::PrepareFailed);
        CHECK(env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0).error() == MemslotError::PrepareFailed);
        CHECK(env.Set(2, 0x200000, 0x10000, SlotFlags::None, 0x10000).error() == MemslotError::PrepareFailed);
        CHECK(env.Set(3, 0x500000, 0x10000, SlotFlags::None, 0x20000).error() == MemslotError::PrepareFailed);
        CHECK(injected == 4);
        CHECK(first.prepared.empty());  // the injector runs before the observers
        CHECK(first.invalidated.size() == 2);  // the speculative flush happened for DELETE and MOVE
        env.slots.SetPrepareFaultInjector(nullptr);
    }
    SECTION("an observer refuses: the ones that prepared are told to abort") {
        second.refuse = true;
        CHECK(env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0).error() == MemslotError::PrepareFailed);
        CHECK(first.prepared.size() == 1);
        CHECK(first.aborted.size() == 1);
        CHECK(second.prepared.size() == 1);
        CHECK(second.aborted.empty());
        second.refuse = false;
    }
    CHECK(first.committed.empty());
    CHECK(second.committed.empty());
    CHECK(env.slots.Slots() == before);
    CHECK(env.slots.Generation() == generation);
    CHECK(env.slots.Translate(Gpa(0x100010)) == env.Host(0x10));
    CHECK_FALSE(env.slots.Translate(Gpa(0x300000)));
    // Dirty logging state survived the aborted FLAGS_ONLY change.
    const auto log = env.slots.GetAndClearDirtyLog(2);
    REQUIRE(log.ok());
    CHECK((*log)[0] == u64{1} << 3);
    // And the slot set still works normally.
    CHECK(*env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0) == ChangeKind::Move);
    CHECK(env.slots.Generation() == generation + 1);
}

TEST_CASE("Translate agrees with a linear scan for 1, 8 and 64 slots", "[memslots]") {
    for (const u32 count : {1u, 8u, 64u}) {
        Env env;
        std::mt19937_64 rng(count);
        // Slots of 1..16 pages with gaps of 0..3 pages, in shuffled id order.
        struct Slot { u64 base, size, host; bool ro; };
        std::vector<Slot> oracle;
        u64 next = 0x1000 * (rng() % 4);
        u64 host = 0;
        for (u32 i = 0; i < count; ++i) {
            const u64 size = 0x1000 * (1 + rng() % 16);
            oracle.push_back({next, size, host, (rng() & 1) != 0});
            next += size + 0x1000 * (rng() % 4);
            host += size;
        }
        std::vector<u32> order(count);
        for (u32 i = 0; i < count; ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        for (u32 i : order) {
            const Slot& s = oracle[i];
            REQUIRE(env.Set(i, s.base, s.size, s.ro ? SlotFlags::ReadOnly : SlotFlags::None, s.host).ok());
        }
        for (int n = 0; n < 20000; ++n) {
            const Gpa gpa(rng() % (next + 0x2000));
            std::optional<HostPtr> want, want_write;
            for (const Slot& s : oracle) {
                if (gpa.value() >= s.base && gpa.value() < s.base + s.size) {
                    want = env.Host(s.host + (gpa.value() - s.base));
                    if (!s.ro) want_write = want;
                }
            }
            INFO("slots " << count << " gpa " << gpa.value());
            REQUIRE(env.slots.Translate(gpa) == want);
            REQUIRE(env.slots.TranslateForWrite(gpa) == want_write);
        }
    }
}

TEST_CASE("read-only slots translate for reads only and expose the flag", "[memslots]") {
    Env env;
    REQUIRE(env.Set(0, 0xf0000, 0x10000, SlotFlags::ReadOnly, 0).ok());
    CHECK(env.slots.Translate(Gpa(0xf1234)) == env.Host(0x1234));
    CHECK_FALSE(env.slots.TranslateForWrite(Gpa(0xf1234)));
    CHECK(env.slots.FindSlot(Gpa(0xf1234))->read_only());
}

TEST_CASE("dirty log: MarkDirty sets bits, get-and-clear returns and clears them", "[memslots]") {
    Env env;
    REQUIRE(env.Set(0, 0x100000, 0x100000, SlotFlags::LogDirtyPages, 0).ok());  // 256 pages: 4 words
    REQUIRE(env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0x100000).ok());
    const std::vector<u64> pages = {0, 1, 63, 64, 130, 255};
    std::vector<u64> expected(4, 0);
    for (u64 p : pages) {
        REQUIRE(env.slots.MarkDirty(Gpa(0x100000 + p * 0x1000 + 0x10)));
        REQUIRE(env.slots.MarkDirty(Gpa(0x100000 + p * 0x1000 + 0xff8)));  // same page twice
        expected[p / 64] |= u64{1} << (p % 64);
    }
    CHECK_FALSE(env.slots.MarkDirty(Gpa(0x300000)));  // slot without logging
    CHECK_FALSE(env.slots.MarkDirty(Gpa(0x200000)));  // no slot
    auto log = env.slots.GetAndClearDirtyLog(0);
    REQUIRE(log.ok());
    CHECK(*log == expected);
    log = env.slots.GetAndClearDirtyLog(0);
    REQUIRE(log.ok());
    CHECK(*log == std::vector<u64>(4, 0));
    CHECK(env.slots.GetAndClearDirtyLog(1).error() == MemslotError::DirtyLogDisabled);
    CHECK(env.slots.GetAndClearDirtyLog(9).error() == MemslotError::NoSuchSlot);
    CHECK(env.slots.GetAndClearDirtyLog(kMaxSlots).error() == MemslotError::InvalidId);

    // FLAGS_ONLY turns logging on (bitmap allocated, starts clean) and off again.
    REQUIRE(*env.Set(1, 0x300000, 0x10000, SlotFlags::LogDirtyPages, 0x100000) == ChangeKind::FlagsOnly);
    REQUIRE(env.slots.MarkDirty(Gpa(0x305000)));
    log = env.slots.GetAndClearDirtyLog(1);
    REQUIRE(log.ok());
    CHECK(*log == std::vector<u64>{u64{1} << 5});
    REQUIRE(*env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0x100000) == ChangeKind::FlagsOnly);
    CHECK_FALSE(env.slots.MarkDirty(Gpa(0x305000)));
    CHECK(env.slots.GetAndClearDirtyLog(1).error() == MemslotError::DirtyLogDisabled);
}

TEST_CASE("GuestRam: a 4 GiB region costs nothing until touched", "[memslots][guest_ram]") {
    CHECK(GuestRam::Create(0).error() == GuestRamError::ZeroSize);
    CHECK(GuestRam::Create(0x1234).error() == GuestRamError::Unaligned);

    auto ram = GuestRam::Create(4 * kGiB);
    REQUIRE(ram.ok());
    u8* base = ram->host().get();
    // mincore is the kernel's own account of which pages are resident.
    auto resident_pages = [&](u64 offset, u64 len) {
        std::vector<unsigned char> vec(len / kPageSize);
        REQUIRE(mincore(base + offset, len, vec.data()) == 0);
        u64 n = 0;
        for (unsigned char v : vec) n += v & 1;
        return n;
    };
    CHECK(resident_pages(0, 64 * kMiB) == 0);
    CHECK(resident_pages(4 * kGiB - 64 * kMiB, 64 * kMiB) == 0);

    Memslots slots;
    REQUIRE(slots.SetMemoryRegion(0, Gpa(0), ram->size(), SlotFlags::None, ram->host()).ok());
    u8* p = slots.Translate(Gpa(3 * kGiB + 0x1238))->get();
    std::memcpy(p, "emu64", 6);
    CHECK(std::memcmp(base + 3 * kGiB + 0x1238, "emu64", 6) == 0);
    // One page, or one 2 MiB huge page if transparent huge pages are set to "always".
    const u64 touched = resident_pages(3 * kGiB, 64 * kMiB);
    CHECK(touched >= 1);
    CHECK(touched <= 512);
    CHECK(resident_pages(0, 64 * kMiB) == 0);

    // Moving releases the mapping.
    GuestRam moved = std::move(*ram);
    CHECK_FALSE(ram->host());
    CHECK(moved.size() == 4 * kGiB);
}

TEST_CASE("write-track storage is allocated once, for every slot, under a race", "[memslots]") {
    Env env;
    for (u32 i = 0; i < 5; ++i) REQUIRE(env.Set(i, i * 0x100000, 0x10000, SlotFlags::None, i * 0x10000).ok());
    CHECK_FALSE(env.slots.WriteTrackingEnabled());
    {
        Memslots::ReadSection section(env.slots);
        CHECK(section.Find(Gpa(0))->meta->write_track.load() == nullptr);
    }
    std::latch start(8);
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            start.arrive_and_wait();
            if (env.slots.EnableWriteTracking()) winners.fetch_add(1);
        });
    }
    for (auto& t : threads) t.join();
    CHECK(winners == 1);
    CHECK(env.slots.WriteTrackingEnabled());
    CHECK(env.slots.WriteTrackAllocations() == 5);
    REQUIRE(env.Set(7, 0x900000, 0x10000, SlotFlags::None, 0x80000).ok());  // created after: eager
    CHECK(env.slots.WriteTrackAllocations() == 5);  // the counter only counts the lazy pass
    Memslots::ReadSection section(env.slots);
    for (u32 i = 0; i < 5; ++i) CHECK(section.Find(Gpa(i * 0x100000))->meta->write_track.load() != nullptr);
    CHECK(section.Find(Gpa(0x900000))->meta->write_track.load() != nullptr);
}

TEST_CASE("lookups stay consistent while another thread changes slots", "[memslots][stress]") {
    // Four slots, each with its own host buffer whose pages are tagged (slot, page). The writer moves,
    // deletes, recreates and re-flags them among fixed positions; readers check every hit against the tags
    // and the positions the writer can use.
    Env env;
    constexpr u32 kSlotsUsed = 4;
    constexpr u64 kSize = 0x8000;  // 8 pages
    constexpr u64 kSpan = 0x100000;
    auto position = [](u32 slot, u32 which) { return slot * 0x40000 + which * 0x10000; };  // 4 positions each
    for (u32 s = 0; s < kSlotsUsed; ++s) {
        for (u64 page = 0; page < kSize / kPageSize; ++page) {
            const u64 tag = (u64{s} << 32) | page;
            std::memcpy(env.Host(s * kSize + page * kPageSize).get(), &tag, sizeof tag);
        }
        REQUIRE(env.Set(s, position(s, 0), kSize, SlotFlags::None, s * kSize).ok());
    }
    std::atomic<bool> stop{false};
    std::atomic<u64> hits{0}, misses{0}, errors{0}, changes{0};
    auto reader = [&](u64 seed) {
        std::mt19937_64 rng(seed);
        u64 last_generation = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const Gpa gpa(rng() % kSpan);
            const std::optional<SlotView> view = env.slots.FindSlot(gpa);
            const std::optional<HostPtr> host = env.slots.Translate(gpa);
            if (!host) {
                misses.fetch_add(1, std::memory_order_relaxed);
            } else {
                hits.fetch_add(1, std::memory_order_relaxed);
                u64 tag;
                std::memcpy(&tag, host->get() - gpa.page_offset(), sizeof tag);
                const u32 slot = static_cast<u32>(tag >> 32);
                const u64 page = tag & 0xffffffff;
                const u64 base = gpa.value() - gpa.page_offset() - page * kPageSize;
                bool known = false;
                for (u32 w = 0; w < 4; ++w) known |= slot < kSlotsUsed && base == position(slot, w);
                if (!known) errors.fetch_add(1);
            }
            if (view) {
                bool known = false;
                for (u32 w = 0; w < 4; ++w) known |= view->id < kSlotsUsed && view->base == Gpa(position(view->id, w));
                if (!known || !view->Contains(gpa) || view->size != kSize || view->host != env.Host(view->id * kSize)) {
                    errors.fetch_add(1);
                }
                const u64 g = view->generation & ~kGenerationInProgress;
                if (g < last_generation) errors.fetch_add(1);  // generations never go back
                last_generation = g;
            }
        }
    };
    std::vector<std::thread> readers;
    for (u64 t = 0; t < 3; ++t) readers.emplace_back(reader, t + 1);
    std::mt19937_64 rng(99);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(700);
    std::vector<bool> present(kSlotsUsed, true);
    while (std::chrono::steady_clock::now() < deadline) {
        const u32 s = rng() % kSlotsUsed;
        const u64 base = position(s, rng() % 4);
        const SlotFlags flags = (rng() & 1) ? SlotFlags::LogDirtyPages : SlotFlags::None;
        const bool remove = present[s] && rng() % 4 == 0;
        const auto r = env.Set(s, base, remove ? 0 : kSize, flags, s * kSize);
        if (!r.ok()) errors.fetch_add(1);
        present[s] = !remove;
        changes.fetch_add(1);
    }
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(errors == 0);
    CHECK(hits > 0);
    CHECK(misses > 0);
    CHECK(changes > 10);
}
