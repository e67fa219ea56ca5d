// Split virtqueues on driver-written rings (issue #16): the input lays out guest RAM (descriptor tables, rings,
// indirect tables, as bytes), picks the queue registers and features, then alternates between the device popping
// and consuming chains and the "driver" rewriting RAM under it. Whatever the rings say, the queue must only touch
// guest RAM through DmaMemory, stop at the first QueueError and never loop.
#include <array>
#include <cstring>
#include <utility>

#include "devices/virtio/dma_memory.h"
#include "devices/virtio/virtio_state.h"
#include "devices/virtio/virtqueue.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace emu;
using namespace emu::devices::virtio;

constexpr u64 kRamBytes = 1 << 20;  // [0, 1 MiB) is RAM, everything above a hole
constexpr u16 kMaxQueue = 256;
constexpr unsigned kMaxSteps = 64;

struct Guest {
    Guest() {
        ram = std::move(*mmu::GuestRam::Create(kRamBytes));
        (void)slots.SetMemoryRegion(0, Gpa(0), kRamBytes, mmu::SlotFlags::None, ram.host());
    }
    mmu::GuestRam ram;
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    DmaMemory memory{slots, &track};
};

// Mostly addresses in or near RAM (so that rings are accepted often), sometimes anything at all.
u64 TakeAddress(fuzz::FuzzInput& in) {
    const u64 raw = in.Take<u64>();
    return (raw & 0x8000000000000000ull) ? raw : raw & 0x1FFFFF;
}

// The device's side of one chain: read what it offers, write into what it lends, as a device model does.
u32 Consume(Guest& guest, const DescriptorChain& chain, fuzz::FuzzInput& in) {
    ChainReader reader(guest.memory, chain);
    std::array<u8, 4096> buffer{};
    const u64 want = std::min<u64>(in.Take<u16>(), reader.remaining());
    for (u64 done = 0; done < want;) {
        const u64 n = std::min<u64>(want - done, buffer.size());
        if (!reader.Read(std::span<u8>(buffer.data(), n))) break;
        done += n;
    }
    ChainWriter writer(guest.memory, chain);
    const u64 fill = std::min<u64>(in.Take<u16>(), writer.remaining());
    (void)writer.Zero(fill / 2);
    (void)writer.Write(std::span<const u8>(buffer.data(), std::min<u64>(fill - fill / 2, buffer.size())));
    if (writer.remaining() > 0) (void)writer.WriteAt(writer.remaining() - 1, std::span<const u8>(buffer.data(), 1));
    return static_cast<u32>(writer.written());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    Guest guest;
    fuzz::FuzzInput in(data, size);
    QueueLayout layout;
    layout.size = in.Take<u16>();
    layout.desc = TakeAddress(in);
    layout.driver = TakeAddress(in);
    layout.device = TakeAddress(in);
    const u8 features = in.Take<u8>();
    const auto image = in.TakeBytes(64 << 10);
    const u64 image_at = in.Take<u16>() & ~u64{0xF};
    std::memcpy(guest.ram.host().get() + image_at, image.data(), image.size());

    SplitQueue queue(guest.memory);
    if (!queue.Enable(layout, kMaxQueue, features & 1, features & 2)) return 0;
    for (unsigned step = 0; step < kMaxSteps && !in.empty(); ++step) {
        switch (in.TakeBelow(4)) {
            case 0: {  // the driver rewrites a few bytes of RAM (a ring index, a descriptor)
                const u64 at = in.Take<u32>() % kRamBytes;
                const auto bytes = in.TakeBytes(64);
                const u64 n = std::min<u64>(bytes.size(), kRamBytes - at);
                std::memcpy(guest.ram.host().get() + at, bytes.data(), n);
                break;
            }
            case 1: {  // the device drains what is available
                for (unsigned popped = 0; popped < kMaxQueue; ++popped) {
                    auto chain = queue.Pop();
                    if (!chain || !*chain) break;
                    const u32 written = Consume(guest, **chain, in);
                    if (!queue.PushUsed((*chain)->head, written)) break;
                }
                (void)queue.ShouldInterrupt();
                break;
            }
            case 2:  // a used entry for any head: the queue must keep to its ring
                (void)queue.PushUsed(in.Take<u16>(), in.Take<u32>());
                break;
            default: {  // a save and restore of the queue, as a snapshot does
                const SplitQueueState saved = queue.SaveState();
                if (!queue.RestoreState(saved, kMaxQueue)) return 0;
                break;
            }
        }
    }
    return 0;
}
