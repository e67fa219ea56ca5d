#include "emu/machine/shared_mmu.h"

#include <algorithm>

#include "emu/common/log.h"

namespace emu::machine {

SharedMmu::SharedMmu(mmu::Memslots& slots, mmu::PageTrack* page_track, MmuMode mode)
    : slots_(slots), page_track_(page_track) {
    if (mode == MmuMode::Shadow && !page_track_) {
        log::Log(log::Category::Mmu, "shadow MMU needs page tracking; using walk mode");
    }
    if (mode == MmuMode::Shadow && page_track_) {
        shadow_ = std::make_unique<mmu::ShadowMmu>(slots, *page_track_);
    } else if (page_track_) {
        page_track_->SetMmuWriteHandler(this, &never_);
        walk_hooked_ = true;
    }
    slots_.AddObserver(this);
}

SharedMmu::~SharedMmu() {
    slots_.RemoveObserver(this);
    if (walk_hooked_) page_track_->SetMmuWriteHandler(nullptr, nullptr);
}

std::unique_ptr<mmu::ShadowVcpu> SharedMmu::Attach(VcpuGate& gate) {
    exclusive_.Add(&gate);
    return shadow_ ? shadow_->AddVcpu(&gate) : nullptr;
}

void SharedMmu::Detach(VcpuGate& gate) { exclusive_.Remove(&gate); }

void SharedMmu::OnGfnTracked(Gfn gfn, bool newly_tracked) {
    if (!newly_tracked) return;  // no TLB can hold a fast write entry for a gfn that was tracked already
    exclusive_.ForEach([gfn](VcpuGate& gate) { gate.DemoteWritesToGfn(gfn); });
}

void SharedMmu::CommitChange(const mmu::SlotChange&) {
    // Each vCPU also notices the generation at its next slow path and safe point; this makes the flush synchronous.
    exclusive_.ForEach([](VcpuGate& gate) { gate.FlushAll(); });
}

}  // namespace emu::machine
