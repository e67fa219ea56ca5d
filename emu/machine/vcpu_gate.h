#pragma once
// How other threads reach a vCPU that runs translated code on its own host thread (issue #12; page-track.md
// section 5; KVM's vcpu->mode, requests and kicks; QEMU's async_run_on_cpu).
//
// The vCPU is "in guest mode" while it may read its soft TLB without asking anyone (translated code, the
// interpreter, the memory path's hit path). Its thread alone touches the TLB. Another thread that changes what the
// TLB caches (the shadow MMU zapping an SPTE, page-track's add-gfn demoting writes, a memslot change) calls this
// gate's TlbShootdown functions: the flush is queued, the vCPU is kicked out of translated code, and the caller
// waits until the vCPU is outside guest mode. The vCPU applies the queue on its way back in (Enter), so once the
// caller returns no store can use a dropped entry. The vCPU leaves guest mode around every call that may block on a
// lock (the MMU, page-track, devices): a caller waiting with mmu_lock held never waits for a vCPU blocked on it.
//
// Epoch: odd while in guest mode, bumped at every Enter and Leave; a waiter that saw an odd value waits for any
// change (a short spin, then asleep until the epoch moves: a spinning waiter would take the core the vCPU may need).
// Enter bumps it (seq_cst) before reading the pending flag, a requester sets the flag (seq_cst) before reading the
// epoch: one of them sees the other (Dekker). A requester also stops waiting when its request's ticket was applied:
// the vCPU may have entered, and applied it, between the queueing and the epoch read, and then stays inside.
//
// The same mechanism stops the world for an operation no host instruction makes atomic (a LOCKed access that is
// misaligned, crosses a page or reaches MMIO, as QEMU's exclusive section): ExclusiveSection::Run waits until every
// other gate is outside guest mode and holds them out until it ends.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "emu/common/address.h"
#include "emu/common/types.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"

namespace emu::machine {

class VcpuGate;

// The VM's stop-the-world lock and the gates it stops.
class ExclusiveSection {
public:
    void Add(VcpuGate* gate);
    void Remove(VcpuGate* gate);
    // Runs fn while every gate but `self` is outside guest mode. The caller (self's thread) must be outside guest
    // mode itself: two threads asking at once are serialized, and the second waits outside.
    void Run(const VcpuGate* self, const std::function<void()>& fn);
    bool active() const { return active_.load(std::memory_order_seq_cst); }
    // A vCPU that found a section running waits here (outside guest mode) for its end.
    void WaitWhileActive();
    // Every gate, for requests sent to all vCPUs (memslot changes).
    template <typename F>
    void ForEach(F&& f) {
        std::lock_guard lock(gates_mutex_);
        for (VcpuGate* gate : gates_) f(*gate);
    }

private:
    std::mutex run_mutex_;  // one section at a time
    std::atomic<bool> active_{false};
    std::mutex wait_mutex_;
    std::condition_variable ended_;
    std::mutex gates_mutex_;
    std::vector<VcpuGate*> gates_;
};

class VcpuGate final : public mmu::TlbShootdown {
public:
    // Joins no section by itself: SharedMmu::Attach adds it to `exclusive`.
    VcpuGate(mmu::SoftTlb& tlb, ExclusiveSection& exclusive);
    VcpuGate(const VcpuGate&) = delete;
    VcpuGate& operator=(const VcpuGate&) = delete;

    // The word whose bits make translated code leave at the next block entry (the vCPU's exit request).
    void SetKickWord(std::atomic<u32>* word) { kick_word_ = word; }

    // ---- the vCPU's thread ----
    // Enter undoes one Leave; the vCPU is in guest mode when every Leave was undone (it starts outside, with one
    // Leave counted). Entering applies queued flushes first and waits while an exclusive section runs; it returns
    // true if it applied anything (a translation made outside guest mode may be stale: redo it).
    bool Enter();
    void Leave();
    // Something waits for this vCPU to leave guest mode (a queued flush or an exclusive section).
    bool Wanted() const {
        return pending_.load(std::memory_order_relaxed) || exclusive_.active();
    }
    bool inside() const { return outside_ == 0; }

    // ---- any thread (the MMU calls these with mmu_lock held) ----
    void FlushAll() override;
    void FlushGfn(Gfn gfn) override;
    void DemoteWritesToGfn(Gfn gfn) override;
    // Waits until the vCPU is outside guest mode (kicking it), unless it already is or this is its thread. With a
    // ticket (Post's), also done once the vCPU has applied that request: it may have entered guest mode after the
    // request was queued, applied it on the way in and have no reason to leave again soon.
    void WaitOutside(u64 ticket = 0);

private:
    enum class Op : u8 { FlushAll, FlushGfn, DemoteWrites };
    struct Request {
        Op op;
        Gfn gfn;
    };
    bool OnOwnerThread() const { return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id(); }
    void Post(Op op, Gfn gfn);
    bool ApplyPending();
    void Apply(const Request& r);
    // Moves the epoch on and wakes the waiters that went to sleep on it (WaitOutside).
    void BumpEpoch();
    void WakeSleepers();
    bool Applied(u64 ticket) const { return ticket != 0 && applied_.load(std::memory_order_seq_cst) >= ticket; }

    mmu::SoftTlb& tlb_;
    ExclusiveSection& exclusive_;
    std::atomic<u32>* kick_word_ = nullptr;
    std::atomic<u64> epoch_{0};
    std::atomic<u32> sleepers_{0};  // threads asleep in WaitOutside
    std::mutex sleep_mutex_;
    std::condition_variable epoch_moved_;
    std::atomic<std::thread::id> owner_{};
    unsigned outside_ = 1;  // owner thread only: Leave calls not yet undone by Enter
    std::atomic<bool> pending_{false};
    std::mutex queue_mutex_;
    std::vector<Request> queue_;  // under queue_mutex_
    bool queue_flush_all_ = false;  // under queue_mutex_: the queue overflowed into one full flush
    u64 posted_ = 0;                // under queue_mutex_: tickets handed out, 1 onward
    std::atomic<u64> applied_{0};   // every request up to this ticket is in the TLB
};

// Leaves guest mode for a call that may block (the MMU, page-track, a device) and comes back in at scope exit.
class OutsideGuest {
public:
    explicit OutsideGuest(VcpuGate& gate) : gate_(gate) { gate_.Leave(); }
    ~OutsideGuest() { (void)gate_.Enter(); }
    OutsideGuest(const OutsideGuest&) = delete;
    OutsideGuest& operator=(const OutsideGuest&) = delete;

private:
    VcpuGate& gate_;
};

}  // namespace emu::machine
