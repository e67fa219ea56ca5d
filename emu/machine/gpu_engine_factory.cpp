#include "emu/machine/gpu_engine_factory.h"

namespace emu::machine {

// The engine lands with devices/gpu/engine/ (issue #13's copy-engine half); until then there is none to make.
std::unique_ptr<devices::gpu::GpuEngine> MakeGpuEngine(mmu::Memslots&, mmu::PageTrack*) { return nullptr; }

}  // namespace emu::machine
