#include "emu/machine/device_state_codec.h"
#include "emu/machine/virtio_devices.h"

namespace emu::machine {

void VirtioDevices::SaveSnapshot(snapshot::Encoder& out) const {
    out.U32(static_cast<u32>(transports_.size()));
    for (const auto& transport : transports_) {
        const devices::virtio::VirtioPciState state = transport->SaveState();
        VirtioFields(out, state);
    }
}

std::function<void()> VirtioDevices::DecodeSnapshot(snapshot::Decoder& in) {
    u32 count = 0;
    if (!in.U32(count) || count != transports_.size()) return {};
    std::vector<devices::virtio::VirtioPciState> states(count);
    for (auto& state : states) {
        if (!VirtioFields(in, state)) return {};
    }
    return [this, states] {
        for (size_t i = 0; i < states.size(); ++i) transports_[i]->RestoreState(states[i]);
    };
}

}  // namespace emu::machine
