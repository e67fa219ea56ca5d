#pragma once
// A vCPU's path to memory: soft TLB, then on a miss the MMU (walk mode: the guest page-table walker; shadow
// mode: the shadow MMU, which walks only when no valid shadow entry exists), then memslots (RAM) or the MMIO bus;
// port I/O goes to the port bus. Writes to write-tracked pages reach page-track's dispatcher after the bytes have
// landed (in shadow mode that runs the shadow MMU's write handler); writes to dirty-logged slots mark the page dirty.
//
// Self-modifying code (jit.md section 2 item 5) is a page-track client: the first instruction fetch from a RAM page
// since it was last written adds one write-track count on its gfn (PageTrack::AddGfn) and demotes this TLB's write
// entries for it, so every writer of the page (CPU stores here, device DMA, the debugger: all call
// PageTrack::OnTrackedWrite after their bytes land) reaches this object's notifier, which queues the written range for
// the vCPU (TakeCodeWritten, CodeWrites: it drops the translations with a byte in it) and asks running code to stop at
// the next instruction boundary. The vCPU releases the page (ReleaseCodePage: the count is dropped, stores run inline
// again) once no translation made from it is left, as QEMU invalidates only the TBs a write overlaps. Without a PageTrack (unit tests' flat setups) the same is done
// privately: fetched pages are remembered here, their write TLB entries carry tlb_flag::kCode, and only stores through
// this object are seen.
//
// The VM-wide MMU state (the ShadowMmu in shadow mode) is a SharedMmu that every vCPU's VcpuMemory attaches its TLB
// to; a single-vCPU user may let this object own a private one. A vCPU's xAPIC register window is decoded here
// (Platform::local_apic), before the shared MMIO bus, so that each vCPU reaches its own local APIC.
#include <atomic>
#include <bit>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "devices/bus/bus.h"
#include "devices/timer/clock.h"
#include "emu/cpu/memory_interface.h"
#include "emu/machine/machine_config.h"
#include "emu/machine/shared_mmu.h"
#include "emu/machine/vcpu_gate.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"
#include "mmu/walk/walk.h"

namespace emu::machine {

class VcpuMemory final : public cpu::MemoryInterface, private mmu::PhysMemory {
public:
    // page_track may be null (a machine without write tracking); shadow mode needs it (else walk mode is used). With a
    // page_track, this object registers its code-page notifier there (enabling write tracking) and must be destroyed
    // before it; its destructor unregisters and removes the counts it still holds, so that the counts of the pages
    // translated code was made from balance to zero once that code is gone (pages of deleted or moved slots excepted:
    // their counts died with the slot).
    VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
               MmuMode mode = MmuMode::Walk);
    // One of several vCPUs: shared (which must outlive this object) holds the VM's MMU state.
    VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
               SharedMmu& shared);
    ~VcpuMemory() override;
    VcpuMemory(const VcpuMemory&) = delete;
    VcpuMemory& operator=(const VcpuMemory&) = delete;

    bool Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, cpu::MemAccess access, bool user,
              cpu::MemFault* fault) override;
    bool Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
               cpu::MemFault* fault) override;
    cpu::CasResult CompareExchange(const cpu::CpuState& state, u64 linear, unsigned size, const void* expected,
                                   const void* desired, bool user, cpu::MemFault* fault) override;
    void EnterGuest() override { (void)gate_->Enter(); }
    void LeaveGuest() override { gate_->Leave(); }
    void SafePoint() override;
    // With more vCPU threads than host cores a spinning vCPU may hold up the one it waits for: every few PAUSEs give
    // the core away (set by a machine that runs a thread per vCPU).
    void SetYieldOnPause(bool yield) { yield_on_pause_ = yield; }
    void SpinPause() override {
        if (yield_on_pause_ && ++pauses_ % kPausesPerYield == 0) std::this_thread::yield();
    }
    void SetExitSignal(std::atomic<u32>* word) override {
        MemoryInterface::SetExitSignal(word);
        gate_->SetKickWord(word);
    }
    u32 PortIn(u16 port, unsigned size) override;
    void PortOut(u16 port, unsigned size, u32 value) override;
    void FlushTlb(u64 linear, bool global) override;
    // The shadow MMU's SPTEs keep each leaf's key and FinishLeaf applies PKRU at lookup: only the TLB must go.
    void FlushTlbRights() override { tlb_.FlushAll(); }
    bool LoadPdptes(u64 cr3) override;
    bool TakeCodeWritten() override;
    std::span<const cpu::CodeWrite> CodeWrites() const override { return taken_code_writes_; }
    void ReleaseCodePage(u64 gfn) override;
    bool TranslateFetch(const cpu::CpuState& state, u64 linear, bool user, u64* gpa, cpu::MemFault* fault) override;
    bool WritePlatformMsr(u32 index, u64 value) override;
    std::optional<u64> ReadPlatformMsr(u32 index) override;
    u64 ClockNs() override;
    void SetTscOffset(i64 offset) override;
    mmu::TlbEntry* InlineTlb(bool user) override {
        return tlb_.Table(user ? mmu::MmuIndex::User : mmu::MmuIndex::Supervisor);
    }

    // Runs after every port write: a device that must change a bus's topology (a PCI BAR remap) queues the
    // change during the access, which holds the bus, and it is applied here, before the next instruction.
    void SetAfterPortWrite(std::function<void()> hook) { after_port_write_ = std::move(hook); }
    // FERR# (an unmasked x87 error with CR0.NE = 0): the machine routes it to its interrupt controller.
    void SetFpuErrorHandler(std::function<void()> handler) { fpu_error_ = std::move(handler); }
    void SignalFerr() override {
        if (fpu_error_) fpu_error_();
    }
    // The board's side of the platform MSRs and of the TSC (its local APIC and clock). Without it every platform MSR
    // write is accepted, reads raise #GP and the clock is the host's.
    struct Platform {
        std::function<bool(u32 index, u64 value)> write_msr;
        std::function<std::optional<u64>(u32 index)> read_msr;
        std::function<void(i64 offset)> set_tsc_offset;
        const devices::Clock* clock = nullptr;
        // This vCPU's local APIC registers and where they are decoded now (0: nowhere); null: none.
        devices::IoDevice* local_apic = nullptr;
        std::function<u64()> local_apic_window;
    };
    void SetPlatform(Platform platform);

    // Guest RAM and the CPU state were replaced behind the vCPU's back (loadvm; call with the vCPU parked): the shadow
    // MMU drops its roots and frees every shadow page (their write-track counts go back), the TLB is flushed and the
    // PAE PDPTEs are reloaded at the next access. Changed tracked pages were reported through page-track already.
    void ResetAfterRestore();

    // Before the vCPU runs a time slice: another vCPU may have changed the memslots meanwhile, and translated code
    // reads this TLB inline without asking.
    void SyncShared() { SyncSlotsGeneration(); }

    mmu::SoftTlb& tlb() { return tlb_; }
    const mmu::WalkStats& walk_stats() const { return walk_stats_; }
    MmuMode mmu_mode() const { return shared_->shadow() ? MmuMode::Shadow : MmuMode::Walk; }
    mmu::ShadowMmu* shadow_mmu() { return shared_->shadow(); }
    // Statistics for -d mmu: the walker's, the TLB's, and the shadow MMU's in shadow mode.
    std::string MmuStatsString() const;

private:
    // Where one page-contained piece of an access goes.
    struct Target {
        u8* host = nullptr;  // RAM: host address of the first byte
        u64 gpa = 0;
        u64 flags = 0;       // tlb_flag bits that force special handling (kMmio, kTracked, kNotDirty, kCode)
        bool read_only = false;
    };

    VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
               std::unique_ptr<SharedMmu> own);
    u8* HostPointer(u64 gpa) override;
    void SyncPagingState(const cpu::CpuState& state);
    // A memslot change (generation bump) invalidates every TLB entry and every translation; translated code reads
    // the TLB inline without calling in here, so device writes (which may change memslots) check it right away.
    void SyncSlotsGeneration();
    // An instruction fetch read from gfn, a RAM page: every later write to it must be reported (it may modify
    // translated code). vCPU thread.
    // Returns true if it had to leave guest mode and flushes were applied meanwhile (translate again).
    bool NoteCodePage(Gfn gfn);
    void AddCodePage(Gfn gfn);  // NoteCodePage's page-track part, outside guest mode
    // [gpa, gpa + size) was written (page-track's track_write, any thread; or WritePiece for a kCode page without a
    // PageTrack): if it is on a code page, report it to the vCPU.
    void CodePageWritten(Gpa gpa, size_t size);
    // track_remove_region: a DELETE or MOVE committed (any thread); the counts of [first, first + npages) died with
    // the slot, so those pages are forgotten without RemoveGfn. The generation change drops every translation.
    void ForgetCodePages(Gfn first, u64 npages);
    bool Translate(const cpu::CpuState& state, u64 linear, cpu::MemAccess access, bool user, Target* target,
                   cpu::MemFault* fault);
    void WritePiece(const Target& target, const u8* src, unsigned size);
    // The bookkeeping after `size` bytes landed in RAM at target: dirty log, page-track's dispatcher, code pages.
    void AfterRamWrite(const Target& target, const u8* src, unsigned size);
    // MMIO: this vCPU's local APIC window, else the shared bus. False: nothing decodes gpa.
    bool MmioRead(u64 gpa, std::span<u8> data);
    bool MmioWrite(u64 gpa, std::span<const u8> data);
    void RefreshLocalWindow();

    mmu::Memslots& slots_;
    mmu::PageTrack* page_track_;
    devices::Bus& mmio_;
    devices::Bus& pio_;
    mmu::SoftTlb tlb_;
    mmu::PagingRegs paging_{};
    mmu::WalkStats walk_stats_{};
    u64 slots_generation_ = ~u64{0};
    u64 pdptes_cr3_ = ~u64{0};  // the CR3 that paging_.pdptes were loaded from
    std::unique_ptr<SharedMmu> own_shared_;  // single-vCPU use: the VM's MMU state is this object's
    SharedMmu* shared_;
    // How other threads flush tlb_ (vcpu_gate.h); every call below that may block leaves guest mode through it.
    std::unique_ptr<VcpuGate> gate_;
    std::unique_ptr<mmu::ShadowVcpu> shadow_vcpu_;
    u64 local_window_ = 0;  // Platform::local_apic_window() after the last IA32_APIC_BASE write
    std::function<void()> after_port_write_;
    Platform platform_;
    std::function<void()> fpu_error_;
    static constexpr u64 kPausesPerYield = 64;
    bool yield_on_pause_ = false;
    u64 pauses_ = 0;
    // A set of guest-physical pages that every store tests: a bitmap over the low pages (grown on demand) and a
    // hash set for the rare page above it.
    class PageSet {
    public:
        bool Contains(Gfn gfn) const {
            if (gfn < kBitmapPages) return (gfn >> 6) < bits_.size() && ((bits_[gfn >> 6] >> (gfn & 63)) & 1);
            return !high_.empty() && high_.count(gfn) != 0;
        }
        void Add(Gfn gfn);
        void Remove(Gfn gfn);
        void RemoveRange(Gfn first, u64 npages);
        void Clear();
        template <typename F>
        void ForEach(F&& f) const {
            for (size_t w = 0; w < bits_.size(); ++w) {
                for (u64 word = bits_[w]; word != 0; word &= word - 1) f(Gfn{w * 64 + std::countr_zero(word)});
            }
            for (const Gfn gfn : high_) f(gfn);
        }

    private:
        static constexpr Gfn kBitmapPages = Gfn{1} << 28;  // 1 TiB of guest-physical space, 32 MiB of bitmap at most
        std::vector<u64> bits_;
        std::unordered_set<Gfn> high_;
    };

    // Self-modifying code (see the top of this file). code_pages_ holds the RAM pages instruction fetches have read
    // since the vCPU last released them; with a PageTrack (code_tracked_) this object holds exactly one write-track
    // count on each of them (none on pages of a deleted or moved slot: those are forgotten at track_remove_region).
    // Writes to code pages are queued for the vCPU.
    //
    // code_mutex_ guards code_pages_, written_code_: the notifier may run on a device
    // thread (DMA). It is a page-track client lock: taken before page-track's (AddGfn/RemoveGfn are called with it
    // held), never held while calling OnTrackedWrite. code_written_ lets TakeCodeWritten, called at every block
    // boundary, skip the lock when nothing was written.
    mmu::PageTrackNotifier code_notifier_;
    bool code_tracked_ = false;  // code_notifier_ is registered with page_track_
    mutable std::mutex code_mutex_;
    PageSet code_pages_;
    std::vector<cpu::CodeWrite> written_code_;
    bool all_code_written_ = false;  // memslots changed: what any gpa holds may have changed
    std::atomic<bool> code_written_{false};
    // The code page the last fetch noted (still one while it is here), or kNoGfn. Written under code_mutex_.
    static constexpr Gfn kNoGfn = ~Gfn{0};
    std::atomic<Gfn> last_code_gfn_{kNoGfn};
    std::vector<cpu::CodeWrite> taken_code_writes_;  // vCPU thread only
    struct CodeStats {
        u64 pages_tracked = 0;   // code pages noted (AddGfn, or kCode without a PageTrack); under code_mutex_
        u64 writes = 0;          // writes to code pages reported; under code_mutex_
        u64 pages_released = 0;  // code pages released by the vCPU; vCPU thread
        u64 watched_stores = 0;  // stores through this path to a kTracked or kCode page; vCPU thread
    } code_stats_;
};

}  // namespace emu::machine
