#pragma once
// The interface every bus-attached device implements. A device sees only the offset inside the range it was
// inserted at (style rule 8): the same model works at any base, and the bus owns the address map.
#include <algorithm>
#include <functional>
#include <span>

#include "emu/common/types.h"

namespace emu::devices {

class IoDevice {
public:
    virtual ~IoDevice() = default;
    // data.size() is the access width (1, 2, 4 or 8 for the CPU; longer for other bus masters). The bus
    // guarantees offset + data.size() stays inside the device's range. Called from vCPU threads: the device
    // locks its own state.
    virtual void Read(u64 offset, std::span<u8> data) = 0;
    virtual void Write(u64 offset, std::span<const u8> data) = 0;
};

// Little-endian helpers: x86 buses are little-endian, so a wide access is its bytes in ascending order.
inline u64 LoadLe(std::span<const u8> data) {
    u64 value = 0;
    const size_t n = std::min<size_t>(data.size(), 8);
    for (size_t i = 0; i < n; ++i) value |= u64{data[i]} << (8 * i);
    return value;
}

inline void StoreLe(std::span<u8> data, u64 value) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = i < 8 ? static_cast<u8>(value >> (8 * i)) : 0;
}

// Adapts a pair of callables to IoDevice, for devices that own several disjoint ranges (the PIC has its
// command ports and the ELCR; the PIT has 0x40-0x43 and port 0x61). Each range gets one of these.
class IoDeviceThunk final : public IoDevice {
public:
    using ReadFn = std::function<void(u64 offset, std::span<u8> data)>;
    using WriteFn = std::function<void(u64 offset, std::span<const u8> data)>;

    IoDeviceThunk(ReadFn read, WriteFn write) : read_(std::move(read)), write_(std::move(write)) {}
    void Read(u64 offset, std::span<u8> data) override { read_(offset, data); }
    void Write(u64 offset, std::span<const u8> data) override { write_(offset, data); }

private:
    ReadFn read_;
    WriteFn write_;
};

}  // namespace emu::devices
