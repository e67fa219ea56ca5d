#pragma once
// The JIT backend: compiles IR blocks (after the same passes the interpreter runs) to host x86-64 code in one
// bounded code buffer, enters that code, and chains blocks whose direct exits lead to blocks already compiled.
//
// Ownership: one Jit per vCPU; the block cache (block_cache.h) owns CompiledBlock records through CachedBlock, and
// dropping one unlinks every chain into it. Code is never freed piecemeal: a full buffer is flushed whole (the
// caller drops every block first), as QEMU's tb_flush.
#include <cstdio>
#include <memory>
#include <vector>

#include "emu/common/types.h"
#include "emu/cpu/ir/block.h"
#include "emu/cpu/jit/context.h"

namespace emu::mmu {
struct TlbEntry;
}

namespace emu::cpu::jit {

struct CompiledBlock;

// The JIT's jump cache, probed inline by indirect exits (QEMU's tb_jmp_cache and lookup_and_goto_ptr): a direct-
// mapped table from RIP to a block's host code. An entry is a hint: the probe also checks the mode key and that the
// code TLB maps RIP to the host address of the block's first byte, so a remapped page or a mode change misses.
struct JumpCacheEntry {
    u64 rip = ~u64{0};
    u64 host_pc = 0;  // host address of the block's first guest byte
    const u8* entry = nullptr;
    u64 key = 0;
};
inline constexpr unsigned kJumpCacheBits = 14;
constexpr u64 JumpCacheIndex(u64 rip) { return (rip ^ (rip >> kJumpCacheBits)) & ((u64{1} << kJumpCacheBits) - 1); }

// A direct exit (ExitConst, either side of ExitCond): a 5-byte jmp that first leads to a stub returning
// JitExit::Link, and is patched to jump straight into the target block once that is compiled.
struct ExitSlot {
    CompiledBlock* owner = nullptr;
    u8* jmp = nullptr;         // the jmp rel32 instruction
    const u8* stub = nullptr;        // where the unlinked jmp goes: a request to link the slot
    const u8* probe_stub = nullptr;  // a jump-cache probe for the target, for slots that cannot be linked
    u64 target_rip = 0;
    CompiledBlock* target = nullptr;
};

struct CompiledBlock {
    const u8* entry = nullptr;
    size_t code_size = 0;
    u32 key = 0;             // the block's mode key (chains join only blocks of one key)
    u64 rip = 0;
    u64 linear_page = 0;     // linear page of rip when compiled (chains stay within one linear page)
    u64 gpa_page = 0;        // guest-physical page of the first byte
    bool single_page = true; // no bytes in a second page (only such blocks are chain targets)
    ExitSlot slots[2];
    std::vector<ExitSlot*> incoming;  // chained jumps into this block
    JumpCacheEntry* jump_entry = nullptr;  // the jump-cache entry last made for this block (it may hold another now)

    CompiledBlock() = default;
    CompiledBlock(const CompiledBlock&) = delete;
    CompiledBlock& operator=(const CompiledBlock&) = delete;
    // Unlinks every chain into and out of this block.
    ~CompiledBlock();
};

// What the compiler needs to know about where a block runs.
struct CompileInfo {
    u32 key = 0;
    u64 linear_page = 0;
    bool single_page = true;
    bool user = false;                 // CPL 3: loads and stores use the user TLB table
    mmu::TlbEntry* tlb_table = nullptr;  // the inline soft-TLB table for this privilege, or null (always slow path)
    bool probe_indirect = false;       // 64-bit mode (RIP is the linear address): indirect exits may probe inline
    const JitContext* ctx = nullptr;   // the context the code runs with: the TLB table is addressed relative to it
};

class Jit {
public:
    // tlb_supervisor, tlb_user: the vCPU's code-TLB tables (MemoryInterface::InlineTlb), or null.
    Jit(size_t code_bytes, bool perf_map, const mmu::TlbEntry* tlb_supervisor, const mmu::TlbEntry* tlb_user);
    ~Jit();
    Jit(const Jit&) = delete;
    Jit& operator=(const Jit&) = delete;

    // Compiles `block`. Returns null when the block cannot be compiled (too many IR values: the interpreter runs
    // it) or when the buffer is full (Full() is then true: the caller drops every block and calls Flush()).
    std::unique_ptr<CompiledBlock> Compile(const ir::Block& block, const CompileInfo& info);
    bool Full() const { return full_; }
    // Forgets all code. Every CompiledBlock must have been destroyed.
    void Flush();
    u64 flushes() const { return flushes_; }

    // Runs translated code from `block` until it returns to the dispatcher.
    JitExit Enter(JitContext& ctx, const CompiledBlock& block);

    // Patches `slot` to jump straight into `target`.
    static void Link(ExitSlot& slot, CompiledBlock& target);
    // The slot's target can never be chained to it: the slot probes the jump cache from now on.
    static void ProbeInstead(ExitSlot& slot);
    // Enters `block` in the jump cache, if `table` (the code TLB of its privilege) maps its RIP.
    void Remember(CompiledBlock& block, const mmu::TlbEntry* table);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    bool full_ = false;
    u64 flushes_ = 0;
};

}  // namespace emu::cpu::jit
