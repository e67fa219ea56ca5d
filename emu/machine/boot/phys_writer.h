#pragma once
// The narrow view of guest-physical memory that loaders need: write bytes at a guest-physical address.
#include <algorithm>
#include <array>
#include <span>

#include "emu/common/types.h"

namespace emu::machine {

class PhysWriter {
public:
    virtual ~PhysWriter() = default;
    // Writes into guest RAM; false if any byte of the range is not RAM.
    virtual bool WritePhys(u64 gpa, std::span<const u8> bytes) = 0;

    // Zeroes `size` bytes of guest RAM (an ELF's BSS); false if any byte of the range is not RAM. The default writes
    // zeros a chunk at a time, so that a huge BSS needs no host buffer of its size.
    virtual bool ZeroPhys(u64 gpa, u64 size) {
        static constexpr std::array<u8, 65536> kZeros{};
        for (u64 done = 0; done < size;) {
            const u64 n = std::min<u64>(size - done, kZeros.size());
            if (!WritePhys(gpa + done, std::span<const u8>(kZeros.data(), n))) return false;
            done += n;
        }
        return true;
    }
};

}  // namespace emu::machine
