#pragma once
// Translated blocks, keyed by where their code bytes are rather than by where they are mapped: (guest-physical
// address of the first byte, RIP, BlockMode key). A translation therefore survives CR3 switches (processes,
// Linux's page-table isolation, text_poke's temporary mm) for as long as its bytes do. RIP stays in the key
// because the IR holds RIP values (real-mode 0000:7C00 and 07C0:0000 share their bytes but not their IR).
//
// A block is only valid while RIP's linear page still maps to the block's physical page and, for a block whose
// bytes run into the next linear page, while that page still maps to the second physical page the block recorded:
// the vCPU checks both against the current translation before running a block (Lookup gives it what to check).
//
// In front of the physical table sits a small direct-mapped jump cache keyed by RIP, as QEMU's tb_jmp_cache: most
// lookups are one array probe. Its entries are hints, validated like any other lookup.
//
// Invalidation: InvalidateRange drops every block with a byte in a written guest-physical range (self-modifying code,
// reported by the memory path) and names the pages left without blocks; Clear drops everything.
//
// Bounds: a guest decides how much code it makes us translate, so the cache is bounded both by count (kMaxBlocks)
// and by bytes (max_bytes: a block of long straight-line code keeps tens of KiB of IR for the interpreter). When an
// insertion would pass either, everything is dropped first, as QEMU's tb_flush. A block's bytes are what it holds on
// the heap: its record, its share of the indexes, its IR (until the JIT drops it) and its compiled block's record;
// the JIT's host code is bounded by its own code buffer (-accel tcg,tb-size).
#include <algorithm>
#include <array>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "emu/common/types.h"
#include "emu/cpu/ir/block.h"
#include "emu/cpu/jit/jit.h"

namespace emu::cpu {

inline constexpr u64 kNoPage = ~u64{0};

// One cached translation and what it was translated from.
struct CachedBlock {
    std::unique_ptr<ir::Block> block;
    u64 gpa = 0;               // guest-physical address of the first byte
    u64 rip = 0;
    u32 mode = 0;              // BlockMode key (with the instruction limit)
    u64 page2_gpa = kNoPage;   // guest-physical page of the bytes in RIP's next linear page, if any
    u64 span = 1;              // how many bytes from RIP the translation read
    // The JIT's translation of `block` (made on first use; dropping it unlinks every chain into it).
    std::unique_ptr<jit::CompiledBlock> compiled;
    bool jit_failed = false;   // the JIT cannot compile this block: the interpreter runs it
    size_t bytes = 0;          // what BlockCache counted for it (Footprint when inserted or last Recount)
};

class BlockCache {
public:
    // More blocks than this drops everything first: a bound on memory for guests that keep loading new code.
    static constexpr size_t kMaxBlocks = size_t{1} << 17;
    // The default byte bound: about 10,000 of the largest blocks (lock cmpxchg16b, 25 KiB of IR each), and well
    // above what a Linux boot on the interpreter keeps.
    static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

    explicit BlockCache(size_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}

    // The heap bytes a block holds (see the top of the file).
    static size_t Footprint(const CachedBlock& b) {
        size_t bytes = sizeof(CachedBlock) + kIndexBytesPerBlock;
        if (b.block) bytes += sizeof(ir::Block) + b.block->insts().capacity() * sizeof(ir::Inst);
        if (b.compiled) bytes += sizeof(jit::CompiledBlock) + b.compiled->incoming.capacity() * sizeof(void*);
        return bytes;
    }

    // The jump cache's candidate for (rip, mode), or null. The caller still validates its pages.
    CachedBlock* FindByRip(u64 rip, u32 mode) const {
        const JumpEntry& j = jump_[JumpIndex(rip)];
        return j.block != nullptr && j.rip == rip && j.mode == mode ? j.block : nullptr;
    }
    // The block translated from the bytes at gpa for (rip, mode), or null. Its second page is still to validate.
    CachedBlock* Find(u64 gpa, u64 rip, u32 mode) {
        const auto it = blocks_.find(Key{gpa, rip, mode});
        return it == blocks_.end() ? nullptr : &it->second;
    }
    // Makes `b` the jump cache's answer for its RIP and mode.
    void Remember(CachedBlock* b) { jump_[JumpIndex(b->rip)] = JumpEntry{b->rip, b->mode, b}; }

    // Adds (or replaces) a block and remembers it in the jump cache.
    CachedBlock* Insert(CachedBlock fresh) {
        fresh.bytes = Footprint(fresh);
        if (blocks_.size() >= kMaxBlocks || bytes_ + fresh.bytes > max_bytes_) Clear();
        const Key key{fresh.gpa, fresh.rip, fresh.mode};
        auto [it, inserted] = blocks_.try_emplace(key);
        CachedBlock& slot = it->second;
        const u64 old_page2 = inserted ? kNoPage : slot.page2_gpa;
        if (!inserted) {
            Forget(slot);
            bytes_ -= slot.bytes;
            ++removals_;
        }
        bytes_ += fresh.bytes;
        slot = std::move(fresh);
        // The first page's list already holds a replaced block's key; a second page is listed once per change.
        if (inserted) by_page_[slot.gpa >> kPageShift].push_back(key);
        if (slot.page2_gpa != kNoPage && slot.page2_gpa != old_page2) {
            by_page_[slot.page2_gpa >> kPageShift].push_back(key);
        }
        Remember(&slot);
        return &slot;
    }

    // Drops every block with a byte in guest-physical [gpa, gpa + size); returns how many. Each page of the range
    // left without blocks is appended to *emptied (pages nothing was translated from included).
    size_t InvalidateRange(u64 gpa, u64 size, std::vector<u64>* emptied) {
        size_t dropped = 0;
        const u64 end = gpa + std::max<u64>(size, 1);
        for (u64 gfn = gpa >> kPageShift; gfn <= (end - 1) >> kPageShift; ++gfn) {
            dropped += InvalidateOnPage(gfn, std::max(gpa, gfn << kPageShift), std::min(end, (gfn + 1) << kPageShift),
                                        emptied);
        }
        return dropped;
    }

    void Clear() {
        ++removals_;
        blocks_.clear();
        by_page_.clear();
        jump_.fill(JumpEntry{});
        bytes_ = 0;
    }
    // A cached block changed what it holds (the JIT compiled it and dropped its IR): count it again. Never drops.
    void Recount(CachedBlock& b) {
        bytes_ -= b.bytes;
        b.bytes = Footprint(b);
        bytes_ += b.bytes;
    }
    size_t size() const { return blocks_.size(); }
    size_t bytes() const { return bytes_; }
    size_t max_bytes() const { return max_bytes_; }
    // Counts calls that may have dropped blocks: a pointer to a block taken before a change of it may dangle.
    u64 removals() const { return removals_; }

private:
    static constexpr unsigned kJumpBits = 14;

    struct Key {
        u64 gpa;
        u64 rip;
        u32 mode;
        bool operator==(const Key&) const = default;
    };
    // A hash node of blocks_ holds the key, the block and links (the links, the bucket pointer and the hash are
    // counted here, with the block's key in by_page_, twice for a block on two pages).
    static constexpr size_t kIndexBytesPerBlock = 4 * sizeof(void*) + 3 * sizeof(Key);
    struct KeyHash {
        size_t operator()(const Key& k) const {
            u64 h = (k.gpa ^ (k.rip << 17) ^ (u64{k.mode} << 45)) * 0x9E3779B97F4A7C15ull;
            return static_cast<size_t>(h ^ (h >> 29));
        }
    };
    struct JumpEntry {
        u64 rip = 0;
        u32 mode = 0;
        CachedBlock* block = nullptr;
    };

    // The guest-physical bytes of `b` on page gfn, as [first, last).
    static std::pair<u64, u64> BytesOnPage(const CachedBlock& b, u64 gfn) {
        const u64 first_page_end = ((b.gpa >> kPageShift) + 1) << kPageShift;
        if ((b.gpa >> kPageShift) == gfn) return {b.gpa, std::min(b.gpa + b.span, first_page_end)};
        if (b.page2_gpa != kNoPage && (b.page2_gpa >> kPageShift) == gfn && b.gpa + b.span > first_page_end) {
            return {b.page2_gpa, b.page2_gpa + (b.gpa + b.span - first_page_end)};
        }
        return {0, 0};
    }

    // InvalidateRange on one page, for written bytes [first, last) of it. The page's key list is rebuilt from the
    // blocks that stay: keys go stale when a block is dropped through its other page or replaced, and a block
    // translated again after a drop is listed again.
    size_t InvalidateOnPage(u64 gfn, u64 first, u64 last, std::vector<u64>* emptied) {
        const auto list = by_page_.find(gfn);
        if (list == by_page_.end()) {
            emptied->push_back(gfn);
            return 0;
        }
        ++removals_;
        std::vector<Key> kept;
        size_t dropped = 0;
        for (const Key& key : list->second) {
            const auto it = blocks_.find(key);
            if (it == blocks_.end()) continue;
            const auto [from, to] = BytesOnPage(it->second, gfn);
            if (from == to) continue;  // no longer on this page
            if (from < last && first < to) {
                Forget(it->second);
                bytes_ -= it->second.bytes;
                blocks_.erase(it);
                ++dropped;
            } else if (std::find(kept.begin(), kept.end(), key) == kept.end()) {
                kept.push_back(key);
            }
        }
        if (kept.empty()) {
            by_page_.erase(list);
            emptied->push_back(gfn);
        } else {
            list->second = std::move(kept);
        }
        return dropped;
    }

    static size_t JumpIndex(u64 rip) {
        return (rip ^ (rip >> kJumpBits) ^ (rip >> 2 * kJumpBits)) & ((1u << kJumpBits) - 1);
    }
    // Removes `b` from the jump cache (before it is freed or replaced).
    void Forget(const CachedBlock& b) {
        JumpEntry& j = jump_[JumpIndex(b.rip)];
        if (j.block == &b) j = JumpEntry{};
    }

    // Node-based: a CachedBlock's address is stable until it is erased, so the jump cache can point at it.
    std::unordered_map<Key, CachedBlock, KeyHash> blocks_;
    // The keys of the blocks with bytes on each guest-physical page (some may be stale, see InvalidateOnPage).
    std::unordered_map<u64, std::vector<Key>> by_page_;
    std::array<JumpEntry, size_t{1} << kJumpBits> jump_{};
    u64 removals_ = 0;
    size_t bytes_ = 0;  // sum of the blocks' `bytes`
    size_t max_bytes_;
};

}  // namespace emu::cpu
