#pragma once
// Fixtures for the virtio tests: a small guest RAM behind real memslots (with page-track, so that device writes can
// be watched), and a driver stand-in that lays out split virtqueues in it and reads back what the device did.
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "devices/virtio/dma_memory.h"
#include "devices/virtio/regs.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtqueue.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::devices::virtio::test {

inline constexpr u64 kRamBytes = 2 << 20;  // guest RAM is [0, 2 MiB); everything above is a hole

struct FakeGuest {
    FakeGuest() {
        auto made = mmu::GuestRam::Create(kRamBytes);
        ram = std::move(*made);
        (void)slots.SetMemoryRegion(0, Gpa(0), kRamBytes, mmu::SlotFlags::None, ram.host());
    }
    u8* At(u64 gpa) { return ram.host().get() + gpa; }
    template <typename T>
    void Put(u64 gpa, T value) { std::memcpy(At(gpa), &value, sizeof value); }
    template <typename T>
    T Get(u64 gpa) {
        T value;
        std::memcpy(&value, At(gpa), sizeof value);
        return value;
    }

    mmu::GuestRam ram;
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    DmaMemory memory{slots, &track};
};

// The driver's side of one split queue: by default descriptors at 0x1000, the available ring at 0x2000, the used
// ring at 0x3000, data buffers from 0x10000; a second queue passes a `shift` added to the three ring addresses.
struct QueueDriver {
    static constexpr u64 kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kData = 0x10000;

    QueueDriver(FakeGuest& guest, u16 size, u64 shift = 0)
        : guest(guest), size(size), desc(kDesc + shift), avail(kAvail + shift), used(kUsed + shift) {}
    QueueLayout Layout() const { return QueueLayout{size, desc, avail, used}; }

    void SetTableDesc(u64 table, u16 index, u64 addr, u32 len, u16 flags, u16 next = 0) {
        const u64 at = table + desc::kSize * index;
        guest.Put<u64>(at, addr);
        guest.Put<u32>(at + 8, len);
        guest.Put<u16>(at + 12, flags);
        guest.Put<u16>(at + 14, next);
    }
    void SetDesc(u16 index, u64 addr, u32 len, u16 flags, u16 next = 0) {
        SetTableDesc(desc, index, addr, len, flags, next);
    }
    // Puts head in the next available slot and publishes it.
    void MakeAvailable(u16 head) {
        guest.Put<u16>(avail + 4 + 2 * (avail_idx % size), head);
        ++avail_idx;
        guest.Put<u16>(avail + 2, avail_idx);
    }
    void SetAvailIdx(u16 idx) { guest.Put<u16>(avail + 2, avail_idx = idx); }
    void SetUsedEvent(u16 event) { guest.Put<u16>(avail + 4 + 2 * size, event); }
    void SetAvailFlags(u16 flags) { guest.Put<u16>(avail, flags); }
    u16 UsedIdx() { return guest.Get<u16>(used + 2); }
    u32 UsedId(u16 slot) { return guest.Get<u32>(used + 4 + 8 * (slot % size)); }
    u32 UsedLen(u16 slot) { return guest.Get<u32>(used + 4 + 8 * (slot % size) + 4); }
    u16 AvailEvent() { return guest.Get<u16>(used + 4 + 8 * size); }

    FakeGuest& guest;
    u16 size;
    u64 desc, avail, used;
    u16 avail_idx = 0;
};

// The transport's side for device-model tests: the device's queues straight on SplitQueues, completions recorded,
// and a generation that a test bumps to play a device reset (completions of older requests are dropped, as the
// transport does).
class DirectQueues final : public VirtioQueues {
public:
    DirectQueues(FakeGuest& guest, std::vector<SplitQueue*> queues) : guest_(guest), queues_(std::move(queues)) {}
    std::optional<Request> PopChain(unsigned index) override {
        std::lock_guard lock(mutex_);
        auto r = queues_.at(index)->Pop();
        if (!r || !r->has_value()) return std::nullopt;
        return Request{std::move(**r), generation_};
    }
    void Complete(unsigned index, const Request& request, u32 written) override {
        std::lock_guard lock(mutex_);
        if (request.generation != generation_) {
            ++dropped_;
            return;
        }
        (void)queues_.at(index)->PushUsed(request.chain.head, written);
        completed_.push_back({index, written});
    }
    DmaMemory& memory() override { return guest_.memory; }

    void NewGeneration() {
        std::lock_guard lock(mutex_);
        ++generation_;
    }
    // (queue, bytes written) of each completion so far.
    std::vector<std::pair<unsigned, u32>> Completed() {
        std::lock_guard lock(mutex_);
        return completed_;
    }
    int Dropped() {
        std::lock_guard lock(mutex_);
        return dropped_;
    }

private:
    FakeGuest& guest_;
    std::vector<SplitQueue*> queues_;
    std::mutex mutex_;
    u64 generation_ = 0;
    std::vector<std::pair<unsigned, u32>> completed_;
    int dropped_ = 0;
};

}  // namespace emu::devices::virtio::test
