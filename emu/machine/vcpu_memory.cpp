#include "emu/machine/vcpu_memory.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "devices/irq/apic_regs.h"
#include "emu/common/guest_ram.h"
#include "emu/common/host_atomic.h"
#include "emu/common/log.h"

namespace emu::machine {

using cpu::MemAccess;
using mmu::AccessType;

namespace {

AccessType ToAccessType(MemAccess access) {
    switch (access) {
        case MemAccess::Read: return AccessType::Read;
        case MemAccess::Write: return AccessType::Write;
        case MemAccess::Fetch: return AccessType::Fetch;
    }
    return AccessType::Read;
}

// PageTrack::IsWriteTracked(gpa) without a second memslot lookup (every TLB fill asks): the counters live in the slot
// this fill's read section already found (memslots.h: "IsWriteTracked is one load after the lookup"), null while
// write tracking is disabled. Page-track owns their meaning: non-zero means tracked.
bool SlotWriteTracked(const mmu::SlotEntry& slot, Gpa gpa) {
    u16* counters = slot.meta->write_track.load(std::memory_order_acquire);
    return counters && std::atomic_ref<u16>(counters[GfnOf(gpa) - slot.base.page()]).load(std::memory_order_relaxed);
}

}  // namespace

VcpuMemory::VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
                       MmuMode mode)
    : VcpuMemory(slots, page_track, mmio, pio, std::make_unique<SharedMmu>(slots, page_track, mode)) {}

VcpuMemory::VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
                       std::unique_ptr<SharedMmu> own)
    : VcpuMemory(slots, page_track, mmio, pio, *own) {
    own_shared_ = std::move(own);
}

VcpuMemory::VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
                       SharedMmu& shared)
    : slots_(slots), page_track_(page_track), mmio_(mmio), pio_(pio), shared_(&shared) {
    if (page_track_) {
        code_notifier_.name = "code";
        code_notifier_.track_write = [this](Gpa gpa, std::span<const u8> bytes) { CodePageWritten(gpa, bytes.size()); };
        code_notifier_.track_remove_region = [this](Gfn first, u64 npages) { ForgetCodePages(first, npages); };
        if (auto r = page_track_->Register(&code_notifier_); r) {
            code_tracked_ = true;
        } else {
            // Write tracking could not be enabled (counter allocation failed): fall back to the private kCode path.
            log::Log(log::Category::PageTrack, "code pages: cannot register the page-track client; CPU stores only");
        }
    }
    gate_ = std::make_unique<VcpuGate>(tlb_, shared_->exclusive());
    shadow_vcpu_ = shared_->Attach(*gate_);
}

VcpuMemory::~VcpuMemory() {
    if (log::Enabled(log::Category::Mmu)) log::Log(log::Category::Mmu, "{}", MmuStatsString());
    if (code_tracked_) {
        // Once Unregister returns no callback runs; then the code is gone, and so are the counts held for it.
        (void)page_track_->Unregister(&code_notifier_);
        std::lock_guard lock(code_mutex_);
        code_pages_.ForEach([this](Gfn gfn) {
            if (auto r = page_track_->RemoveGfn(gfn, "code"); !r) {
                log::Log(log::Category::PageTrack, "BUG: code page gfn {:#x}: remove failed", gfn);
            }
        });
        code_pages_.Clear();
        last_code_gfn_.store(kNoGfn, std::memory_order_release);
    }
    shadow_vcpu_.reset();  // before the MMU it belongs to
    shared_->Detach(*gate_);
    own_shared_.reset();
}

std::string VcpuMemory::MmuStatsString() const {
    const mmu::SoftTlb::Stats& t = tlb_.stats();
    std::string s = fmt::format("mmu {}: walks {}, faults {}, a/d updates {}; tlb fills {}, flushes all {} page {} "
                                "non-global {} gfn {}, demotes {}",
                                shared_->shadow() ? "shadow" : "walk", walk_stats_.walks, walk_stats_.faults,
                                walk_stats_.ad_updates, t.fills, t.flush_all, t.flush_page, t.flush_non_global,
                                t.flush_gfn, t.demote_gfn);
    {
        std::lock_guard lock(code_mutex_);
        s += fmt::format("; code pages tracked {}, released {}; code writes {}; watched stores {}",
                         code_stats_.pages_tracked, code_stats_.pages_released, code_stats_.writes,
                         code_stats_.watched_stores);
    }
    if (shared_->shadow()) s += "\n" + shared_->shadow()->Stats().ToString();
    return s;
}

u8* VcpuMemory::HostPointer(u64 gpa) {
    auto host = slots_.TranslateForWrite(Gpa(gpa));
    return host ? host->get() : nullptr;
}

// Copies the paging registers the walker needs. PAE PDPTEs are architecturally loaded at MOV CR3 and on paging
// mode changes, which call LoadPdptes; a CR3 set without them (a loader's start state) loads them here.
void VcpuMemory::SyncSlotsGeneration() {
    const u64 generation = slots_.Generation();
    if (generation == slots_generation_) return;
    tlb_.FlushAll();  // a memslot change may have moved or removed RAM that entries point into
    slots_generation_ = generation;
    // ... and translated code: the vCPU drops it all.
    {
        std::lock_guard lock(code_mutex_);
        all_code_written_ = true;
        // Tracked code pages keep their counts (those of deleted or moved slots were forgotten at the change's
        // commit); the first write to each still reports it, harmlessly. Untracked ones: the TLB lost their kCode.
        if (!code_tracked_) {
            code_pages_.Clear();
            last_code_gfn_.store(kNoGfn, std::memory_order_release);
        }
        code_written_.store(true, std::memory_order_release);
    }
    SignalCodeWrite();
}

bool VcpuMemory::NoteCodePage(Gfn gfn) {
    // Consecutive fetches mostly read the same page (a block ends at its page's end): no lock for those. Seeing
    // last_code_gfn_ == gfn is as good as finding gfn in code_pages_ under the lock just before a concurrent
    // CodePageWritten took it: that one clears last_code_gfn_ in the same critical section.
    if (last_code_gfn_.load(std::memory_order_acquire) == gfn) return false;
    // The lock makes "in code_pages_" and "holds a count" one state for the notifier, which may run on another
    // thread. It is uncontended, and never taken on the store path unless a watched page is written.
    {
        std::lock_guard lock(code_mutex_);
        if (code_pages_.Contains(gfn)) {
            last_code_gfn_.store(gfn, std::memory_order_release);
            return false;
        }
        if (!code_tracked_) {
            code_pages_.Add(gfn);
            ++code_stats_.pages_tracked;
            tlb_.DemoteWritesToGfn(gfn, mmu::tlb_flag::kCode);
            last_code_gfn_.store(gfn, std::memory_order_release);
            return false;
        }
    }
    // AddGfn takes page-track's lock and waits for every other vCPU to demote its write entries: outside guest mode,
    // and re-entered only after code_mutex_ is released (an exclusive section's stores may need it).
    gate_->Leave();
    AddCodePage(gfn);
    return gate_->Enter();
}

void VcpuMemory::AddCodePage(Gfn gfn) {
    std::lock_guard lock(code_mutex_);
    if (code_pages_.Contains(gfn)) return;  // added by a racing path meanwhile (none today; cheap to check)
    if (auto r = page_track_->AddGfn(gfn, "code"); !r) {
        // The slot went away since the fetch translated (a DELETE/MOVE on another thread: its commit drops every
        // translation), or a counting bug (logged by page-track). Either way the page is not watched: have the vCPU
        // drop every translation at the next block boundary; the next fetch from the page tries again.
        log::Log(log::Category::PageTrack, "code page gfn {:#x} cannot be tracked: dropping all translations", gfn);
        all_code_written_ = true;
        code_written_.store(true, std::memory_order_release);
        SignalCodeWrite();
        return;
    }
    code_pages_.Add(gfn);
    ++code_stats_.pages_tracked;
    // Writes through every vCPU's TLB take the slow path now: AddGfn demoted them (ShadowMmu::OnGfnTracked in shadow
    // mode, SharedMmu's in walk mode); TLB fills check IsWriteTracked from now on.
    last_code_gfn_.store(gfn, std::memory_order_release);
}

void VcpuMemory::CodePageWritten(Gpa gpa, size_t size) {
    {
        std::lock_guard lock(code_mutex_);
        if (!code_pages_.Contains(GfnOf(gpa))) return;
        // A store that continues the last one (memcpy, REP MOVS over code) widens it: one range for the vCPU to check.
        if (!written_code_.empty()) {
            cpu::CodeWrite& last = written_code_.back();
            if (last.gpa + last.size == gpa.value() && GfnOf(Gpa(last.gpa)) == GfnOf(gpa)) {
                last.size += static_cast<u32>(size);
                return;
            }
        }
        written_code_.push_back(cpu::CodeWrite{gpa.value(), static_cast<u32>(size)});
        ++code_stats_.writes;
        code_written_.store(true, std::memory_order_release);
    }
    SignalCodeWrite();
}

void VcpuMemory::ReleaseCodePage(u64 gfn) {
    {
        // RemoveGfn takes page-track's lock: outside guest mode, entered again only after code_mutex_ is released.
        const OutsideGuest outside(*gate_);
        std::lock_guard lock(code_mutex_);
        if (!code_pages_.Contains(gfn)) return;
        code_pages_.Remove(gfn);  // a fetch from it records it again
        if (last_code_gfn_.load(std::memory_order_relaxed) == gfn) {
            last_code_gfn_.store(kNoGfn, std::memory_order_release);
        }
        if (code_tracked_) {
            if (auto r = page_track_->RemoveGfn(gfn, "code"); !r) {
                log::Log(log::Category::PageTrack, "BUG: code page gfn {:#x}: remove failed", gfn);
            }
        }
    }
    ++code_stats_.pages_released;
    // This TLB's write entries for the page still send every store to the slow path: drop them so that they refill
    // without kTracked (kCode) unless the page is watched by another tracker (QEMU's tlb_unprotect_code). This
    // thread owns the TLB; a device's track_write cannot.
    if (page_track_ && page_track_->IsWriteTracked(GpaOf(gfn))) return;
    tlb_.FlushGfn(gfn);
}

void VcpuMemory::ForgetCodePages(Gfn first, u64 npages) {
    std::lock_guard lock(code_mutex_);
    code_pages_.RemoveRange(first, npages);
    last_code_gfn_.store(kNoGfn, std::memory_order_release);
}

void VcpuMemory::ResetAfterRestore() {
    if (shadow_vcpu_) shadow_vcpu_->OnPagingModeChange();
    if (shared_->shadow()) shared_->shadow()->ZapAll();
    tlb_.FlushAll();
    pdptes_cr3_ = ~u64{0};
    slots_generation_ = ~u64{0};
}

void VcpuMemory::SyncPagingState(const cpu::CpuState& state) {
    SyncSlotsGeneration();
    paging_.cr0 = state.cr0;
    // With CR4.PCIDE, CR3[11:0] is the PCID, not PWT/PCD: the walker and the shadow MMU see the root address only.
    paging_.cr3 = (state.cr4 & cpu::cr4::PCIDE) ? state.cr3 & ~u64{0xFFF} : state.cr3;
    paging_.cr4 = state.cr4;
    paging_.efer = state.efer;
    paging_.pkru = state.pkru;
    if (mmu::ModeOf(paging_) == mmu::PagingMode::Pae && pdptes_cr3_ != state.cr3) {
        (void)mmu::LoadPdptes(paging_, *this);  // no MOV CR to fault: a bad PDPTE stays as the previous one
        pdptes_cr3_ = state.cr3;
    }
}

bool VcpuMemory::Translate(const cpu::CpuState& state, u64 linear, MemAccess access, bool user, Target* target,
                           cpu::MemFault* fault) {
    // At CPL 3 a supervisor access is implicit (descriptor tables, TSS): SMAP applies to it whatever AC says.
    const mmu::AccessFlags flags{user, !user && state.cpl() == 3, (state.rflags & cpu::rflags::AC) != 0};
    const mmu::MmuIndex index = mmu::MmuIndexOf(flags);
    const AccessType type = ToAccessType(access);
retry:
    const mmu::TlbLookup hit = tlb_.Lookup(index, linear, type);
    if (hit.kind != mmu::TlbLookupKind::Miss) {
        target->host = hit.host;
        target->gpa = hit.gpa;
        target->flags = hit.kind == mmu::TlbLookupKind::SlowPath ? hit.flags : 0;
        if (hit.kind == mmu::TlbLookupKind::SlowPath) {
            // The entry maps RAM unless it is MMIO; its addend still locates the host page.
            target->host = (target->flags & mmu::tlb_flag::kMmio)
                               ? nullptr
                               : reinterpret_cast<u8*>(tlb_.Entry(index, linear).addend + linear);
        }
        return true;
    }

    mmu::WalkResult walk;
    if (paging_.cr0 & mmu::PagingRegs::kCr0Pg) {
        // The MMU takes mmu_lock (and may write guest A/D bits): outside guest mode. Flushes applied on the way back
        // in may postdate the walk: walk again.
        gate_->Leave();
        walk = shadow_vcpu_ ? shadow_vcpu_->Translate(paging_, linear, type, flags, *this)
                            : mmu::Walk(paging_, linear, type, flags, *this, &walk_stats_);
        if (gate_->Enter()) goto retry;
        if (walk.status == mmu::WalkStatus::PageFault) {
            *fault = cpu::MemFault{14, walk.error_code, linear};
            return false;
        }
        if (walk.status == mmu::WalkStatus::TableNotInRam) {
            log::Log(log::Category::GuestErrors, "page table at gpa {:#x} is not RAM (linear {:#x})", walk.table_gpa,
                     linear);
            *fault = cpu::MemFault{14, 0, linear};
            return false;
        }
    } else {
        // Paging off: linear = physical. Outside long mode the linear address is 32 bits wide.
        walk.status = mmu::WalkStatus::Ok;
        walk.gpa = (state.efer & cpu::efer::LMA) ? linear : (linear & 0xFFFFFFFFu);
        walk.page_size = kPageSize;
        walk.readable = walk.writable = walk.executable = walk.dirty = true;
    }

    const mmu::Memslots::ReadSection section(slots_);
    const mmu::SlotEntry* slot = section.Find(Gpa(walk.gpa));
    u64 tlb_flags = 0;
    u8* host = nullptr;
    bool read_only = false;
    if (!slot) {
        tlb_flags |= mmu::tlb_flag::kMmio;
    } else {
        host = slot->host.get() + (walk.gpa - slot->base.value());
        read_only = mmu::HasFlag(slot->flags, mmu::SlotFlags::ReadOnly);
        if (mmu::HasFlag(slot->flags, mmu::SlotFlags::LogDirtyPages)) tlb_flags |= mmu::tlb_flag::kNotDirty;
        if (page_track_ && SlotWriteTracked(*slot, Gpa(walk.gpa))) tlb_flags |= mmu::tlb_flag::kTracked;
        // Without a PageTrack only this thread touches code_pages_.
        if (!code_tracked_ && code_pages_.Contains(GfnOf(Gpa(walk.gpa)))) tlb_flags |= mmu::tlb_flag::kCode;
    }
    // Cache the translation only while no memslot change is in flight (its generation would never match).
    if (!(section.generation() & mmu::kGenerationInProgress)) {
        mmu::WalkResult fill = walk;
        if (read_only) fill.writable = false;  // writes to ROM miss the TLB and are dropped below
        tlb_.FillFromWalk(index, linear, fill, host, tlb_flags);  // host: the byte at walk.gpa
    }
    target->host = host;
    target->gpa = walk.gpa;
    target->flags = tlb_flags;
    target->read_only = read_only;
    return true;
}

bool VcpuMemory::Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, MemAccess access, bool user,
                      cpu::MemFault* fault) {
    SyncPagingState(state);
    u8* out = static_cast<u8*>(dst);
    while (size > 0) {
        const unsigned piece = static_cast<unsigned>(std::min<u64>(size, kPageSize - (linear & kPageMask)));
        Target target;
        if (!Translate(state, linear, access, user, &target, fault)) return false;
        // Before the bytes are read: a write racing with this fetch is reported (writers track after landing).
        if (access == MemAccess::Fetch && target.host && NoteCodePage(GfnOf(Gpa(target.gpa)))) continue;
        if (target.host) {
            guest_ram::Load(out, target.host, piece);
        } else if (!MmioRead(target.gpa, std::span<u8>(out, piece))) {
            log::Log(log::Category::GuestErrors, "read of unassigned physical address {:#x}", target.gpa);
        }
        out += piece;
        linear += piece;
        size -= piece;
    }
    return true;
}

void VcpuMemory::WritePiece(const Target& target, const u8* src, unsigned size) {
    if (!target.host) {
        {
            const OutsideGuest outside(*gate_);  // devices take their locks and may change the memslots
            if (!MmioWrite(target.gpa, std::span<const u8>(src, size))) {
                log::Log(log::Category::GuestErrors, "write to unassigned physical address {:#x}", target.gpa);
            }
        }
        SignalDeviceAccess();
        SyncSlotsGeneration();
        return;
    }
    if (target.read_only) return;  // ROM: the write is dropped, as on a real bus
    guest_ram::Store(target.host, src, size);
    AfterRamWrite(target, src, size);
}

void VcpuMemory::AfterRamWrite(const Target& target, const u8* src, unsigned size) {
    if (target.flags == 0) return;  // the common case: a page nobody watches
    if (target.flags & (mmu::tlb_flag::kTracked | mmu::tlb_flag::kCode)) ++code_stats_.watched_stores;
    if (target.flags & mmu::tlb_flag::kNotDirty) slots_.MarkDirty(Gpa(target.gpa));
    // A code page's write entries carry kTracked (its code-page count) or, without a PageTrack, kCode.
    if ((target.flags & mmu::tlb_flag::kTracked) && page_track_) {
        // The bytes landed in guest mode; the dispatcher (the MMU's handler, other vCPUs' code notifiers) runs
        // outside it (page-track.md section 7: store, then dispatch).
        const OutsideGuest outside(*gate_);
        page_track_->OnTrackedWrite(Gpa(target.gpa), std::span<const u8>(src, size));
    }
    if (target.flags & mmu::tlb_flag::kCode) CodePageWritten(Gpa(target.gpa), size);
}

cpu::CasResult VcpuMemory::CompareExchange(const cpu::CpuState& state, u64 linear, unsigned size,
                                           const void* expected, const void* desired, bool user,
                                           cpu::MemFault* fault) {
    SyncPagingState(state);
    if ((linear & (size - 1)) == 0) {  // naturally aligned, so within one page
        Target target;
        if (!Translate(state, linear, MemAccess::Write, user, &target, fault)) return cpu::CasResult::Fault;
        if (target.host && !target.read_only) {
            if (!HostCompareExchange(target.host, size, expected, desired)) return cpu::CasResult::Mismatch;
            AfterRamWrite(target, static_cast<const u8*>(desired), size);
            return cpu::CasResult::Swapped;
        }
    }
    // Misaligned (a split lock), MMIO or ROM: no host instruction makes it atomic, so every other vCPU waits outside
    // guest mode meanwhile (QEMU's exclusive section). Device threads are not stopped: they do not use locked
    // accesses on the guest's behalf. A device register is not compared: reading it again may not repeat the value
    // the instruction's load saw, and the locked cycle writes it either way.
    cpu::CasResult result = cpu::CasResult::Fault;
    const OutsideGuest outside(*gate_);
    shared_->exclusive().Run(gate_.get(), [&] {
        u8 current[16];
        if (!Read(state, linear, current, size, MemAccess::Read, user, fault)) return;
        Target first;
        const bool changed = std::memcmp(current, expected, size) != 0;
        if (changed && Translate(state, linear, MemAccess::Write, user, &first, fault) && first.host != nullptr) {
            result = cpu::CasResult::Mismatch;
            return;
        }
        if (Write(state, linear, desired, size, user, fault)) result = cpu::CasResult::Swapped;
    });
    return result;
}

void VcpuMemory::SafePoint() {
    // A memslot change on another thread: this vCPU's translations of the old RAM go before its next block.
    SyncSlotsGeneration();
    if (gate_->Wanted()) {
        gate_->Leave();
        (void)gate_->Enter();
    }
}

bool VcpuMemory::Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
                       cpu::MemFault* fault) {
    SyncPagingState(state);
    // Translate every page first so that a fault on a later page leaves memory untouched.
    constexpr unsigned kMaxPieces = 4096 / kPageSize + 2;
    Target targets[kMaxPieces];
    unsigned sizes[kMaxPieces];
    unsigned pieces = 0;
    for (u64 at = linear, left = size; left > 0 && pieces < kMaxPieces; ++pieces) {
        const unsigned piece = static_cast<unsigned>(std::min<u64>(left, kPageSize - (at & kPageMask)));
        if (!Translate(state, at, MemAccess::Write, user, &targets[pieces], fault)) return false;
        sizes[pieces] = piece;
        at += piece;
        left -= piece;
    }
    const u8* in = static_cast<const u8*>(src);
    for (unsigned i = 0; i < pieces; ++i) {
        WritePiece(targets[i], in, sizes[i]);
        in += sizes[i];
    }
    return true;
}

u32 VcpuMemory::PortIn(u16 port, unsigned size) {
    u8 bytes[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    {
        const OutsideGuest outside(*gate_);  // devices take their locks
        if (!pio_.Read(port, std::span<u8>(bytes, size))) {
            log::Log(log::Category::Ioport, "in from unassigned port {:#x}", port);
        }
    }
    SignalDeviceAccess();
    u32 value = 0;
    std::memcpy(&value, bytes, size);
    return value;
}

void VcpuMemory::PortOut(u16 port, unsigned size, u32 value) {
    u8 bytes[4];
    std::memcpy(bytes, &value, 4);
    {
        const OutsideGuest outside(*gate_);  // devices take their locks; the hook may change the memslots
        if (!pio_.Write(port, std::span<const u8>(bytes, size))) {
            log::Log(log::Category::Ioport, "out to unassigned port {:#x} value {:#x}", port, value);
        }
        if (after_port_write_) after_port_write_();
    }
    SignalDeviceAccess();
    SyncSlotsGeneration();
}

bool VcpuMemory::WritePlatformMsr(u32 index, u64 value) {
    if (!platform_.write_msr) return true;
    bool ok = false;
    {
        const OutsideGuest outside(*gate_);  // the local APIC's lock (an x2APIC ICR write reaches the others')
        ok = platform_.write_msr(index, value);
    }
    RefreshLocalWindow();  // IA32_APIC_BASE may have moved, disabled or switched the APIC to x2APIC mode
    return ok;
}

void VcpuMemory::SetPlatform(Platform platform) {
    platform_ = std::move(platform);
    RefreshLocalWindow();
}

void VcpuMemory::RefreshLocalWindow() {
    local_window_ = platform_.local_apic && platform_.local_apic_window ? platform_.local_apic_window() : 0;
}

bool VcpuMemory::MmioRead(u64 gpa, std::span<u8> data) {
    const OutsideGuest outside(*gate_);  // devices take their locks
    if (local_window_ != 0 && gpa - local_window_ < devices::apic::kLapicSize) {
        platform_.local_apic->Read(gpa - local_window_, data);
        return true;
    }
    return mmio_.Read(gpa, data);
}

bool VcpuMemory::MmioWrite(u64 gpa, std::span<const u8> data) {
    if (local_window_ != 0 && gpa - local_window_ < devices::apic::kLapicSize) {
        platform_.local_apic->Write(gpa - local_window_, data);
        return true;
    }
    return mmio_.Write(gpa, data);
}
std::optional<u64> VcpuMemory::ReadPlatformMsr(u32 index) {
    const OutsideGuest outside(*gate_);
    return platform_.read_msr ? platform_.read_msr(index) : std::nullopt;
}
u64 VcpuMemory::ClockNs() { return platform_.clock ? platform_.clock->NowNs() : MemoryInterface::ClockNs(); }
void VcpuMemory::SetTscOffset(i64 offset) {
    if (platform_.set_tsc_offset) platform_.set_tsc_offset(offset);
}

bool VcpuMemory::TakeCodeWritten() {
    if (!code_written_.load(std::memory_order_acquire)) return false;
    std::lock_guard lock(code_mutex_);
    code_written_.store(false, std::memory_order_relaxed);
    taken_code_writes_.clear();
    if (!std::exchange(all_code_written_, false)) taken_code_writes_.swap(written_code_);
    written_code_.clear();
    return true;
}

bool VcpuMemory::TranslateFetch(const cpu::CpuState& state, u64 linear, bool user, u64* gpa, cpu::MemFault* fault) {
    SyncPagingState(state);
    Target target;
    if (!Translate(state, linear, MemAccess::Fetch, user, &target, fault)) return false;
    *gpa = target.gpa;
    return true;
}

void VcpuMemory::PageSet::Add(Gfn gfn) {
    if (gfn >= kBitmapPages) {
        high_.insert(gfn);
        return;
    }
    if ((gfn >> 6) >= bits_.size()) bits_.resize((gfn >> 6) + 1);
    bits_[gfn >> 6] |= u64{1} << (gfn & 63);
}

void VcpuMemory::PageSet::Remove(Gfn gfn) {
    if (gfn >= kBitmapPages) {
        high_.erase(gfn);
    } else if ((gfn >> 6) < bits_.size()) {
        bits_[gfn >> 6] &= ~(u64{1} << (gfn & 63));
    }
}

void VcpuMemory::PageSet::RemoveRange(Gfn first, u64 npages) {
    const Gfn end = first + npages;
    for (Gfn gfn = first; gfn < std::min<Gfn>(end, bits_.size() * 64);) {
        if ((gfn & 63) == 0 && end - gfn >= 64) {
            bits_[gfn >> 6] = 0;
            gfn += 64;
        } else {
            bits_[gfn >> 6] &= ~(u64{1} << (gfn & 63));
            ++gfn;
        }
    }
    if (end > kBitmapPages) std::erase_if(high_, [&](Gfn gfn) { return gfn >= first && gfn < end; });
}

void VcpuMemory::PageSet::Clear() {
    std::fill(bits_.begin(), bits_.end(), 0);
    high_.clear();
}

bool VcpuMemory::LoadPdptes(u64 cr3) {
    mmu::PagingRegs regs = paging_;
    regs.cr3 = cr3;
    if (const auto loaded = mmu::LoadPdptes(regs, *this); !loaded) {
        if (loaded.error() == mmu::PdpteError::NotInRam) {
            log::Log(log::Category::GuestErrors, "PAE PDPT at {:#x} is not RAM", cr3 & 0xFFFFFFE0u);
        }
        return false;
    }
    // The copies the walk and the shadow MMU use until the next load (the shadow MMU compares them to its roots').
    paging_.pdptes = regs.pdptes;
    pdptes_cr3_ = cr3;
    return true;
}

void VcpuMemory::FlushTlb(u64 linear, bool global) {
    if (linear != ~u64{0}) {
        if (shadow_vcpu_) {
            const OutsideGuest outside(*gate_);  // mmu_lock
            shadow_vcpu_->Invlpg(paging_, linear);
        }
        tlb_.FlushPage(linear);
        return;
    }
    // A CR3 write flushes non-global entries; a paging-mode change (CR0/CR4/EFER) flushes everything. The shadow
    // MMU selects the root for the new CR3 and role at the next translation, reusing kept roots.
    if (shadow_vcpu_) {
        const OutsideGuest outside(*gate_);  // mmu_lock
        if (global) shadow_vcpu_->OnPagingModeChange();
        else shadow_vcpu_->OnCr3Write();
    }
    if (global) tlb_.FlushAll();
    else tlb_.FlushNonGlobal();
}

}  // namespace emu::machine
