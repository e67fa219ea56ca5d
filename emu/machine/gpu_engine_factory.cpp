#include "emu/machine/gpu_engine_factory.h"

#include "devices/gpu/engine/copy_engine.h"

namespace emu::machine {

std::unique_ptr<devices::gpu::GpuEngine> MakeGpuEngine(mmu::Memslots& slots, mmu::PageTrack* page_track) {
    if (page_track == nullptr) return nullptr;  // the engine's shadow is a page-track client
    return std::make_unique<devices::gpu::CopyEngine>(slots, *page_track);
}

}  // namespace emu::machine
