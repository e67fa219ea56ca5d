#pragma once
// RcuDomain: a small SRCU-like read-copy-update domain. Readers of a published immutable object (the memslot
// snapshot, the page-track notifier list) enter a read section; a writer swaps the pointer, then calls
// Synchronize() and frees the old object once every reader that could still see it has left.
//
// Scheme. Each live thread owns a process-wide index (recycled at thread exit); each domain has one
// cache-line record per index with two counters, so a reader only writes a line nobody else writes. A read
// section does counter[idx]++ on its record (plain load + store), a barrier, then loads the protected
// pointer; it leaves with a release store of counter - 1. Synchronize() (called after the writer stored the
// new pointer) issues the writer-side barrier, waits until counter[idx ^ 1] of every record is zero, flips
// idx, and waits for counter[old idx] too.
// Safety: reader "store counter; barrier; load pointer" against writer "store pointer; barrier; load
// counters": if the writer saw no increment, the reader sees the new pointer. Both counters are waited for,
// so a reader that picked a stale idx is covered; the flip only guarantees progress (new readers go to the
// other counter). The barrier pair is asymmetric, as in liburcu's memb flavour: with Linux membarrier
// (MEMBARRIER_CMD_PRIVATE_EXPEDITED) the reader needs only a compiler barrier and the writer's syscall makes
// every running thread execute a full barrier; without it both sides use a seq_cst fence. Threads beyond
// kThreadRecords share one overflow record and use atomic RMWs.
//
// Cost (tools/bench/memslot_lookup): a read section is a few ns with membarrier (no locked instruction),
// about one mfence otherwise; no cache line is shared between vCPUs. For comparison, libstdc++ 12's
// std::atomic<std::shared_ptr> compiles but is not lock-free: every load spins on a lock bit and bumps a
// reference count in one shared control block, so all vCPUs would bounce the same line. Synchronize() costs
// a membarrier syscall plus a scan of the records in use and a wait for the longest read section in flight;
// it is for rare updates only.
//
// Rules: read sections nest and may be entered from any thread; they must be short and must never call
// Synchronize() on the same domain (it would wait for itself).
#include <array>
#include <atomic>
#include <mutex>

#include "emu/common/types.h"

namespace emu::mmu {

class RcuDomain {
public:
    static constexpr u32 kThreadRecords = 256;

    // One read section; returned by ReadLock(), passed back to ReadUnlock().
    struct Token {
        u32 record;  // kThreadRecords: the shared overflow record
        u32 idx;
    };

    RcuDomain();

    Token ReadLock() {
        const u32 record = ThreadIndex();
        const u32 idx = idx_.load(std::memory_order_relaxed) & 1;
        if (record < kThreadRecords) [[likely]] {
            std::atomic<i64>& count = records_[record].count[idx];
            count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // ours alone
            ReaderBarrier();
        } else {
            overflow_.count[idx].fetch_add(1, std::memory_order_seq_cst);
        }
        return Token{record, idx};
    }

    void ReadUnlock(Token token) {
        if (token.record < kThreadRecords) [[likely]] {
            std::atomic<i64>& count = records_[token.record].count[token.idx];
            count.store(count.load(std::memory_order_relaxed) - 1, std::memory_order_release);
        } else {
            overflow_.count[token.idx].fetch_sub(1, std::memory_order_release);
        }
    }

    // Waits until every read section that began before this call has ended. Call after publishing the new
    // pointer and outside any read section of this domain.
    void Synchronize();

private:
    struct alignas(128) Record {  // 128: keeps the adjacent-line prefetcher from pairing two records
        std::atomic<i64> count[2] = {0, 0};
    };

    static void ReaderBarrier() {
        if (membarrier_ok_.load(std::memory_order_relaxed)) [[likely]] {
            std::atomic_signal_fence(std::memory_order_seq_cst);
        } else {
            std::atomic_thread_fence(std::memory_order_seq_cst);
        }
    }
    static void WriterBarrier();

    static u32 ThreadIndex() {
        if (thread_index_plus_one_ == 0) [[unlikely]] thread_index_plus_one_ = AcquireThreadIndex() + 1;
        return thread_index_plus_one_ - 1;
    }
    static u32 AcquireThreadIndex();
    friend struct ThreadIndexReleaser;
    void WaitForReaders(u32 idx);

    // initial-exec: the libraries are static, so the PIC default (a __tls_get_addr call per access) is not needed.
    [[gnu::tls_model("initial-exec")]] static constinit inline thread_local u32 thread_index_plus_one_ = 0;
    static inline std::atomic<bool> membarrier_ok_{false};

    std::array<Record, kThreadRecords> records_{};
    Record overflow_{};
    std::atomic<u32> idx_{0};
    std::mutex sync_mutex_;  // serializes Synchronize() calls (the flip is a two-step protocol)
};

// RAII read section.
class RcuReadGuard {
public:
    explicit RcuReadGuard(RcuDomain& domain) : domain_(domain), token_(domain.ReadLock()) {}
    ~RcuReadGuard() { domain_.ReadUnlock(token_); }
    RcuReadGuard(const RcuReadGuard&) = delete;
    RcuReadGuard& operator=(const RcuReadGuard&) = delete;

private:
    RcuDomain& domain_;
    RcuDomain::Token token_;
};

}  // namespace emu::mmu
