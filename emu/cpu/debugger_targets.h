#pragma once
// Breakpoints and watchpoints an external debugger (the gdb stub, emu/debug/) sets on a vCPU. Unlike DR0-DR7 they
// are invisible to the guest: no #DB, no DR6, nothing in guest memory. Addresses are linear.
//
// How the vCPU honours them (vcpu.cpp): a translated block never runs past a breakpoint (translation ends a block
// before one, and a block that starts at one is never chained to or entered from the JIT's jump cache), and the
// dispatcher checks RIP against them before each block, on both backends. Watchpoints make the vCPU run one
// instruction at a time on the interpreter, behind system::WatchMemory, while any is set: slow, exact, and the hot
// path is untouched when none is.
#include <algorithm>
#include <optional>
#include <vector>

#include "emu/common/types.h"

namespace emu::cpu {

struct DebuggerWatchpoint {
    u64 linear = 0;
    u64 length = 1;
    bool on_read = false;
    bool on_write = true;

    bool Matches(u64 addr, unsigned size, bool write) const {
        if (write ? !on_write : !on_read) return false;
        return addr < linear + length && linear < addr + size;
    }
};

struct DebuggerTargets {
    std::vector<u64> breakpoints;
    std::vector<DebuggerWatchpoint> watchpoints;

    bool empty() const { return breakpoints.empty() && watchpoints.empty(); }
    bool IsBreakpoint(u64 linear) const {
        return std::find(breakpoints.begin(), breakpoints.end(), linear) != breakpoints.end();
    }
    // The first watchpoint an access hits, or null.
    const DebuggerWatchpoint* WatchHit(u64 addr, unsigned size, bool write) const {
        for (const DebuggerWatchpoint& w : watchpoints) {
            if (w.Matches(addr, size, write)) return &w;
        }
        return nullptr;
    }
};

}  // namespace emu::cpu
