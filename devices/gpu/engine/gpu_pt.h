#pragma once
// The engine's GPU page-table format (a PPGTT-like per-context format; emu64's own design, not Intel's).
//
// A context is one root table. Tables are 4 KiB guest-physical pages of 512 little-endian 64-bit entries, four
// levels, translating a 48-bit GPU virtual address (gva) exactly as x86-64 4-level paging splits a linear address:
//   level 4 (root) index = gva[47:39], level 3 = gva[38:30], level 2 = gva[29:21], level 1 (leaf) = gva[20:12],
//   page offset = gva[11:0]. Bits 63:48 of a gva must be zero (else the translation faults with BadAddress).
// Entry bits:
//   bit 0      P   present; an entry with P = 0 is ignored entirely (its other bits may hold anything)
//   bit 1      W   writable: FILL, COPY's destination need it at the leaf (upper levels ignore it)
//   bits 11:2  reserved, must be zero in a present entry (else BadEntry)
//   bits 51:12 the guest-physical frame of the next-level table (levels 4..2) or of the data page (level 1)
//   bits 63:52 reserved, must be zero in a present entry
// There are no huge pages: every translation walks four tables. Tables and data pages must be guest RAM (a
// memslot); an entry naming anything else faults (NotRam) when it is used, never earlier.
#include "emu/common/types.h"

namespace emu::devices::gpu {

inline constexpr unsigned kGptLevels = 4;
inline constexpr unsigned kGptEntries = 512;
inline constexpr unsigned kGptEntrySize = 8;
inline constexpr u64 kGptPresent = u64{1} << 0;
inline constexpr u64 kGptWritable = u64{1} << 1;
inline constexpr u64 kGptAddrMask = 0x000F'FFFF'FFFF'F000ull;
inline constexpr u64 kGptReservedMask = ~(kGptAddrMask | kGptPresent | kGptWritable);
inline constexpr unsigned kGvaBits = 48;

// Index of gva in a table of `level` (1 = leaf .. 4 = root).
constexpr unsigned GptIndex(u64 gva, unsigned level) {
    return static_cast<unsigned>((gva >> (kPageShift + 9 * (level - 1))) & (kGptEntries - 1));
}
constexpr u64 GptFrame(u64 entry) { return (entry & kGptAddrMask) >> kPageShift; }
constexpr bool GptEntryValid(u64 entry) { return (entry & kGptReservedMask) == 0; }

}  // namespace emu::devices::gpu
