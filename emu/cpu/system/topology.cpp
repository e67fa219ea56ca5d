#include "emu/cpu/system/topology.h"

#include <bit>

namespace emu::cpu::system {
namespace {

CpuTopology g_topology;  // VM-wide, like the CPU model: written once before any vCPU exists

}  // namespace

u32 TopologyFieldWidth(u32 count) { return count <= 1 ? 0 : static_cast<u32>(std::bit_width(count - 1)); }

u32 ApicIdOf(const CpuTopology& t, u32 index) {
    const u32 thread = index % t.threads;
    const u32 core = (index / t.threads) % t.cores;
    const u32 socket = index / (t.threads * t.cores);
    const u32 thread_bits = TopologyFieldWidth(t.threads);
    const u32 core_bits = TopologyFieldWidth(t.cores);
    return (socket << (core_bits + thread_bits)) | (core << thread_bits) | thread;
}

void SelectCpuTopology(const CpuTopology& topology) { g_topology = topology; }
const CpuTopology& SelectedCpuTopology() { return g_topology; }

}  // namespace emu::cpu::system
