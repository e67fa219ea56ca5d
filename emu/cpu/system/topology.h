#pragma once
// The machine's processor topology (-smp sockets/cores/threads) and the APIC-ID layout it implies: each level's
// field is as wide as the level's count rounded up to a power of two (SDM Vol. 3 9.9.1, QEMU's x86_topo.h), so an
// APIC ID is socket | core | thread bit fields and IDs are not contiguous unless every count is a power of two.
// CPUID's topology leaves (1, 4, 0xB, 0x1F, 0x80000008, 0x8000001E) read it; each vCPU's own ID is in its CpuState.
#include "emu/common/types.h"

namespace emu::cpu::system {

struct CpuTopology {
    u32 sockets = 1, cores = 1, threads = 1;  // cores per socket, threads per core

    u32 ThreadsPerSocket() const { return cores * threads; }
    u32 Cpus() const { return sockets * cores * threads; }
};

// Bits needed to number `count` items (0 for one).
u32 TopologyFieldWidth(u32 count);
// The APIC ID of the CPU with this index (0 = BSP), counting threads fastest, then cores, then sockets.
u32 ApicIdOf(const CpuTopology& topology, u32 index);

// The topology in force (one socket, one core, one thread until the machine selects one before creating vCPUs).
void SelectCpuTopology(const CpuTopology& topology);
const CpuTopology& SelectedCpuTopology();

}  // namespace emu::cpu::system
