#pragma once
// Snapshot encodings of the device states that hold containers (the 8042's output queue, a virtio transport's
// queues and MSI-X table); plain state structs go through Encoder::Pod directly.
#include "devices/platform/i8042_state.h"
#include "devices/virtio/virtio_state.h"
#include "emu/snapshot/codec.h"

namespace emu::machine {

void Encode(snapshot::Encoder& out, const devices::I8042State& state);
bool Decode(snapshot::Decoder& in, devices::I8042State& state);
void Encode(snapshot::Encoder& out, const devices::virtio::VirtioPciState& state);
bool Decode(snapshot::Decoder& in, devices::virtio::VirtioPciState& state);

}  // namespace emu::machine
