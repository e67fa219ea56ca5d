#pragma once
// PageTrack: per-gfn write tracking (KVM's page_track.c after the 2023 cleanup, see
// shared/design/page-track.md) plus the tracked-write dispatcher.
//
// * Counters: one u16 per gfn, stored in the gfn's memslot (SlotMeta::write_track), so they die with the
//   slot: a DELETE drops them, a MOVE's new slot starts at zero, FLAGS_ONLY keeps them. AddGfn/RemoveGfn
//   take a gfn (the slot is found here) and must balance; going past 65535 or below 0 is refused, returned as
//   an error and logged in category PageTrack. IsWriteTracked is a plain load after the slot lookup, and
//   only a flag test while tracking is disabled.
// * Lazy enable: EnableTracking() (first shadow root, or Register() of the first external client) makes
//   Memslots allocate counters for every slot exactly once and publish the enabled flag with release.
// * Writes: OnTrackedWrite(gpa, bytes) is called by every writer (CPU store slow path, DMA, debugger, loader)
//   after the bytes are in guest RAM. It calls the shadow MMU's handler directly (no notifier, no list walk),
//   gated by the MMU's "indirect shadow pages" counter read after a full fence (pairs with the fence the
//   MMU puts after incrementing it, so a racing gPTE walk and the write cannot miss each other), then the
//   external notifiers if any is registered (one atomic load when none is).
//   NOTE: upstream KVM and page-track.md section 7 call the external notifiers first; the emu64 issue asks
//   for the MMU first. Nothing depends on the order: clients see only bytes already in RAM.
// * Regions: track_remove_region(first gfn, npages) is sent to external notifiers when a DELETE or MOVE of
//   the slot holding them commits (PageTrack is a MemslotObserver of commits), never at the speculative
//   flush, never for an aborted change. emu64 allows MOVE with clients attached (page-track.md section 8):
//   they drop their protection of the old range and rebuild on the new one.
// * Notifier list: an immutable vector published by atomic pointer; dispatch runs inside a read section of
//   this object's RcuDomain; Unregister unlinks, then waits for a grace period, so once it returns no callback
//   of that node runs and the node may be freed.
//
// Lock order (outer first):
//   Memslots::update_mutex_ -> notifier read section (dispatch) -> client locks taken in callbacks
//     -> memslot read section -> track_lock_ -> MmuWriteHandler::OnGfnTracked
//   list_mutex_ (Register/Unregister) is taken alone; Unregister waits for the grace period holding only it.
// So callbacks may call AddGfn/RemoveGfn/IsWriteTracked (no deadlock: nothing above is held exclusively by
// a waiter that needs the callback to return), but must not call Register/Unregister/EnableTracking or
// change memslots (they would wait for themselves).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emu/common/address.h"
#include "emu/common/result.h"
#include "emu/common/types.h"
#include "mmu/memslots/memslots.h"
#include "mmu/memslots/rcu.h"

namespace emu::mmu {

enum class PageTrackError {
    NotEnabled,         /*!< write tracking used before EnableTracking (caller bug) */
    NoSlot,             /*!< gfn is not in any memslot */
    Overflow,           /*!< write-track count would exceed 65535 (unbalanced add) */
    Underflow,          /*!< write-track count would go below zero (remove without matching add) */
    AlreadyRegistered,  /*!< page-track notifier is already registered */
    NotRegistered,      /*!< page-track notifier is not registered */
    OutOfMemory,        /*!< write-track counters could not be allocated */
};

// An external client's node (the GPU, the translated-block cache). Both callbacks are optional. They run
// outside every lock of this module (see the lock order above) and may run concurrently on several threads.
struct PageTrackNotifier {
    // The client's name in trace events (page_track_write, page_track_remove_region).
    const char* name = "unnamed";
    // After a write to a tracked page landed in guest RAM: the written address and the new bytes.
    std::function<void(Gpa gpa, std::span<const u8> new_bytes)> track_write;
    // A memslot DELETE or MOVE committed: gfns [first, first + npages) no longer exist there. Counters died
    // with the slot: do not call RemoveGfn for them.
    std::function<void(Gfn first, u64 npages)> track_remove_region;
    // Counted by the dispatcher (`info page-track`).
    std::atomic<u64> writes_seen{0};
    std::atomic<u64> regions_seen{0};
};

// One client's page-track activity (`info page-track`): AddGfn/RemoveGfn calls made under its name, and what the
// dispatcher told it. adds - removes is the gfns it holds, less the counts that died with a deleted or moved slot.
struct PageTrackClientStats {
    std::string name;
    u64 adds = 0, removes = 0;
    u64 writes_seen = 0, regions_seen = 0;
};

// Implemented by the shadow MMU.
class MmuWriteHandler {
public:
    virtual ~MmuWriteHandler() = default;
    // A write landed on a page (the MMU filters for its shadowed gfns, zaps/updates SPTEs).
    virtual void TrackWrite(Gpa gpa, std::span<const u8> new_bytes) = 0;
    // AddGfn just counted gfn (called with track_lock_ held, before AddGfn returns): write-protect every
    // mapping of gfn and disallow huge pages over it. `newly_tracked`: the count was 0. While it stays above 0 no
    // mapping can have become writable (every fill consults the count), so only then is a remote flush needed (KVM
    // flushes only if write-protecting changed an SPTE).
    virtual void OnGfnTracked(Gfn, bool /*newly_tracked*/) {}
};

class PageTrack final : private MemslotObserver {
public:
    explicit PageTrack(Memslots& slots);  // registers itself as an observer of slots
    ~PageTrack() override;
    PageTrack(const PageTrack&) = delete;
    PageTrack& operator=(const PageTrack&) = delete;

    // Returns whether tracking is enabled afterwards (false only if counter allocation failed; retry later).
    bool EnableTracking();
    bool TrackingEnabled() const { return slots_.WriteTrackingEnabled(); }

    // `client` names the caller in trace events (page_track_add, page_track_remove). Both return NoSlot for a gfn
    // whose slot a committed DELETE or MOVE removed before the client heard track_remove_region (a client racing
    // with the change): harmless, since the counters died with the slot; the client drops its state at the callback.
    Result<void, PageTrackError> AddGfn(Gfn gfn, std::string_view client = "unnamed");
    Result<void, PageTrackError> RemoveGfn(Gfn gfn, std::string_view client = "unnamed");
    bool IsWriteTracked(Gpa gpa) const;
    u16 TrackCount(Gfn gfn) const;  // 0 if untracked, disabled or no slot

    // Register enables tracking first (OutOfMemory if that fails). Unregister returns once no callback of the
    // node is running; the node may then be freed. Neither may be called from a callback.
    Result<void, PageTrackError> Register(PageTrackNotifier* notifier);
    Result<void, PageTrackError> Unregister(PageTrackNotifier* notifier);
    bool HasExternalNotifiers() const { return notifier_count_.load(std::memory_order_acquire) != 0; }

    // Set once by the shadow MMU before vCPUs run. `indirect_shadow_pages` must outlive this object; with a
    // null counter the handler is called for every tracked write.
    void SetMmuWriteHandler(MmuWriteHandler* handler, const std::atomic<u64>* indirect_shadow_pages);

    // The dispatcher: call after new_bytes were written at gpa (within one page).
    void OnTrackedWrite(Gpa gpa, std::span<const u8> new_bytes);

    // Per client, by name: the shadow MMU ("shadow"), each registered notifier and each name given to AddGfn.
    std::vector<PageTrackClientStats> ClientStats();

private:
    using NotifierList = std::vector<PageTrackNotifier*>;

    void CommitChange(const SlotChange& change) override;
    template <typename F>
    void ForEachNotifier(F&& f);
    void PublishList(std::unique_ptr<const NotifierList> list);
    struct AddRemoveCounts;
    AddRemoveCounts& CountsFor(std::string_view client);  // call with track_lock_ held
    Result<std::atomic_ref<u16>, PageTrackError> Counter(const Memslots::ReadSection& section, Gfn gfn) const;

    Memslots& slots_;
    std::mutex track_lock_;  // KVM's mmu_lock for the counters; readers of counters do not take it
    struct AddRemoveCounts {
        u64 adds = 0, removes = 0;
    };
    std::map<std::string, AddRemoveCounts, std::less<>> client_counts_;  // under track_lock_
    std::atomic<u64> shadow_writes_{0};

    std::mutex list_mutex_;
    RcuDomain notifier_rcu_;
    std::atomic<const NotifierList*> list_{nullptr};
    std::unique_ptr<const NotifierList> list_owner_;
    std::atomic<u32> notifier_count_{0};

    std::atomic<MmuWriteHandler*> mmu_handler_{nullptr};
    std::atomic<const std::atomic<u64>*> indirect_shadow_pages_{nullptr};
};

}  // namespace emu::mmu
