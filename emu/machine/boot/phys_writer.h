#pragma once
// The narrow view of guest-physical memory that loaders need: write bytes at a guest-physical address.
#include <span>

#include "emu/common/types.h"

namespace emu::machine {

class PhysWriter {
public:
    virtual ~PhysWriter() = default;
    // Writes into guest RAM; false if any byte of the range is not RAM.
    virtual bool WritePhys(u64 gpa, std::span<const u8> bytes) = 0;
};

}  // namespace emu::machine
