#include "mmu/page_track/page_track.h"

#include <algorithm>

#include "emu/common/log.h"
#include "emu/common/trace.h"

namespace emu::mmu {

using log::Category;

PageTrack::PageTrack(Memslots& slots) : slots_(slots), list_owner_(std::make_unique<NotifierList>()) {
    list_.store(list_owner_.get(), std::memory_order_seq_cst);
    slots_.AddObserver(this);
}

PageTrack::~PageTrack() { slots_.RemoveObserver(this); }

bool PageTrack::EnableTracking() {
    if (slots_.EnableWriteTracking()) log::Log(Category::PageTrack, "write tracking enabled");
    return slots_.WriteTrackingEnabled();
}

Result<std::atomic_ref<u16>, PageTrackError> PageTrack::Counter(const Memslots::ReadSection& section,
                                                                Gfn gfn) const {
    if (!slots_.WriteTrackingEnabled()) return Err(PageTrackError::NotEnabled);
    const SlotEntry* e = section.Find(GpaOf(gfn));
    if (!e) return Err(PageTrackError::NoSlot);
    u16* counters = e->meta->write_track.load(std::memory_order_acquire);
    if (!counters) return Err(PageTrackError::NotEnabled);  // not reachable once enabled: allocated at prepare
    return std::atomic_ref<u16>(counters[gfn - e->base.page()]);
}

namespace {

void LogLookupFailure(const char* op, Gfn gfn, PageTrackError error) {
    if (error == PageTrackError::NotEnabled) {
        log::Log(Category::PageTrack, "BUG: {} gfn {:#x}: write tracking is not enabled", op, gfn);
    } else {
        log::Log(Category::PageTrack, "{} gfn {:#x}: no memslot", op, gfn);
    }
}

}  // namespace

Result<void, PageTrackError> PageTrack::AddGfn(Gfn gfn, std::string_view client) {
    Memslots::ReadSection section(slots_);
    auto counter = Counter(section, gfn);
    if (!counter) {
        LogLookupFailure("add", gfn, counter.error());
        return Err(counter.error());
    }
    std::lock_guard lock(track_lock_);
    const u16 count = counter->load(std::memory_order_relaxed);
    if (count == 0xffff) {
        log::Log(Category::PageTrack, "BUG: add gfn {:#x}: write-track count overflow", gfn);
        return Err(PageTrackError::Overflow);
    }
    counter->store(count + 1, std::memory_order_relaxed);
    CountsFor(client).adds++;
    trace::Trace(trace::Event::PageTrackAdd, "gfn={:#x} client={} count={}", gfn, client, count + 1);
    if (MmuWriteHandler* mmu = mmu_handler_.load(std::memory_order_acquire)) mmu->OnGfnTracked(gfn, count == 0);
    return {};
}

Result<void, PageTrackError> PageTrack::RemoveGfn(Gfn gfn, std::string_view client) {
    Memslots::ReadSection section(slots_);
    auto counter = Counter(section, gfn);
    // An in-flight DELETE/MOVE's slot (invalid: lookups skip it) still owns its counters until the change commits,
    // and keeps them if it aborts: a remove must balance an add made on it (KVM's unaccount finds it too).
    u16* invalid_slot_counter = nullptr;
    if (!counter && counter.error() == PageTrackError::NoSlot) {
        for (const SlotEntry& e : section.entries()) {
            u16* counters = e.meta->write_track.load(std::memory_order_acquire);
            if (e.invalid && e.Contains(GpaOf(gfn)) && counters) invalid_slot_counter = &counters[gfn - e.base.page()];
        }
    }
    if (!counter && !invalid_slot_counter) {
        LogLookupFailure("remove", gfn, counter.error());
        return Err(counter.error());
    }
    std::atomic_ref<u16> ref = counter ? *counter : std::atomic_ref<u16>(*invalid_slot_counter);
    std::lock_guard lock(track_lock_);
    const u16 count = ref.load(std::memory_order_relaxed);
    if (count == 0) {
        log::Log(Category::PageTrack, "BUG: remove gfn {:#x}: write-track count underflow", gfn);
        return Err(PageTrackError::Underflow);
    }
    ref.store(count - 1, std::memory_order_relaxed);
    CountsFor(client).removes++;
    trace::Trace(trace::Event::PageTrackRemove, "gfn={:#x} client={} count={}", gfn, client, count - 1);
    return {};
}

PageTrack::AddRemoveCounts& PageTrack::CountsFor(std::string_view client) {
    auto it = client_counts_.find(client);
    if (it == client_counts_.end()) it = client_counts_.emplace(std::string(client), AddRemoveCounts{}).first;
    return it->second;
}

std::vector<PageTrackClientStats> PageTrack::ClientStats() {
    std::vector<PageTrackClientStats> out;
    auto entry = [&out](std::string_view name) -> PageTrackClientStats& {
        for (PageTrackClientStats& s : out) {
            if (s.name == name) return s;
        }
        out.push_back(PageTrackClientStats{std::string(name)});
        return out.back();
    };
    entry("shadow").writes_seen = shadow_writes_.load(std::memory_order_relaxed);
    {
        std::lock_guard lock(track_lock_);
        for (const auto& [name, counts] : client_counts_) {
            PageTrackClientStats& s = entry(name);
            s.adds = counts.adds;
            s.removes = counts.removes;
        }
    }
    ForEachNotifier([&](PageTrackNotifier& n) {
        PageTrackClientStats& s = entry(n.name);
        s.writes_seen += n.writes_seen.load(std::memory_order_relaxed);
        s.regions_seen += n.regions_seen.load(std::memory_order_relaxed);
    });
    return out;
}

u16 PageTrack::TrackCount(Gfn gfn) const {
    if (!slots_.WriteTrackingEnabled()) return 0;
    Memslots::ReadSection section(slots_);
    auto counter = Counter(section, gfn);
    return counter ? counter->load(std::memory_order_relaxed) : 0;
}

bool PageTrack::IsWriteTracked(Gpa gpa) const {
    if (!slots_.WriteTrackingEnabled()) return false;  // disabled: one acquire load, no lookup
    return TrackCount(GfnOf(gpa)) != 0;
}

// ---- notifiers ----

void PageTrack::PublishList(std::unique_ptr<const NotifierList> list) {
    notifier_count_.store(static_cast<u32>(list->size()), std::memory_order_release);
    list_.store(list.get(), std::memory_order_seq_cst);
    std::unique_ptr<const NotifierList> old = std::exchange(list_owner_, std::move(list));
    notifier_rcu_.Synchronize();  // no dispatch still walks `old` (or runs a callback of a removed node)
}

Result<void, PageTrackError> PageTrack::Register(PageTrackNotifier* notifier) {
    if (!EnableTracking()) return Err(PageTrackError::OutOfMemory);
    std::lock_guard lock(list_mutex_);
    if (std::find(list_owner_->begin(), list_owner_->end(), notifier) != list_owner_->end()) {
        return Err(PageTrackError::AlreadyRegistered);
    }
    auto list = std::make_unique<NotifierList>(*list_owner_);
    list->push_back(notifier);
    PublishList(std::move(list));
    return {};
}

Result<void, PageTrackError> PageTrack::Unregister(PageTrackNotifier* notifier) {
    std::lock_guard lock(list_mutex_);
    auto list = std::make_unique<NotifierList>(*list_owner_);
    if (std::erase(*list, notifier) == 0) return Err(PageTrackError::NotRegistered);
    PublishList(std::move(list));
    return {};
}

template <typename F>
void PageTrack::ForEachNotifier(F&& f) {
    if (notifier_count_.load(std::memory_order_acquire) == 0) return;  // the common case: no list walk
    RcuReadGuard guard(notifier_rcu_);
    for (PageTrackNotifier* notifier : *list_.load(std::memory_order_seq_cst)) f(*notifier);
}

void PageTrack::SetMmuWriteHandler(MmuWriteHandler* handler, const std::atomic<u64>* indirect_shadow_pages) {
    indirect_shadow_pages_.store(indirect_shadow_pages, std::memory_order_relaxed);
    mmu_handler_.store(handler, std::memory_order_release);
}

void PageTrack::OnTrackedWrite(Gpa gpa, std::span<const u8> new_bytes) {
    if (MmuWriteHandler* mmu = mmu_handler_.load(std::memory_order_acquire)) {
        const std::atomic<u64>* shadow_pages = indirect_shadow_pages_.load(std::memory_order_relaxed);
        // Full fence: pairs with the MMU's fence after it counts a new shadow page (page-track.md section 5).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!shadow_pages || shadow_pages->load(std::memory_order_relaxed) != 0) {
            trace::Trace(trace::Event::PageTrackWrite, "gfn={:#x} client=shadow offset={:#x} bytes={}", GfnOf(gpa),
                         gpa.value() & kPageMask, new_bytes.size());
            shadow_writes_.fetch_add(1, std::memory_order_relaxed);
            mmu->TrackWrite(gpa, new_bytes);
        }
    }
    ForEachNotifier([&](PageTrackNotifier& n) {
        if (!n.track_write) return;
        trace::Trace(trace::Event::PageTrackWrite, "gfn={:#x} client={} offset={:#x} bytes={}", GfnOf(gpa), n.name,
                     gpa.value() & kPageMask, new_bytes.size());
        n.writes_seen.fetch_add(1, std::memory_order_relaxed);
        n.track_write(gpa, new_bytes);
    });
}

void PageTrack::CommitChange(const SlotChange& change) {
    if (change.kind != ChangeKind::Delete && change.kind != ChangeKind::Move) return;
    const SlotView& old = *change.old_slot;
    log::Log(Category::PageTrack, "remove region gfn {:#x} +{:#x} ({})", old.base_gfn(), old.npages(),
             change.kind == ChangeKind::Move ? "move" : "delete");
    ForEachNotifier([&](PageTrackNotifier& n) {
        if (!n.track_remove_region) return;
        trace::Trace(trace::Event::PageTrackRemoveRegion, "gfn={:#x} npages={:#x} client={} ({})", old.base_gfn(),
                     old.npages(), n.name, change.kind == ChangeKind::Move ? "move" : "delete");
        n.regions_seen.fetch_add(1, std::memory_order_relaxed);
        n.track_remove_region(old.base_gfn(), old.npages());
    });
}

}  // namespace emu::mmu
