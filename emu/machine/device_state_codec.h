#pragma once
// Snapshot field lists of the device states that hold containers (the 8042's output queue, a virtio transport's
// queues and MSI-X table), written once for both directions: Codec is snapshot::Encoder (with a const State) or
// snapshot::Decoder (codec.h). Plain state structs need none: Field() copies them whole.
#include "devices/platform/i8042_state.h"
#include "devices/virtio/virtio_state.h"
#include "emu/snapshot/codec.h"

namespace emu::machine {

template <typename Codec, typename State>
bool I8042Fields(Codec& c, State& s) {
    return c.Field(s.ctr) && c.Field(s.status) && c.Field(s.output_port) && c.Field(s.pending_command) &&
           c.Field(s.output) && c.Field(s.keyboard) && c.Field(s.mouse) && c.Field(s.irq1) && c.Field(s.irq12);
}

template <typename Codec, typename State>
bool VirtioFields(Codec& c, State& s) {
    return c.Field(s.device_feature_select) && c.Field(s.driver_feature_select) && c.Field(s.driver_features) &&
           c.Field(s.status) && c.Field(s.isr) && c.Field(s.config_msix_vector) && c.Field(s.queue_select) &&
           c.Field(s.queues) && c.Field(s.msix);
}

}  // namespace emu::machine
