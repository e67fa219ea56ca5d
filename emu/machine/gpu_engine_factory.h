#pragma once
// Makes the copy engine that -device emu64-gpu plugs into the GPU's PCI function (devices/gpu/gpu_engine_port.h).
// The engine reads and writes guest memory through the memslots and reports its writes to page-track.
#include <memory>

#include "devices/gpu/gpu_engine_port.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::machine {

// Null without page-track (the engine shadows its tables through it): -device emu64-gpu is then refused.
std::unique_ptr<devices::gpu::GpuEngine> MakeGpuEngine(mmu::Memslots& slots, mmu::PageTrack* page_track);

}  // namespace emu::machine
