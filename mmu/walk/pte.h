#pragma once
// Bits of an x86 paging-structure entry (SDM Vol. 3 4.3, 4.4.2, 4.5.4), shared by everything that reads or
// builds guest page tables: the walker, the shadow MMU and the loaders' identity maps.
#include "emu/common/types.h"

namespace emu::mmu::pte {

inline constexpr u64 kPresent = u64{1} << 0;
inline constexpr u64 kWritable = u64{1} << 1;
inline constexpr u64 kUser = u64{1} << 2;
inline constexpr u64 kAccessed = u64{1} << 5;
inline constexpr u64 kDirty = u64{1} << 6;
inline constexpr u64 kLarge = u64{1} << 7;  // PS: a 2/4 MiB or 1 GiB page
inline constexpr u64 kGlobal = u64{1} << 8;
inline constexpr u64 kNoExecute = u64{1} << 63;
// Protection key of a 4/5-level paging leaf: bits 62:59 (ignored unless CR4.PKE).
inline constexpr unsigned kPkeyShift = 59;
inline constexpr u64 kPkeyMask = 0xF;

}  // namespace emu::mmu::pte
