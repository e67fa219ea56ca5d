#include "emu/machine/vcpu_gate.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

#include "emu/cpu/exit_request.h"

namespace emu::machine {

namespace {

// Beyond this many queued flushes one full flush is cheaper (and the queue stays bounded).
constexpr size_t kMaxQueued = 64;

}  // namespace

void ExclusiveSection::Add(VcpuGate* gate) {
    std::lock_guard lock(gates_mutex_);
    gates_.push_back(gate);
}

void ExclusiveSection::Remove(VcpuGate* gate) {
    std::lock_guard lock(gates_mutex_);
    std::erase(gates_, gate);
}

void ExclusiveSection::Run(const VcpuGate* self, const std::function<void()>& fn) {
    std::lock_guard run(run_mutex_);
    active_.store(true, std::memory_order_seq_cst);
    {
        std::lock_guard lock(gates_mutex_);
        for (VcpuGate* gate : gates_) {
            if (gate != self) gate->WaitOutside();
        }
    }
    fn();
    {
        std::lock_guard lock(wait_mutex_);
        active_.store(false, std::memory_order_seq_cst);
    }
    ended_.notify_all();
}

void ExclusiveSection::WaitWhileActive() {
    std::unique_lock lock(wait_mutex_);
    ended_.wait(lock, [this] { return !active_.load(std::memory_order_seq_cst); });
}

// The constructing thread owns the TLB until a vCPU thread enters guest mode (a machine builds its vCPUs, then
// starts their threads; a unit test drives the memory path from its own thread).
VcpuGate::VcpuGate(mmu::SoftTlb& tlb, ExclusiveSection& exclusive)
    : tlb_(tlb), exclusive_(exclusive), owner_(std::this_thread::get_id()) {}

bool VcpuGate::Enter() {
    if (--outside_ != 0) return false;
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    for (;;) {
        BumpEpoch();  // odd: in guest mode
        if (!exclusive_.active()) break;
        BumpEpoch();  // out again until the section ends
        exclusive_.WaitWhileActive();
    }
    return pending_.load(std::memory_order_seq_cst) && ApplyPending();
}

void VcpuGate::Leave() {
    if (outside_++ == 0) BumpEpoch();  // even: outside
}

void VcpuGate::BumpEpoch() {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    WakeSleepers();
}

void VcpuGate::WakeSleepers() {
    if (sleepers_.load(std::memory_order_seq_cst) != 0) {
        { std::lock_guard lock(sleep_mutex_); }  // a sleeper checks the epoch under it, then waits
        epoch_moved_.notify_all();
    }
}

void VcpuGate::FlushAll() { Post(Op::FlushAll, 0); }
void VcpuGate::FlushGfn(Gfn gfn) { Post(Op::FlushGfn, gfn); }
void VcpuGate::DemoteWritesToGfn(Gfn gfn) { Post(Op::DemoteWrites, gfn); }

void VcpuGate::Post(Op op, Gfn gfn) {
    // The vCPU's own thread (its memory path calling the MMU, or every vCPU of a round-robin machine) owns the TLB.
    if (OnOwnerThread()) {
        Apply(Request{op, gfn});
        return;
    }
    u64 ticket = 0;
    {
        std::lock_guard lock(queue_mutex_);
        ticket = ++posted_;
        if (op == Op::FlushAll || queue_.size() >= kMaxQueued) {
            queue_flush_all_ = true;
            queue_.clear();
        } else if (!queue_flush_all_) {
            queue_.push_back(Request{op, gfn});
        }
        pending_.store(true, std::memory_order_seq_cst);
    }
    WaitOutside(ticket);
}

void VcpuGate::WaitOutside(u64 ticket) {
    if (OnOwnerThread() || Applied(ticket)) return;
    const u64 epoch = epoch_.load(std::memory_order_seq_cst);
    if ((epoch & 1) == 0) return;  // outside: it applies the queue before it enters
    if (kick_word_ != nullptr) kick_word_->fetch_or(cpu::exit_bit::kInterrupt, std::memory_order_seq_cst);
    // The vCPU usually reaches a block entry within microseconds: spin that long. Beyond it, sleep until the epoch
    // moves: the awaited thread may need this core (more vCPU threads than host cores, or a preempted vCPU), and a
    // spinning waiter would take it away.
    auto done = [&] { return epoch_.load(std::memory_order_seq_cst) != epoch || Applied(ticket); };
    constexpr unsigned kSpins = 256;
    for (unsigned i = 0; i < kSpins; ++i) {
        if (done()) return;
        _mm_pause();
    }
    // (Not std::atomic::wait: libstdc++ 12's proxied wait for 8-byte atomics was seen to miss wake-ups here.)
    std::unique_lock lock(sleep_mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while (!done()) {
        epoch_moved_.wait_for(lock, std::chrono::milliseconds(1));
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

bool VcpuGate::ApplyPending() {
    std::vector<Request> requests;
    bool flush_all = false;
    u64 taken = 0;
    {
        std::lock_guard lock(queue_mutex_);
        requests.swap(queue_);
        flush_all = std::exchange(queue_flush_all_, false);
        pending_.store(false, std::memory_order_relaxed);
        taken = posted_;
    }
    if (flush_all) {
        tlb_.FlushAll();
    } else {
        for (const Request& r : requests) Apply(r);
    }
    // The requesters may stop waiting now, though this vCPU stays in guest mode.
    applied_.store(taken, std::memory_order_seq_cst);
    WakeSleepers();
    return flush_all || !requests.empty();
}

void VcpuGate::Apply(const Request& r) {
    switch (r.op) {
        case Op::FlushAll: tlb_.FlushAll(); break;
        case Op::FlushGfn: tlb_.FlushGfn(r.gfn); break;
        case Op::DemoteWrites: tlb_.DemoteWritesToGfn(r.gfn); break;
    }
}

}  // namespace emu::machine
