#include "devices/gpu/engine/gpu_shadow.h"

#include <cstring>

#include <fmt/format.h>

#include "emu/common/log.h"

namespace emu::devices::gpu {

using regs::FaultReason;

std::string GpuShadowStats::ToString() const {
    return fmt::format(
        "tracked gfns {}, shadow tables {}, writes seen {} ({} partial), entry updates {}, rebuilds {}, "
        "regions removed {} ({} entries), add-gfn {}, remove-gfn {}",
        tracked_gfns, shadow_tables, writes_seen, partial_writes, entry_updates, rebuilds, regions_removed,
        entries_removed, add_gfn_calls, remove_gfn_calls);
}

GpuShadow::GpuShadow(mmu::Memslots& slots, mmu::PageTrack& page_track)
    : page_track_(page_track), memory_(slots, nullptr) {
    node_.name = "gpu";
    node_.track_write = [this](Gpa gpa, std::span<const u8> bytes) { OnWrite(gpa, bytes); };
    node_.track_remove_region = [this](Gfn first, u64 npages) { OnRemoveRegion(first, npages); };
    registered_ = page_track_.Register(&node_).ok();
}

GpuShadow::~GpuShadow() {
    {
        std::lock_guard lock(mutex_);
        UnbindLocked();
    }
    // Outside mutex_: Unregister waits until no callback runs, and a callback may be waiting for mutex_.
    if (registered_) (void)page_track_.Unregister(&node_);
}

bool GpuShadow::Bind(Gpa root_gpa) {
    std::lock_guard lock(mutex_);
    UnbindLocked();
    ++stats_.rebuilds;
    root_ = Acquire(GfnOf(root_gpa), kGptLevels);
    log::Log(log::Category::Gpu, "gpu: bind root {:#x}: {}", root_gpa.value(),
             root_ ? StatsLocked().ToString() : "not RAM");
    return root_ != nullptr;
}

void GpuShadow::Unbind() {
    {
        std::lock_guard lock(mutex_);
        UnbindLocked();
    }
    log::Log(log::Category::Gpu, "gpu: unbind: {}", Stats().ToString());
}

bool GpuShadow::bound() const {
    std::lock_guard lock(mutex_);
    return root_ != nullptr;
}

void GpuShadow::UnbindLocked() {
    if (root_) Release(root_);
    root_ = nullptr;
    pending_.clear();
}

void GpuShadow::Track(Gfn gfn) {
    if (gfn_users_.contains(gfn)) {
        ++gfn_users_[gfn];
        return;
    }
    ++stats_.add_gfn_calls;
    if (!page_track_.AddGfn(gfn, "gpu").ok()) {
        // Cannot happen for a page just read from a slot with tracking enabled; the table is then not tracked.
        log::Log(log::Category::Gpu, "gpu: add-gfn {:#x} refused: table not write-tracked", gfn);
        return;
    }
    gfn_users_[gfn] = 1;
}

void GpuShadow::Untrack(Gfn gfn) {
    auto it = gfn_users_.find(gfn);
    if (it == gfn_users_.end()) return;  // never tracked, or its counter died with a removed slot
    if (--it->second != 0) return;
    gfn_users_.erase(it);
    ++stats_.remove_gfn_calls;
    if (!page_track_.RemoveGfn(gfn, "gpu").ok()) log::Log(log::Category::Gpu, "gpu: remove-gfn {:#x} refused", gfn);
}

GpuShadow::Table* GpuShadow::Acquire(Gfn gfn, unsigned level) {
    const Key key{gfn, level};
    if (auto it = tables_.find(key); it != tables_.end()) {
        ++it->second->refs;
        return it->second.get();
    }
    std::array<u64, kGptEntries> guest;
    if (!memory_.Read(GpaOf(gfn).value(), std::span<u8>(reinterpret_cast<u8*>(guest.data()), kPageSize))) {
        return nullptr;
    }
    auto owned = std::make_unique<Table>();
    Table* table = owned.get();
    table->gfn = gfn;
    table->level = level;
    table->refs = 1;
    tables_.emplace(key, std::move(owned));
    // Track before reading children is not needed for correctness (one mutex covers both), but it keeps the
    // order KVM-GT uses: protect the page, then trust its contents.
    Track(gfn);
    for (unsigned i = 0; i < kGptEntries; ++i) SyncEntry(*table, i, guest[i]);
    return table;
}

void GpuShadow::Release(Table* table) {
    if (--table->refs != 0) return;
    for (Entry& e : table->entries) {
        if (e.child) Release(e.child);
        e.child = nullptr;
    }
    if (table->dead) {
        std::erase_if(dead_, [&](const auto& t) { return t.get() == table; });
        return;
    }
    const Key key{table->gfn, table->level};
    for (unsigned i = 0; i < kGptEntries; ++i) pending_.erase({key, i});
    Untrack(table->gfn);
    tables_.erase(key);
}

void GpuShadow::SyncEntry(Table& table, unsigned index, u64 guest) {
    Entry& e = table.entries[index];
    Table* old_child = e.child;
    Table* new_child = nullptr;
    // Acquire the new subtree before releasing the old one, so a subtree shared by both is not torn down.
    if (table.level > 1 && (guest & kGptPresent) && GptEntryValid(guest)) {
        new_child = Acquire(GptFrame(guest), table.level - 1);
    }
    e.guest = guest;
    e.child = new_child;
    e.removed = false;
    if (old_child) Release(old_child);
    ++stats_.entry_updates;
}

void GpuShadow::OnWrite(Gpa gpa, std::span<const u8> bytes) {
    std::lock_guard lock(mutex_);
    const Gfn gfn = GfnOf(gpa);
    if (!gfn_users_.contains(gfn) || bytes.empty()) return;
    ++stats_.writes_seen;
    const u64 offset = gpa.page_offset();
    const bool whole_entry = bytes.size() == kGptEntrySize && offset % kGptEntrySize == 0;
    if (!whole_entry) ++stats_.partial_writes;
    for (unsigned level = 1; level <= kGptLevels; ++level) {
        auto it = tables_.find(Key{gfn, level});
        if (it == tables_.end()) continue;
        if (whole_entry) {
            u64 value;
            std::memcpy(&value, bytes.data(), sizeof(value));
            SyncEntry(*it->second, static_cast<unsigned>(offset / kGptEntrySize), value);
            continue;
        }
        // KVM-GT's post-shadow: the entry may be half written; re-read it whole before the next use.
        const u64 last = std::min<u64>(offset + bytes.size(), kPageSize) - 1;
        for (u64 i = offset / kGptEntrySize; i <= last / kGptEntrySize; ++i) {
            pending_.insert({it->first, static_cast<unsigned>(i)});
        }
    }
}

void GpuShadow::ResolvePending() {
    std::lock_guard lock(mutex_);
    while (!pending_.empty()) {
        const auto [key, index] = *pending_.begin();
        pending_.erase(pending_.begin());
        auto it = tables_.find(key);
        if (it == tables_.end()) continue;
        u64 value = 0;
        if (!memory_.ReadObject(GpaOf(key.first).value() + index * kGptEntrySize, &value)) continue;
        SyncEntry(*it->second, index, value);
    }
}

void GpuShadow::OnRemoveRegion(Gfn first, u64 npages) {
    std::lock_guard lock(mutex_);
    const auto in_range = [&](Gfn gfn) { return gfn - first < npages; };
    // Tables whose own page went away: no longer keyed or tracked (the counters died with the slot). A guard
    // reference keeps each alive while the others' entries are released below.
    std::vector<Table*> gone;
    for (auto it = tables_.begin(); it != tables_.end();) {
        if (!in_range(it->first.first)) {
            ++it;
            continue;
        }
        Table* t = it->second.get();
        t->dead = true;
        ++t->refs;
        gfn_users_.erase(t->gfn);
        pending_.erase(pending_.lower_bound({it->first, 0}), pending_.upper_bound({it->first, kGptEntries}));
        dead_.push_back(std::move(it->second));
        gone.push_back(t);
        it = tables_.erase(it);
    }
    u64 removed = 0;
    const auto drop_entries = [&](Table& t) {
        for (Entry& e : t.entries) {
            if (!(e.guest & kGptPresent) || e.removed) continue;
            if (!t.dead && !in_range(GptFrame(e.guest))) continue;
            e.removed = true;
            ++removed;
            if (e.child) Release(std::exchange(e.child, nullptr));
        }
    };
    for (Table* t : gone) drop_entries(*t);
    for (auto& [key, t] : tables_) drop_entries(*t);
    for (Table* t : gone) Release(t);
    if (removed != 0 || !gone.empty()) ++stats_.regions_removed;
    stats_.entries_removed += removed;
    log::Log(log::Category::Gpu, "gpu: remove region gfn {:#x} +{}: {} tables gone, {} entries removed", first,
             npages, gone.size(), removed);
}

GptTranslation GpuShadow::Translate(u64 gva, bool write) {
    std::lock_guard lock(mutex_);
    if (gva >> kGvaBits) return {FaultReason::BadAddress, {}};
    const Table* table = root_;
    if (!table) return {FaultReason::NotBound, {}};
    for (unsigned level = kGptLevels;; --level) {
        if (table->dead) return {FaultReason::Removed, {}};
        const Entry& e = table->entries[GptIndex(gva, level)];
        if (e.removed) return {FaultReason::Removed, {}};
        if (!(e.guest & kGptPresent)) return {FaultReason::NotPresent, {}};
        if (!GptEntryValid(e.guest)) return {FaultReason::BadEntry, {}};
        if (level == 1) {
            if (write && !(e.guest & kGptWritable)) return {FaultReason::ReadOnly, {}};
            return {FaultReason::None, Gpa((e.guest & kGptAddrMask) | (gva & kPageMask))};
        }
        if (!e.child) return {FaultReason::NotRam, {}};
        table = e.child;
    }
}

GpuShadowStats GpuShadow::Stats() const {
    std::lock_guard lock(mutex_);
    return StatsLocked();
}

GpuShadowStats GpuShadow::StatsLocked() const {
    GpuShadowStats s = stats_;
    s.tracked_gfns = gfn_users_.size();
    s.shadow_tables = tables_.size() + dead_.size();
    return s;
}

std::vector<Gfn> GpuShadow::TrackedGfns() const {
    std::lock_guard lock(mutex_);
    std::vector<Gfn> out;
    for (const auto& [gfn, users] : gfn_users_) out.push_back(gfn);
    return out;
}

bool GpuShadow::Tracks(Gfn gfn) const {
    std::lock_guard lock(mutex_);
    return gfn_users_.contains(gfn);
}

}  // namespace emu::devices::gpu
