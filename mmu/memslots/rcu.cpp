#include "mmu/memslots/rcu.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bitset>
#include <thread>

namespace emu::mmu {

namespace {

std::mutex g_index_mutex;
std::bitset<RcuDomain::kThreadRecords> g_index_used;
std::atomic<u32> g_index_high_water{0};  // records at or above it were never used: Synchronize skips them

bool RegisterMembarrier() {
    const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

}  // namespace

// Returns the calling thread's index when the thread exits; later read sections of the exiting thread
// (from other thread_local destructors) take the shared overflow record.
struct ThreadIndexReleaser {
    u32 index = RcuDomain::kThreadRecords;
    ~ThreadIndexReleaser() {
        RcuDomain::thread_index_plus_one_ = RcuDomain::kThreadRecords + 1;
        if (index >= RcuDomain::kThreadRecords) return;
        std::lock_guard lock(g_index_mutex);
        g_index_used.reset(index);
    }
};

RcuDomain::RcuDomain() {
    // Decided once per process, before any reader of any domain can run (readers need a domain).
    static const bool ok = RegisterMembarrier();
    membarrier_ok_.store(ok, std::memory_order_relaxed);
}

u32 RcuDomain::AcquireThreadIndex() {
    static thread_local ThreadIndexReleaser releaser;
    std::lock_guard lock(g_index_mutex);
    for (u32 i = 0; i < kThreadRecords; ++i) {
        if (!g_index_used.test(i)) {
            g_index_used.set(i);
            releaser.index = i;
            if (i >= g_index_high_water.load(std::memory_order_relaxed)) {
                // seq_cst (a full barrier): a writer whose scan misses this record stored its pointer before
                // this store in the seq_cst order, so this thread's first read section sees that pointer.
                g_index_high_water.store(i + 1, std::memory_order_seq_cst);
            }
            return i;
        }
    }
    return kThreadRecords;
}

void RcuDomain::WriterBarrier() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (membarrier_ok_.load(std::memory_order_relaxed)) {
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    }
}

void RcuDomain::WaitForReaders(u32 idx) {
    const u32 used = g_index_high_water.load(std::memory_order_seq_cst);
    for (u32 i = 0; i < used; ++i) {
        while (records_[i].count[idx].load(std::memory_order_acquire) != 0) std::this_thread::yield();
    }
    while (overflow_.count[idx].load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void RcuDomain::Synchronize() {
    std::lock_guard lock(sync_mutex_);
    WriterBarrier();  // the caller's pointer store is ordered before our counter loads
    const u32 cur = idx_.load(std::memory_order_relaxed) & 1;
    WaitForReaders(cur ^ 1);  // stragglers that read idx before the previous flip
    idx_.store(cur ^ 1, std::memory_order_seq_cst);
    WaitForReaders(cur);
}

}  // namespace emu::mmu
