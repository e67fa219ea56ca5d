// PageTrack: balanced per-gfn counters living in the memslot, lazy enable, the tracked-write dispatcher (MMU
// first, then external notifiers) and remove_region at commit of DELETE/MOVE only, plus the unregister grace
// period.
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <mutex>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "emu/common/log.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

using namespace emu;
using namespace emu::mmu;

namespace {

constexpr u64 kMiB = u64{1} << 20;

struct Env {
    GuestRam ram = std::move(*GuestRam::Create(16 * kMiB));
    Memslots slots;
    PageTrack track{slots};

    Result<ChangeKind, MemslotError> Set(SlotId id, u64 base, u64 size, SlotFlags flags, u64 host_offset) {
        return slots.SetMemoryRegion(id, Gpa(base), size, flags, ram.host() + host_offset);
    }
};

// Captures log lines of category PageTrack for the duration of a test.
class LogCapture {
public:
    LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
        saved_ = std::exchange(log::Logger().sinks(), {sink_});  // keep the expected BUG lines off stderr
        log::SetEnabled(u32{1} << static_cast<u32>(log::Category::PageTrack));
    }
    ~LogCapture() {
        log::SetEnabled(0);
        log::Logger().sinks() = saved_;
    }
    bool Contains(const std::string& text) const {
        for (const std::string& line : sink_->last_formatted()) {
            if (line.find(text) != std::string::npos) return true;
        }
        return false;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::vector<spdlog::sink_ptr> saved_;
};

// An external client that records what it is told.
struct Client {
    std::mutex mutex;
    std::vector<std::pair<Gfn, u64>> removed;
    std::vector<std::pair<Gpa, std::vector<u8>>> writes;
    PageTrackNotifier node;

    Client() {
        node.track_write = [this](Gpa gpa, std::span<const u8> bytes) {
            std::lock_guard lock(mutex);
            writes.emplace_back(gpa, std::vector<u8>(bytes.begin(), bytes.end()));
        };
        node.track_remove_region = [this](Gfn first, u64 npages) {
            std::lock_guard lock(mutex);
            removed.emplace_back(first, npages);
        };
    }
};

struct Mmu : MmuWriteHandler, MemslotMmuHook {
    std::atomic<u64> indirect_shadow_pages{0};
    std::vector<std::string>* order = nullptr;
    std::vector<Gfn> protected_gfns;
    std::vector<bool> newly_tracked;
    std::function<void()> on_invalidate;

    void TrackWrite(Gpa, std::span<const u8>) override {
        if (order) order->push_back("mmu");
    }
    void OnGfnTracked(Gfn gfn, bool first) override {
        protected_gfns.push_back(gfn);
        newly_tracked.push_back(first);
    }
    void OnSlotInvalidated(const SlotView&) override {
        if (on_invalidate) on_invalidate();
    }
};

}  // namespace

TEST_CASE("before tracking is enabled nothing is tracked and add/remove are refused", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());
    LogCapture capture;
    CHECK_FALSE(env.track.TrackingEnabled());
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x1000)));
    CHECK(env.track.AddGfn(1).error() == PageTrackError::NotEnabled);
    CHECK(env.track.RemoveGfn(1).error() == PageTrackError::NotEnabled);
    CHECK(capture.Contains("BUG: add gfn 0x1: write tracking is not enabled"));
    CHECK(env.slots.WriteTrackAllocations() == 0);
}

TEST_CASE("counts are balanced: add twice/remove once stays tracked; extra remove is a bug", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    REQUIRE(env.track.EnableTracking());
    Mmu mmu;
    env.track.SetMmuWriteHandler(&mmu, &mmu.indirect_shadow_pages);
    LogCapture capture;
    const Gfn gfn = 0x103;
    REQUIRE(env.track.AddGfn(gfn).ok());
    REQUIRE(env.track.AddGfn(gfn).ok());
    CHECK(mmu.protected_gfns == std::vector<Gfn>{gfn, gfn});  // write-protected before each add returned
    CHECK(mmu.newly_tracked == std::vector<bool>{true, false});  // only the first add found it untracked
    CHECK(env.track.IsWriteTracked(Gpa(0x103000)));
    CHECK(env.track.IsWriteTracked(Gpa(0x103fff)));
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x102fff)));  // neighbours untouched
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x104000)));
    REQUIRE(env.track.RemoveGfn(gfn).ok());
    CHECK(env.track.IsWriteTracked(Gpa(0x103000)));
    REQUIRE(env.track.RemoveGfn(gfn).ok());
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x103000)));
    CHECK_FALSE(capture.Contains("BUG"));
    CHECK(env.track.RemoveGfn(gfn).error() == PageTrackError::Underflow);
    CHECK(capture.Contains("BUG: remove gfn 0x103: write-track count underflow"));
    CHECK(env.track.TrackCount(gfn) == 0);  // no wrap to 65535
    // gfns outside every slot.
    CHECK(env.track.AddGfn(0x200).error() == PageTrackError::NoSlot);
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x200000)));
}

TEST_CASE("a count cannot overflow 65535", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0, 0x1000, SlotFlags::None, 0).ok());
    env.track.EnableTracking();
    LogCapture capture;
    for (u32 i = 0; i < 65535; ++i) REQUIRE(env.track.AddGfn(0).ok());
    CHECK(env.track.AddGfn(0).error() == PageTrackError::Overflow);
    CHECK(capture.Contains("BUG: add gfn 0x0: write-track count overflow"));
    CHECK(env.track.TrackCount(0) == 65535);
    REQUIRE(env.track.RemoveGfn(0).ok());
    CHECK(env.track.TrackCount(0) == 65534);
}

TEST_CASE("lazy enable raced by 8 threads allocates counters once; later slots get them eagerly", "[page_track]") {
    Env env;
    for (u32 i = 0; i < 3; ++i) REQUIRE(env.Set(i, i * 0x100000, 0x10000, SlotFlags::None, i * 0x10000).ok());
    CHECK(env.slots.WriteTrackAllocations() == 0);
    std::latch start(8);
    std::vector<std::thread> threads;
    std::atomic<int> tracked_after{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            if (!env.track.EnableTracking()) return;
            // Once EnableTracking returned, every slot has counters, whoever did the work.
            if (env.track.AddGfn(Gfn(t % 3) * 0x100).ok()) tracked_after.fetch_add(1);
        });
    }
    for (auto& t : threads) t.join();
    CHECK(tracked_after == 8);
    CHECK(env.slots.WriteTrackAllocations() == 3);
    CHECK(env.track.TrackCount(0x000) == 3);
    CHECK(env.track.TrackCount(0x100) == 3);
    CHECK(env.track.TrackCount(0x200) == 2);
    REQUIRE(env.Set(5, 0x800000, 0x10000, SlotFlags::None, 0x100000).ok());
    CHECK(env.track.AddGfn(0x805).ok());
    CHECK(env.track.IsWriteTracked(Gpa(0x805000)));
    env.track.EnableTracking();
    CHECK(env.slots.WriteTrackAllocations() == 3);
}

TEST_CASE("registering the first external client enables tracking", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());
    Client client;
    CHECK_FALSE(env.track.HasExternalNotifiers());
    REQUIRE(env.track.Register(&client.node).ok());
    CHECK(env.track.TrackingEnabled());
    CHECK(env.track.HasExternalNotifiers());
    CHECK(env.track.Register(&client.node).error() == PageTrackError::AlreadyRegistered);
    REQUIRE(env.track.Unregister(&client.node).ok());
    CHECK(env.track.Unregister(&client.node).error() == PageTrackError::NotRegistered);
    CHECK_FALSE(env.track.HasExternalNotifiers());
}

TEST_CASE("tracked writes go to the MMU first (only with shadow pages), then to the notifiers", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());
    std::vector<std::string> order;
    Mmu mmu;
    mmu.order = &order;
    env.track.SetMmuWriteHandler(&mmu, &mmu.indirect_shadow_pages);
    Client a, b;
    const std::vector<u8> bytes = {1, 2, 3, 4, 5, 6, 7, 8};

    env.track.OnTrackedWrite(Gpa(0x1008), bytes);  // no shadow pages, no clients: nothing runs
    CHECK(order.empty());

    mmu.indirect_shadow_pages = 1;
    REQUIRE(env.track.Register(&a.node).ok());
    b.node.track_write = [&](Gpa, std::span<const u8>) { order.push_back("b"); };
    a.node.track_write = [&, inner = a.node.track_write](Gpa gpa, std::span<const u8> s) {
        order.push_back("a");
        inner(gpa, s);
    };
    REQUIRE(env.track.Register(&b.node).ok());
    env.track.OnTrackedWrite(Gpa(0x1008), bytes);
    CHECK(order == std::vector<std::string>{"mmu", "a", "b"});
    REQUIRE(a.writes.size() == 1);
    CHECK(a.writes[0].first == Gpa(0x1008));
    CHECK(a.writes[0].second == bytes);

    mmu.indirect_shadow_pages = 0;
    order.clear();
    REQUIRE(env.track.Unregister(&b.node).ok());
    env.track.OnTrackedWrite(Gpa(0x2000), std::span<const u8>(bytes).first(2));
    CHECK(order == std::vector<std::string>{"a"});
    CHECK(a.writes.back().second == std::vector<u8>{1, 2});
}

TEST_CASE("a node without callbacks is fine", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());
    PageTrackNotifier empty;
    REQUIRE(env.track.Register(&empty).ok());
    env.track.OnTrackedWrite(Gpa(0), std::vector<u8>{1});
    CHECK(*env.Set(0, 0, 0, SlotFlags::None, 0) == ChangeKind::Delete);
    REQUIRE(env.track.Unregister(&empty).ok());
}

TEST_CASE("DELETE sends remove_region for the old range at commit; counts die with the slot", "[page_track]") {
    Env env;
    REQUIRE(env.Set(2, 0x200000, 0x20000, SlotFlags::None, 0).ok());
    REQUIRE(env.Set(3, 0x400000, 0x10000, SlotFlags::None, 0x20000).ok());
    Client client;
    REQUIRE(env.track.Register(&client.node).ok());
    REQUIRE(env.track.AddGfn(0x205).ok());
    REQUIRE(env.track.AddGfn(0x401).ok());
    Mmu mmu;
    env.slots.SetMmuHook(&mmu);
    bool hook_ran = false;
    mmu.on_invalidate = [&] {
        hook_ran = true;
        CHECK(client.removed.empty());  // the speculative flush never reaches clients
        CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x205000)));  // slot already invisible
    };
    REQUIRE(*env.Set(2, 0, 0, SlotFlags::None, 0) == ChangeKind::Delete);
    CHECK(hook_ran);
    CHECK(client.removed == std::vector<std::pair<Gfn, u64>>{{0x200, 0x20}});
    CHECK(env.track.AddGfn(0x205).error() == PageTrackError::NoSlot);
    CHECK(env.track.IsWriteTracked(Gpa(0x401000)));  // the other slot keeps its count
    // Recreating the slot gives fresh counters.
    REQUIRE(env.Set(2, 0x200000, 0x20000, SlotFlags::None, 0).ok());
    CHECK(env.track.TrackCount(0x205) == 0);
    REQUIRE(env.track.Unregister(&client.node).ok());
}

TEST_CASE("MOVE keeps clients and tells them the old range at commit; the new slot starts at zero",
          "[page_track]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    Client client;
    REQUIRE(env.track.Register(&client.node).ok());
    REQUIRE(env.track.AddGfn(0x104).ok());
    Mmu mmu;
    env.slots.SetMmuHook(&mmu);
    mmu.on_invalidate = [&] { CHECK(client.removed.empty()); };
    REQUIRE(*env.Set(1, 0x300000, 0x10000, SlotFlags::None, 0) == ChangeKind::Move);
    CHECK(client.removed == std::vector<std::pair<Gfn, u64>>{{0x100, 0x10}});
    CHECK(env.track.TrackCount(0x304) == 0);  // same host page, new slot: not tracked
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x104000)));
    REQUIRE(env.track.AddGfn(0x304).ok());  // clients rebuild on the new range
    CHECK(env.track.IsWriteTracked(Gpa(0x304000)));
    CHECK(env.track.HasExternalNotifiers());
    REQUIRE(env.track.Unregister(&client.node).ok());
}

TEST_CASE("FLAGS_ONLY keeps tracking counts and sends no remove_region", "[page_track]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    Client client;
    REQUIRE(env.track.Register(&client.node).ok());
    REQUIRE(env.track.AddGfn(0x10f).ok());
    REQUIRE(env.track.AddGfn(0x10f).ok());
    REQUIRE(*env.Set(1, 0x100000, 0x10000, SlotFlags::LogDirtyPages, 0) == ChangeKind::FlagsOnly);
    REQUIRE(*env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0) == ChangeKind::FlagsOnly);
    CHECK(env.track.TrackCount(0x10f) == 2);
    CHECK(client.removed.empty());
    REQUIRE(env.track.Unregister(&client.node).ok());
}

TEST_CASE("an aborted DELETE or MOVE notifies nobody and leaves counts, slots and generation", "[page_track]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    Client client;
    REQUIRE(env.track.Register(&client.node).ok());
    REQUIRE(env.track.AddGfn(0x102).ok());
    const u64 generation = env.slots.Generation();
    env.slots.SetPrepareFaultInjector([](const SlotChange&) { return true; });
    CHECK(env.Set(1, 0, 0, SlotFlags::None, 0).error() == MemslotError::PrepareFailed);
    CHECK(env.Set(1, 0x500000, 0x10000, SlotFlags::None, 0).error() == MemslotError::PrepareFailed);
    CHECK(client.removed.empty());
    CHECK(env.slots.Generation() == generation);
    CHECK(env.track.TrackCount(0x102) == 1);
    CHECK(env.track.IsWriteTracked(Gpa(0x102000)));
    REQUIRE(env.track.RemoveGfn(0x102).ok());
    CHECK(env.track.RemoveGfn(0x102).error() == PageTrackError::Underflow);
    env.slots.SetPrepareFaultInjector(nullptr);
    REQUIRE(env.track.Unregister(&client.node).ok());
}

TEST_CASE("the MMU can unaccount a gfn of a slot hidden by an in-flight DELETE; an abort keeps the balance",
          "[page_track]") {
    // The shadow MMU zaps (and unaccounts) while a DELETE/MOVE has the old slot marked invalid; the counters still
    // belong to that slot, and if the change aborts the slot comes back with them (KVM unaccounts the same way).
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    Client client;
    REQUIRE(env.track.Register(&client.node).ok());  // enables tracking
    REQUIRE(env.track.AddGfn(0x102).ok());
    Mmu mmu;
    std::vector<bool> removed_during_change;
    mmu.on_invalidate = [&] { removed_during_change.push_back(env.track.RemoveGfn(0x102).ok()); };
    env.slots.SetMmuHook(&mmu);
    env.slots.SetPrepareFaultInjector([](const SlotChange&) { return true; });
    CHECK(env.Set(1, 0, 0, SlotFlags::None, 0).error() == MemslotError::PrepareFailed);
    REQUIRE(removed_during_change == std::vector<bool>{true});
    CHECK(env.track.TrackCount(0x102) == 0);
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(0x102000)));
    CHECK(client.removed.empty());
    env.slots.SetPrepareFaultInjector(nullptr);
    env.slots.SetMmuHook(nullptr);
    REQUIRE(env.track.Unregister(&client.node).ok());
}

TEST_CASE("callbacks may add and remove gfns without deadlock", "[page_track]") {
    Env env;
    REQUIRE(env.Set(1, 0x100000, 0x10000, SlotFlags::None, 0).ok());
    REQUIRE(env.Set(2, 0x200000, 0x10000, SlotFlags::None, 0x10000).ok());
    PageTrackNotifier node;
    std::atomic<int> ok{0};
    node.track_write = [&](Gpa gpa, std::span<const u8>) {
        ok += env.track.AddGfn(GfnOf(gpa)).ok();
        ok += env.track.IsWriteTracked(gpa);
        ok += env.track.RemoveGfn(GfnOf(gpa)).ok();
    };
    node.track_remove_region = [&](Gfn first, u64) {
        ok += env.track.AddGfn(0x101).ok();  // another slot, while the memslot update is committing
        ok += env.track.AddGfn(first).error() == PageTrackError::NoSlot;
    };
    REQUIRE(env.track.Register(&node).ok());
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
        writers.emplace_back([&] {
            for (int i = 0; i < 200; ++i) env.track.OnTrackedWrite(Gpa(0x100000 + (i % 16) * 0x1000), {});
        });
    }
    REQUIRE(env.Set(2, 0x300000, 0x10000, SlotFlags::None, 0x10000).ok());
    for (auto& t : writers) t.join();
    REQUIRE(env.track.Unregister(&node).ok());
    CHECK(ok == 2 * 200 * 3 + 2);
}

TEST_CASE("unregister waits until a running track_write returns", "[page_track]") {
    Env env;
    REQUIRE(env.Set(0, 0, 0x10000, SlotFlags::None, 0).ok());
    std::promise<void> entered, release;
    std::shared_future<void> release_future = release.get_future().share();
    std::atomic<int> step{0};
    std::atomic<int> callback_returned_at{-1}, unregister_returned_at{-1};
    PageTrackNotifier node;
    node.track_write = [&](Gpa, std::span<const u8>) {
        entered.set_value();
        release_future.wait();
        callback_returned_at = step.fetch_add(1);
    };
    REQUIRE(env.track.Register(&node).ok());
    std::thread writer([&] { env.track.OnTrackedWrite(Gpa(0x10), std::vector<u8>{0xaa}); });
    entered.get_future().wait();
    std::atomic<bool> unregistered_ok{false};
    std::thread unregister([&] {  // no Catch2 assertions off the main thread: it is not thread-safe
        unregistered_ok = env.track.Unregister(&node).ok();
        unregister_returned_at = step.fetch_add(1);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(unregister_returned_at == -1);  // still blocked behind the callback
    release.set_value();
    writer.join();
    unregister.join();
    CHECK(unregistered_ok);
    CHECK(callback_returned_at == 0);
    CHECK(unregister_returned_at == 1);
    // After unregister the node is never called again.
    node.track_write = [&](Gpa, std::span<const u8>) { FAIL("called after unregister"); };
    env.track.OnTrackedWrite(Gpa(0x10), std::vector<u8>{0xbb});
}
