#pragma once
// Memslots: the guest-physical memory map (KVM's kvm_memslots), slot changes with KVM's semantics, dirty
// logging and the per-slot write-track counter storage used by mmu/page_track.
//
// Readers (vCPU threads: Translate, FindSlot, MarkDirty, page-track queries) never lock. The slot set is an
// immutable Snapshot (entries sorted by base, a generation number, a last-hit hint) published by an atomic
// pointer store; a reader pins it with a ReadSection of an RcuDomain (see rcu.h: one lock xadd in, one out,
// on a per-thread stripe, ~10 ns) and looks up with the last-hit hint, else a binary search. The updater
// (SetMemoryRegion, serialized by update_mutex_ = KVM's slots_lock) builds a new snapshot, publishes it,
// waits for a grace period (RcuDomain::Synchronize) and only then frees what readers could still see.
//
// A change runs as in kvm_set_memslot:
//   1. validate and classify (CREATE / DELETE / MOVE / FLAGS_ONLY, or Unchanged); on error nothing changes;
//   2. publish an in-progress snapshot: generation | kGenerationInProgress, and for DELETE/MOVE the old slot
//      marked invalid (lookups miss it); wait for readers; then call the MMU hook directly
//      (MemslotMmuHook::OnSlotInvalidated: the shadow MMU zaps; speculative, the change may still abort);
//   3. prepare: the test fault injector, this module's allocations (dirty bitmap, write-track counters),
//      then each observer's PrepareChange; a failure aborts: observers that prepared get AbortChange, the
//      original snapshot (and generation) is republished, nobody else is told anything;
//   4. commit: publish the final snapshot with generation + 1, wait for readers, observers' CommitChange
//      (page_track sends track_remove_region from there), then free the old slot's metadata.
// The generation therefore changes only when a change commits. A consumer caching something derived from a
// lookup (e.g. an MMIO TLB tag) must take the generation from the same ReadSection / SlotView and never
// cache while kGenerationInProgress is set: such values never equal a later generation, and an aborted
// change, which restores the previous generation, left nothing cached behind.
//
// Coupling with page_track: the per-gfn write-track counters live here, in each slot's SlotMeta, so that
// they die with the slot (a MOVE's new slot starts at zero, FLAGS_ONLY keeps them) and IsWriteTracked is one
// load after the lookup. Memslots only allocates and frees them; page_track owns their meaning (add/remove
// balance) and the notifier list, and learns about committed changes as a MemslotObserver. Memslots does not
// know page_track exists.
//
// Lock order: update_mutex_ -> observer callbacks -> (memslot read sections) . Never call SetMemoryRegion,
// EnableWriteTracking or GetAndClearDirtyLog from an observer/hook callback or inside a ReadSection.
#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "emu/common/address.h"
#include "emu/common/result.h"
#include "emu/common/types.h"
#include "mmu/memslots/rcu.h"

namespace emu::mmu {

using SlotId = u32;
inline constexpr u32 kMaxSlots = 512;                         // ids 0..511
inline constexpr u64 kMaxSlotPages = (u64{1} << 31) - 1;      // KVM_MEM_MAX_NR_PAGES
inline constexpr u64 kGuestPhysBits = 52;                     // architectural MAXPHYADDR limit
inline constexpr u64 kGenerationInProgress = u64{1} << 63;    // KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS

enum class SlotFlags : u32 {
    None = 0,
    ReadOnly = 1u << 0,       // guest writes must not reach the host backing (the write path refuses them)
    LogDirtyPages = 1u << 1,  // MarkDirty records written pages in a per-slot bitmap
};
inline constexpr u32 kKnownSlotFlags = 0x3;
constexpr SlotFlags operator|(SlotFlags a, SlotFlags b) { return SlotFlags(u32(a) | u32(b)); }
constexpr SlotFlags operator&(SlotFlags a, SlotFlags b) { return SlotFlags(u32(a) & u32(b)); }
constexpr bool HasFlag(SlotFlags flags, SlotFlags flag) { return (u32(flags) & u32(flag)) != 0; }

enum class ChangeKind {
    Create,     // unknown id (or a deleted one) with a non-zero size
    Delete,     // size 0 for an existing id
    Move,       // same id, same size and host, new base
    FlagsOnly,  // same id, base, size and host; only LOG_DIRTY_PAGES differs
    Unchanged,  // identical to the existing slot: success, nothing happens (KVM returns 0)
};

enum class MemslotError {
    InvalidId,           /*!< slot id is not below kMaxSlots */
    InvalidFlags,        /*!< unknown slot flag bits */
    UnalignedBase,       /*!< guest physical base is not 4 KiB aligned */
    UnalignedSize,       /*!< slot size is not a multiple of 4 KiB */
    UnalignedHost,       /*!< host backing is null or not 4 KiB aligned */
    TooLarge,            /*!< slot has more than kMaxSlotPages pages */
    OutOfRange,          /*!< base + size wraps or exceeds the 52-bit guest physical address space */
    NoSuchSlot,          /*!< no slot with this id (delete of an unknown id, or a query) */
    Resize,              /*!< an existing slot cannot change size: delete it and create it again */
    HostChange,          /*!< an existing slot cannot change its host backing */
    ReadOnlyChange,      /*!< READONLY cannot be toggled on an existing slot */
    Overlap,             /*!< the range overlaps another slot */
    PrepareFailed,       /*!< preparing the change failed (allocation or an observer refused): nothing changed */
    DirtyLogDisabled,    /*!< the slot does not have LOG_DIRTY_PAGES */
};

// A copy of one slot's public state, plus the generation of the snapshot it was read from.
struct SlotView {
    SlotId id = 0;
    Gpa base;
    u64 size = 0;
    SlotFlags flags = SlotFlags::None;
    HostPtr host;
    u64 generation = 0;

    Gfn base_gfn() const { return GfnOf(base); }
    u64 npages() const { return size >> kPageShift; }
    Gpa end() const { return base + size; }  // exclusive
    bool Contains(Gpa gpa) const { return gpa >= base && gpa < end(); }
    bool read_only() const { return HasFlag(flags, SlotFlags::ReadOnly); }
    bool operator==(const SlotView&) const = default;
};

// What a change does; old_slot for DELETE/MOVE/FLAGS_ONLY, new_slot for CREATE/MOVE/FLAGS_ONLY.
struct SlotChange {
    ChangeKind kind = ChangeKind::Unchanged;
    std::optional<SlotView> old_slot;
    std::optional<SlotView> new_slot;
};

// The shadow MMU's direct hook (KVM: kvm_arch_flush_shadow_memslot, no longer a page-track notifier).
class MemslotMmuHook {
public:
    virtual ~MemslotMmuHook() = default;
    // DELETE/MOVE: `old` is already invisible to lookups and no reader still uses it. Zap every shadow page,
    // SPTE and TLB entry that refers to it. Speculative: the change may still abort and restore the slot.
    virtual void OnSlotInvalidated(const SlotView& old) = 0;
};

// Two-phase observers (the MMU's metadata, page_track). Called with update_mutex_ held.
class MemslotObserver {
public:
    virtual ~MemslotObserver() = default;
    // May refuse the change (return false): the change aborts. Nothing is visible yet.
    virtual bool PrepareChange(const SlotChange&) { return true; }
    // Undo PrepareChange: a later step of the same change failed. Only observers that prepared are called.
    virtual void AbortChange(const SlotChange&) {}
    // The change is final and published; for DELETE/MOVE no reader still sees the old slot.
    virtual void CommitChange(const SlotChange&) {}
};

// A zero-filled array from calloc: large arrays stay virtual (untouched pages cost nothing) and there is
// no constructor loop. Elements are accessed through std::atomic_ref.
template <typename T>
class ZeroedArray {
public:
    ZeroedArray() = default;
    static std::optional<ZeroedArray> Allocate(u64 count) {
        ZeroedArray a;
        a.data_.reset(static_cast<T*>(std::calloc(count ? count : 1, sizeof(T))));
        if (!a.data_) return std::nullopt;
        a.count_ = count;
        return a;
    }
    T* data() const { return data_.get(); }
    u64 size() const { return count_; }

private:
    struct Free {
        void operator()(T* p) const { std::free(p); }
    };
    std::unique_ptr<T, Free> data_;
    u64 count_ = 0;
};

// Mutable metadata of one slot incarnation (a MOVE creates a new one). Pointers are published with release
// and read with acquire by lock-free readers; the arrays are owned by Memslots and freed after a grace period.
struct SlotMeta {
    std::atomic<u64*> dirty_bitmap{nullptr};  // npages bits, when LOG_DIRTY_PAGES is set
    std::atomic<u16*> write_track{nullptr};   // npages counters, once write tracking is enabled
    u64 npages = 0;
    ZeroedArray<u64> dirty_storage;
    ZeroedArray<u16> track_storage;
};

// One slot in a snapshot. Immutable once published.
struct SlotEntry {
    SlotId id = 0;
    bool invalid = false;  // KVM_MEMSLOT_INVALID: lookups skip it
    SlotFlags flags = SlotFlags::None;
    Gpa base;
    u64 size = 0;
    HostPtr host;
    SlotMeta* meta = nullptr;

    bool Contains(Gpa gpa) const { return gpa >= base && gpa - base < size; }
    SlotView View(u64 generation) const { return SlotView{id, base, size, flags, host, generation}; }
};

struct MemslotSnapshot {
    std::vector<SlotEntry> entries;  // sorted by base, non-overlapping
    u64 generation = 0;
    mutable std::atomic<u32> last_hit{0};  // index of the last entry a lookup hit; a hint, racy by design
};

class Memslots {
public:
    Memslots();
    ~Memslots();
    Memslots(const Memslots&) = delete;
    Memslots& operator=(const Memslots&) = delete;

    // KVM_SET_USER_MEMORY_REGION. Size 0 deletes. Returns what was done; on error nothing changed.
    Result<ChangeKind, MemslotError> SetMemoryRegion(SlotId id, Gpa base, u64 size, SlotFlags flags, HostPtr host);

    // Lock-free lookups, callable from any thread at any time.
    std::optional<HostPtr> Translate(Gpa gpa) const;
    std::optional<HostPtr> TranslateForWrite(Gpa gpa) const;  // misses on READONLY slots
    std::optional<SlotView> FindSlot(Gpa gpa) const;
    std::optional<SlotView> GetSlot(SlotId id) const;  // invalid (in-flight DELETE/MOVE) slots are absent
    std::vector<SlotView> Slots() const;               // valid slots, sorted by base
    u64 Generation() const;

    // Pins the current snapshot. Entries returned by Find stay valid (and their SlotMeta alive) until the
    // section ends. Short sections only; see the lock order above.
    class ReadSection {
    public:
        explicit ReadSection(const Memslots& slots)
            : slots_(slots), token_(slots.rcu_.ReadLock()), snapshot_(slots.current_.load(std::memory_order_seq_cst)) {}
        ~ReadSection() { slots_.rcu_.ReadUnlock(token_); }
        ReadSection(const ReadSection&) = delete;
        ReadSection& operator=(const ReadSection&) = delete;

        const SlotEntry* Find(Gpa gpa) const;  // valid slot containing gpa, or null
        const SlotEntry* FindById(SlotId id) const;
        std::span<const SlotEntry> entries() const { return snapshot_->entries; }  // includes invalid ones
        u64 generation() const { return snapshot_->generation; }

    private:
        const Memslots& slots_;
        RcuDomain::Token token_;
        const MemslotSnapshot* snapshot_;
    };

    // Dirty logging. MarkDirty returns false if gpa is in no slot or its slot does not log.
    bool MarkDirty(Gpa gpa);
    // Returns the slot's bitmap (bit i = page i, 64 pages per word) and clears it, word by word atomically.
    Result<std::vector<u64>, MemslotError> GetAndClearDirtyLog(SlotId id);

    // Write-track counter storage (meaning owned by mmu/page_track). EnableWriteTracking allocates counters
    // for every existing slot exactly once, however many threads race, and publishes the enabled flag with
    // release; slots created afterwards get counters at prepare. Returns true if this call did the work.
    // Returns false on allocation failure too, leaving tracking disabled (retry later), as KVM does.
    bool EnableWriteTracking();
    bool WriteTrackingEnabled() const { return write_tracking_enabled_.load(std::memory_order_acquire); }
    // Number of slots given counters by the lazy pass of EnableWriteTracking (not by later creations).
    u64 WriteTrackAllocations() const { return write_track_allocations_.load(std::memory_order_relaxed); }

    // Registration; call while no change runs on another thread (takes update_mutex_).
    void SetMmuHook(MemslotMmuHook* hook);
    void AddObserver(MemslotObserver* observer);
    void RemoveObserver(MemslotObserver* observer);
    // Test hook: called at the start of prepare; returning true makes the prepare step fail.
    void SetPrepareFaultInjector(std::function<bool(const SlotChange&)> injector);

private:
    struct Plan;
    Result<Plan, MemslotError> Classify(SlotId id, Gpa base, u64 size, SlotFlags flags, HostPtr host) const;
    bool Prepare(Plan& plan);
    std::unique_ptr<const MemslotSnapshot> PublishInProgress(const Plan& plan);  // returns the original
    void Commit(Plan& plan, std::unique_ptr<const MemslotSnapshot> original);
    void Publish(std::unique_ptr<MemslotSnapshot> snapshot);
    static bool AllocateWriteTrack(SlotMeta& meta, u64 npages);

    mutable RcuDomain rcu_;
    void SetCurrent(const MemslotSnapshot* snapshot);

    std::atomic<const MemslotSnapshot*> current_;
    std::atomic<u64> generation_{0};  // current_->generation, readable without a read section (every access asks)
    // Owned by the updater; readers see them only through snapshots.
    std::unique_ptr<const MemslotSnapshot> current_owner_;
    std::vector<std::unique_ptr<SlotMeta>> metas_;  // by id; null if the id is free

    std::mutex update_mutex_;
    MemslotMmuHook* mmu_hook_ = nullptr;
    std::vector<MemslotObserver*> observers_;
    std::function<bool(const SlotChange&)> prepare_fault_;
    std::atomic<bool> write_tracking_enabled_{false};
    std::atomic<u64> write_track_allocations_{0};
};

}  // namespace emu::mmu
