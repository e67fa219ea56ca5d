#pragma once
// The MMU state one VM's vCPUs share (page-track.md, ARCHITECTURE.md "A memslot change"): in shadow mode the
// ShadowMmu, which reaches each vCPU's TLB through the gate it attached with; in walk mode the page-track write
// handler that makes writes to a newly tracked gfn take the slow path in every vCPU's TLB. Each vCPU's memory path
// (VcpuMemory) attaches its VcpuGate here; a single-vCPU user may let VcpuMemory own a private one.
//
// Threads: vCPUs attach and detach while no vCPU runs. The callbacks run on the thread that causes the change; they
// reach each TLB through its VcpuGate (vcpu_gate.h), which applies the flush directly on the vCPU's own thread and
// otherwise queues it and waits for the vCPU to leave guest mode. A committed memslot change flushes every TLB the
// same way before the change returns, so no vCPU keeps using RAM that moved or went away.
#include <memory>
#include <mutex>
#include <vector>

#include "emu/machine/machine_config.h"
#include "emu/machine/vcpu_gate.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"

namespace emu::machine {

class SharedMmu final : private mmu::MmuWriteHandler, private mmu::MemslotObserver {
public:
    // Shadow mode needs page_track (else walk mode is used). page_track and slots must outlive this object.
    SharedMmu(mmu::Memslots& slots, mmu::PageTrack* page_track, MmuMode mode);
    ~SharedMmu() override;
    SharedMmu(const SharedMmu&) = delete;
    SharedMmu& operator=(const SharedMmu&) = delete;

    mmu::ShadowMmu* shadow() { return shadow_.get(); }
    const mmu::ShadowMmu* shadow() const { return shadow_.get(); }

    // A vCPU's gate joins; in shadow mode returns its ShadowVcpu (which the vCPU destroys before detaching), else null.
    std::unique_ptr<mmu::ShadowVcpu> Attach(VcpuGate& gate);
    void Detach(VcpuGate& gate);
    // The VM's stop-the-world section (vcpu_gate.h), which every attached gate belongs to.
    ExclusiveSection& exclusive() { return exclusive_; }

private:
    // Walk mode's page-track write handler: the walker keeps nothing derived from guest tables, so only the TLBs'
    // writable entries for a newly tracked gfn must go (the shadow MMU does the same in its OnGfnTracked).
    void TrackWrite(Gpa, std::span<const u8>) override {}
    void OnGfnTracked(Gfn gfn, bool newly_tracked) override;
    void CommitChange(const mmu::SlotChange& change) override;

    mmu::Memslots& slots_;
    mmu::PageTrack* page_track_;
    std::unique_ptr<mmu::ShadowMmu> shadow_;
    bool walk_hooked_ = false;
    std::atomic<u64> never_{0};  // gates TrackWrite off in walk mode
    ExclusiveSection exclusive_;  // also the list of attached gates
};

}  // namespace emu::machine
