#include "emu/cpu/system/debug.h"

namespace emu::cpu::system {
namespace {

constexpr unsigned kBreakpoints = 4;

// Bytes covered by a data breakpoint's LEN field (SDM Vol. 3 18.2.5: 10 is 8 bytes in IA-32e mode).
constexpr u64 LengthOf(unsigned len) { return len == 0 ? 1 : len == 1 ? 2 : len == 2 ? 8 : 4; }

u64 BreakpointAddress(const CpuState& s, unsigned n) {
    return s.long_mode_active() ? s.dr[n] : s.dr[n] & 0xFFFFFFFF;
}

}  // namespace

u32 DataBreakpoints(const CpuState& s) {
    const u64 d7 = s.dr[7];
    u32 mask = 0;
    for (unsigned n = 0; n < kBreakpoints; ++n) {
        const auto rw = static_cast<BreakOn>(dr7::Rw(d7, n));
        if (dr7::Enabled(d7, n) && (rw == BreakOn::Write || rw == BreakOn::ReadWrite)) mask |= 1u << n;
    }
    return mask;
}

u32 InstructionBreakpointHits(const CpuState& s, u64 linear_rip) {
    const u64 d7 = s.dr[7];
    u32 mask = 0;
    for (unsigned n = 0; n < kBreakpoints; ++n) {
        if (dr7::Enabled(d7, n) && static_cast<BreakOn>(dr7::Rw(d7, n)) == BreakOn::Execute &&
            BreakpointAddress(s, n) == linear_rip) {
            mask |= 1u << n;
        }
    }
    return mask;
}

u32 DataBreakpointHits(const CpuState& s, u64 linear, unsigned size, bool write) {
    const u64 d7 = s.dr[7];
    u32 mask = 0;
    for (unsigned n = 0; n < kBreakpoints; ++n) {
        const auto rw = static_cast<BreakOn>(dr7::Rw(d7, n));
        if (!dr7::Enabled(d7, n) || !(rw == BreakOn::ReadWrite || (write && rw == BreakOn::Write))) continue;
        const u64 len = LengthOf(dr7::LenField(d7, n));
        const u64 start = BreakpointAddress(s, n) & ~(len - 1);
        // [linear, linear + size) and [start, start + len) overlap.
        if (linear < start + len && start < linear + size) mask |= 1u << n;
    }
    return mask;
}

void ReportDebug(CpuState& s, u32 hits, u64 status_bits) {
    s.dr[6] = (s.dr[6] & ~dr6::Hits) | hits | status_bits | dr6::Init;
}

Status GeneralDetect(CpuState& s) {
    if (!(s.dr[7] & dr7::GD)) return {};
    ReportDebug(s, 0, dr6::BD);
    return Raise(vec::DB);
}

bool WatchMemory::Read(const CpuState& state, u64 linear, void* dst, unsigned size, MemAccess access, bool user,
                       MemFault* fault) {
    if (!inner_.Read(state, linear, dst, size, access, user, fault)) return false;
    // A read with write intent (the load of a read-modify-write) is a read; its store reports the write.
    if (access != MemAccess::Fetch) {
        hits_ |= DataBreakpointHits(state, linear, size, false);
        NoteDebuggerAccess(linear, size, false);
    }
    return true;
}

bool WatchMemory::Write(const CpuState& state, u64 linear, const void* src, unsigned size, bool user,
                        MemFault* fault) {
    if (!inner_.Write(state, linear, src, size, user, fault)) return false;
    hits_ |= DataBreakpointHits(state, linear, size, true);
    NoteDebuggerAccess(linear, size, true);
    return true;
}

void WatchMemory::NoteDebuggerAccess(u64 linear, unsigned size, bool write) {
    if (debugger_ == nullptr || debugger_hit_) return;
    if (const DebuggerWatchpoint* w = debugger_->WatchHit(linear, size, write)) debugger_hit_ = *w;
}

}  // namespace emu::cpu::system
