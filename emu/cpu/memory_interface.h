#pragma once
// How a vCPU reaches memory and I/O ports. The CPU core sees linear addresses only; the machine supplies
// an implementation that applies paging (walk or shadow MMU, soft TLB), memslots and MMIO dispatch.
// Tests supply flat implementations.
#include "emu/common/types.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu {

enum class MemAccess : u8 { Read, Write, Fetch };

// A fault raised by the memory path (normally #PF). cr2 is meaningful for #PF only.
struct MemFault {
    u8 vector = 14;
    u32 error_code = 0;
    u64 cr2 = 0;
};

class MemoryInterface {
public:
    virtual ~MemoryInterface() = default;

    // Reads `size` bytes (1..4096, may cross a page) at linear address `linear`. `user` is the effective
    // privilege of the access: CPL 3 and not an implicit supervisor access (descriptor-table reads).
    // Returns false and fills *fault if the access faults; nothing is read then.
    virtual bool Read(const CpuState& state, u64 linear, void* dst, unsigned size, MemAccess access, bool user,
                      MemFault* fault) = 0;

    // Writes `size` bytes. A write that crosses a page checks both pages before writing either, so a
    // fault leaves memory unchanged.
    virtual bool Write(const CpuState& state, u64 linear, const void* src, unsigned size, bool user,
                       MemFault* fault) = 0;

    // Port I/O; unclaimed ports read as all ones.
    virtual u32 PortIn(u16 port, unsigned size) = 0;
    virtual void PortOut(u16 port, unsigned size, u32 value) = 0;

    // The guest changed CR0/CR3/CR4/EFER or ran INVLPG: cached translations may be stale.
    // `linear` is the page for INVLPG, or ~0 for a full flush; `global` also drops global entries.
    virtual void FlushTlb(u64 linear, bool global) { (void)linear; (void)global; }

    // Self-modifying code: true once since the last call if something wrote to a page that instruction fetches
    // read from (the CPU then drops its translations). Implementations that cannot tell return false.
    virtual bool TakeCodeWritten() { return false; }
};

}  // namespace emu::cpu
