#include "devices/virtio/rng/virtio_rng.h"

#include <algorithm>
#include <array>

namespace emu::devices::virtio {

void VirtioRng::QueueNotify(unsigned index) {
    if (!queues_) return;
    while (auto request = queues_->PopChain(index)) {
        queues_->Complete(index, *request, Serve(queues_->memory(), request->chain));
    }
}

u32 VirtioRng::Serve(DmaMemory& memory, const DescriptorChain& chain) {
    // A driver may offer a large buffer; one page per request is plenty and bounds the time on the vCPU thread.
    std::array<u8, kPageSize> bytes{};
    const auto size = static_cast<size_t>(std::min<u64>(chain.writable_bytes, bytes.size()));
    const std::span<u8> random(bytes.data(), size);
    if (!source_.Fill(random)) return 0;
    ChainWriter writer(memory, chain);
    return writer.Write(random) ? static_cast<u32>(size) : 0;
}

}  // namespace emu::devices::virtio
