#include "emu/machine/shared_mmu.h"

#include <algorithm>

#include "emu/common/log.h"

namespace emu::machine {

SharedMmu::SharedMmu(mmu::Memslots& slots, mmu::PageTrack* page_track, MmuMode mode) : page_track_(page_track) {
    if (mode == MmuMode::Shadow && !page_track_) {
        log::Log(log::Category::Mmu, "shadow MMU needs page tracking; using walk mode");
    }
    if (mode == MmuMode::Shadow && page_track_) {
        shadow_ = std::make_unique<mmu::ShadowMmu>(slots, *page_track_);
    } else if (page_track_) {
        page_track_->SetMmuWriteHandler(this, &never_);
        walk_hooked_ = true;
    }
}

SharedMmu::~SharedMmu() {
    if (walk_hooked_) page_track_->SetMmuWriteHandler(nullptr, nullptr);
}

std::unique_ptr<mmu::ShadowVcpu> SharedMmu::Attach(mmu::SoftTlb& tlb, mmu::TlbShootdown* shootdown) {
    {
        std::lock_guard lock(tlbs_mutex_);
        tlbs_.push_back(&tlb);
    }
    return shadow_ ? shadow_->AddVcpu(shootdown) : nullptr;
}

void SharedMmu::Detach(mmu::SoftTlb& tlb) {
    std::lock_guard lock(tlbs_mutex_);
    tlbs_.erase(std::remove(tlbs_.begin(), tlbs_.end(), &tlb), tlbs_.end());
}

void SharedMmu::OnGfnTracked(Gfn gfn) {
    std::lock_guard lock(tlbs_mutex_);
    for (mmu::SoftTlb* tlb : tlbs_) tlb->DemoteWritesToGfn(gfn, mmu::tlb_flag::kTracked);
}

}  // namespace emu::machine
