#pragma once
// A vCPU's path to memory: soft TLB, then on a miss the MMU (walk mode: the guest page-table walker; shadow
// mode: the shadow MMU, which walks only when no valid shadow entry exists), then memslots (RAM) or the MMIO bus;
// port I/O goes to the port bus. Writes to write-tracked pages reach page-track's dispatcher after the bytes have
// landed (in shadow mode that runs the shadow MMU's write handler); writes to dirty-logged slots mark the page dirty.
//
// Shadow mode: this object owns the ShadowMmu while there is one vCPU. With SMP the machine must own one ShadowMmu
// per VM and give each VcpuMemory a ShadowVcpu (TODO(lead): move ownership when SMP lands).
#include <memory>
#include <string>

#include <functional>
#include <unordered_set>

#include "devices/bus/bus.h"
#include "emu/cpu/memory_interface.h"
#include "emu/machine/machine_config.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"
#include "mmu/walk/walk.h"

namespace emu::machine {

class VcpuMemory final : public cpu::MemoryInterface, private mmu::PhysMemory {
public:
    // page_track may be null (a machine without write tracking); shadow mode needs it (else walk mode is used).
    VcpuMemory(mmu::Memslots& slots, mmu::PageTrack* page_track, devices::Bus& mmio, devices::Bus& pio,
               MmuMode mode = MmuMode::Walk);
    ~VcpuMemory() override;
    VcpuMemory(const VcpuMemory&) = delete;
    VcpuMemory& operator=(const VcpuMemory&) = delete;

    bool Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, cpu::MemAccess access, bool user,
              cpu::MemFault* fault) override;
    bool Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
               cpu::MemFault* fault) override;
    u32 PortIn(u16 port, unsigned size) override;
    void PortOut(u16 port, unsigned size, u32 value) override;
    void FlushTlb(u64 linear, bool global) override;
    bool TakeCodeWritten() override;

    // Runs after every port write: a device that must change a bus's topology (a PCI BAR remap) queues the
    // change during the access, which holds the bus, and it is applied here, before the next instruction.
    void SetAfterPortWrite(std::function<void()> hook) { after_port_write_ = std::move(hook); }

    mmu::SoftTlb& tlb() { return tlb_; }
    const mmu::WalkStats& walk_stats() const { return walk_stats_; }
    MmuMode mmu_mode() const { return shadow_ ? MmuMode::Shadow : MmuMode::Walk; }
    mmu::ShadowMmu* shadow_mmu() { return shadow_.get(); }
    // Statistics for -d mmu: the walker's, the TLB's, and the shadow MMU's in shadow mode.
    std::string MmuStatsString() const;

private:
    // Where one page-contained piece of an access goes.
    struct Target {
        u8* host = nullptr;  // RAM: host address of the first byte
        u64 gpa = 0;
        u64 flags = 0;       // tlb_flag bits that force special handling (kMmio, kTracked, kNotDirty)
        bool read_only = false;
    };

    // The shadow MMU reaches this vCPU's TLB directly: one vCPU, same thread.
    class TlbHook final : public mmu::TlbShootdown {
    public:
        explicit TlbHook(mmu::SoftTlb& tlb) : tlb_(tlb) {}
        void FlushAll() override { tlb_.FlushAll(); }
        void FlushGfn(Gfn gfn) override { tlb_.FlushGfn(gfn); }
        void DemoteWritesToGfn(Gfn gfn) override { tlb_.DemoteWritesToGfn(gfn); }

    private:
        mmu::SoftTlb& tlb_;
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
    TlbHook tlb_hook_{tlb_};
    std::unique_ptr<mmu::ShadowMmu> shadow_;
    std::unique_ptr<mmu::ShadowVcpu> shadow_vcpu_;
    std::function<void()> after_port_write_;
    // Guest-physical pages instruction fetches have read since translations were last dropped; a write to one
    // of them (by the CPU through this path) sets code_written_. Page-granular, as QEMU's TB invalidation.
    std::unordered_set<Gfn> code_pages_;
    bool code_written_ = false;
};

}  // namespace emu::machine
