#pragma once
// The reference MMU: translates a linear address by walking the guest's page tables, in every x86 paging
// mode (SDM Vol. 3 chapter 4), as QEMU's softmmu does on each TLB miss. It keeps no state of its own.
//
// Choices (all within what the SDM allows, and what KVM's guest walker does):
// - Accessed/dirty bits are written only when the access succeeds. A not-present, reserved-bit or
//   access-rights fault leaves every entry unchanged; a successful walk sets A in each entry it used (PAE
//   PDPTEs have no A bit) and, for a write, D in the leaf. The update is a locked compare-exchange per entry;
//   if an entry changed since it was read (another vCPU or a DMA wrote it) the whole walk restarts.
// - Paging-structure entries must live in RAM (PhysMemory::HostPointer non-null). A table in MMIO or in
//   unbacked space makes the walk stop with WalkStatus::TableNotInRam; the caller decides what the guest
//   sees (the machine logs a guest error and shuts down, like a triple fault).
// - Canonical checks are not the walker's job: the CPU raises #GP (or #SS) for a non-canonical address
//   before it asks for a translation, using emu::IsCanonical(linear, PagingRegs::LinearBits()).
// - PSE-36 is supported (4 MiB pages above 4 GiB in 32-bit paging); 1 GiB pages are supported; protection keys
//   for user pages (CR4.PKE, PKRU) are, supervisor keys (PKS) are not.
#include <array>

#include "emu/common/result.h"
#include "emu/common/types.h"
#include "mmu/walk/access.h"

namespace emu::mmu {

// MAXPHYADDR of the emulated CPU: CPUID.80000008H:EAX[7:0] must report this same value.
inline constexpr unsigned kMaxPhysAddrBits = 40;

// The paging registers the walker reads, plus the PAE PDPTE cache (architecturally loaded at MOV CR3 and
// mode switches, not at each walk: SDM Vol. 3 4.4.1). Bit names follow the SDM.
struct PagingRegs {
    static constexpr u64 kCr0Wp = u64{1} << 16;
    static constexpr u64 kCr0Pg = u64{1} << 31;
    static constexpr u64 kCr4Pse = u64{1} << 4;
    static constexpr u64 kCr4Pae = u64{1} << 5;
    static constexpr u64 kCr4Pge = u64{1} << 7;
    static constexpr u64 kCr4La57 = u64{1} << 12;
    static constexpr u64 kCr4Smep = u64{1} << 20;
    static constexpr u64 kCr4Smap = u64{1} << 21;
    static constexpr u64 kCr4Pke = u64{1} << 22;
    static constexpr u64 kEferNxe = u64{1} << 11;
    static constexpr u64 kEferLma = u64{1} << 10;

    u64 cr0 = 0;
    u64 cr3 = 0;
    u64 cr4 = 0;
    u64 efer = 0;
    u32 pkru = 0;  // with CR4.PKE in 4/5-level paging: AD = bit 2k, WD = bit 2k+1 for protection key k
    // PAE paging only: the four PDPTEs as last loaded by LoadPdptes().
    std::array<u64, 4> pdptes{};

    // Bits of a linear address the current mode translates: 57 with LA57, 48 in long mode, else 32.
    unsigned LinearBits() const;
};

enum class PagingMode : u8 {
    None,    // CR0.PG = 0: linear = physical (32 bits)
    Bits32,  // 32-bit paging (SDM 4.3)
    Pae,     // PAE paging (SDM 4.4)
    Level4,  // 4-level paging (SDM 4.5)
    Level5,  // 5-level paging (SDM 4.5, CR4.LA57)
};

PagingMode ModeOf(const PagingRegs& regs);

// Guest-physical memory as the walker sees it.
class PhysMemory {
public:
    virtual ~PhysMemory() = default;
    // Host address of guest-physical `gpa`, valid to the end of its 4 KiB page and at least 8-byte aligned when
    // gpa is; nullptr when gpa is not RAM (MMIO or unbacked). Writes through it must be visible to the guest
    // (the implementation marks the page dirty for dirty logging and runs page-track if it must).
    virtual u8* HostPointer(u64 gpa) = 0;
};

enum class WalkStatus : u8 {
    Ok,
    PageFault,      // raise #PF with error_code, CR2 = the linear address
    TableNotInRam,  // a paging-structure entry is not in RAM: see table_gpa
};

struct WalkResult {
    WalkStatus status = WalkStatus::PageFault;
    u64 gpa = 0;        // Ok: the physical address of `linear`
    u64 page_size = 0;  // Ok: 4 KiB, 2 MiB, 4 MiB or 1 GiB
    // Ok: what this privilege (the walk's AccessFlags) may do with the page, for the TLB entry. `dirty` says the
    // leaf's D bit is set (always, after a write): a TLB may allow writes only on a dirty translation, so the
    // first write walks again and sets D.
    bool readable = false;
    bool writable = false;
    bool executable = false;
    bool user_page = false;  // U/S = 1 at every level
    bool global = false;     // G in the leaf, and CR4.PGE = 1
    bool dirty = false;
    u32 error_code = 0;  // PageFault: the #PF error code (pf_error bits)
    u64 table_gpa = 0;   // TableNotInRam: the physical address of the entry that could not be read
};

// Optional counters, for tests and -d mmu statistics.
struct WalkStats {
    u64 walks = 0;
    u64 faults = 0;
    u64 ad_updates = 0;  // entries whose A or D bit the walker set
    u64 retries = 0;     // walks restarted because an entry changed under the A/D compare-exchange
};

// Translates `linear` for one access. Sets A/D bits in guest memory on success (see the header comment).
WalkResult Walk(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags, PhysMemory& memory,
                WalkStats* stats = nullptr);

// ---- Pieces for the shadow MMU (mmu/shadow), which caches what a walk found and must answer exactly as Walk.

// The rights a walk combined over every level it used (SDM 4.6).
struct LeafRights {
    bool user_all = true;      // U/S = 1 in every entry
    bool writable_all = true;  // R/W = 1 in every entry
    bool xd_any = false;       // XD = 1 in some entry (only counted with EFER.NXE outside 32-bit paging)
};

// A present leaf without reserved bits, as a walk reached it.
struct WalkLeaf {
    u64 gpa = 0;  // physical address of the linear address the walk was for
    u64 page_size = kPageSize;
    LeafRights rights;
    bool global_bit = false;  // G in the leaf (CR4.PGE is applied by FinishLeaf)
    bool dirty_bit = false;   // D in the leaf before this access
    u8 pkey = 0;              // protection key, leaf bits 62:59 (4/5-level paging; PKRU is applied by FinishLeaf)
};

// What Walk returns for an access once the walk reached `leaf`: a #PF (P = 1) if the rights refuse it, else the
// Ok result (dirty = leaf D or a write). Sets no A/D bit.
WalkResult FinishLeaf(const PagingRegs& regs, AccessType access, AccessFlags flags, const WalkLeaf& leaf);

// The #PF error code bits that describe the access itself (W/R, U/S, I/D), for a fault of any cause.
u32 AccessErrorBits(const PagingRegs& regs, AccessType access, AccessFlags flags);

// One paging-structure entry a walk used.
struct WalkTraceLevel {
    u64 entry_gpa = 0;
    u8* host = nullptr;  // host address of the entry (from PhysMemory::HostPointer)
    u64 before = 0;      // value read
    u64 after = 0;       // value after the walk's A/D update (== before when none)
    u8 shift = 0;        // linear-address bit where this level's index ends (12, 21, 22, 30, 39, 48)
    bool large = false;  // a PS = 1 leaf above 4 KiB
};

// Every entry of a successful walk, top level first (PAE: the PDPTE is not included, it comes from regs.pdptes).
struct WalkTrace {
    PagingMode mode = PagingMode::None;
    unsigned entry_bytes = 8;
    unsigned count = 0;
    u64 linear = 0;  // the linear address as the mode sees it (32 bits outside long mode)
    WalkLeaf leaf;
    std::array<WalkTraceLevel, 5> levels{};
};

// Walk() that also fills *trace (meaningful when the status is Ok; count is 0 without paging).
WalkResult WalkTraced(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags, PhysMemory& memory,
                      WalkTrace* trace, WalkStats* stats = nullptr);

enum class PdpteError : u8 {
    ReservedBit,  // a present PDPTE has a reserved bit set: #GP(0)
    NotInRam,     // the PDPT is not in RAM
};

// Loads regs.pdptes from the 32-byte-aligned PDPT at CR3[31:5] (SDM Vol. 3 4.4.1). The CPU calls it when MOV
// to CR0/CR3/CR4 leaves PAE paging on (or turns it on) and at task switches; on ReservedBit it raises #GP(0)
// and leaves the register unchanged; regs.pdptes is then unchanged too.
Result<void, PdpteError> LoadPdptes(PagingRegs& regs, PhysMemory& memory);

}  // namespace emu::mmu
