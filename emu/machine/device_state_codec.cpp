#include "emu/machine/device_state_codec.h"

namespace emu::machine {
namespace {

// A decoded count is bounded by the bytes left, so a corrupt count cannot make a huge allocation.
bool Count(snapshot::Decoder& in, u64 min_bytes_each, u32& count) {
    return in.U32(count) && static_cast<u64>(count) * min_bytes_each <= in.remaining();
}

}  // namespace

void Encode(snapshot::Encoder& out, const devices::I8042State& state) {
    out.U8(state.ctr);
    out.U8(state.status);
    out.U8(state.output_port);
    out.U8(state.pending_command);
    out.U32(static_cast<u32>(state.output.size()));
    for (const devices::I8042Byte& b : state.output) {
        out.U8(b.value);
        out.Bool(b.aux);
    }
    out.Pod(state.keyboard);
    out.Pod(state.mouse);
    out.Bool(state.irq1);
    out.Bool(state.irq12);
}

bool Decode(snapshot::Decoder& in, devices::I8042State& state) {
    u32 count = 0;
    if (!in.U8(state.ctr) || !in.U8(state.status) || !in.U8(state.output_port) || !in.U8(state.pending_command) ||
        !Count(in, 2, count)) {
        return false;
    }
    state.output.clear();
    for (u32 i = 0; i < count; ++i) {
        devices::I8042Byte b{};
        if (!in.U8(b.value) || !in.Bool(b.aux)) return false;
        state.output.push_back(b);
    }
    return in.Pod(state.keyboard) && in.Pod(state.mouse) && in.Bool(state.irq1) && in.Bool(state.irq12);
}

void Encode(snapshot::Encoder& out, const devices::virtio::VirtioPciState& state) {
    out.U32(state.device_feature_select);
    out.U32(state.driver_feature_select);
    out.U64(state.driver_features);
    out.U8(state.status);
    out.U8(state.isr);
    out.U16(state.config_msix_vector);
    out.U16(state.queue_select);
    out.U32(static_cast<u32>(state.queues.size()));
    for (const devices::virtio::VirtioQueueRegsState& q : state.queues) out.Pod(q);
    out.U32(static_cast<u32>(state.msix.size()));
    for (const devices::virtio::MsixEntryState& m : state.msix) out.Pod(m);
}

bool Decode(snapshot::Decoder& in, devices::virtio::VirtioPciState& state) {
    if (!in.U32(state.device_feature_select) || !in.U32(state.driver_feature_select) ||
        !in.U64(state.driver_features) || !in.U8(state.status) || !in.U8(state.isr) ||
        !in.U16(state.config_msix_vector) || !in.U16(state.queue_select)) {
        return false;
    }
    u32 count = 0;
    if (!Count(in, sizeof(devices::virtio::VirtioQueueRegsState), count)) return false;
    state.queues.resize(count);
    for (auto& q : state.queues) {
        if (!in.Pod(q)) return false;
    }
    if (!Count(in, sizeof(devices::virtio::MsixEntryState), count)) return false;
    state.msix.resize(count);
    for (auto& m : state.msix) {
        if (!in.Pod(m)) return false;
    }
    return true;
}

}  // namespace emu::machine
