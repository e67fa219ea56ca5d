#pragma once
// A tiny machine for shadow MMU tests: one RAM slot, page-track, the shadow MMU, a page-table builder for every
// paging format, guest stores that go through page-track's dispatcher (as the machine's store slow path does),
// and soft TLBs registered as vCPU TLBs.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>

#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"
#include "mmu/walk/walk.h"

namespace emu::mmu::test {

// PhysMemory over Memslots that counts page-table reads, to prove SPTE hits read no guest table.
class SlotPhys final : public PhysMemory {
public:
    explicit SlotPhys(Memslots& slots) : slots_(slots) {}
    u8* HostPointer(u64 gpa) override {
        reads.fetch_add(1, std::memory_order_relaxed);
        auto host = slots_.TranslateForWrite(Gpa(gpa));
        return host ? host->get() : nullptr;
    }
    std::atomic<u64> reads{0};

private:
    Memslots& slots_;
};

// A vCPU TLB reached directly (one thread).
class DirectTlb final : public TlbShootdown {
public:
    void FlushAll() override { tlb.FlushAll(); }
    void FlushGfn(Gfn gfn) override { tlb.FlushGfn(gfn); }
    void DemoteWritesToGfn(Gfn gfn) override { tlb.DemoteWritesToGfn(gfn); }
    SoftTlb tlb;
};

// A guest store of 1 to 8 bytes as an x86 store: host atomic stores (one if naturally aligned, else one per byte),
// because other threads (vCPUs, the MMU re-reading gPTEs) load the same bytes atomically.
inline void StoreGuest(u8* host, u64 value, unsigned size) {
    assert(size >= 1 && size <= 8);
    const bool aligned = (reinterpret_cast<uintptr_t>(host) & (size - 1)) == 0;
    if (size == 8 && aligned) {
        std::atomic_ref<u64>(*reinterpret_cast<u64*>(host)).store(value, std::memory_order_relaxed);
    } else if (size == 4 && aligned) {
        std::atomic_ref<u32>(*reinterpret_cast<u32*>(host)).store(u32(value), std::memory_order_relaxed);
    } else if (size == 2 && aligned) {
        std::atomic_ref<u16>(*reinterpret_cast<u16*>(host)).store(u16(value), std::memory_order_relaxed);
    } else {
        for (unsigned i = 0; i < size; ++i) {
            std::atomic_ref<u8>(host[i]).store(u8(value >> (8 * i)), std::memory_order_relaxed);
        }
    }
}

// Two translations agree in everything the TLB fill and the CPU use.
inline bool SameResult(const WalkResult& a, const WalkResult& b) {
    return a.status == b.status && a.gpa == b.gpa && a.page_size == b.page_size && a.readable == b.readable &&
           a.writable == b.writable && a.executable == b.executable && a.user_page == b.user_page &&
           a.global == b.global && a.dirty == b.dirty && a.error_code == b.error_code;
}

inline GuestRam NewRam(u64 size) { return std::move(GuestRam::Create(size).value()); }

// Linear-address bit where the first table's index starts (PAE: the PD, below the PDPTE cache).
inline unsigned TopShift(PagingMode mode) {
    switch (mode) {
        case PagingMode::Level5: return 48;
        case PagingMode::Level4: return 39;
        case PagingMode::Pae: return 21;
        default: return 22;
    }
}

// x86 entry bits.
inline constexpr u64 kP = 1, kW = 2, kU = 4, kA = 0x20, kD = 0x40, kPs = 0x80, kG = 0x100, kXd = u64{1} << 63;

struct ShadowEnv {
    static constexpr u64 kRamBase = 0;

    explicit ShadowEnv(u64 ram_size = 16u << 20, ShadowOptions options = {})
        : ram(NewRam(ram_size)), track(slots), phys(slots) {
        (void)slots.SetMemoryRegion(0, Gpa(kRamBase), ram_size, SlotFlags::None, ram.host());
        mmu = std::make_unique<ShadowMmu>(slots, track, options);
    }
    ~ShadowEnv() { mmu.reset(); }

    u8* Host(u64 gpa) { return slots.Translate(Gpa(gpa))->get(); }
    u64 AllocPage() {
        const u64 gpa = next_page;
        next_page += kPageSize;
        std::memset(Host(gpa), 0, kPageSize);
        return gpa;
    }
    // A guest store: bytes land, then page-track's dispatcher runs if the page is tracked.
    void GuestWrite(u64 gpa, const void* src, unsigned size) {
        u64 value = 0;
        std::memcpy(&value, src, std::min(size, 8u));
        StoreGuest(Host(gpa), value, size);
        if (track.IsWriteTracked(Gpa(gpa))) {
            track.OnTrackedWrite(Gpa(gpa), std::span<const u8>(static_cast<const u8*>(src), size));
        }
    }
    void WriteEntry(u64 gpa, u64 value, unsigned bytes) { GuestWrite(gpa, &value, bytes); }
    u64 ReadEntry(u64 gpa, unsigned bytes) {
        u64 v = 0;
        std::memcpy(&v, Host(gpa), bytes);
        return v;
    }

    // Paging registers for `mode` with a fresh top-level table (PAE: a PDPT).
    PagingRegs NewRegs(PagingMode mode) {
        PagingRegs regs;
        regs.cr0 = PagingRegs::kCr0Pg | PagingRegs::kCr0Wp | 1;
        regs.cr3 = AllocPage();
        switch (mode) {
            case PagingMode::Bits32: regs.cr4 = PagingRegs::kCr4Pse; break;
            case PagingMode::Pae: regs.cr4 = PagingRegs::kCr4Pae; regs.efer = PagingRegs::kEferNxe; break;
            case PagingMode::Level4:
                regs.cr4 = PagingRegs::kCr4Pae;
                regs.efer = PagingRegs::kEferNxe | PagingRegs::kEferLma;
                break;
            case PagingMode::Level5:
                regs.cr4 = PagingRegs::kCr4Pae | PagingRegs::kCr4La57;
                regs.efer = PagingRegs::kEferNxe | PagingRegs::kEferLma;
                break;
            case PagingMode::None: regs.cr0 = 0; break;
        }
        return regs;
    }

    // Maps linear -> gpa with a leaf at `page_shift` (12, 21, 22, 30) carrying leaf_flags (P is added; PS too for
    // large pages); missing tables are created with P|W|U. Returns the gpa of the leaf entry.
    u64 Map(PagingRegs& regs, u64 linear, u64 gpa, u64 leaf_flags, unsigned page_shift = 12) {
        const PagingMode mode = ModeOf(regs);
        const unsigned bytes = mode == PagingMode::Bits32 ? 4 : 8;
        const unsigned bits = mode == PagingMode::Bits32 ? 10 : 9;
        unsigned shift = TopShift(mode);
        u64 table = regs.cr3 & ~kPageMask;
        if (mode == PagingMode::Pae) {
            const u64 pdpte_gpa = (regs.cr3 & ~u64{31}) + ((linear >> 30) & 3) * 8;
            u64 pdpte = ReadEntry(pdpte_gpa, 8);
            if (!(pdpte & kP)) {
                pdpte = AllocPage() | kP;
                WriteEntry(pdpte_gpa, pdpte, 8);
                (void)LoadPdptes(regs, phys);
            }
            table = pdpte & ~kPageMask & ((u64{1} << 52) - 1);
        }
        for (;; shift -= bits) {
            const u64 entry_gpa = table + ((linear >> shift) & ((u64{1} << bits) - 1)) * bytes;
            if (shift == page_shift) {
                const u64 leaf = gpa | leaf_flags | kP | (page_shift > 12 ? kPs : 0);
                WriteEntry(entry_gpa, leaf, bytes);
                return entry_gpa;
            }
            u64 entry = ReadEntry(entry_gpa, bytes);
            if (!(entry & kP)) {
                entry = AllocPage() | kP | kW | kU;
                WriteEntry(entry_gpa, entry, bytes);
            }
            table = entry & ~kPageMask & ((u64{1} << 52) - 1) & (bytes == 4 ? 0xFFFFFFFFu : ~u64{0});
        }
    }

    GuestRam ram;
    Memslots slots;
    PageTrack track;
    SlotPhys phys;
    std::unique_ptr<ShadowMmu> mmu;
    u64 next_page = 0x10000;
};

}  // namespace emu::mmu::test
