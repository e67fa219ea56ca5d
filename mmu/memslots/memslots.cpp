#include "mmu/memslots/memslots.h"

#include <algorithm>

#include "emu/common/bits.h"
#include "emu/common/log.h"
#include "emu/common/trace.h"

namespace emu::mmu {

using log::Category;

namespace {

constexpr u64 BitmapWords(u64 npages) { return (npages + 63) / 64; }

const char* KindName(ChangeKind kind) {
    switch (kind) {
    case ChangeKind::Create: return "create";
    case ChangeKind::Delete: return "delete";
    case ChangeKind::Move: return "move";
    case ChangeKind::FlagsOnly: return "flags-only";
    case ChangeKind::Unchanged: return "unchanged";
    }
    return "?";
}

}  // namespace

// Everything a change needs, computed before anything becomes visible.
struct Memslots::Plan {
    SlotChange change;
    SlotEntry new_entry;                  // CREATE/MOVE/FLAGS_ONLY
    std::unique_ptr<SlotMeta> new_meta;   // CREATE/MOVE: allocated at prepare
    std::optional<ZeroedArray<u64>> new_dirty;  // FLAGS_ONLY turning dirty logging on
};

Memslots::Memslots() : current_owner_(std::make_unique<MemslotSnapshot>()), metas_(kMaxSlots) {
    SetCurrent(current_owner_.get());
}

// seq_cst: RcuDomain's grace-period argument needs the pointer store ordered before Synchronize's loads, and a
// reader that sees the new generation (loaded seq_cst) then sees the new snapshot too.
void Memslots::SetCurrent(const MemslotSnapshot* snapshot) {
    current_.store(snapshot, std::memory_order_seq_cst);
    generation_.store(snapshot->generation, std::memory_order_seq_cst);
}

Memslots::~Memslots() = default;

// ---- readers ----

const SlotEntry* Memslots::ReadSection::Find(Gpa gpa) const {
    const std::vector<SlotEntry>& entries = snapshot_->entries;
    const u32 hint = snapshot_->last_hit.load(std::memory_order_relaxed);
    if (hint < entries.size() && entries[hint].Contains(gpa)) [[likely]] {
        return entries[hint].invalid ? nullptr : &entries[hint];
    }
    auto it = std::upper_bound(entries.begin(), entries.end(), gpa,
                               [](Gpa g, const SlotEntry& e) { return g < e.base; });
    if (it == entries.begin()) return nullptr;
    --it;
    if (!it->Contains(gpa) || it->invalid) return nullptr;
    // Store only on change, so vCPUs hitting the same slot do not bounce the snapshot's cache line.
    snapshot_->last_hit.store(static_cast<u32>(it - entries.begin()), std::memory_order_relaxed);
    return &*it;
}

const SlotEntry* Memslots::ReadSection::FindById(SlotId id) const {
    for (const SlotEntry& e : snapshot_->entries) {
        if (e.id == id && !e.invalid) return &e;
    }
    return nullptr;
}

std::optional<HostPtr> Memslots::Translate(Gpa gpa) const {
    ReadSection section(*this);
    const SlotEntry* e = section.Find(gpa);
    if (!e) return std::nullopt;
    return e->host + (gpa - e->base);
}

std::optional<HostPtr> Memslots::TranslateForWrite(Gpa gpa) const {
    ReadSection section(*this);
    const SlotEntry* e = section.Find(gpa);
    if (!e || HasFlag(e->flags, SlotFlags::ReadOnly)) return std::nullopt;
    return e->host + (gpa - e->base);
}

std::optional<SlotView> Memslots::FindSlot(Gpa gpa) const {
    ReadSection section(*this);
    const SlotEntry* e = section.Find(gpa);
    if (!e) return std::nullopt;
    return e->View(section.generation());
}

std::optional<SlotView> Memslots::GetSlot(SlotId id) const {
    ReadSection section(*this);
    const SlotEntry* e = section.FindById(id);
    if (!e) return std::nullopt;
    return e->View(section.generation());
}

std::vector<SlotView> Memslots::Slots() const {
    ReadSection section(*this);
    std::vector<SlotView> views;
    for (const SlotEntry& e : section.entries()) {
        if (!e.invalid) views.push_back(e.View(section.generation()));
    }
    return views;
}

u64 Memslots::Generation() const { return generation_.load(std::memory_order_seq_cst); }

// ---- dirty logging ----

bool Memslots::MarkDirty(Gpa gpa) {
    ReadSection section(*this);
    const SlotEntry* e = section.Find(gpa);
    if (!e || !HasFlag(e->flags, SlotFlags::LogDirtyPages)) return false;
    u64* bitmap = e->meta->dirty_bitmap.load(std::memory_order_acquire);
    if (!bitmap) return false;
    const u64 page = (gpa - e->base) >> kPageShift;
    std::atomic_ref<u64> word(bitmap[page / 64]);
    const u64 bit = u64{1} << (page % 64);
    // Test first: re-dirtying a dirty page (the common case) then costs no locked RMW.
    if (!(word.load(std::memory_order_relaxed) & bit)) word.fetch_or(bit, std::memory_order_relaxed);
    return true;
}

Result<std::vector<u64>, MemslotError> Memslots::GetAndClearDirtyLog(SlotId id) {
    if (id >= kMaxSlots) return Err(MemslotError::InvalidId);
    // The updater is the only one that frees bitmaps, and it holds this mutex while doing so.
    std::lock_guard lock(update_mutex_);
    const SlotEntry* entry = nullptr;
    for (const SlotEntry& e : current_owner_->entries) {
        if (e.id == id) entry = &e;
    }
    if (!entry) return Err(MemslotError::NoSuchSlot);
    u64* bitmap = entry->meta->dirty_bitmap.load(std::memory_order_acquire);
    if (!HasFlag(entry->flags, SlotFlags::LogDirtyPages) || !bitmap) return Err(MemslotError::DirtyLogDisabled);
    std::vector<u64> out(BitmapWords(entry->meta->npages));
    for (u64 i = 0; i < out.size(); ++i) {
        out[i] = std::atomic_ref<u64>(bitmap[i]).exchange(0, std::memory_order_relaxed);
    }
    return out;
}

// ---- write-track storage ----

bool Memslots::AllocateWriteTrack(SlotMeta& meta, u64 npages) {
    if (meta.write_track.load(std::memory_order_relaxed)) return true;
    std::optional<ZeroedArray<u16>> counters = ZeroedArray<u16>::Allocate(npages);
    if (!counters) return false;
    meta.track_storage = std::move(*counters);
    meta.write_track.store(meta.track_storage.data(), std::memory_order_release);
    return true;
}

bool Memslots::EnableWriteTracking() {
    if (WriteTrackingEnabled()) return false;
    std::lock_guard lock(update_mutex_);
    if (write_tracking_enabled_.load(std::memory_order_relaxed)) return false;  // lost the race
    for (const std::unique_ptr<SlotMeta>& meta : metas_) {
        if (!meta || meta->write_track.load(std::memory_order_relaxed)) continue;
        if (!AllocateWriteTrack(*meta, meta->npages)) {
            log::Log(Category::Memslot, "write tracking: counter allocation failed, still disabled");
            return false;  // slots already done keep their counters; a retry skips them
        }
        write_track_allocations_.fetch_add(1, std::memory_order_relaxed);
    }
    // Release: whoever sees the flag sees every slot's counters.
    write_tracking_enabled_.store(true, std::memory_order_release);
    return true;
}

// ---- registration ----

void Memslots::SetMmuHook(MemslotMmuHook* hook) {
    std::lock_guard lock(update_mutex_);
    mmu_hook_ = hook;
}

void Memslots::AddObserver(MemslotObserver* observer) {
    std::lock_guard lock(update_mutex_);
    if (std::find(observers_.begin(), observers_.end(), observer) == observers_.end()) observers_.push_back(observer);
}

void Memslots::RemoveObserver(MemslotObserver* observer) {
    std::lock_guard lock(update_mutex_);
    std::erase(observers_, observer);
}

void Memslots::SetPrepareFaultInjector(std::function<bool(const SlotChange&)> injector) {
    std::lock_guard lock(update_mutex_);
    prepare_fault_ = std::move(injector);
}

// ---- updates ----

Result<Memslots::Plan, MemslotError> Memslots::Classify(SlotId id, Gpa base, u64 size, SlotFlags flags,
                                                      HostPtr host) const {
    // The checks of kvm_set_memory_region, in its order.
    if (u32(flags) & ~kKnownSlotFlags) return Err(MemslotError::InvalidFlags);
    if (!IsAligned(size, kPageSize)) return Err(MemslotError::UnalignedSize);
    if (!IsAligned(base.value(), kPageSize)) return Err(MemslotError::UnalignedBase);
    if (size != 0 && (!host || !IsAligned(reinterpret_cast<uintptr_t>(host.get()), kPageSize))) {
        return Err(MemslotError::UnalignedHost);
    }
    if (id >= kMaxSlots) return Err(MemslotError::InvalidId);
    const u64 limit = u64{1} << kGuestPhysBits;
    if (base.value() + size < base.value() || base.value() + size > limit) return Err(MemslotError::OutOfRange);
    if ((size >> kPageShift) > kMaxSlotPages) return Err(MemslotError::TooLarge);

    const u64 generation = current_owner_->generation;
    const SlotEntry* old = nullptr;
    for (const SlotEntry& e : current_owner_->entries) {
        if (e.id == id) old = &e;
    }
    Plan plan;
    if (old) plan.change.old_slot = old->View(generation);
    if (size == 0) {
        if (!old) return Err(MemslotError::NoSuchSlot);
        plan.change.kind = ChangeKind::Delete;
        return plan;
    }
    if (!old) {
        plan.change.kind = ChangeKind::Create;
    } else {
        if (host != old->host) return Err(MemslotError::HostChange);
        if (size != old->size) return Err(MemslotError::Resize);
        if (HasFlag(SlotFlags(u32(flags) ^ u32(old->flags)), SlotFlags::ReadOnly)) {
            return Err(MemslotError::ReadOnlyChange);
        }
        if (base != old->base) {
            plan.change.kind = ChangeKind::Move;
        } else if (flags != old->flags) {
            plan.change.kind = ChangeKind::FlagsOnly;
        } else {
            plan.change.kind = ChangeKind::Unchanged;
            return plan;
        }
    }
    if (plan.change.kind != ChangeKind::FlagsOnly) {
        for (const SlotEntry& e : current_owner_->entries) {
            if (e.id != id && base.value() < e.base.value() + e.size && e.base.value() < base.value() + size) {
                return Err(MemslotError::Overlap);
            }
        }
    }
    plan.new_entry = SlotEntry{id, false, flags, base, size, host, old ? old->meta : nullptr};
    plan.change.new_slot = plan.new_entry.View(generation + 1);
    return plan;
}

bool Memslots::Prepare(Plan& plan) {
    const SlotChange& change = plan.change;
    if (prepare_fault_ && prepare_fault_(change)) return false;

    const u64 npages = plan.new_entry.size >> kPageShift;
    const bool logs = HasFlag(plan.new_entry.flags, SlotFlags::LogDirtyPages);
    if (change.kind == ChangeKind::Create || change.kind == ChangeKind::Move) {
        // A MOVE gets fresh metadata: its counters start at zero (clients were told the old range went away).
        plan.new_meta = std::make_unique<SlotMeta>();
        plan.new_meta->npages = npages;
        if (logs) {
            std::optional<ZeroedArray<u64>> bitmap = ZeroedArray<u64>::Allocate(BitmapWords(npages));
            if (!bitmap) return false;
            plan.new_meta->dirty_storage = std::move(*bitmap);
            plan.new_meta->dirty_bitmap.store(plan.new_meta->dirty_storage.data(), std::memory_order_relaxed);
        }
        if (write_tracking_enabled_.load(std::memory_order_relaxed) && !AllocateWriteTrack(*plan.new_meta, npages)) {
            return false;
        }
        plan.new_entry.meta = plan.new_meta.get();
    } else if (change.kind == ChangeKind::FlagsOnly && logs &&
               !HasFlag(change.old_slot->flags, SlotFlags::LogDirtyPages)) {
        plan.new_dirty = ZeroedArray<u64>::Allocate(BitmapWords(npages));
        if (!plan.new_dirty) return false;
    }

    for (size_t i = 0; i < observers_.size(); ++i) {
        if (!observers_[i]->PrepareChange(change)) {
            for (size_t j = 0; j < i; ++j) observers_[j]->AbortChange(change);
            return false;
        }
    }
    return true;
}

void Memslots::Publish(std::unique_ptr<MemslotSnapshot> snapshot) {
    SetCurrent(snapshot.get());
    current_owner_ = std::move(snapshot);
}

Result<ChangeKind, MemslotError> Memslots::SetMemoryRegion(SlotId id, Gpa base, u64 size, SlotFlags flags,
                                                           HostPtr host) {
    std::lock_guard lock(update_mutex_);
    Result<Plan, MemslotError> classified = Classify(id, base, size, flags, host);
    if (!classified) {
        log::Log(Category::Memslot, "slot {} gpa {:#x} size {:#x}: rejected (error {})", id, base.value(), size,
                 static_cast<int>(classified.error()));
        return Err(classified.error());
    }
    Plan& plan = *classified;
    const ChangeKind kind = plan.change.kind;
    if (kind == ChangeKind::Unchanged) return kind;

    std::unique_ptr<const MemslotSnapshot> original = PublishInProgress(plan);
    if (kind == ChangeKind::Delete || kind == ChangeKind::Move) {
        rcu_.Synchronize();  // no reader still holds the valid old slot
        if (mmu_hook_) mmu_hook_->OnSlotInvalidated(*plan.change.old_slot);
    }
    if (!Prepare(plan)) {
        // Put the original snapshot (and generation) back; the in-progress one dies after a grace period.
        SetCurrent(original.get());
        std::unique_ptr<const MemslotSnapshot> in_progress = std::exchange(current_owner_, std::move(original));
        rcu_.Synchronize();
        log::Log(Category::Memslot, "slot {} {}: prepare failed, aborted", id, KindName(kind));
        trace::Trace(trace::Event::MemslotChange, "slot={} kind={} gfn={:#x} npages={:#x} aborted", id, KindName(kind),
                     base.page(), size >> kPageShift);
        return Err(MemslotError::PrepareFailed);
    }
    Commit(plan, std::move(original));
    log::Log(Category::Memslot, "slot {} {}: gpa {:#x} size {:#x} flags {:#x}, generation {}", id, KindName(kind),
             base.value(), size, u32(flags), Generation());
    trace::Trace(trace::Event::MemslotChange, "slot={} kind={} gfn={:#x} npages={:#x} flags={:#x} generation={}", id,
                 KindName(kind), base.page(), size >> kPageShift, u32(flags), Generation());
    return kind;
}

std::unique_ptr<const MemslotSnapshot> Memslots::PublishInProgress(const Plan& plan) {
    std::unique_ptr<const MemslotSnapshot> original = std::move(current_owner_);
    auto in_progress = std::make_unique<MemslotSnapshot>();
    in_progress->entries = original->entries;
    in_progress->generation = original->generation | kGenerationInProgress;
    if (plan.change.kind == ChangeKind::Delete || plan.change.kind == ChangeKind::Move) {
        for (SlotEntry& e : in_progress->entries) {
            if (e.id == plan.change.old_slot->id) e.invalid = true;  // KVM_MEMSLOT_INVALID: lookups miss it
        }
    }
    Publish(std::move(in_progress));
    return original;
}

void Memslots::Commit(Plan& plan, std::unique_ptr<const MemslotSnapshot> original) {
    const ChangeKind kind = plan.change.kind;
    const SlotId id = plan.change.old_slot ? plan.change.old_slot->id : plan.new_entry.id;
    auto final_snapshot = std::make_unique<MemslotSnapshot>();
    final_snapshot->generation = original->generation + 1;
    for (const SlotEntry& e : original->entries) {
        if (e.id != id) final_snapshot->entries.push_back(e);
    }
    if (kind != ChangeKind::Delete) final_snapshot->entries.push_back(plan.new_entry);
    std::sort(final_snapshot->entries.begin(), final_snapshot->entries.end(),
              [](const SlotEntry& a, const SlotEntry& b) { return a.base < b.base; });

    std::unique_ptr<SlotMeta> retired_meta;  // DELETE/MOVE: freed after the grace period below
    if (kind == ChangeKind::Delete || kind == ChangeKind::Move) retired_meta = std::move(metas_[id]);
    if (plan.new_meta) metas_[id] = std::move(plan.new_meta);
    bool retire_bitmap = false;
    if (kind == ChangeKind::FlagsOnly) {
        SlotMeta& meta = *metas_[id];
        if (plan.new_dirty) {  // visible before the flag that makes readers use it
            meta.dirty_storage = std::move(*plan.new_dirty);
            meta.dirty_bitmap.store(meta.dirty_storage.data(), std::memory_order_release);
        } else if (!HasFlag(plan.new_entry.flags, SlotFlags::LogDirtyPages)) {
            meta.dirty_bitmap.store(nullptr, std::memory_order_release);
            retire_bitmap = true;
        }
    }
    std::unique_ptr<const MemslotSnapshot> in_progress = std::move(current_owner_);
    Publish(std::move(final_snapshot));
    rcu_.Synchronize();  // nobody still sees the original or in-progress snapshot, or the retired data
    if (retire_bitmap) metas_[id]->dirty_storage = {};

    for (MemslotObserver* observer : observers_) observer->CommitChange(plan.change);
}

}  // namespace emu::mmu
