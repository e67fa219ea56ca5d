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

bool VirtioDevices::LoadSnapshot(snapshot::Decoder& in) {
    u32 count = 0;
    if (!in.U32(count) || count != transports_.size()) return false;
    std::vector<devices::virtio::VirtioPciState> states(count);
    for (auto& state : states) {
        if (!VirtioFields(in, state)) return false;
    }
    for (size_t i = 0; i < states.size(); ++i) transports_[i]->RestoreState(states[i]);
    return true;
}

}  // namespace emu::machine
