// The shadow MMU; see shadow_mmu.h for the design and the lock order.
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/walk/pte.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <limits>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "emu/common/bits.h"
#include "emu/common/log.h"
#include "emu/common/trace.h"

namespace emu::mmu {

namespace {

constexpr unsigned kSptesPerPage = 512;
constexpr unsigned kMaxInstallAttempts = 4;
// The cap's slack (KVM's KVM_MIN_FREE_MMU_PAGES and KVM_REFILL_PAGES): one Install creates at most 9 SPs (4 tables
// and 4 direct pieces of a large page below a root), so room for 10 is made, 25 at a time.
constexpr u64 kMinFreePages = 10, kRefillPages = 25;

// Guest entry bits used here (SDM Vol. 3 4.3 - 4.5).
constexpr u64 kGpteUser = pte::kUser;
constexpr u64 kGpteWrite = pte::kWritable;
constexpr u64 kGpteXd = pte::kNoExecute;
constexpr u64 kGptePresent = pte::kPresent;
constexpr u64 kGpteDirty = pte::kDirty;
constexpr u64 kGpteGlobal = pte::kGlobal;
constexpr u64 kTableMask = LowMask(kMaxPhysAddrBits) & ~kPageMask;

// Our SPTE encoding. A link holds the child's address | kLink; a leaf holds the 4 KiB guest frame and the
// attributes the walk found.
namespace spte {
constexpr u64 kLink = 1;
constexpr u64 kLeaf = 2;
constexpr u64 kMmio = 4;
constexpr u64 kUser = 8;
constexpr u64 kWrite = 16;
constexpr u64 kXd = 32;
constexpr u64 kDirty = 64;
constexpr u64 kGlobal = 128;
constexpr unsigned kSizeShift = 8;  // 2 bits: 0 = 4 KiB, 1 = 2 MiB, 2 = 4 MiB, 3 = 1 GiB
constexpr unsigned kFrameShift = 12;
constexpr u64 kFrameMask = LowMask(kMaxPhysAddrBits - kPageShift);
constexpr unsigned kPkeyShift = kFrameShift + kMaxPhysAddrBits - kPageShift;  // 4 bits: the leaf's protection key
constexpr unsigned kGenShift = 52;
constexpr unsigned kMaxGenBits = 12;
constexpr std::array<u8, 4> kSizeShifts{12, 21, 22, 30};
static_assert(kPkeyShift + 4 <= kGenShift);
}  // namespace spte

unsigned ShadowIndex(unsigned level, u64 linear) { return (linear >> (kPageShift + 9 * (level - 1))) & 511; }

u64 LoadAtomic(const u8* host, unsigned bytes) {
    if (bytes == 4) return std::atomic_ref<u32>(*reinterpret_cast<u32*>(const_cast<u8*>(host))).load();
    return std::atomic_ref<u64>(*reinterpret_cast<u64*>(const_cast<u8*>(host))).load();
}

u8 SizeCode(u64 page_size) {
    for (u8 i = 0; i < spte::kSizeShifts.size(); ++i) {
        if (page_size == u64{1} << spte::kSizeShifts[i]) return i;
    }
    return 0;
}

}  // namespace

struct Spte {
    u64 value = 0;  // 0: not present
    u64 gpte = 0;   // the gPTE value this entry was built from (indirect SPs; 0 in direct SPs)
};

struct ShadowPage {
    Gfn gfn = 0;
    ShadowRole role;
    u64 role_key = 0;
    u64 generation = 0;
    u32 root_count = 0;
    u32 write_flooding = 0;
    bool invalid = false;    // zapped while a vCPU held it as a root
    bool accounted = false;  // counted in indirect_shadow_pages (every indirect SP until it is zapped)
    bool tracked = false;    // holds a PageTrack count on gfn (accounted and not unsync)
    bool unsync = false;     // a leaf whose guest table the guest may write freely until the next flush point
    u32 unsync_index = 0;    // position in ShadowMmu::unsync_pages_ while unsync
    ShadowPage* newer = nullptr;
    ShadowPage* older = nullptr;
    std::vector<std::pair<ShadowPage*, u16>> parents;  // SPTEs linking to this SP
    Spte* sptes = nullptr;                             // kSptesPerPage entries, from calloc

    bool Leaf() const { return role.level == 1; }
    unsigned GpteBytes() const { return role.has_4_byte_gpte() ? 4 : 8; }
};

namespace {

bool IsLink(u64 v) { return (v & spte::kLink) != 0; }
bool IsLeaf(u64 v) { return (v & spte::kLeaf) != 0; }
ShadowPage* LinkTarget(u64 v) { return reinterpret_cast<ShadowPage*>(v & ~spte::kLink); }
Gfn LeafFrame(u64 v) { return (v >> spte::kFrameShift) & spte::kFrameMask; }

// The indices of sp's SPTEs built from the gPTE at byte gpte_offset of the guest table (quadrant math for 32-bit
// guests: a level-1 SP mirrors 512 of the 1024 PTEs, a level-2 SP 256 PDEs, each as two 2 MiB SPTEs).
unsigned SpteIndicesFor(const ShadowPage& sp, unsigned gpte_offset, unsigned out[2]) {
    if (!sp.role.has_4_byte_gpte()) {
        out[0] = gpte_offset / 8;
        return 1;
    }
    const unsigned g = gpte_offset / 4;
    if (sp.role.level == 1) {
        if ((g >> 9) != sp.role.quadrant) return 0;
        out[0] = g & 511;
        return 1;
    }
    if ((g >> 8) != sp.role.quadrant) return 0;
    out[0] = (g & 255) * 2;
    out[1] = out[0] + 1;
    return 2;
}

// KVM's detect_write_misaligned: a write that crosses a gPTE, or is shorter than 4 bytes, except a 1-byte aligned
// one (a bit set/clear).
bool WriteMisaligned(unsigned offset, unsigned size, unsigned gpte_bytes) {
    if (offset % gpte_bytes == 0 && size == 1) return false;
    return ((offset ^ (offset + size - 1)) & ~(gpte_bytes - 1)) != 0 || size < 4;
}

u8 AccessOf(u64 gpte, bool nx) {
    u8 a = 0;
    if (gpte & kGpteUser) a |= ShadowRole::kAccessUser;
    if (gpte & kGpteWrite) a |= ShadowRole::kAccessWrite;
    if (nx && (gpte & kGpteXd)) a |= ShadowRole::kAccessXd;
    return a;
}

// Combines the rights of the levels above (`above`) with one more entry's.
u8 CombineAccess(u8 above, u8 entry) {
    const u8 and_bits = ShadowRole::kAccessUser | ShadowRole::kAccessWrite;
    return static_cast<u8>((above & entry & and_bits) | ((above | entry) & ShadowRole::kAccessXd));
}

}  // namespace

u64 ShadowRole::Key() const {
    return u64{level} | u64{format} << 3 | u64{quadrant} << 6 | u64{access} << 8 | u64{direct} << 11 |
           u64{cr0_wp} << 12 | u64{cr4_pse} << 13 | u64{smep} << 14 | u64{smap} << 15 | u64{efer_nx} << 16 |
           u64{leaf_dirty} << 17 | u64{leaf_global} << 18 | u64{leaf_shift} << 19;
}

std::string ShadowStats::ToString() const {
    return fmt::format(
        "shadow mmu: pages alive {} (indirect {}), created {}, zapped {}; roots loaded {} (created {}); "
        "spte hits {}, misses {}, install retries {}; mmio hits {}, stale {}; "
        "writes {}: updated {}, sp zapped {} (misaligned {}, flooded {}, orphans {}), unchanged {}, ignored {}; "
        "a/d zaps {}; invlpg {}; fast zaps {}, obsolete reclaimed {}, mmio gen wraps {}; "
        "unsync now {}, made {}, refused {}, synced {}, reused {}, stale sptes dropped {}, add-gfn resyncs {}; "
        "cap zaps {}",
        pages_alive, indirect_alive, pages_created, pages_zapped, roots_loaded, roots_created, spte_hits,
        spte_misses, install_retries, mmio_hits, mmio_stale, write_calls, write_updated, write_zapped,
        write_misaligned, write_flooded, write_orphans, write_unchanged, write_ignored, ad_zaps, invlpg, fast_zaps,
        obsolete_reclaimed, mmio_gen_wraps, unsync_now, unsync_made, unsync_refused, synced, sync_on_reuse,
        sync_dropped, resync_requests, cap_zaps);
}

bool ShadowOptions::UnsyncDefault() {
    const char* env = std::getenv("EMU64_SHADOW_UNSYNC");
    return !(env && std::string_view(env) == "0");
}

// ---------------------------------------------------------------------------------------------------------------
// ShadowMmu: construction, pages, accounting

ShadowMmu::ShadowMmu(Memslots& slots, PageTrack& page_track, ShadowOptions options)
    : slots_(slots), page_track_(page_track), options_(options) {
    options_.mmio_gen_bits = std::clamp(options_.mmio_gen_bits, 1u, spte::kMaxGenBits);
    if (options_.reclaim_batch == 0) options_.reclaim_batch = 1;
    slots_.SetMmuHook(this);
    slots_.AddObserver(this);
    page_track_.SetMmuWriteHandler(this, &indirect_shadow_pages_);
}

ShadowMmu::~ShadowMmu() {
    page_track_.SetMmuWriteHandler(nullptr, nullptr);
    slots_.SetMmuHook(nullptr);
    slots_.RemoveObserver(this);
    ZapAll();
    std::lock_guard lock(mmu_lock_);
    for (ShadowPage* sp : invalid_roots_) FreePage(sp);  // vCPUs are gone: no root is still held
    invalid_roots_.clear();
}

std::unique_ptr<ShadowVcpu> ShadowMmu::AddVcpu(TlbShootdown* tlb) {
    std::unique_ptr<ShadowVcpu> vcpu(new ShadowVcpu(*this, tlb));
    std::lock_guard lock(vcpus_mutex_);
    vcpus_.push_back(vcpu.get());
    return vcpu;
}

bool ShadowMmu::Obsolete(const ShadowPage* sp) const { return sp->invalid || sp->generation != generation_; }

ShadowPage* ShadowMmu::Find(Gfn gfn, const ShadowRole& role) const {
    const u64 key = role.Key();
    auto [begin, end] = hash_.equal_range(gfn);
    for (auto it = begin; it != end; ++it) {
        if (it->second->role_key == key && !Obsolete(it->second)) return it->second;
    }
    return nullptr;
}

// Counts the SP, fences, then write-protects its gfn (page-track.md section 5: a racing emulated write either
// sees the counter or lands before the fault path re-reads the gPTEs).
bool ShadowMmu::Account(ShadowPage* sp) {
    indirect_shadow_pages_.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!page_track_.AddGfn(sp->gfn, "shadow")) {
        indirect_shadow_pages_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    sp->accounted = true;
    sp->tracked = true;
    ++stats_.indirect_alive;
    return true;
}

void ShadowMmu::Unaccount(ShadowPage* sp) {
    ForgetUnsync(sp);
    if (!sp->accounted) return;
    sp->accounted = false;
    --stats_.indirect_alive;
    indirect_shadow_pages_.fetch_sub(1, std::memory_order_relaxed);
    if (!sp->tracked) return;  // unsync: its count was dropped then
    sp->tracked = false;
    // The counter died with a deleted or moved slot: do not touch whatever slot holds the gfn now.
    for (const DeadRange& dead : dead_ranges_) {
        if (sp->generation < dead.generation && sp->gfn - dead.first < dead.npages) return;
    }
    if (auto r = page_track_.RemoveGfn(sp->gfn, "shadow"); !r) {
        log::Log(log::Category::Mmu, "BUG: unaccount gfn {:#x} failed", sp->gfn);
    }
}

ShadowPage* ShadowMmu::GetPage(Gfn gfn, const ShadowRole& role, bool* created) {
    *created = false;
    if (ShadowPage* sp = Find(gfn, role)) return sp;
    auto* sp = new ShadowPage;
    sp->gfn = gfn;
    sp->role = role;
    sp->role_key = role.Key();
    sp->generation = generation_;
    sp->sptes = static_cast<Spte*>(std::calloc(kSptesPerPage, sizeof(Spte)));
    if (!sp->sptes || (!role.direct && !Account(sp))) {
        std::free(sp->sptes);
        delete sp;
        return nullptr;
    }
    hash_.emplace(gfn, sp);
    sp->older = fifo_head_;
    if (fifo_head_) fifo_head_->newer = sp;
    fifo_head_ = sp;
    if (!fifo_tail_) fifo_tail_ = sp;
    ++stats_.pages_created;
    ++stats_.pages_alive;
    *created = true;
    trace::Trace(trace::Event::ShadowPageCreate, "gfn={:#x} client=shadow level={} direct={}", gfn, unsigned{role.level},
                 bool{role.direct});
    return sp;
}

void ShadowMmu::FreePage(ShadowPage* sp) {
    std::free(sp->sptes);
    delete sp;
    --stats_.pages_alive;
}

// Clears one SPTE; says which TLB entries may derive from it.
void ShadowMmu::DropEntry(ShadowPage* sp, unsigned index, bool* flush_all, std::vector<Gfn>* flush_gfns) {
    Spte& e = sp->sptes[index];
    if (IsLink(e.value)) {
        ShadowPage* child = LinkTarget(e.value);
        std::erase(child->parents, std::pair<ShadowPage*, u16>(sp, static_cast<u16>(index)));
        *flush_all = true;
    } else if (IsLeaf(e.value)) {
        flush_gfns->push_back(LeafFrame(e.value));
    }
    e = Spte{};
}

void ShadowMmu::Link(ShadowPage* parent, unsigned index, ShadowPage* child, u64 gpte) {
    Spte& e = parent->sptes[index];
    if (IsLink(e.value) && LinkTarget(e.value) == child) {
        e.gpte = gpte;
        return;
    }
    if (e.value) {
        bool flush_all = false;
        std::vector<Gfn> gfns;
        DropEntry(parent, index, &flush_all, &gfns);
        Flush(flush_all, gfns);
    }
    if (child->unsync) {
        // Reachable from new linear addresses now: those must see the guest table as it is (KVM syncs on reuse).
        bool flush_all = false;
        std::vector<Gfn> gfns;
        RefreshPage(child, &flush_all, &gfns);
        Flush(flush_all, gfns);
        ++stats_.sync_on_reuse;
    }
    e.value = reinterpret_cast<u64>(child) | spte::kLink;
    e.gpte = gpte;
    child->parents.emplace_back(parent, static_cast<u16>(index));
}

void ShadowMmu::ZapPage(ShadowPage* sp) {
    trace::Trace(trace::Event::ShadowPageZap, "gfn={:#x} client=shadow level={}", sp->gfn, unsigned{sp->role.level});
    bool flush_all = false;
    std::vector<Gfn> unused;
    for (unsigned i = 0; i < kSptesPerPage; ++i) {
        if (sp->sptes[i].value) DropEntry(sp, i, &flush_all, &unused);
    }
    for (auto [parent, index] : sp->parents) parent->sptes[index] = Spte{};
    sp->parents.clear();
    auto [begin, end] = hash_.equal_range(sp->gfn);
    for (auto it = begin; it != end; ++it) {
        if (it->second == sp) {
            hash_.erase(it);
            break;
        }
    }
    (sp->newer ? sp->newer->older : fifo_head_) = sp->older;
    (sp->older ? sp->older->newer : fifo_tail_) = sp->newer;
    sp->newer = sp->older = nullptr;
    Unaccount(sp);
    ++stats_.pages_zapped;
    if (sp->root_count) {
        sp->invalid = true;  // freed when the last vCPU drops it
        invalid_roots_.push_back(sp);
    } else {
        FreePage(sp);
    }
}

void ShadowMmu::ReleaseRoot(ShadowPage* sp) {
    assert(sp->root_count > 0);
    if (--sp->root_count == 0 && sp->invalid) {
        std::erase(invalid_roots_, sp);
        FreePage(sp);
    }
}

void ShadowMmu::Flush(bool all, const std::vector<Gfn>& gfns) {
    if (!all && gfns.empty()) return;
    constexpr size_t kMaxGfnFlushes = 16;  // beyond this a full flush is cheaper than repeated scans
    std::lock_guard lock(vcpus_mutex_);
    for (ShadowVcpu* vcpu : vcpus_) {
        if (!vcpu->tlb_) continue;
        if (all || gfns.size() > kMaxGfnFlushes) {
            vcpu->tlb_->FlushAll();
        } else {
            for (Gfn gfn : gfns) vcpu->tlb_->FlushGfn(gfn);
        }
    }
}

// Runs under PageTrack's lock, from the MMU itself (Account, SyncPage: mmu_lock_ held) or from an external client.
void ShadowMmu::OnGfnTracked(Gfn gfn, bool newly_tracked) {
    // A gfn tracked already has no fast write entry in any TLB (every fill consults the count): only the first add
    // demotes, which waits for every other vCPU. The unsync check is needed at every add: an unsync racing with this
    // one may have read the count (the MMU's own, not 0) before it rose.
    if (newly_tracked) {
        std::lock_guard lock(vcpus_mutex_);
        for (ShadowVcpu* vcpu : vcpus_) {
            if (vcpu->tlb_) vcpu->tlb_->DemoteWritesToGfn(gfn);
        }
    }
    // An unsync SP of gfn is synced before any mmu_lock_ section uses it again (Lock()).
    std::lock_guard lock(unsync_lock_);
    if (unsync_gfns_.count(gfn)) {
        resync_requests_.push_back(gfn);
        resync_requested_.store(true, std::memory_order_release);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Unsync pages

std::unique_lock<std::mutex> ShadowMmu::Lock() {
    std::unique_lock lock(mmu_lock_);
    ServiceResyncRequests();
    return lock;
}

void ShadowMmu::ServiceResyncRequests() {
    while (resync_requested_.load(std::memory_order_acquire)) {
        std::vector<Gfn> gfns;
        {
            std::lock_guard lock(unsync_lock_);
            gfns.swap(resync_requests_);
            resync_requested_.store(false, std::memory_order_relaxed);
        }
        bool flush_all = false;
        std::vector<Gfn> flush_gfns;
        for (Gfn gfn : gfns) {
            std::vector<ShadowPage*> pages;
            auto [begin, end] = hash_.equal_range(gfn);
            for (auto it = begin; it != end; ++it) {
                if (it->second->unsync) pages.push_back(it->second);
            }
            stats_.resync_requests += !pages.empty();
            for (ShadowPage* sp : pages) SyncPage(sp, false, &flush_all, &flush_gfns);
        }
        Flush(flush_all, flush_gfns);
    }
}

// Called after a trapped write to gfn was handled: KVM's mmu_try_to_unsync_pages.
void ShadowMmu::TryUnsync(Gfn gfn) {
    std::vector<ShadowPage*> leaves;
    auto [begin, end] = hash_.equal_range(gfn);
    for (auto it = begin; it != end; ++it) {
        ShadowPage* sp = it->second;
        if (sp->role.direct) continue;  // keyed by a data frame, mirrors no table
        // A non-leaf table keeps its protection; an obsolete SP still holds a count it must give back itself.
        if (Obsolete(sp) || !sp->Leaf()) return;
        if (sp->tracked) leaves.push_back(sp);
    }
    if (leaves.empty()) return;
    const u32 n = static_cast<u32>(leaves.size());
    {
        std::lock_guard lock(unsync_lock_);
        unsync_gfns_[gfn] += n;  // published before the count is read (pairs with OnGfnTracked)
    }
    if (page_track_.TrackCount(gfn) != leaves.size()) {
        // Someone else (a GPU, the block cache) tracks the gfn: it must stay write-protected (I2).
        std::lock_guard lock(unsync_lock_);
        if ((unsync_gfns_[gfn] -= n) == 0) unsync_gfns_.erase(gfn);
        ++stats_.unsync_refused;
        return;
    }
    for (ShadowPage* sp : leaves) {
        sp->unsync = true;
        sp->tracked = false;
        sp->unsync_index = static_cast<u32>(unsync_pages_.size());
        unsync_pages_.push_back(sp);
        if (auto r = page_track_.RemoveGfn(gfn, "shadow"); !r) log::Log(log::Category::Mmu, "BUG: unsync gfn {:#x}", gfn);
    }
    stats_.unsync_now += n;
    stats_.unsync_made += n;
    Flush(false, {gfn});  // TLB entries of the table page refill without the TRACKED flag
}

void ShadowMmu::ForgetUnsync(ShadowPage* sp) {
    if (!sp->unsync) return;
    sp->unsync = false;
    ShadowPage* last = unsync_pages_.back();
    unsync_pages_[sp->unsync_index] = last;
    last->unsync_index = sp->unsync_index;
    unsync_pages_.pop_back();
    --stats_.unsync_now;
    std::lock_guard lock(unsync_lock_);
    if (auto it = unsync_gfns_.find(sp->gfn); it != unsync_gfns_.end() && --it->second == 0) unsync_gfns_.erase(it);
}

// Re-reads every gPTE an SPTE of the leaf SP was built from and drops the SPTEs whose gPTE changed.
void ShadowMmu::RefreshPage(ShadowPage* sp, bool* flush_all, std::vector<Gfn>* flush_gfns) {
    const unsigned bytes = sp->GpteBytes();
    const auto host = slots_.Translate(GpaOf(sp->gfn));
    for (unsigned i = 0; i < kSptesPerPage; ++i) {
        Spte& e = sp->sptes[i];
        if (!e.value) continue;
        const unsigned offset = sp->role.has_4_byte_gpte() ? (sp->role.quadrant * kSptesPerPage + i) * 4 : i * 8;
        if (!host || LoadAtomic(host->get() + offset, bytes) != e.gpte) {
            DropEntry(sp, i, flush_all, flush_gfns);
            ++stats_.sync_dropped;
        }
    }
}

// KVM's mmu_sync_children for one SP: write-protect first, then re-read (a write in between is either seen by the
// re-read or trapped). zap_unreachable: an SP nothing links to is dropped instead (nothing can use its SPTEs).
void ShadowMmu::SyncPage(ShadowPage* sp, bool zap_unreachable, bool* flush_all, std::vector<Gfn>* flush_gfns) {
    ForgetUnsync(sp);
    // Obsolete: its TLB entries went with the fast zap. Unreachable: with the link that led to it.
    if (Obsolete(sp) || (zap_unreachable && sp->parents.empty() && sp->root_count == 0)) {
        ZapPage(sp);
        return;
    }
    if (!page_track_.AddGfn(sp->gfn)) {
        ZapPage(sp);
        *flush_all = true;
        return;
    }
    sp->tracked = true;
    ++stats_.synced;
    RefreshPage(sp, flush_all, flush_gfns);
}

void ShadowMmu::SyncAllLocked() {
    if (unsync_pages_.empty()) return;
    bool flush_all = false;
    std::vector<Gfn> flush_gfns;
    while (!unsync_pages_.empty()) SyncPage(unsync_pages_.back(), true, &flush_all, &flush_gfns);
    Flush(flush_all, flush_gfns);
}

void ShadowMmu::EnsureTrackingEnabled() {
    if (root_allocated_.load(std::memory_order_acquire)) return;
    // Outside mmu_lock_: enabling takes the memslot update lock, which is ordered before it.
    if (page_track_.EnableTracking()) root_allocated_.store(true, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------------------------
// Write handling

bool ShadowMmu::ReadGpte(Gpa gpa, unsigned bytes, u64* value) const {
    const auto host = slots_.Translate(gpa);
    if (!host) return false;
    *value = LoadAtomic(host->get(), bytes);
    return true;
}

// Re-reads the gPTE of every valid SP of gfn that covers byte `offset` and zaps the SPTEs built from another value.
// keep_sp, if set, is left alone. Returns whether some SPTE was zapped.
bool ShadowMmu::ZapStaleGpte(Gfn gfn, unsigned offset, unsigned gpte_bytes, u64 value, const ShadowPage* keep_sp,
                             bool* flush_all, std::vector<Gfn>* flush_gfns) {
    bool zapped = false;
    auto [begin, end] = hash_.equal_range(gfn);
    for (auto it = begin; it != end; ++it) {
        ShadowPage* sp = it->second;
        if (sp == keep_sp || sp->role.direct || Obsolete(sp)) continue;
        const unsigned bytes = sp->GpteBytes();
        const unsigned gpte_offset = offset & ~(bytes - 1);
        u64 current = value;
        const bool ok = bytes == gpte_bytes || ReadGpte(GpaOf(gfn) + gpte_offset, bytes, &current);
        unsigned indices[2];
        const unsigned n = SpteIndicesFor(*sp, gpte_offset, indices);
        for (unsigned i = 0; i < n; ++i) {
            Spte& e = sp->sptes[indices[i]];
            if (e.value && (!ok || e.gpte != current)) {
                DropEntry(sp, indices[i], flush_all, flush_gfns);
                zapped = true;
            }
        }
    }
    return zapped;
}

void ShadowMmu::TrackWrite(Gpa gpa, std::span<const u8> new_bytes) {
    const Gfn gfn = GfnOf(gpa);
    const unsigned offset = static_cast<unsigned>(gpa.page_offset());
    const unsigned size = static_cast<unsigned>(std::max<size_t>(new_bytes.size(), 1));
    auto lock = Lock();
    ++stats_.write_calls;
    std::vector<ShadowPage*> pages;
    auto [begin, end] = hash_.equal_range(gfn);
    for (auto it = begin; it != end; ++it) {
        if (!it->second->role.direct && !Obsolete(it->second)) pages.push_back(it->second);
    }
    if (pages.empty()) {
        ++stats_.write_ignored;
        return;
    }
    bool flush_all = false;
    bool zapped_sp = false;
    bool updated = false;
    std::vector<Gfn> flush_gfns;
    for (ShadowPage* sp : pages) {
        const unsigned bytes = sp->GpteBytes();
        if (sp->parents.empty() && sp->root_count == 0) {
            // Nothing links to it (its parent entry was zapped) and no vCPU uses it as a root: the page may have
            // gone back to being data. Without unsync, keeping it would trap every later write to that page.
            ++stats_.write_orphans;
        } else if (WriteMisaligned(offset, size, bytes)) {
            ++stats_.write_misaligned;
        } else if (!sp->Leaf() && ++sp->write_flooding >= 3) {
            ++stats_.write_flooded;
        } else {
            // Re-read the whole gPTE (a 4-byte half of an 8-byte gPTE is widened) and zap what was built from
            // another value. Only this SP: the others get their own turn in this loop.
            const unsigned gpte_offset = offset & ~(bytes - 1);
            u64 value = 0;
            const bool ok = ReadGpte(GpaOf(gfn) + gpte_offset, bytes, &value);
            unsigned indices[2];
            const unsigned n = SpteIndicesFor(*sp, gpte_offset, indices);
            for (unsigned i = 0; i < n; ++i) {
                Spte& e = sp->sptes[indices[i]];
                if (e.value && (!ok || e.gpte != value)) {
                    DropEntry(sp, indices[i], &flush_all, &flush_gfns);
                    updated = true;
                }
            }
            continue;
        }
        ZapPage(sp);
        zapped_sp = true;
        flush_all = true;
    }
    Flush(flush_all, flush_gfns);
    if (zapped_sp) {
        ++stats_.write_zapped;
    } else if (updated) {
        ++stats_.write_updated;
    } else {
        ++stats_.write_unchanged;
    }
    if (options_.unsync) TryUnsync(gfn);
}

// ---------------------------------------------------------------------------------------------------------------
// Zapping

void ShadowMmu::ReclaimLocked(u64 n) {
    if (pending_dead_) return;  // a DELETE/MOVE is in flight: its counters' fate is not known yet
    while (n-- > 0 && fifo_tail_ && Obsolete(fifo_tail_)) {
        ZapPage(fifo_tail_);
        ++stats_.obsolete_reclaimed;
    }
    ForgetDeadRanges();
}

// A dead range matters only while an SP older than it is alive; the tail is the oldest.
void ShadowMmu::ForgetDeadRanges() {
    const u64 oldest = fifo_tail_ ? fifo_tail_->generation : std::numeric_limits<u64>::max();
    std::erase_if(dead_ranges_, [&](const DeadRange& dead) { return oldest >= dead.generation; });
}

// The cap (see the header comment). Oldest first, skipping roots; zapping one SP frees no other, so the walk towards
// the head can continue from the zapped page's newer neighbour.
void ShadowMmu::MakeRoomLocked() {
    if (stats_.pages_alive + kMinFreePages <= options_.max_pages || pending_dead_) return;
    bool zapped = false;
    for (ShadowPage* sp = fifo_tail_; sp && stats_.pages_alive + kRefillPages > options_.max_pages;) {
        ShadowPage* const newer = sp->newer;
        if (sp->root_count == 0) {
            ZapPage(sp);
            ++stats_.cap_zaps;
            zapped = true;
        }
        sp = newer;
    }
    if (!zapped) return;
    ForgetDeadRanges();
    Flush(true, {});  // links to the zapped SPs are gone: so is every translation made through them
}

u64 ShadowMmu::ReclaimObsolete(u64 n) {
    std::lock_guard lock(mmu_lock_);
    const u64 before = stats_.obsolete_reclaimed;
    ReclaimLocked(n);
    return stats_.obsolete_reclaimed - before;
}

void ShadowMmu::ZapAllFastLocked() {
    // Leftovers of the previous fast zap go first, so at most two generations ever coexist (I8).
    ReclaimLocked(std::numeric_limits<u64>::max());
    ++generation_;
    ++stats_.fast_zaps;
    log::Log(log::Category::Mmu, "fast zap: generation {}", generation_);
}

void ShadowMmu::ZapAllFast() {
    std::lock_guard lock(mmu_lock_);
    ZapAllFastLocked();
    Flush(true, {});
}

void ShadowMmu::ZapAll() {
    std::lock_guard lock(mmu_lock_);
    while (fifo_tail_) ZapPage(fifo_tail_);
    dead_ranges_.clear();
    Flush(true, {});
}

void ShadowMmu::OnSlotInvalidated(const SlotView& old) {
    std::lock_guard lock(mmu_lock_);
    pending_dead_.reset();  // left by a change that aborted: its slot came back with its counters
    ZapAllFastLocked();
    pending_dead_ = DeadRange{old.base_gfn(), old.npages(), generation_};
    Flush(true, {});
}

void ShadowMmu::CommitChange(const SlotChange& change) {
    std::lock_guard lock(mmu_lock_);
    if (pending_dead_ && (change.kind == ChangeKind::Delete || change.kind == ChangeKind::Move) &&
        change.old_slot && change.old_slot->base_gfn() == pending_dead_->first) {
        dead_ranges_.push_back(*pending_dead_);
    }
    pending_dead_.reset();
    // Truncated generations in MMIO leaves would alias after a wrap: zap everything then (KVM does the same).
    if (MmioGen(slots_.Generation()) == 0) {
        ++stats_.mmio_gen_wraps;
        ZapAllFastLocked();
        Flush(true, {});
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Roots and translation

namespace {

ShadowRole BaseRole(const PagingRegs& regs, PagingMode mode) {
    ShadowRole role;
    role.format = static_cast<u8>(mode);
    role.access = ShadowRole::kAccessAll;
    role.cr0_wp = (regs.cr0 & PagingRegs::kCr0Wp) != 0;
    role.cr4_pse = mode == PagingMode::Bits32 && (regs.cr4 & PagingRegs::kCr4Pse);
    role.smep = (regs.cr4 & PagingRegs::kCr4Smep) != 0;
    role.smap = (regs.cr4 & PagingRegs::kCr4Smap) != 0;
    role.efer_nx = mode != PagingMode::Bits32 && (regs.efer & PagingRegs::kEferNxe);
    switch (mode) {
        case PagingMode::Level5: role.level = 5; break;
        case PagingMode::Level4: role.level = 4; break;
        default: role.level = 2; break;
    }
    return role;
}

bool SplitRoots(PagingMode mode) { return mode == PagingMode::Bits32 || mode == PagingMode::Pae; }

u64 TruncateLinear(PagingMode mode, u64 linear) { return SplitRoots(mode) ? (linear & 0xFFFFFFFFu) : linear; }

}  // namespace

void ShadowMmu::DropRoots(ShadowVcpu& vcpu) {
    for (ShadowPage*& root : vcpu.roots_) {
        if (root) ReleaseRoot(root);
        root = nullptr;
    }
    vcpu.roots_loaded_ = false;
}

// Selects the vCPU's roots for regs, reusing SPs from the hash (across CR3 switches) and creating missing ones.
bool ShadowMmu::LoadRoots(ShadowVcpu& vcpu, const PagingRegs& regs, PagingMode mode) {
    const ShadowRole role = BaseRole(regs, mode);
    const u64 key = role.Key();
    const bool pae = mode == PagingMode::Pae;
    if (vcpu.roots_loaded_ && vcpu.root_cr3_ == regs.cr3 && vcpu.root_role_key_ == key &&
        (!pae || vcpu.root_pdptes_ == regs.pdptes)) {
        const bool valid = std::none_of(vcpu.roots_.begin(), vcpu.roots_.end(),
                                        [&](const ShadowPage* sp) { return sp && Obsolete(sp); });
        if (valid) return true;
    }
    DropRoots(vcpu);
    ++stats_.roots_loaded;
    const unsigned count = SplitRoots(mode) ? 4 : 1;
    for (unsigned i = 0; i < count; ++i) {
        ShadowRole r = role;
        Gfn gfn = 0;
        if (mode == PagingMode::Bits32) {
            r.quadrant = static_cast<u8>(i);
            gfn = (regs.cr3 & 0xFFFFF000u) >> kPageShift;
        } else if (pae) {
            if (!(regs.pdptes[i] & kGptePresent)) continue;
            gfn = (regs.pdptes[i] & kTableMask) >> kPageShift;
        } else {
            gfn = (regs.cr3 & kTableMask) >> kPageShift;
        }
        bool created = false;
        ShadowPage* sp = GetPage(gfn, r, &created);
        if (!sp) {
            DropRoots(vcpu);
            return false;
        }
        if (created) ++stats_.roots_created;
        ++sp->root_count;
        vcpu.roots_[i] = sp;
    }
    vcpu.roots_loaded_ = true;
    vcpu.root_cr3_ = regs.cr3;
    vcpu.root_role_key_ = key;
    vcpu.root_pdptes_ = regs.pdptes;
    return true;
}

bool ShadowMmu::LookupLocked(ShadowVcpu& vcpu, const PagingRegs& regs, u64 linear, AccessType access,
                             AccessFlags flags, WalkResult* result, ShadowTranslateInfo* info) {
    const PagingMode mode = ModeOf(regs);
    if (!LoadRoots(vcpu, regs, mode)) return false;
    const u64 lin = TruncateLinear(mode, linear);
    ShadowPage* sp = vcpu.roots_[SplitRoots(mode) ? (lin >> 30) & 3 : 0];
    while (sp) {
        sp->write_flooding = 0;  // a walk used it: it is still a page table
        const u64 v = sp->sptes[ShadowIndex(sp->role.level, lin)].value;
        if (IsLink(v)) {
            sp = LinkTarget(v);
            continue;
        }
        if (!IsLeaf(v)) return false;
        if (v & spte::kMmio) {
            const u64 gen = slots_.Generation();
            if ((gen & kGenerationInProgress) || MmioGen(gen) != (v >> spte::kGenShift)) {
                ++stats_.mmio_stale;
                return false;
            }
        }
        WalkLeaf leaf;
        leaf.gpa = (LeafFrame(v) << kPageShift) | (lin & kPageMask);
        leaf.page_size = u64{1} << spte::kSizeShifts[(v >> spte::kSizeShift) & 3];
        leaf.rights = LeafRights{(v & spte::kUser) != 0, (v & spte::kWrite) != 0, (v & spte::kXd) != 0};
        leaf.global_bit = (v & spte::kGlobal) != 0;
        leaf.dirty_bit = (v & spte::kDirty) != 0;
        leaf.pkey = static_cast<u8>((v >> spte::kPkeyShift) & pte::kPkeyMask);
        const WalkResult r = FinishLeaf(regs, access, flags, leaf);
        // A stale SPTE of an unsync SP must not fault forever: a #PF drops the TLB entry, the retry walks.
        if (r.status != WalkStatus::Ok && sp->unsync) return false;
        // A permitted write to a clean page walks again: the walk sets the guest's D bit.
        if (r.status == WalkStatus::Ok && access == AccessType::Write && !leaf.dirty_bit) return false;
        *result = r;
        info->spte_hit = true;
        info->mmio = (v & spte::kMmio) != 0;
        ++stats_.spte_hits;
        if (info->mmio) ++stats_.mmio_hits;
        return true;
    }
    return false;
}

// Builds the shadow path for a successful walk. Phase 1 finds or creates (and accounts) every SP; phase 2 re-reads
// every gPTE the walk used (after the accounting fence); phase 3 links and fills the leaf.
ShadowMmu::InstallStatus ShadowMmu::Install(ShadowVcpu& vcpu, const PagingRegs& regs, const WalkTrace& trace) {
    const PagingMode mode = trace.mode;
    const u64 lin = trace.linear;
    const unsigned bytes = trace.entry_bytes;

    // A/D bits the walk set are writes the dispatcher did not see: zap other SPTEs built from the old values.
    {
        bool flush_all = false;
        std::vector<Gfn> flush_gfns;
        for (unsigned k = 0; k < trace.count; ++k) {
            const WalkTraceLevel& t = trace.levels[k];
            if (t.after == t.before) continue;
            if (ZapStaleGpte(GfnOf(Gpa(t.entry_gpa)), static_cast<unsigned>(t.entry_gpa & kPageMask), bytes, t.after,
                             nullptr, &flush_all, &flush_gfns)) {
                ++stats_.ad_zaps;
            }
        }
        Flush(flush_all, flush_gfns);
    }
    MakeRoomLocked();
    if (!LoadRoots(vcpu, regs, mode)) return InstallStatus::Uncached;

    std::array<ShadowPage*, 5> path{};
    path[0] = vcpu.roots_[SplitRoots(mode) ? (lin >> 30) & 3 : 0];
    if (!path[0] || trace.count == 0) return InstallStatus::Uncached;
    u8 access = ShadowRole::kAccessAll;
    for (unsigned k = 0; k + 1 < trace.count; ++k) {
        const WalkTraceLevel& t = trace.levels[k];
        assert(path[k]->gfn == GfnOf(Gpa(t.entry_gpa)));
        access = CombineAccess(access, AccessOf(t.after, path[k]->role.efer_nx));
        ShadowRole child = path[k]->role;
        child.level = static_cast<u8>(child.level - 1);
        child.access = access;
        child.quadrant = mode == PagingMode::Bits32 ? static_cast<u8>((lin >> 21) & 1) : 0;
        bool created = false;
        path[k + 1] = GetPage(GfnOf(Gpa(trace.levels[k + 1].entry_gpa)), child, &created);
        if (!path[k + 1]) return InstallStatus::Uncached;
    }
    // Phase 2 (pairs with the dispatcher's fence): a gPTE written since the walk means the walk is stale.
    for (unsigned k = 0; k < trace.count; ++k) {
        if (LoadAtomic(trace.levels[k].host, bytes) != trace.levels[k].after) return InstallStatus::Retry;
    }
    for (unsigned k = 0; k + 1 < trace.count; ++k) {
        Link(path[k], ShadowIndex(path[k]->role.level, lin), path[k + 1], trace.levels[k].after);
        path[k]->write_flooding = 0;
    }

    // The leaf: a 4 KiB gPTE fills an SPTE of the last SP; a large one links a chain of direct SPs down to level 1.
    const WalkTraceLevel& t = trace.levels[trace.count - 1];
    const WalkLeaf& leaf = trace.leaf;
    ShadowPage* sp = path[trace.count - 1];
    sp->write_flooding = 0;
    u64 gpte = t.after;
    if (t.large) {
        ShadowRole role = sp->role;
        role.direct = true;
        role.quadrant = 0;
        role.access = CombineAccess(access, AccessOf(t.after, sp->role.efer_nx));
        role.leaf_dirty = (t.after & kGpteDirty) != 0;
        role.leaf_global = (t.after & kGpteGlobal) != 0;
        role.leaf_shift = t.shift;
        while (sp->role.level > 1) {
            role.level = static_cast<u8>(sp->role.level - 1);
            const u64 span = u64{1} << (kPageShift + 9 * role.level);
            bool created = false;
            ShadowPage* child = GetPage((leaf.gpa & ~(span - 1)) >> kPageShift, role, &created);
            if (!child) return InstallStatus::Uncached;
            Link(sp, ShadowIndex(sp->role.level, lin), child, gpte);
            gpte = 0;
            sp = child;
        }
    }
    const Memslots::ReadSection section(slots_);
    u64 v = spte::kLeaf | (((leaf.gpa >> kPageShift) & spte::kFrameMask) << spte::kFrameShift) |
            (u64{SizeCode(leaf.page_size)} << spte::kSizeShift) | (u64{leaf.pkey} << spte::kPkeyShift);
    if (leaf.rights.user_all) v |= spte::kUser;
    if (leaf.rights.writable_all) v |= spte::kWrite;
    if (leaf.rights.xd_any) v |= spte::kXd;
    if (leaf.global_bit) v |= spte::kGlobal;
    if (leaf.dirty_bit || (t.after & kGpteDirty)) v |= spte::kDirty;
    if (!section.Find(Gpa(leaf.gpa))) {
        if (section.generation() & kGenerationInProgress) return InstallStatus::Uncached;
        v |= spte::kMmio | (MmioGen(section.generation()) << spte::kGenShift);
    }
    Spte& e = sp->sptes[ShadowIndex(1, lin)];
    if (IsLink(e.value)) {
        bool flush_all = false;
        std::vector<Gfn> gfns;
        DropEntry(sp, ShadowIndex(1, lin), &flush_all, &gfns);
        Flush(flush_all, gfns);
    }
    e.value = v;
    e.gpte = gpte;
    return InstallStatus::Installed;
}

// ---------------------------------------------------------------------------------------------------------------
// ShadowVcpu

ShadowVcpu::~ShadowVcpu() {
    {
        std::lock_guard lock(mmu_.mmu_lock_);
        mmu_.DropRoots(*this);
    }
    std::lock_guard lock(mmu_.vcpus_mutex_);
    std::erase(mmu_.vcpus_, this);
}

WalkResult ShadowVcpu::Translate(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags,
                                 PhysMemory& memory, ShadowTranslateInfo* info) {
    ShadowTranslateInfo local;
    if (!info) info = &local;
    *info = ShadowTranslateInfo{};
    if (ModeOf(regs) == PagingMode::None) return Walk(regs, linear, access, flags, memory);
    mmu_.EnsureTrackingEnabled();
    for (unsigned attempt = 0;; ++attempt) {
        {
            auto lock = mmu_.Lock();
            WalkResult hit;
            if (mmu_.LookupLocked(*this, regs, linear, access, flags, &hit, info)) return hit;
            ++mmu_.stats_.spte_misses;
            mmu_.ReclaimLocked(mmu_.options_.reclaim_batch);
        }
        // The guest walk runs without the lock, as KVM's FNAME(walk_addr); Install re-validates it.
        const u64 generation = mmu_.slots_.Generation();
        WalkTrace trace;
        const WalkResult r = WalkTraced(regs, linear, access, flags, memory, &trace);
        if (r.status != WalkStatus::Ok) return r;
        auto lock = mmu_.Lock();
        // Built from a memslot set that changed meanwhile: answer, but cache nothing.
        if ((generation & kGenerationInProgress) || mmu_.slots_.Generation() != generation) return r;
        const ShadowMmu::InstallStatus status = mmu_.Install(*this, regs, trace);
        if (status == ShadowMmu::InstallStatus::Retry && attempt + 1 < kMaxInstallAttempts) {
            ++mmu_.stats_.install_retries;
            continue;
        }
        const Memslots::ReadSection section(mmu_.slots_);
        info->mmio = section.Find(Gpa(r.gpa)) == nullptr;
        return r;
    }
}

void ShadowVcpu::OnCr3Write() {
    auto lock = mmu_.Lock();
    mmu_.SyncAllLocked();
    mmu_.DropRoots(*this);
}

void ShadowVcpu::OnPagingModeChange() {
    auto lock = mmu_.Lock();
    mmu_.SyncAllLocked();
    mmu_.DropRoots(*this);
}

void ShadowVcpu::Invlpg(const PagingRegs& regs, u64 linear) {
    auto lock = mmu_.Lock();
    ++mmu_.stats_.invlpg;
    const PagingMode mode = ModeOf(regs);
    if (mode == PagingMode::None || !mmu_.root_allocated_.load(std::memory_order_acquire)) return;
    // The roots of regs, even if none is loaded yet: an unsync SP under them may hold the address's SPTE.
    if (!mmu_.LoadRoots(*this, regs, mode)) return;
    const u64 lin = TruncateLinear(mode, linear);
    ShadowPage* sp = roots_[SplitRoots(mode) ? (lin >> 30) & 3 : 0];
    while (sp) {
        const unsigned index = ShadowIndex(sp->role.level, lin);
        const u64 v = sp->sptes[index].value;
        if (IsLink(v)) {
            sp = LinkTarget(v);
            continue;
        }
        if (IsLeaf(v)) sp->sptes[index] = Spte{};
        return;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics and checkers

ShadowStats ShadowMmu::Stats() const {
    std::lock_guard lock(mmu_lock_);
    return stats_;
}

u64 ShadowMmu::ValidPagesForGfn(Gfn gfn) {
    auto lock = Lock();
    u64 n = 0;
    auto [begin, end] = hash_.equal_range(gfn);
    for (auto it = begin; it != end; ++it) n += !it->second->role.direct && !Obsolete(it->second);
    return n;
}

u64 ShadowMmu::ValidPages() const {
    std::lock_guard lock(mmu_lock_);
    u64 n = 0;
    for (const ShadowPage* sp = fifo_head_; sp; sp = sp->older) n += !Obsolete(sp);
    return n;
}

u64 ShadowMmu::ValidReferencesTo(Gfn first, u64 npages) {
    auto lock = Lock();
    u64 n = 0;
    for (const ShadowPage* sp = fifo_head_; sp; sp = sp->older) {
        if (Obsolete(sp)) continue;
        if (!sp->role.direct && sp->gfn - first < npages) ++n;
        for (unsigned i = 0; i < kSptesPerPage; ++i) {
            const u64 v = sp->sptes[i].value;
            if (IsLeaf(v) && LeafFrame(v) - first < npages) ++n;
        }
    }
    return n;
}

u64 ShadowMmu::GenerationsAlive() const {
    std::lock_guard lock(mmu_lock_);
    std::set<u64> generations;
    for (const ShadowPage* sp = fifo_head_; sp; sp = sp->older) generations.insert(sp->generation);
    return generations.size();
}

bool ShadowMmu::ObsoleteFormTail() const {
    std::lock_guard lock(mmu_lock_);
    bool seen_valid = false;
    for (const ShadowPage* sp = fifo_tail_; sp; sp = sp->newer) {
        if (!Obsolete(sp)) seen_valid = true;
        else if (seen_valid) return false;
    }
    return true;
}

u64 ShadowMmu::UnsyncPages() {
    auto lock = Lock();
    return unsync_pages_.size();
}

u64 ShadowMmu::UnsyncPagesForGfn(Gfn gfn) {
    auto lock = Lock();
    u64 n = 0;
    auto [begin, end] = hash_.equal_range(gfn);
    for (auto it = begin; it != end; ++it) n += it->second->unsync;
    return n;
}

std::string ShadowMmu::CheckInvariants() {
    auto lock = Lock();
    u64 pages = 0;
    u64 accounted = 0;
    u64 unsync = 0;
    for (const ShadowPage* sp = fifo_head_; sp; sp = sp->older) {
        ++pages;
        accounted += sp->accounted;
        if (sp->unsync) {
            ++unsync;
            if (sp->role.direct || !sp->Leaf() || sp->tracked || !sp->accounted) {
                return fmt::format("unsync SP gfn {:#x} is not an untracked leaf", sp->gfn);
            }
            if (sp->unsync_index >= unsync_pages_.size() || unsync_pages_[sp->unsync_index] != sp) {
                return "unsync list broken";
            }
        } else if (sp->accounted != sp->tracked && !Obsolete(sp)) {
            return fmt::format("valid synced SP gfn {:#x} is not write-protected", sp->gfn);
        }
        if (sp->older && sp->older->newer != sp) return "FIFO links broken";
        if (sp->generation > generation_) return "SP from a future generation";
        bool hashed = false;
        auto [begin, end] = hash_.equal_range(sp->gfn);
        for (auto it = begin; it != end; ++it) hashed |= it->second == sp;
        if (!hashed) return fmt::format("SP gfn {:#x} not in the hash", sp->gfn);
        if (sp->role.direct == sp->accounted) return fmt::format("SP gfn {:#x} accounting wrong", sp->gfn);
        for (unsigned i = 0; i < kSptesPerPage; ++i) {
            const u64 v = sp->sptes[i].value;
            if (!IsLink(v)) continue;
            const ShadowPage* child = LinkTarget(v);
            if (std::find(child->parents.begin(), child->parents.end(),
                          std::pair<ShadowPage*, u16>(const_cast<ShadowPage*>(sp), static_cast<u16>(i))) ==
                child->parents.end()) {
                return "link without parent back-reference";
            }
            if (!Obsolete(sp) && Obsolete(child)) return "valid SP links an obsolete SP";
        }
        for (auto [parent, index] : sp->parents) {
            if (LinkTarget(parent->sptes[index].value) != sp) return "stale parent back-reference";
        }
    }
    if (pages + invalid_roots_.size() != stats_.pages_alive) return "pages_alive disagrees with the FIFO";
    if (accounted != indirect_shadow_pages_.load()) return "indirect_shadow_pages disagrees with the SPs";
    if (hash_.size() != pages) return "hash holds pages not in the FIFO";
    if (unsync != unsync_pages_.size() || unsync != stats_.unsync_now) return "unsync count disagrees with the list";
    std::lock_guard unsync_guard(unsync_lock_);
    u64 published = 0;
    for (auto [gfn, n] : unsync_gfns_) published += n;
    if (published != unsync) return "unsync_gfns_ disagrees with the unsync SPs";
    return "";
}

}  // namespace emu::mmu
