#pragma once
// A vCPU's path to memory in walk mode: soft TLB, then the guest page-table walker on a miss, then memslots
// (RAM) or the MMIO bus; port I/O goes to the port bus. Writes to write-tracked pages reach page-track's
// dispatcher after the bytes have landed; writes to dirty-logged slots mark the page dirty.
#include "devices/bus/bus.h"
#include "emu/cpu/memory_interface.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/softtlb/softtlb.h"
#include "mmu/walk/walk.h"

namespace emu::machine {

class VcpuMemory final : public cpu::MemoryInterface, private mmu::PhysMemory {
public:
    // page_track may be null (a machine without write tracking).
    VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio);

    bool Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, cpu::MemAccess access, bool user,
              cpu::MemFault* fault) override;
    bool Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
               cpu::MemFault* fault) override;
    u32 PortIn(u16 port, unsigned size) override;
    void PortOut(u16 port, unsigned size, u32 value) override;
    void FlushTlb(u64 linear, bool global) override;

    mmu::SoftTlb& tlb() { return tlb_; }
    const mmu::WalkStats& walk_stats() const { return walk_stats_; }

private:
    // Where one page-contained piece of an access goes.
    struct Target {
        u8* host = nullptr;  // RAM: host address of the first byte
        u64 gpa = 0;
        u64 flags = 0;       // tlb_flag bits that force special handling (kMmio, kTracked, kNotDirty)
        bool read_only = false;
    };

    u8* HostPointer(u64 gpa) override;
    void SyncPagingState(const cpu::CpuState& state);
    bool Translate(const cpu::CpuState& state, u64 linear, cpu::MemAccess access, bool user, Target* target,
                   cpu::MemFault* fault);
    void WritePiece(const Target& target, const u8* src, unsigned size);

    mmu::Memslots& slots_;
    mmu::PageTrack* page_track_;
    devices::Bus& mmio_;
    devices::Bus& pio_;
    mmu::SoftTlb tlb_;
    mmu::PagingRegs paging_{};
    mmu::WalkStats walk_stats_{};
    u64 slots_generation_ = ~u64{0};
    u64 pdptes_cr3_ = ~u64{0};
};

}  // namespace emu::machine
