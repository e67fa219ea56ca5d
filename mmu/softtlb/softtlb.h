#pragma once
// The per-vCPU software TLB that translated code reads inline (QEMU's CPUTLBEntry scheme, accel/tcg/cputlb.c).
//
// One direct-mapped table of kEntries entries per MMU index (a permission set: supervisor with SMAP enforced,
// supervisor with RFLAGS.AC = 1, user), so a hit needs no permission test: a tag is present only if that
// access kind is allowed. The inline hit path for an access of `size` bytes at linear address `va`:
//
//     entry = Table(index) + ((va >> 12) & (kEntries - 1))            // shr, and, shl 5 (or lea), add
//     if ((va & TagCompareMask(size)) != entry->addr_{read,write,code}) goto slow_path;
//     host  = va + entry->addend
//
// TagCompareMask keeps the page number and the access's alignment bits (size - 1), so a misaligned access, an
// invalid tag (all ones) or a tag with a flag bit in its low 12 bits all miss; the slow path (the machine's
// memory path) then splits page-crossing accesses, handles the flags, or walks and refills.
//
// Large pages are entered as 4 KiB entries. Each MMU index remembers one range covering every large page
// entered since its last full flush (as QEMU does); FlushPage inside that range flushes the whole index,
// because INVLPG must drop every 4 KiB piece of a large page.
//
// Threads: a SoftTlb belongs to its vCPU thread. Another thread (a remote INVLPG, page-track's add-gfn, a
// memslot change) must not call its flush functions while the vCPU runs translated code: it asks the vCPU to
// run them at its next safe point and waits, as QEMU's async_run_on_cpu does.
#include <array>
#include <cstddef>
#include <vector>

#include "emu/common/address.h"
#include "emu/common/types.h"
#include "mmu/walk/access.h"
#include "mmu/walk/walk.h"

namespace emu::mmu {

// Which permission set an access is checked against; each has its own table.
enum class MmuIndex : u8 {
    Supervisor,    // supervisor access subject to SMAP: implicit, or explicit with RFLAGS.AC = 0
    SupervisorAc,  // explicit supervisor access with RFLAGS.AC = 1 (SMAP lets it reach user pages)
    User,          // CPL 3, not implicit
};
inline constexpr unsigned kMmuIndexCount = 3;

constexpr MmuIndex MmuIndexOf(const AccessFlags& flags) {
    if (flags.user) return MmuIndex::User;
    if (flags.implicit_supervisor || !flags.rflags_ac) return MmuIndex::Supervisor;
    return MmuIndex::SupervisorAc;
}

// Flag bits in the low 12 bits of a tag. Any of them makes the inline compare fail. They sit above the widest
// alignment mask the JIT may use (kTlbMaxAlignMask).
namespace tlb_flag {
inline constexpr u64 kCode = u64{1} << 7;      // writes: translated code was made from the page (self-modifying code)
inline constexpr u64 kNotDirty = u64{1} << 8;  // writes: the page is dirty-logged, the slow path logs it first
inline constexpr u64 kTracked = u64{1} << 9;   // writes: page-track watches the gfn (page tables, code, GPU)
inline constexpr u64 kMmio = u64{1} << 10;     // every access: no RAM behind it, dispatch to a device
inline constexpr u64 kInvalid = u64{1} << 11;  // set in an invalid tag (all ones)
inline constexpr u64 kAll = kCode | kNotDirty | kTracked | kMmio | kInvalid;
}  // namespace tlb_flag

inline constexpr u64 kTlbInvalidTag = ~u64{0};
inline constexpr u64 kTlbMaxAlignMask = 63;  // accesses up to 64 bytes may fold their alignment into the compare
static_assert((tlb_flag::kAll & kTlbMaxAlignMask) == 0 && tlb_flag::kAll < kPageSize);

// The mask to AND into the access address before comparing it with a tag. size: 1..64, a power of two.
constexpr u64 TagCompareMask(unsigned size) { return ~kPageMask | (u64{size} - 1); }

// One TLB entry, as the JIT reads it: keep this layout (offsets asserted below).
struct alignas(32) TlbEntry {
    u64 addr_read;   // page-aligned linear address | flags, or kTlbInvalidTag
    u64 addr_write;
    u64 addr_code;
    u64 addend;      // host address - linear address, for the page (meaningless when the entry is MMIO)
};
inline constexpr unsigned kTlbEntryShift = 5;
static_assert(sizeof(TlbEntry) == (1u << kTlbEntryShift));
static_assert(offsetof(TlbEntry, addr_read) == 0);
static_assert(offsetof(TlbEntry, addr_write) == 8);
static_assert(offsetof(TlbEntry, addr_code) == 16);
static_assert(offsetof(TlbEntry, addend) == 24);

// What the slow path needs about an entry and the JIT does not read.
struct TlbEntryInfo {
    u64 vpage = 0;     // linear address of the page
    u64 gpa_page = 0;  // guest-physical address of the page
    bool valid = false;
    bool global = false;
};

// A translation to enter.
struct TlbFill {
    u64 vaddr = 0;             // linear address (any byte of the page)
    u64 gpa = 0;               // guest-physical address of vaddr
    u8* host = nullptr;        // host address of gpa; nullptr when it is not RAM (the entry becomes MMIO)
    u64 page_size = kPageSize; // the guest translation's page size (4 KiB, 2/4 MiB, 1 GiB)
    bool read = false;         // what this MMU index may do with the page
    bool write = false;
    bool exec = false;
    bool global = false;       // survives FlushNonGlobal
    u64 flags = 0;             // tlb_flag::kMmio (all accesses), kTracked, kNotDirty, kCode (writes only)
};

enum class TlbLookupKind : u8 {
    Miss,      // no entry for this page and access kind: walk and fill
    Hit,       // host is valid
    SlowPath,  // the entry maps the page but a flag bit forces the slow path: see flags, gpa
};

struct TlbLookup {
    TlbLookupKind kind = TlbLookupKind::Miss;
    u8* host = nullptr;  // Hit: host address of vaddr
    u64 flags = 0;       // SlowPath: tlb_flag bits of the tag
    u64 gpa = 0;         // Hit or SlowPath: guest-physical address of vaddr
};

class SoftTlb {
public:
    // 8,192 entries (32 MiB) per index: with 1,024 a Linux boot refilled about 4.4 million entries evicted by
    // another page of the same index, with 8,192 about 0.1 million. The flushes below never scan the tables.
    static constexpr unsigned kIndexBits = 13;
    static constexpr u64 kEntries = u64{1} << kIndexBits;

    struct Stats {
        u64 fills = 0;
        u64 hits = 0;    // Lookup() only: inline JIT hits are not counted
        u64 misses = 0;  // Lookup() misses (including slow-path flag hits)
        u64 flush_all = 0;
        u64 flush_page = 0;
        u64 flush_page_large = 0;  // FlushPage calls that flushed a whole MMU index for a large page
        u64 flush_non_global = 0;
        u64 flush_gfn = 0;
        u64 demote_gfn = 0;
    };

    SoftTlb();

    // For the JIT: all tables are contiguous; MMU index k's table starts kEntries entries after index k-1's.
    TlbEntry* Base() { return entries_.data(); }
    TlbEntry* Table(MmuIndex index) { return entries_.data() + Slot(index, 0); }
    const TlbEntry& Entry(MmuIndex index, u64 vaddr) const { return entries_[Slot(index, vaddr)]; }
    const TlbEntryInfo& Info(MmuIndex index, u64 vaddr) const { return info_[Slot(index, vaddr)]; }

    // The inline hit path in C++, for the interpreter and the slow path: one page, no alignment requirement.
    TlbLookup Lookup(MmuIndex index, u64 vaddr, AccessType access);

    void Fill(MmuIndex index, const TlbFill& fill);
    // Fill from a successful walk: writes are allowed only once the guest D bit is set, so the first write to
    // a clean page misses and walks again to set it.
    void FillFromWalk(MmuIndex index, u64 vaddr, const WalkResult& walk, u8* host, u64 flags = 0);

    // Every entry of every index. Needed when a change alters rights or formats of all translations: CR0.PG/WP,
    // CR4.PSE/PAE/PGE/PCIDE/LA57/SMEP/SMAP, EFER.NXE/LMA, and memslot changes.
    void FlushAll();
    void FlushPage(u64 vaddr);         // INVLPG: every index, global or not, and the whole large page
    void FlushNonGlobal();             // MOV CR3 (with or without CR4.PGE: globals only exist when PGE is set)
    unsigned FlushGfn(Gfn gfn);        // drop every entry that maps gfn; returns how many
    // Writes to gfn take the slow path, marked with `flag` (kTracked: page-track add-gfn; kCode: code was translated
    // from the page). Returns how many entries changed.
    unsigned DemoteWritesToGfn(Gfn gfn, u64 flag = tlb_flag::kTracked);

    const Stats& stats() const { return stats_; }

private:
    struct LargeRange {
        u64 base = kTlbInvalidTag;  // kTlbInvalidTag: no large page entered
        u64 mask = 0;
    };

    static u64 Slot(MmuIndex index, u64 vaddr) {
        return static_cast<u64>(index) * kEntries + ((vaddr >> kPageShift) & (kEntries - 1));
    }
    void Invalidate(u64 slot);
    void FlushIndex(unsigned index);
    void NoteLargePage(unsigned index, u64 vaddr, u64 page_size);

    // Every valid slot is on two intrusive lists: its gfn bucket's (FlushGfn, DemoteWritesToGfn) and the global
    // or the non-global list (FlushAll, FlushNonGlobal, FlushIndex). Flushes then cost what they drop, not the
    // size of the tables.
    static constexpr u32 kNoSlot = ~u32{0};
    static constexpr u64 kGfnBuckets = u64{1} << 15;
    struct Links {
        u32 bucket_prev = kNoSlot, bucket_next = kNoSlot;
        u32 list_prev = kNoSlot, list_next = kNoSlot;
    };
    static u64 BucketOf(u64 gpa_page) { return (gpa_page >> kPageShift) & (kGfnBuckets - 1); }
    u32& ListHead(bool global) { return list_head_[global ? 1 : 0]; }
    void Link(u32 slot);
    void Unlink(u32 slot);
    // Calls f(slot) for each slot on a list, allowing f to invalidate that slot.
    template <typename F>
    void ForEachOn(u32 head, bool bucket_list, F&& f);

    std::vector<TlbEntry> entries_;
    std::vector<TlbEntryInfo> info_;
    std::vector<Links> links_;
    std::vector<u32> bucket_head_ = std::vector<u32>(kGfnBuckets, kNoSlot);
    std::array<u32, 2> list_head_{kNoSlot, kNoSlot};
    std::array<LargeRange, kMmuIndexCount> large_{};
    Stats stats_;
};

}  // namespace emu::mmu
