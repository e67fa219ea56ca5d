// Guest page-table walker. Section numbers refer to the Intel SDM Vol. 3, chapter 4 ("Paging").
#include "mmu/walk/walk.h"
#include "mmu/walk/pte.h"

#include <atomic>
#include <cassert>
#include <cstdint>

#include "emu/common/bits.h"

namespace emu::mmu {

namespace {

// Paging-structure entry bits, by the SDM's short names.
constexpr u64 kP = pte::kPresent;
constexpr u64 kRw = pte::kWritable;
constexpr u64 kUs = pte::kUser;
constexpr u64 kA = pte::kAccessed;
constexpr u64 kD = pte::kDirty;
constexpr u64 kPs = pte::kLarge;
constexpr u64 kG = pte::kGlobal;
constexpr u64 kXd = pte::kNoExecute;

constexpr u64 kPhysMask = LowMask(kMaxPhysAddrBits);
constexpr u64 kTableAddrMask = kPhysMask & ~kPageMask;  // bits M-1:12 of an 8-byte entry

// 32-bit paging, 4 MiB pages: PSE-36 puts physical bits (M-1):32, at most 39:32, in PDE bits 20:13 (Table 4-4).
constexpr unsigned kPse36Bits = (kMaxPhysAddrBits < 40 ? kMaxPhysAddrBits : 40) - 32;
static_assert(kMaxPhysAddrBits >= 36 && kMaxPhysAddrBits <= 52, "MAXPHYADDR out of the architectural range");

// Bits [hi:lo] set.
constexpr u64 BitRange(unsigned hi, unsigned lo) { return LowMask(hi + 1) & ~LowMask(lo); }

// PAE PDPTE reserved bits when present (Table 4-8): 2:1, 8:5 and 63:M.
constexpr u64 kPdpteReserved = BitRange(2, 1) | BitRange(8, 5) | ~kPhysMask;

// The shape of one paging mode once CR3 (or the PDPTE cache) has given the first table.
struct Format {
    unsigned entry_bytes;  // 4 (32-bit paging) or 8
    unsigned index_bits;   // 10 or 9
    unsigned top_shift;    // linear-address bit where the first table's index starts
};

u64 LoadEntry(const u8* host, unsigned bytes) {
    if (bytes == 4) return std::atomic_ref<u32>(*reinterpret_cast<u32*>(const_cast<u8*>(host))).load();
    return std::atomic_ref<u64>(*reinterpret_cast<u64*>(const_cast<u8*>(host))).load();
}

// A locked compare-exchange, as the hardware's A/D update is (4.8).
bool CompareExchangeEntry(u8* host, unsigned bytes, u64 expected, u64 desired) {
    if (bytes == 4) {
        u32 old = static_cast<u32>(expected);
        return std::atomic_ref<u32>(*reinterpret_cast<u32*>(host)).compare_exchange_strong(old, u32(desired));
    }
    return std::atomic_ref<u64>(*reinterpret_cast<u64*>(host)).compare_exchange_strong(expected, desired);
}

// 4.6.2: what the leaf's protection key denies to data accesses of this privilege. Keys apply to user pages in
// 4/5-level paging with CR4.PKE; AD denies reads and writes, WD denies user writes and, with CR0.WP, supervisor
// writes. Instruction fetches are never checked.
struct KeyDenial {
    bool read = false;
    bool write = false;
};
KeyDenial KeyDenies(const PagingRegs& regs, AccessFlags flags, const WalkLeaf& leaf) {
    const PagingMode mode = ModeOf(regs);
    if (!(regs.cr4 & PagingRegs::kCr4Pke) || !leaf.rights.user_all ||
        (mode != PagingMode::Level4 && mode != PagingMode::Level5)) {
        return {};
    }
    const u32 bits = regs.pkru >> (2 * leaf.pkey);
    const bool ad = bits & 1, wd = bits & 2;
    return {ad, ad || (wd && (flags.user || (regs.cr0 & PagingRegs::kCr0Wp)))};
}

// 4.6.1: access rights of this privilege class, given the rights combined over all levels, then 4.6.2's keys.
void ComputeRights(const PagingRegs& regs, AccessFlags flags, WalkResult& r, const WalkLeaf& leaf) {
    const LeafRights& rights = leaf.rights;
    r.user_page = rights.user_all;
    if (flags.user) {
        r.readable = rights.user_all;
        r.writable = rights.user_all && rights.writable_all;
        r.executable = rights.user_all && !rights.xd_any;
    } else {
        // SMAP blocks supervisor data accesses to user pages unless explicit with RFLAGS.AC = 1.
        const bool smap_blocks = rights.user_all && (regs.cr4 & PagingRegs::kCr4Smap) &&
                                 (flags.implicit_supervisor || !flags.rflags_ac);
        r.readable = !smap_blocks;
        r.writable = !smap_blocks && (rights.writable_all || !(regs.cr0 & PagingRegs::kCr0Wp));
        r.executable = !rights.xd_any && !(rights.user_all && (regs.cr4 & PagingRegs::kCr4Smep));
    }
    const KeyDenial key = KeyDenies(regs, flags, leaf);
    r.readable &= !key.read;
    r.writable &= !key.write;
}

bool Permits(AccessType access, const WalkResult& r) {
    switch (access) {
        case AccessType::Read: return r.readable;
        case AccessType::Write: return r.writable;
        case AccessType::Fetch: return r.executable;
    }
    return false;
}

class Walker {
public:
    Walker(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags, PhysMemory& memory)
        : regs_(regs), mode_(ModeOf(regs)), access_(access), flags_(flags), memory_(memory) {
        if (flags_.user) flags_.implicit_supervisor = false;
        // Outside long mode linear addresses are 32 bits wide.
        linear_ = (mode_ == PagingMode::Level4 || mode_ == PagingMode::Level5) ? linear : (linear & 0xFFFFFFFFu);
    }

    // One attempt; sets *retry when an A/D compare-exchange lost a race. Fills *trace if not null.
    WalkResult Run(bool* retry, u64* ad_updates, WalkTrace* trace);

private:
    struct Used {
        u8* host;
        u64 value;
    };

    bool Nxe() const { return (regs_.efer & PagingRegs::kEferNxe) && mode_ != PagingMode::Bits32; }
    u64 ReservedBits(unsigned shift, bool large) const;
    bool LargeAllowed(unsigned shift) const;
    u64 LeafAddress(u64 entry, unsigned shift, bool large) const;
    WalkResult Fault(u32 bits) const;
    WalkResult Unpaged() const;
    bool Start(Format* format, u64* table) const;
    bool SetAccessedDirty(const Used* used, unsigned count, unsigned entry_bytes, u64* ad_updates) const;

    const PagingRegs& regs_;
    PagingMode mode_;
    u64 linear_;
    AccessType access_;
    AccessFlags flags_;
    PhysMemory& memory_;
};

bool Walker::LargeAllowed(unsigned shift) const {
    switch (mode_) {
        case PagingMode::Bits32: return shift == 22 && (regs_.cr4 & PagingRegs::kCr4Pse);  // 4.3: PSE enables PS
        case PagingMode::Pae: return shift == 21;
        default: return shift == 21 || shift == 30;  // 1 GiB pages: CPUID.80000001H:EDX.Page1GB = 1
    }
}

// Reserved bits of a present entry at the level indexed from linear bit `shift` (Tables 4-4..4-20).
u64 Walker::ReservedBits(unsigned shift, bool large) const {
    if (mode_ == PagingMode::Bits32) {
        return large ? BitRange(21, 13 + kPse36Bits) : 0;  // 32-bit entries otherwise have no reserved bits
    }
    u64 reserved = mode_ == PagingMode::Pae ? BitRange(62, kMaxPhysAddrBits) : BitRange(51, kMaxPhysAddrBits);
    if (!Nxe()) reserved |= kXd;
    if (shift >= 39) reserved |= kPs;               // PS is reserved in PML4Es and PML5Es
    if (large) reserved |= BitRange(shift - 1, 13);  // bit 12 is PAT; the rest below the page frame is reserved
    return reserved;
}

u64 Walker::LeafAddress(u64 entry, unsigned shift, bool large) const {
    if (!large) return (entry & (mode_ == PagingMode::Bits32 ? 0xFFFFF000u : kTableAddrMask)) | (linear_ & kPageMask);
    const u64 offset = linear_ & LowMask(shift);
    if (mode_ == PagingMode::Bits32) {
        return (entry & 0xFFC00000u) | (Bits(entry, 12 + kPse36Bits, 13) << 32) | offset;
    }
    return (entry & kPhysMask & ~LowMask(shift)) | offset;
}

WalkResult Walker::Fault(u32 bits) const {
    WalkResult r;
    r.status = WalkStatus::PageFault;
    r.error_code = AccessErrorBits(regs_, access_, flags_) | bits;
    return r;
}

WalkResult Walker::Unpaged() const {
    WalkResult r;
    r.status = WalkStatus::Ok;
    r.gpa = linear_ & 0xFFFFFFFFu;
    r.page_size = kPageSize;
    r.readable = r.writable = r.executable = r.user_page = r.dirty = true;
    return r;
}

// The format of the mode and its first table. False for PAE with a not-present PDPTE (a #PF with P = 0).
bool Walker::Start(Format* format, u64* table) const {
    *format = Format{8, 9, mode_ == PagingMode::Level5 ? 48u : 39u};
    *table = regs_.cr3 & kTableAddrMask;
    if (mode_ == PagingMode::Bits32) {
        *format = Format{4, 10, 22};
        *table = regs_.cr3 & 0xFFFFF000u;
    } else if (mode_ == PagingMode::Pae) {
        // The PDPTE comes from the cache; it has no rights bits and no A bit (4.4.1, Table 4-8).
        const u64 pdpte = regs_.pdptes[Bits(linear_, 31, 30)];
        if (!(pdpte & kP)) return false;
        *format = Format{8, 9, 21};
        *table = pdpte & kTableAddrMask;
    }
    return true;
}

// 4.8: sets A in every entry used and D in the leaf for a write, each with a locked compare-exchange. False if
// an entry changed since the walk read it.
bool Walker::SetAccessedDirty(const Used* used, unsigned count, unsigned entry_bytes, u64* ad_updates) const {
    const bool write = access_ == AccessType::Write;
    for (unsigned i = 0; i < count; ++i) {
        const bool leaf = i + 1 == count;
        const u64 desired = used[i].value | kA | (leaf && write ? kD : 0);
        if (desired == used[i].value) continue;
        if (!CompareExchangeEntry(used[i].host, entry_bytes, used[i].value, desired)) return false;
        ++*ad_updates;
    }
    return true;
}

WalkResult Walker::Run(bool* retry, u64* ad_updates, WalkTrace* trace) {
    *retry = false;
    if (trace) {
        trace->mode = mode_;
        trace->count = 0;
        trace->linear = linear_;
    }
    if (mode_ == PagingMode::None) return Unpaged();
    Format format;
    u64 table;
    if (!Start(&format, &table)) return Fault(0);

    LeafRights rights;
    Used used[5];
    unsigned used_count = 0;
    for (unsigned shift = format.top_shift;; shift -= format.index_bits) {
        const u64 entry_gpa = table + Bits(linear_, shift + format.index_bits - 1, shift) * format.entry_bytes;
        u8* host = memory_.HostPointer(entry_gpa);
        if (!host) {
            WalkResult r;
            r.status = WalkStatus::TableNotInRam;
            r.table_gpa = entry_gpa;
            return r;
        }
        assert(reinterpret_cast<std::uintptr_t>(host) % format.entry_bytes == 0);
        const u64 entry = LoadEntry(host, format.entry_bytes);
        if (!(entry & kP)) return Fault(0);
        const bool large = shift != kPageShift && (entry & kPs) && LargeAllowed(shift);
        if (entry & ReservedBits(shift, large)) return Fault(pf_error::kPresent | pf_error::kReserved);

        rights.user_all &= (entry & kUs) != 0;
        rights.writable_all &= (entry & kRw) != 0;
        rights.xd_any |= Nxe() && (entry & kXd);
        if (trace) {
            trace->entry_bytes = format.entry_bytes;
            trace->levels[used_count] = WalkTraceLevel{entry_gpa, host, entry, entry, static_cast<u8>(shift), large};
        }
        used[used_count++] = {host, entry};
        if (shift != kPageShift && !large) {
            table = entry & (format.entry_bytes == 4 ? 0xFFFFF000u : kTableAddrMask);
            continue;
        }

        const WalkLeaf leaf{LeafAddress(entry, shift, large), u64{1} << shift, rights, (entry & kG) != 0,
                            (entry & kD) != 0, static_cast<u8>((entry >> pte::kPkeyShift) & pte::kPkeyMask)};
        const WalkResult r = FinishLeaf(regs_, access_, flags_, leaf);
        if (r.status != WalkStatus::Ok) return r;
        *retry = !SetAccessedDirty(used, used_count, format.entry_bytes, ad_updates);
        if (trace) {
            trace->count = used_count;
            trace->leaf = leaf;
            const bool write = access_ == AccessType::Write;
            for (unsigned i = 0; i < used_count; ++i) {
                trace->levels[i].after = used[i].value | kA | (i + 1 == used_count && write ? kD : 0);
            }
        }
        return r;
    }
}

}  // namespace

unsigned PagingRegs::LinearBits() const {
    if (!(efer & kEferLma)) return 32;
    return (cr4 & kCr4La57) ? 57 : 48;
}

PagingMode ModeOf(const PagingRegs& regs) {
    if (!(regs.cr0 & PagingRegs::kCr0Pg)) return PagingMode::None;
    if (!(regs.cr4 & PagingRegs::kCr4Pae)) return PagingMode::Bits32;
    if (!(regs.efer & PagingRegs::kEferLma)) return PagingMode::Pae;
    return (regs.cr4 & PagingRegs::kCr4La57) ? PagingMode::Level5 : PagingMode::Level4;
}

// 4.7: W/R, U/S and I/D describe the access whatever the cause of the fault.
u32 AccessErrorBits(const PagingRegs& regs, AccessType access, AccessFlags flags) {
    u32 bits = 0;
    if (access == AccessType::Write) bits |= pf_error::kWrite;
    if (flags.user) bits |= pf_error::kUser;
    const bool pae_nxe = (regs.cr4 & PagingRegs::kCr4Pae) && (regs.efer & PagingRegs::kEferNxe);
    if (access == AccessType::Fetch && ((regs.cr4 & PagingRegs::kCr4Smep) || pae_nxe)) bits |= pf_error::kFetch;
    return bits;
}

WalkResult FinishLeaf(const PagingRegs& regs, AccessType access, AccessFlags flags, const WalkLeaf& leaf) {
    if (flags.user) flags.implicit_supervisor = false;
    WalkResult r;
    ComputeRights(regs, flags, r, leaf);
    if (!Permits(access, r)) {
        WalkResult fault;
        fault.status = WalkStatus::PageFault;
        fault.error_code = AccessErrorBits(regs, access, flags) | pf_error::kPresent;
        // PK says the key denies this access, whatever else did too (4.7).
        const KeyDenial key = KeyDenies(regs, flags, leaf);
        if ((access == AccessType::Read && key.read) || (access == AccessType::Write && key.write)) {
            fault.error_code |= pf_error::kProtKey;
        }
        return fault;
    }
    r.status = WalkStatus::Ok;
    r.gpa = leaf.gpa;
    r.page_size = leaf.page_size;
    r.global = leaf.global_bit && (regs.cr4 & PagingRegs::kCr4Pge);
    r.dirty = access == AccessType::Write || leaf.dirty_bit;
    return r;
}

WalkResult Walk(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags, PhysMemory& memory,
                WalkStats* stats) {
    return WalkTraced(regs, linear, access, flags, memory, nullptr, stats);
}

WalkResult WalkTraced(const PagingRegs& regs, u64 linear, AccessType access, AccessFlags flags, PhysMemory& memory,
                      WalkTrace* trace, WalkStats* stats) {
    Walker walker(regs, linear, access, flags, memory);
    WalkStats local;
    WalkStats& s = stats ? *stats : local;
    ++s.walks;
    // An A/D compare-exchange that loses a race means an entry changed: walk again from the top, as the
    // entries read before it may be stale too.
    for (;;) {
        bool retry = false;
        WalkResult r = walker.Run(&retry, &s.ad_updates, trace);
        if (retry) {
            ++s.retries;
            continue;
        }
        if (r.status != WalkStatus::Ok) ++s.faults;
        return r;
    }
}

Result<void, PdpteError> LoadPdptes(PagingRegs& regs, PhysMemory& memory) {
    const u64 pdpt = regs.cr3 & 0xFFFFFFE0u;  // CR3[31:5]: 32-byte aligned, never crosses a page
    const u8* host = memory.HostPointer(pdpt);
    if (!host) return Err(PdpteError::NotInRam);
    std::array<u64, 4> loaded{};
    for (unsigned i = 0; i < loaded.size(); ++i) {
        loaded[i] = LoadEntry(host + i * 8, 8);
        if ((loaded[i] & kP) && (loaded[i] & kPdpteReserved)) return Err(PdpteError::ReservedBit);
    }
    regs.pdptes = loaded;
    return {};
}

}  // namespace emu::mmu
