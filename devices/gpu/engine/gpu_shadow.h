#pragma once
// GpuShadow: the engine's shadow of one context's GPU page tables (gpu_pt.h), kept coherent the way Intel's
// KVM-GT keeps its PPGTT shadow: as an external page-track client (shared/design/page-track.md, sections 2.5
// and 8).
//
// * Bind walks the guest's tables from the root, builds one shadow table per (gfn, level) reached, and calls
//   PageTrack::AddGfn once per distinct gfn holding a table (own reference counts, so a page used as two tables
//   or at two levels is tracked once by the engine). Unbind releases everything: counts go back to zero.
// * track_write: an aligned 8-byte write to a tracked table updates that shadow entry at once (building or
//   releasing subtrees); any other write (1, 2, 4 bytes, misaligned, or a DMA burst) only records the entries it
//   touched, which are re-read from guest memory and resolved before the engine's next command (KVM-GT's
//   post-shadow).
// * track_remove_region (a DELETE or MOVE committed): tables in the range are dropped (their counters died with
//   the slot, so no RemoveGfn) and every shadow entry pointing into the range, table or data page, becomes
//   "removed": a later translation through it faults with FaultReason::Removed instead of touching whatever is
//   there now. A new bind rebuilds from the guest's current tables.
// * Translate: walks the shadow only, never the guest's memory (the shadow is the whole point).
//
// Threads: callbacks may run on any thread; one mutex guards everything. Translate takes it per call, so the
// engine must not hold it while writing guest memory (its writes re-enter through track_write).
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "devices/gpu/engine/gpu_pt.h"
#include "devices/gpu/engine/regs.h"
#include "devices/virtio/dma_memory.h"
#include "emu/common/address.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::devices::gpu {

struct GpuShadowStats {
    u64 tracked_gfns = 0;     // distinct gfns the engine write-tracks now
    u64 shadow_tables = 0;    // shadow tables alive now
    u64 writes_seen = 0;      // track_write calls on a gfn the engine tracks
    u64 partial_writes = 0;   // of which deferred to the next command (not one aligned 8-byte entry)
    u64 entry_updates = 0;    // shadow entries re-synced from the guest (immediately or deferred)
    u64 rebuilds = 0;         // binds (full walks of the guest tables)
    u64 regions_removed = 0;  // track_remove_region calls that hit something the engine shadowed
    u64 entries_removed = 0;  // shadow entries turned "removed" by them
    u64 add_gfn_calls = 0;
    u64 remove_gfn_calls = 0;
    std::string ToString() const;
};

struct GptTranslation {
    regs::FaultReason fault = regs::FaultReason::None;
    Gpa gpa;  // valid when fault == None
};

class GpuShadow {
public:
    // Registers the page-track client (enables write tracking). page_track must outlive this object.
    GpuShadow(mmu::Memslots& slots, mmu::PageTrack& page_track);
    ~GpuShadow();  // unbinds and unregisters
    GpuShadow(const GpuShadow&) = delete;
    GpuShadow& operator=(const GpuShadow&) = delete;

    bool registered() const { return registered_; }

    // Drops any previous shadow and builds one from the root table at root_gpa. False if the root is not RAM
    // (the context is then unbound). Tables deeper down that are not RAM fault when used.
    bool Bind(Gpa root_gpa);
    void Unbind();
    bool bound() const;

    // Resolves recorded partial writes. The engine calls it before each command.
    void ResolvePending();
    GptTranslation Translate(u64 gva, bool write);

    GpuShadowStats Stats() const;
    std::vector<Gfn> TrackedGfns() const;  // ascending
    bool Tracks(Gfn gfn) const;

private:
    struct Table;
    struct Entry {
        u64 guest = 0;                // the guest entry this shadow entry was built from
        Table* child = nullptr;       // levels 4..2: the next shadow table (null: not RAM, or not present)
        bool removed = false;         // what it names went away in a committed DELETE/MOVE
    };
    struct Table {
        Gfn gfn = 0;
        unsigned level = 0;
        u32 refs = 0;          // parent entries (and the root binding) using it
        bool dead = false;     // its own page was removed: no longer keyed, no longer tracked
        std::array<Entry, kGptEntries> entries{};
    };
    using Key = std::pair<Gfn, unsigned>;

    // All private functions are called with mutex_ held.
    Table* Acquire(Gfn gfn, unsigned level);
    void Release(Table* table);
    void SyncEntry(Table& table, unsigned index, u64 guest);
    void Track(Gfn gfn);
    void Untrack(Gfn gfn);
    void UnbindLocked();
    GpuShadowStats StatsLocked() const;
    void OnWrite(Gpa gpa, std::span<const u8> bytes);
    void OnRemoveRegion(Gfn first, u64 npages);

    mmu::PageTrack& page_track_;
    virtio::DmaMemory memory_;  // reads only: guest tables
    mmu::PageTrackNotifier node_;
    bool registered_ = false;

    mutable std::mutex mutex_;
    Table* root_ = nullptr;
    std::map<Key, std::unique_ptr<Table>> tables_;  // live tables by (gfn, level)
    std::vector<std::unique_ptr<Table>> dead_;      // removed tables still referenced by a parent
    std::map<Gfn, u32> gfn_users_;                  // live tables per gfn: AddGfn at 0 -> 1, RemoveGfn at 1 -> 0
    std::set<std::pair<Key, unsigned>> pending_;    // entries of live tables touched by partial writes
    GpuShadowStats stats_;
};

}  // namespace emu::devices::gpu
