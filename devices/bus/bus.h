#pragma once
// An address map of IoDevices: one instance for port I/O, one for MMIO (firecracker's vstate/bus.rs design).
//
// Ranges never overlap, so a sorted map keyed by base plus upper_bound finds the one candidate range for an
// address in O(log n).
//
// Threads: a shared_mutex guards the topology. Read/Write hold it shared while they call into the device, so
// Remove() returning means no vCPU is still inside that device and its owner may destroy it. Devices lock
// their own state. Consequence: a device callback must not Insert/Remove on the bus that is dispatching to it
// (that would deadlock); reprogram another bus or defer the change to the machine.
#include <map>
#include <shared_mutex>
#include <span>

#include "devices/bus/io_device.h"
#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::devices {

enum class BusError {
    Overlap,     /*!< the new range overlaps a device already on the bus */
    ZeroSize,    /*!< a device range must be at least one byte long */
    Wraparound,  /*!< the range runs past the end of the 64-bit address space */
    NotFound,    /*!< no device range starts at that base */
};

// The error's message (the enum's comment), for logs and CLI errors.
const char* BusErrorMessage(BusError error);

class Bus {
public:
    // Claims [base, base + size) for device. The device must outlive its registration.
    Result<void, BusError> Insert(u64 base, u64 size, IoDevice& device);
    // Releases the range inserted at exactly base. Waits for in-flight accesses to that bus to finish.
    Result<void, BusError> Remove(u64 base);

    // Dispatches an access. An access that straddles range ends is split as the ISA bus splits a wide cycle:
    // each device sees only the bytes inside its range. Unclaimed bytes read as all-ones (0xFF) and unclaimed
    // writes are dropped. Returns false if no byte of the access was claimed, so the caller can log it.
    bool Read(u64 addr, std::span<u8> data) const;
    bool Write(u64 addr, std::span<const u8> data) const;

    // The device whose range contains addr (nullptr if none), and the offset of addr inside that range.
    IoDevice* Find(u64 addr, u64* offset = nullptr) const;

private:
    struct Range {
        u64 size;
        IoDevice* device;
    };
    using Map = std::map<u64, Range>;

    // Call with mutex_ held. Returns the range containing addr, or end().
    Map::const_iterator Lookup(u64 addr) const;
    // Call with mutex_ held. Calls fn(device, offset, first, count) for each claimed chunk of [addr, addr+len);
    // for each unclaimed chunk calls gap(first, count). Returns true if any byte was claimed.
    template <typename OnDevice, typename OnGap>
    bool ForEachChunk(u64 addr, size_t len, OnDevice&& fn, OnGap&& gap) const;

    mutable std::shared_mutex mutex_;
    Map ranges_;
};

}  // namespace emu::devices
