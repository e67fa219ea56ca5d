#pragma once
// Register layout of the copy/fill engine (its own 4 KiB MMIO BAR) and of its batch commands.
//
// Registers are dwords (an 8-byte access is served as two dword accesses; other widths are ignored and logged in
// guest_errors). 64-bit values are LO/HI pairs.
//
// Programming model:
//   1. Write the root table's guest-physical address to CTX_ROOT and CONTROL = kCtlBind: the engine walks the
//      guest's tables (gpu_pt.h), builds its shadow and write-tracks every page holding a table. Bind again to
//      rebuild (e.g. after a memslot change); CONTROL = kCtlUnbind drops the shadow and the tracking.
//   2. Put commands (32 bytes each, GpuCommand) in guest-physical memory, write BATCH (address), BATCH_COUNT,
//      FENCE_ADDR and FENCE_VALUE, then write DOORBELL. The batch runs to its end or its first fault before the
//      DOORBELL write returns. Commands address memory only by gva, through the shadow.
//   3. At the end the engine writes FENCE_VALUE (8 bytes) to FENCE_ADDR (guest-physical; 0 = no fence write),
//      sets INT_STATUS.DONE (and .FAULT on a fault) and raises its interrupt if INT_ENABLE allows it.
//      INT_STATUS is write-1-to-clear.
//   A fault stops the batch: FAULT_REASON, FAULT_CMD (index in the batch) and FAULT_GVA tell what failed;
//   commands before it are complete, the faulting one may be partly done (whole pages before the bad one).
#include "emu/common/types.h"

namespace emu::devices::gpu::regs {

inline constexpr u64 kBarSize = 0x1000;
inline constexpr u32 kIdValue = 0x45555047;  // "GPUE"
inline constexpr u32 kVersionValue = 1;

inline constexpr u64 kId = 0x000;            // RO
inline constexpr u64 kVersion = 0x004;       // RO
inline constexpr u64 kCtxRootLo = 0x008;     // RW
inline constexpr u64 kCtxRootHi = 0x00C;     // RW
inline constexpr u64 kControl = 0x010;       // WO: kCtlBind / kCtlUnbind
inline constexpr u64 kCtxStatus = 0x014;     // RO: 1 bound, 0 not; 2 bind failed (the root is not RAM)
inline constexpr u64 kBatchLo = 0x018;       // RW
inline constexpr u64 kBatchHi = 0x01C;       // RW
inline constexpr u64 kBatchCount = 0x020;    // RW: commands in the batch (at most kMaxBatchCommands)
inline constexpr u64 kDoorbell = 0x024;      // WO: any value runs the batch
inline constexpr u64 kFenceAddrLo = 0x028;   // RW
inline constexpr u64 kFenceAddrHi = 0x02C;   // RW
inline constexpr u64 kFenceValueLo = 0x030;  // RW
inline constexpr u64 kFenceValueHi = 0x034;  // RW
inline constexpr u64 kFaultReason = 0x040;   // RO: FaultReason of the last batch (0 none)
inline constexpr u64 kFaultCmd = 0x044;      // RO
inline constexpr u64 kFaultGvaLo = 0x048;    // RO
inline constexpr u64 kFaultGvaHi = 0x04C;    // RO
inline constexpr u64 kIntStatus = 0x050;     // RW1C
inline constexpr u64 kIntEnable = 0x054;     // RW
// Statistics (RO, low 32 bits of the counters; GpuEngineStats has them all).
inline constexpr u64 kStatTrackedGfns = 0x060;
inline constexpr u64 kStatWritesSeen = 0x064;
inline constexpr u64 kStatPartialWrites = 0x068;
inline constexpr u64 kStatEntryUpdates = 0x06C;
inline constexpr u64 kStatRebuilds = 0x070;
inline constexpr u64 kStatFaults = 0x074;
inline constexpr u64 kStatRegionsRemoved = 0x078;
inline constexpr u64 kStatBatches = 0x07C;
// Page-track query: write a gfn, read what page-track counts for it (all trackers) and whether the engine
// tracks it. The list query reads the engine's tracked gfns in ascending order (all ones past the end).
inline constexpr u64 kQueryGfnLo = 0x080;    // RW
inline constexpr u64 kQueryGfnHi = 0x084;    // RW
inline constexpr u64 kQueryTrackCount = 0x088;  // RO: PageTrack::TrackCount(gfn)
inline constexpr u64 kQueryGpuTracks = 0x08C;   // RO: 1 if the engine write-tracks gfn
inline constexpr u64 kListIndex = 0x090;     // RW
inline constexpr u64 kListGfnLo = 0x094;     // RO
inline constexpr u64 kListGfnHi = 0x098;     // RO

inline constexpr u32 kCtlBind = 1, kCtlUnbind = 2;
inline constexpr u32 kIntDone = 1u << 0, kIntFault = 1u << 1;
inline constexpr u32 kMaxBatchCommands = 4096;
inline constexpr u64 kMaxCommandBytes = u64{1} << 30;  // FILL/COPY length limit (bounds a batch's run time)

enum class FaultReason : u32 {
    None = 0,
    NotBound = 1,       // a batch ran without a bound context
    NotPresent = 2,     // a table entry on the walk has P = 0
    ReadOnly = 3,       // a write through a leaf entry without W
    BadEntry = 4,       // reserved bits set in a present entry
    NotRam = 5,         // a table or data page outside every memslot (or on a read-only slot, for a write)
    Removed = 6,        // the translation used memory whose memslot was deleted or moved since the bind
    BadAddress = 7,     // gva bits 63:48 set, or gva + len wraps
    BadCommand = 8,     // unknown opcode, a length over kMaxCommandBytes, or a BLIT outside the scanout
    BadBatch = 9,       // the batch is not in RAM, or BATCH_COUNT is over kMaxBatchCommands
};

// One command, 32 bytes, little-endian.
//   kCmdFill: a = gva, b = length in bytes, c = pattern (byte i of the fill is byte (i % 4) of c's low dword)
//   kCmdCopy: a = source gva, b = destination gva, c = length in bytes (forward copy, page piece by page piece)
//   kCmdBlit: a = source gva of 32-bit pixels, b = source pitch in bytes,
//             c = x | y << 16 | width << 32 | height << 48 (the rectangle in the scanout, which must hold it)
//   kCmdNop:  nothing
struct GpuCommand {
    u32 opcode;
    u32 reserved;
    u64 a, b, c;
};
static_assert(sizeof(GpuCommand) == 32);
inline constexpr u32 kCmdNop = 0, kCmdFill = 1, kCmdCopy = 2, kCmdBlit = 3;

}  // namespace emu::devices::gpu::regs
