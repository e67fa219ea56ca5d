#pragma once
// The shadow MMU, modelled on KVM's legacy x86 shadow MMU (arch/x86/kvm/mmu/mmu.c + paging_tmpl.h; see
// shared/design/page-track.md). It caches, per guest page-table page and role, what the guest walker found, so
// that a soft-TLB miss that hits a valid shadow entry (SPTE) does not touch guest page tables at all.
//
// Shape.
// * A shadow page (SP) has 512 SPTEs and is keyed by (gfn of the guest table it mirrors, Role) in a hash;
//   "direct" SPs map the 4 KiB pieces of a guest large page (no guest table behind them). New SPs go to the
//   head of a FIFO; fast-zapped (obsolete) ones are reclaimed from its tail.
// * Shadow levels always index 9 bits (shadow level L covers linear bits 12+9L-1 .. 12+9(L-1)). 4-level and
//   5-level guests have one root. PAE and 32-bit guests have four level-2 roots indexed by linear bits 31:30,
//   as KVM's pae_root: for PAE each mirrors the PD of a PDPTE (from the PDPTE cache); for 32-bit paging each
//   mirrors one quarter of the guest PD (Role::quadrant = bits 31:30). A 32-bit guest PT (1024 entries, 4 MiB)
//   is mirrored by two level-1 SPs (quadrant = linear bit 21), and each 4-byte guest PDE by two 2 MiB SPTEs.
// * An SPTE is either a link to a child SP, or a leaf: the guest frame of the 4 KiB page, the rights combined
//   over all levels (U, W, XD), the leaf's G and D bits and the guest page size; a leaf whose frame is in no
//   memslot is an MMIO leaf tagged with a truncated memslot generation (valid only while it equals the current
//   one and no change is in flight). Each SPTE also keeps the gPTE it was built from.
// * Role: level, format (32-bit/PAE/4-level/5-level: has_4_byte_gpte = 32-bit), quadrant, direct, access (U/W/XD
//   combined over the levels above), CR0.WP, CR4.PSE/SMEP/SMAP, EFER.NXE; direct SPs also carry the guest
//   leaf's D and G bits and page size, so a clean and a dirty large page never share pieces.
//
// Accessed/dirty bits as hardware: SPTEs are built only from successful walks (which set A at every level, D in
// the leaf for a write). A leaf SPTE whose D is clear serves reads and refused accesses, but a permitted write
// misses and walks again, which sets D. A walk's own A/D update of a gPTE is treated as a write to it: other SPs'
// SPTEs built from the old value are zapped, so a hit always answers exactly as Walk would.
//
// Write tracking. Every SP that mirrors a guest table accounts its gfn: PageTrack::AddGfn (count + 1), which calls
// back OnGfnTracked: writes to that gfn are demoted to the slow path in the TLB of every registered vCPU before
// AddGfn returns. The page-track count is the one "writes to this page trap" signal that the TLB fill and every
// other writer (DMA, loaders) consult, so the MMU's own write protection of a leaf table (KVM's rmap
// write-protect) is also a count, held by each level-1 SP while it is in sync. Tracking metadata is enabled lazily
// at the first shadow root (PageTrack::EnableTracking).
//
// Unsync leaf pages (KVM's mmu_try_to_unsync_pages / kvm_sync_page; page-track.md I2), ShadowOptions::unsync.
// * A trapped write to a gfn mirrored only by valid level-1 SPs, whose count is exactly the MMU's own (no other
//   tracker, no non-leaf SP, nothing obsolete), makes those SPs unsync: they drop their counts and the TLB entries
//   of the gfn are flushed, so further guest writes to that table are plain fast-path stores. Non-leaf tables never
//   go unsync (their counts stay: page-track.md I1).
// * An unsync SP's SPTEs may be stale only as a TLB entry may be: until the guest's next flush point. INVLPG drops
//   the address's leaf SPTE under the current roots; a MOV CR3 (OnCr3Write) or a paging-mode change including a
//   CR4.PGE toggle (OnPagingModeChange) syncs every unsync SP: write-protect again (AddGfn), then re-read each
//   gPTE and drop the SPTEs built from another value. A walk that links an unsync SP at a new place (it becomes
//   reachable from new linear addresses) re-reads it first, leaving it unsync (KVM's sync on reuse). An SPTE of an
//   unsync SP that would refuse the access is never trusted: the access walks (a #PF drops the TLB entry).
// * Instead of KVM's unsync-children bitmaps (sync only what the new root reaches) the MMU keeps one list of unsync
//   SPs and syncs all of them at every flush point: it holds exactly the tables written since the previous flush,
//   so the work is the same as KVM's while each root runs, and no per-parent state must be kept up to date.
// * add-gfn on an unsync gfn (page-track.md I2: a tracked gfn is never unsync): OnGfnTracked runs under
//   PageTrack's lock, which the MMU takes after mmu_lock_, so it cannot sync there. It demotes writes in every TLB
//   before add-gfn returns, and queues the gfn; every mmu_lock_ section begins by syncing queued gfns (Lock()), so
//   no shadow entry of that SP is used again before it is re-read and write-protected. The race with a concurrent
//   unsync is closed Dekker-style under unsync_lock_: the unsync publishes the gfn in unsync_gfns_ before it
//   reads the count; add-gfn raises the count before it looks the gfn up there; one of them sees the other.
//
// Write handler (TrackWrite, called directly by PageTrack's dispatcher while indirect_shadow_pages != 0): for every
// valid SP of the gfn, a misaligned write (KVM's rule: crosses a gPTE, or shorter than 4 bytes unless a 1-byte
// aligned write) zaps the SP; >= 3 writes to a non-leaf SP without a walk using it in between zap the SP; so does
// any write to an SP nothing links to and no vCPU holds as a root (emu64's addition: such orphans of a zapped parent
// would keep a page that went back to being data write-trapped until the next fast zap); else the
// whole gPTE is re-read (a 4-byte half of an 8-byte gPTE is widened) and the 1 or 2 SPTEs built from it are zapped
// unless the value is unchanged. TLB entries that may derive from a zapped SPTE are flushed on every vCPU before the
// handler returns (a leaf: entries mapping its frame; a link or a whole SP: everything). Then the gfn may go unsync.
//
// Ordering (page-track.md section 5): an SP is counted in indirect_shadow_pages, then a full fence, then
// accounted, and only then does the fault path re-read every gPTE of its walk; the dispatcher writes the bytes,
// fences, then reads the counter. So either the walk sees the new gPTE (it retries) or the handler sees the SP.
//
// Memslot DELETE/MOVE (MemslotMmuHook::OnSlotInvalidated): the fast zap. The generation is bumped (every SP becomes
// obsolete in O(1)), every vCPU TLB is flushed, vCPUs reload their roots at their next translation, and obsolete
// SPs are reclaimed lazily from the FIFO tail, 10 per translation miss, stopping at the first valid SP. Before a
// bump, leftovers of the previous one are reclaimed, so at most two generations coexist (I8). An obsolete SP whose
// gfn was in an invalidated slot is not unaccounted: its counter died with the slot (a later slot at the same gfns
// has its own counters).
//
// A cap on shadow pages (KVM's n_max_mmu_pages, ShadowOptions::max_pages): the guest decides how many tables it
// makes us mirror (random stores through 1 GiB pages build a PT per 2 MiB region), and each SP holds 8 KiB of SPTEs.
// Before a translation miss installs a path, if fewer than kMinFreePages are left under the cap, the oldest SPs that
// no vCPU holds as a root are zapped from the FIFO tail until kRefillPages are free (KVM's
// make_mmu_pages_available and kvm_mmu_zap_oldest_mmu_pages): obsolete ones as the reclaim would, valid ones as a
// write handler's zap does (parents' links cleared, children orphaned, the page-track count dropped, every TLB
// flushed), so the counts stay balanced. Roots are never zapped this way, so the cap can be passed by the roots
// alive (at most four per vCPU and root set kept).
//
// Non-paged mode (CR0.PG = 0) is not shadowed: Translate is Walk there (nothing to cache).
//
// Threads and locks. mmu_lock_ (KVM's mmu_lock, write mode) guards every SP, the hash, the FIFO, the unsync list and
// the stats. Lock order: Memslots::update_mutex_ -> mmu_lock_ -> PageTrack::track_lock_ -> {vcpus_mutex_,
// unsync_lock_} (the last two are leaves). EnableTracking runs
// before mmu_lock_ is taken. TlbShootdown callbacks are made with mmu_lock_ (or track_lock_) held: they must not
// call back into the MMU. A ShadowVcpu is used by its own thread only.
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "emu/common/address.h"
#include "emu/common/types.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/walk/walk.h"

namespace emu::mmu {

// How the MMU reaches one vCPU's TLB. With one vCPU the machine runs these on the vCPU's own thread; with SMP an
// implementation must run them on the target vCPU at a safe point and wait (QEMU's async_run_on_cpu + wait).
class TlbShootdown {
public:
    virtual ~TlbShootdown() = default;
    virtual void FlushAll() = 0;                   // every entry
    virtual void FlushGfn(Gfn gfn) = 0;            // every entry mapping gfn
    virtual void DemoteWritesToGfn(Gfn gfn) = 0;   // writes to gfn take the slow path
};

struct ShadowRole {
    u8 level = 0;     // shadow level 1..5
    u8 format = 0;    // PagingMode of the guest (Bits32, Pae, Level4, Level5)
    u8 quadrant = 0;  // 32-bit guests: which part of the 1024-entry guest table this SP mirrors
    u8 access = 0;    // kAccess* bits combined over the levels above (direct SPs: including the leaf)
    bool direct = false;
    bool cr0_wp = false, cr4_pse = false, smep = false, smap = false, efer_nx = false;
    // Direct SPs only: the guest leaf's D and G bits and page-size shift.
    bool leaf_dirty = false, leaf_global = false;
    u8 leaf_shift = 0;

    static constexpr u8 kAccessUser = 1, kAccessWrite = 2, kAccessXd = 4;
    static constexpr u8 kAccessAll = kAccessUser | kAccessWrite;

    bool has_4_byte_gpte() const { return format == static_cast<u8>(PagingMode::Bits32); }
    u64 Key() const;  // a unique packing, for hashing and equality
    bool operator==(const ShadowRole&) const = default;
};

struct ShadowStats {
    u64 pages_alive = 0;     // every SP not yet freed (valid, obsolete or invalid roots)
    u64 indirect_alive = 0;  // SPs mirroring a guest table (== indirect_shadow_pages)
    u64 pages_created = 0;
    u64 pages_zapped = 0;    // freed or invalidated, for any reason
    u64 roots_loaded = 0;    // root (re)loads by vCPUs
    u64 roots_created = 0;   // of which the root SP had to be created (else reused from the hash)
    u64 spte_hits = 0;       // translations answered from SPTEs
    u64 spte_misses = 0;     // translations that walked the guest tables
    u64 install_retries = 0; // a gPTE changed between the walk and the install
    u64 mmio_hits = 0;
    u64 mmio_stale = 0;      // MMIO leaves ignored because the memslot generation moved
    u64 write_calls = 0;     // TrackWrite calls
    u64 write_updated = 0;   // SPTEs zapped, their SPs kept
    u64 write_zapped = 0;    // calls that zapped a whole SP (misaligned or flooded)
    u64 write_unchanged = 0; // gPTE value unchanged: nothing to do
    u64 write_ignored = 0;   // no valid SP mirrors the gfn
    u64 write_misaligned = 0;
    u64 write_flooded = 0;
    u64 write_orphans = 0;   // SPs zapped at a write because nothing links to them (not in KVM: see TrackWrite)
    u64 ad_zaps = 0;         // SPTEs zapped because a walk's A/D update changed their gPTE
    u64 invlpg = 0;
    u64 fast_zaps = 0;
    u64 obsolete_reclaimed = 0;
    u64 mmio_gen_wraps = 0;
    u64 unsync_now = 0;       // SPs currently unsync
    u64 unsync_made = 0;      // SPs made unsync by a trapped write
    u64 unsync_refused = 0;   // unsync refused: another tracker holds the gfn
    u64 synced = 0;           // unsync SPs synced (write-protected and re-read) at a flush point or add-gfn
    u64 sync_on_reuse = 0;    // unsync SPs re-read because a walk linked them at a new place
    u64 sync_dropped = 0;     // SPTEs found stale and dropped by those re-reads
    u64 resync_requests = 0;  // add-gfn by anyone on a gfn with unsync SPs
    u64 cap_zaps = 0;         // SPs zapped from the FIFO tail to stay under ShadowOptions::max_pages

    std::string ToString() const;
};

// Extra information about one translation, for tests and the machine.
struct ShadowTranslateInfo {
    bool spte_hit = false;  // answered from SPTEs without reading guest tables
    bool mmio = false;      // the leaf is in no memslot
};

struct ShadowOptions {
    unsigned mmio_gen_bits = 12;  // generation bits kept in an MMIO leaf (1..12); wrap => fast zap
    u64 reclaim_batch = 10;       // obsolete SPs reclaimed per translation miss
    bool unsync = UnsyncDefault(); // leaf guest tables may go unsync (see the header comment)
    // The cap on shadow pages (see the header comment): 16,384 SPs are 128 MiB of SPTEs, as many as KVM allows a
    // 3 GiB guest (2% of its pages), and several times what a Linux boot with its processes mirrors.
    u64 max_pages = 16384;

    // true unless the environment sets EMU64_SHADOW_UNSYNC=0 (for A/B measurements without a rebuild).
    static bool UnsyncDefault();
};

class ShadowMmu;
struct ShadowPage;

// One vCPU's view: its current roots. The translation interface matches Walk's.
class ShadowVcpu {
public:
    ~ShadowVcpu();
    ShadowVcpu(const ShadowVcpu&) = delete;
    ShadowVcpu& operator=(const ShadowVcpu&) = delete;

    WalkResult Translate(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags,
                         PhysMemory& memory, ShadowTranslateInfo* info = nullptr);
    // MOV CR3 (a flush point): syncs every unsync SP; the next translation selects (or reuses) the root of the new
    // CR3. TLB flushing is the caller's.
    void OnCr3Write();
    // CR0/CR4/EFER change (a new role, or a CR4.PGE toggle): same, the old role's SPs stay for reuse.
    void OnPagingModeChange();
    // INVLPG: drops the leaf SPTE of `linear` under the roots of regs (TLB flushing is the caller's).
    void Invlpg(const PagingRegs& regs, u64 linear);

private:
    friend class ShadowMmu;
    ShadowVcpu(ShadowMmu& mmu, TlbShootdown* tlb) : mmu_(mmu), tlb_(tlb) {}

    ShadowMmu& mmu_;
    TlbShootdown* tlb_;
    // Current roots (guarded by the MMU's lock): index 0 for 4/5-level, 0..3 by linear bits 31:30 otherwise.
    std::array<ShadowPage*, 4> roots_{};
    bool roots_loaded_ = false;
    u64 root_cr3_ = 0;
    u64 root_role_key_ = 0;
    std::array<u64, 4> root_pdptes_{};
};

class ShadowMmu final : public MmuWriteHandler, private MemslotMmuHook, private MemslotObserver {
public:
    // Registers itself with slots (MMU hook, observer) and page_track (write handler). Both must outlive it.
    ShadowMmu(Memslots& slots, PageTrack& page_track, ShadowOptions options = {});
    ~ShadowMmu() override;
    ShadowMmu(const ShadowMmu&) = delete;
    ShadowMmu& operator=(const ShadowMmu&) = delete;

    // A vCPU; tlb may be null (tests). The vCPU must be destroyed before the MMU.
    std::unique_ptr<ShadowVcpu> AddVcpu(TlbShootdown* tlb);

    // MmuWriteHandler.
    void TrackWrite(Gpa gpa, std::span<const u8> new_bytes) override;
    void OnGfnTracked(Gfn gfn, bool newly_tracked) override;

    // The fast zap (also run by memslot DELETE/MOVE and at MMIO generation wrap).
    void ZapAllFast();
    // Frees every SP now (KVM's kvm_mmu_zap_all): all MMU write-track counts return to zero.
    void ZapAll();

    ShadowStats Stats() const;
    const std::atomic<u64>& indirect_shadow_pages() const { return indirect_shadow_pages_; }

    // ---- checkers for tests (take the lock; the non-const ones first sync gfns queued by add-gfn) ----
    // Valid SPs mirroring gfn (indirect), and all valid SPs.
    u64 ValidPagesForGfn(Gfn gfn);
    u64 ValidPages() const;
    // Valid SPs or SPTE leaves referring to a gfn in [first, first + npages).
    u64 ValidReferencesTo(Gfn first, u64 npages);
    // Generations present among live SPs, and whether obsolete SPs form the FIFO tail.
    u64 GenerationsAlive() const;
    bool ObsoleteFormTail() const;
    // Structural self-check: hash/FIFO/parent links/accounting agree. Returns "" or a description.
    std::string CheckInvariants();
    // Reclaims up to n obsolete SPs from the tail; returns how many (stops at the first valid SP).
    u64 ReclaimObsolete(u64 n);
    // Unsync SPs (all, or mirroring gfn). Like every checker, first syncs gfns queued by add-gfn.
    u64 UnsyncPages();
    u64 UnsyncPagesForGfn(Gfn gfn);

private:
    friend class ShadowVcpu;
    struct DeadRange {
        Gfn first;
        u64 npages;
        u64 generation;  // SPs created before this generation are in the dead slot's counters
    };

    // MemslotMmuHook / MemslotObserver.
    void OnSlotInvalidated(const SlotView& old) override;
    void CommitChange(const SlotChange& change) override;

    // Takes mmu_lock_ and syncs the gfns add-gfn queued (see the header comment): use it for every section that
    // reads or changes SPs. mmu_lock_ alone is taken only by the memslot hooks.
    std::unique_lock<std::mutex> Lock();
    void ServiceResyncRequests();
    void TryUnsync(Gfn gfn);
    void ForgetUnsync(ShadowPage* sp);
    void SyncPage(ShadowPage* sp, bool zap_unreachable, bool* flush_all, std::vector<Gfn>* flush_gfns);
    void RefreshPage(ShadowPage* sp, bool* flush_all, std::vector<Gfn>* flush_gfns);
    void SyncAllLocked();
    void EnsureTrackingEnabled();
    bool Obsolete(const ShadowPage* sp) const;
    ShadowPage* Find(Gfn gfn, const ShadowRole& role) const;
    ShadowPage* GetPage(Gfn gfn, const ShadowRole& role, bool* created);  // null if accounting failed
    bool Account(ShadowPage* sp);
    void Unaccount(ShadowPage* sp);
    void ZapPage(ShadowPage* sp);
    void FreePage(ShadowPage* sp);
    void DropEntry(ShadowPage* sp, unsigned index, bool* flush_all, std::vector<Gfn>* flush_gfns);
    void Link(ShadowPage* parent, unsigned index, ShadowPage* child, u64 gpte);
    void ReclaimLocked(u64 n);
    void ForgetDeadRanges();
    void MakeRoomLocked();
    void ZapAllFastLocked();
    void ReleaseRoot(ShadowPage* sp);
    void Flush(bool all, const std::vector<Gfn>& gfns);
    bool ZapStaleGpte(Gfn gfn, unsigned offset, unsigned gpte_bytes, u64 value, const ShadowPage* keep_sp,
                      bool* flush_all, std::vector<Gfn>* flush_gfns);
    bool ReadGpte(Gpa gpa, unsigned bytes, u64* value) const;
    u64 MmioGen(u64 generation) const { return generation & ((u64{1} << options_.mmio_gen_bits) - 1); }

    // Called by ShadowVcpu with mmu_lock_ held.
    bool LoadRoots(ShadowVcpu& vcpu, const PagingRegs& regs, PagingMode mode);
    void DropRoots(ShadowVcpu& vcpu);
    enum class InstallStatus { Installed, Retry, Uncached };
    InstallStatus Install(ShadowVcpu& vcpu, const PagingRegs& regs, const WalkTrace& trace);
    bool LookupLocked(ShadowVcpu& vcpu, const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags,
                      WalkResult* result, ShadowTranslateInfo* info);

    Memslots& slots_;
    PageTrack& page_track_;
    ShadowOptions options_;

    mutable std::mutex mmu_lock_;
    std::unordered_multimap<Gfn, ShadowPage*> hash_;
    ShadowPage* fifo_head_ = nullptr;  // newest
    ShadowPage* fifo_tail_ = nullptr;  // oldest
    std::vector<ShadowPage*> invalid_roots_;  // zapped while a vCPU still held them
    u64 generation_ = 1;
    std::vector<DeadRange> dead_ranges_;
    std::optional<DeadRange> pending_dead_;  // set by OnSlotInvalidated, confirmed by the commit
    ShadowStats stats_;
    std::atomic<u64> indirect_shadow_pages_{0};
    std::atomic<bool> root_allocated_{false};
    std::vector<ShadowPage*> unsync_pages_;  // every unsync SP (ShadowPage::unsync_index is its position)

    // Leaf lock shared with OnGfnTracked (which runs under PageTrack's lock, so it cannot take mmu_lock_).
    std::mutex unsync_lock_;
    std::unordered_map<Gfn, u32> unsync_gfns_;  // gfn -> unsync SPs mirroring it (published before the count read)
    std::vector<Gfn> resync_requests_;          // gfns add-gfn found here, synced at the next Lock()
    std::atomic<bool> resync_requested_{false};

    std::mutex vcpus_mutex_;
    std::vector<ShadowVcpu*> vcpus_;
};

}  // namespace emu::mmu
