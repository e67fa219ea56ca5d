#pragma once
// The guest's current page tables as a list of mappings, for the monitor's `info tlb` (every leaf) and `info mem`
// (contiguous ranges with the same rights): 32-bit, PAE and 4-level paging, read through GuestView (no A/D change).
#include <string>
#include <vector>

#include "emu/common/types.h"
#include "emu/cpu/state/cpu_state.h"
#include "emu/debug/guest_view.h"

namespace emu::debug {

struct Mapping {
    u64 linear = 0;
    u64 physical = 0;
    u64 size = 0;        // 4 KiB, 2 MiB, 4 MiB or 1 GiB
    bool user = false;   // U/S at every level
    bool writable = false;
    bool executable = true;
};

// The present leaves in linear order, at most `limit` of them (a guest decides how many there are).
std::vector<Mapping> ListMappings(const cpu::CpuState& state, const GuestView& view, size_t limit);
// Adjacent mappings (linear and physical) with the same rights merged into ranges.
std::vector<Mapping> MergeMappings(const std::vector<Mapping>& leaves);

}  // namespace emu::debug
