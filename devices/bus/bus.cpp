#include "devices/bus/bus.h"

#include <algorithm>
#include <mutex>

namespace emu::devices {

const char* BusErrorMessage(BusError error) {
    switch (error) {
    case BusError::Overlap: return "the new range overlaps a device already on the bus";
    case BusError::ZeroSize: return "a device range must be at least one byte long";
    case BusError::Wraparound: return "the range runs past the end of the 64-bit address space";
    case BusError::NotFound: return "no device range starts at that base";
    }
    return "unknown bus error";
}

Result<void, BusError> Bus::Insert(u64 base, u64 size, IoDevice& device) {
    if (size == 0) return Err(BusError::ZeroSize);
    const u64 last = base + (size - 1);
    if (last < base) return Err(BusError::Wraparound);

    std::unique_lock lock(mutex_);
    // The first range starting after base must start after our last byte...
    const auto next = ranges_.upper_bound(base);
    if (next != ranges_.end() && next->first <= last) return Err(BusError::Overlap);
    // ...and the range starting at or before base must end before it.
    if (next != ranges_.begin()) {
        const auto prev = std::prev(next);
        if (prev->first + (prev->second.size - 1) >= base) return Err(BusError::Overlap);
    }
    ranges_.emplace(base, Range{size, &device});
    return {};
}

Result<void, BusError> Bus::Remove(u64 base) {
    std::unique_lock lock(mutex_);
    if (ranges_.erase(base) == 0) return Err(BusError::NotFound);
    return {};
}

Bus::Map::const_iterator Bus::Lookup(u64 addr) const {
    auto it = ranges_.upper_bound(addr);
    if (it == ranges_.begin()) return ranges_.end();
    --it;
    // Compare offsets, not ends, so a range ending at 2^64 - 1 does not overflow.
    if (addr - it->first < it->second.size) return it;
    return ranges_.end();
}

IoDevice* Bus::Find(u64 addr, u64* offset) const {
    std::shared_lock lock(mutex_);
    const auto it = Lookup(addr);
    if (it == ranges_.end()) return nullptr;
    if (offset) *offset = addr - it->first;
    return it->second.device;
}

template <typename OnDevice, typename OnGap>
bool Bus::ForEachChunk(u64 addr, size_t len, OnDevice&& fn, OnGap&& gap) const {
    bool claimed = false;
    size_t done = 0;
    while (done < len) {
        const u64 cur = addr + done;
        const size_t remaining = len - done;
        const auto it = Lookup(cur);
        if (it != ranges_.end()) {
            const u64 offset = cur - it->first;
            const size_t count = static_cast<size_t>(std::min<u64>(remaining, it->second.size - offset));
            fn(*it->second.device, offset, done, count);
            claimed = true;
            done += count;
            continue;
        }
        // Unclaimed: skip to the next range's base (or to the end of the access).
        const auto next = ranges_.upper_bound(cur);
        size_t count = remaining;
        if (next != ranges_.end() && next->first - cur < remaining) count = static_cast<size_t>(next->first - cur);
        gap(done, count);
        done += count;
    }
    return claimed;
}

bool Bus::Read(u64 addr, std::span<u8> data) const {
    std::shared_lock lock(mutex_);
    return ForEachChunk(
        addr, data.size(),
        [&](IoDevice& device, u64 offset, size_t first, size_t count) {
            device.Read(offset, data.subspan(first, count));
        },
        [&](size_t first, size_t count) { std::fill_n(data.begin() + first, count, u8{0xFF}); });
}

bool Bus::Write(u64 addr, std::span<const u8> data) const {
    std::shared_lock lock(mutex_);
    return ForEachChunk(
        addr, data.size(),
        [&](IoDevice& device, u64 offset, size_t first, size_t count) {
            device.Write(offset, data.subspan(first, count));
        },
        [](size_t, size_t) {});
}

}  // namespace emu::devices
