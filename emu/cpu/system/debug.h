#pragma once
// Debug exceptions (SDM Vol. 3 chapter 18): hardware breakpoints in DR0-DR3 enabled by DR7, single-step (TF),
// general detect (DR7.GD) and the DR6 status they report.
//
// How the vCPU uses this: while DebugActive() holds it runs one instruction per block. Before an instruction it
// asks InstructionBreakpointHits() (skipped when RFLAGS.RF is set) and raises a fault-class #DB; during it, a
// WatchMemory in front of the memory path collects data-breakpoint hits; after it, the hits and single-step
// become one trap-class #DB. The normal memory path never sees any of this: a guest without TF and with
// DR7's enables clear pays one test per block.
//
// Not modelled: I/O breakpoints (R/W = 10 with CR4.DE), RTM and bus-lock detection. (DR6.BT: task_switch.cpp.)
#include <optional>
#include <utility>

#include "emu/cpu/debugger_targets.h"
#include "emu/cpu/system/sys_result.h"

namespace emu::cpu::system {

namespace dr6 {
inline constexpr u64 B0 = 1u << 0, BD = 1u << 13, BS = 1u << 14, BT = 1u << 15;
inline constexpr u64 Hits = 0xF;               // B0-B3
inline constexpr u64 Init = 0xFFFF0FF0;        // reserved bits read as 1 (SDM Vol. 3 18.2.3)
}  // namespace dr6
namespace dr7 {
inline constexpr u64 Enables = 0xFF;           // L0 G0 L1 G1 ... L3 G3
inline constexpr u64 GD = 1u << 13;
// R/W (bits 17:16 + 4n) and LEN (bits 19:18 + 4n) of breakpoint n.
constexpr unsigned Rw(u64 dr7, unsigned n) { return static_cast<unsigned>(dr7 >> (16 + 4 * n)) & 3; }
constexpr unsigned LenField(u64 dr7, unsigned n) { return static_cast<unsigned>(dr7 >> (18 + 4 * n)) & 3; }
constexpr bool Enabled(u64 dr7, unsigned n) { return (dr7 >> (2 * n)) & 3; }
}  // namespace dr7
// R/W encodings.
enum class BreakOn : u8 { Execute = 0, Write = 1, Io = 2, ReadWrite = 3 };

// TF is set or some breakpoint is enabled: the vCPU steps one instruction at a time.
inline bool DebugActive(const CpuState& s) { return (s.rflags & rflags::TF) || (s.dr[7] & dr7::Enables); }

// The enabled data breakpoints (R/W = 01 or 11), as a B0-B3 mask.
u32 DataBreakpoints(const CpuState& s);

// The enabled instruction breakpoints (R/W = 00) whose address is `linear_rip`, as a B0-B3 mask.
u32 InstructionBreakpointHits(const CpuState& s, u64 linear_rip);

// The enabled data breakpoints that an access of `size` bytes at `linear` matches (a write matches R/W = 01 and
// 11, a read only 11). A breakpoint covers LEN bytes (1, 2, 8, 4 for LEN 00 01 10 11) at its address with the
// low bits ignored (SDM Vol. 3 18.2.5).
u32 DataBreakpointHits(const CpuState& s, u64 linear, unsigned size, bool write);

// Records a debug exception's causes in DR6: B0-B3 are replaced by `hits`, BD/BS are set. (The processor never
// clears BD, BS or BT itself; the handler does.)
void ReportDebug(CpuState& s, u32 hits, u64 status_bits);

// MOV DR with DR7.GD set: #DB (a fault) with DR6.BD; delivery then clears GD so the handler can use the registers.
Status GeneralDetect(CpuState& s);

// A memory path that also records the data breakpoints each access hits. Forwards everything to `inner`.
class WatchMemory final : public MemoryInterface {
public:
    explicit WatchMemory(MemoryInterface& inner) : inner_(inner) {}

    // The hits since the last call (a B0-B3 mask), cleared.
    u32 TakeHits() {
        const u32 h = hits_;
        hits_ = 0;
        return h;
    }
    // Also watch for an external debugger's watchpoints (not owned; null: none).
    void SetDebuggerWatchpoints(const DebuggerTargets* targets) { debugger_ = targets; }
    // The debugger watchpoint the last accesses hit (the first one), cleared.
    std::optional<DebuggerWatchpoint> TakeDebuggerHit() { return std::exchange(debugger_hit_, std::nullopt); }

    bool Read(const CpuState& state, u64 linear, void* dst, unsigned size, MemAccess access, bool user,
              MemFault* fault) override;
    bool Write(const CpuState& state, u64 linear, const void* src, unsigned size, bool user,
               MemFault* fault) override;
    u32 PortIn(u16 port, unsigned size) override { return inner_.PortIn(port, size); }
    void PortOut(u16 port, unsigned size, u32 value) override { inner_.PortOut(port, size, value); }
    void FlushTlb(u64 linear, bool global) override { inner_.FlushTlb(linear, global); }
    void FlushTlbRights() override { inner_.FlushTlbRights(); }
    bool LoadPdptes(u64 cr3) override { return inner_.LoadPdptes(cr3); }
    bool WritePlatformMsr(u32 index, u64 value) override { return inner_.WritePlatformMsr(index, value); }
    std::optional<u64> ReadPlatformMsr(u32 index) override { return inner_.ReadPlatformMsr(index); }
    u64 ClockNs() override { return inner_.ClockNs(); }
    void SetTscOffset(i64 offset) override { inner_.SetTscOffset(offset); }
    bool TakeCodeWritten() override { return inner_.TakeCodeWritten(); }
    std::span<const CodeWrite> CodeWrites() const override { return inner_.CodeWrites(); }
    void ReleaseCodePage(u64 gfn) override { inner_.ReleaseCodePage(gfn); }
    void SignalFerr() override { inner_.SignalFerr(); }

private:
    void NoteDebuggerAccess(u64 linear, unsigned size, bool write);

    MemoryInterface& inner_;
    u32 hits_ = 0;
    const DebuggerTargets* debugger_ = nullptr;
    std::optional<DebuggerWatchpoint> debugger_hit_;
};

}  // namespace emu::cpu::system
