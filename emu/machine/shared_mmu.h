#pragma once
// The MMU state one VM's vCPUs share (page-track.md, ARCHITECTURE.md "A memslot change"): in shadow mode the
// ShadowMmu, which reaches each vCPU's TLB through the TlbShootdown it attached with; in walk mode the page-track
// write handler that makes writes to a newly tracked gfn take the slow path in every vCPU's TLB. Each vCPU's memory
// path (VcpuMemory) attaches its soft TLB here; a single-vCPU user may let VcpuMemory own a private one.
//
// Threads: vCPUs attach and detach while no vCPU runs. The callbacks run on the thread that causes the change (with
// round-robin vCPUs, the one vCPU thread); TLBs are flushed directly, which is safe only while every vCPU runs on
// that thread. TODO(lead): with a host thread per vCPU, remote flushes become requests run at the target's next
// safe point (issue #12, page-track.md section 5).
#include <memory>
#include <mutex>
#include <vector>

#include "emu/machine/machine_config.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"

namespace emu::machine {

class SharedMmu final : private mmu::MmuWriteHandler {
public:
    // Shadow mode needs page_track (else walk mode is used). page_track and slots must outlive this object.
    SharedMmu(mmu::Memslots& slots, mmu::PageTrack* page_track, MmuMode mode);
    ~SharedMmu() override;
    SharedMmu(const SharedMmu&) = delete;
    SharedMmu& operator=(const SharedMmu&) = delete;

    mmu::ShadowMmu* shadow() { return shadow_.get(); }
    const mmu::ShadowMmu* shadow() const { return shadow_.get(); }

    // A vCPU's TLB joins; in shadow mode returns its ShadowVcpu (which the vCPU destroys before detaching), else null.
    std::unique_ptr<mmu::ShadowVcpu> Attach(mmu::SoftTlb& tlb, mmu::TlbShootdown* shootdown);
    void Detach(mmu::SoftTlb& tlb);

private:
    // Walk mode's page-track write handler: the walker keeps nothing derived from guest tables, so only the TLBs'
    // writable entries for a newly tracked gfn must go (the shadow MMU does the same in its OnGfnTracked).
    void TrackWrite(Gpa, std::span<const u8>) override {}
    void OnGfnTracked(Gfn gfn) override;

    mmu::PageTrack* page_track_;
    std::unique_ptr<mmu::ShadowMmu> shadow_;
    bool walk_hooked_ = false;
    std::atomic<u64> never_{0};  // gates TrackWrite off in walk mode
    std::mutex tlbs_mutex_;
    std::vector<mmu::SoftTlb*> tlbs_;
};

}  // namespace emu::machine
