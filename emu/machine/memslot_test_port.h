#pragma once
// A test-only I/O device of the bare runner (-test-memslot-port): the guest asks the machine to MOVE, DELETE or
// re-CREATE a RAM memslot under it, optionally with a prepare failure injected (the change then aborts), and
// reads back the outcome and what an external page-track client, registered here, was told. The client stands
// in for a GPU-like tracker (page-track.md flows 2, 3 and 6): it only counts track_remove_region calls.
//
// Protocol (dword accesses; other widths are ignored and logged in guest_errors). Offsets from kMemslotTestPort:
//   write 0x00 SLOT        slot id for the next command
//   write 0x04 GPA_LO      new guest-physical base (MOVE, CREATE), bits 31:0
//   write 0x08 GPA_HI      bits 63:32
//   write 0x0C COMMAND     1 MOVE slot to GPA, 2 DELETE slot, 3 CREATE slot at GPA again (only a slot this port
//                          deleted: it is re-created with the same host backing and size, so its bytes come
//                          back); | 0x100: a prepare failure is injected (Memslots::SetPrepareFaultInjector), so
//                          the change aborts. The command runs at RunPending(), after the OUT's port write.
//                          Deleting or moving the RAM the guest itself runs from ends the run, as it would.
//   read  0x00 STATUS      of the last command: 0 done, 1 aborted (injected), 2 refused by memslots (nothing
//                          changed), 3 bad command; 0xFFFFFFFF before the first one
//   read  0x04 REMOVALS    track_remove_region calls the client received since the machine started
//   read  0x08 LAST_GFN    first gfn of the last removed region (bits 31:0)
//   read  0x0C LAST_PAGES  its page count (bits 31:0)
//   read  0x10 GENERATION  memslot generation (bits 31:0): changes only when a change commits
// Unbacked guest-physical memory (a deleted slot, the old range of a moved one) behaves as unclaimed MMIO:
// reads return all-ones bytes, writes are dropped (both logged in guest_errors), and a page-table walk that
// reaches a table there raises #PF with error code 0 (VcpuMemory: the table is not in RAM).
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "devices/bus/io_device.h"
#include "emu/common/result.h"
#include "emu/common/types.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::machine {

inline constexpr u16 kMemslotTestPort = 0x520;
inline constexpr u64 kMemslotTestPortSize = 0x14;

class MemslotTestPort final : public devices::IoDevice {
public:
    // Register offsets (dword). Written: kSlot, kGpaLo, kGpaHi, kCommand; read: kStatus .. kGeneration.
    static constexpr u64 kSlot = 0x0, kGpaLo = 0x4, kGpaHi = 0x8, kCommand = 0xC;
    static constexpr u64 kStatus = 0x0, kRemovals = 0x4, kLastGfn = 0x8, kLastPages = 0xC, kGeneration = 0x10;
    // COMMAND values.
    static constexpr u32 kMove = 1, kDelete = 2, kCreate = 3, kInjectPrepareFailure = 0x100;
    // STATUS values.
    enum Status : u32 {
        kStatusOk = 0,
        kStatusAborted = 1,     // the injected prepare failure aborted the change (MemslotError::PrepareFailed)
        kStatusRefused = 2,     // memslots refused the change (overlap, unknown slot...): nothing changed
        kStatusBadCommand = 3,  // unknown command, or CREATE of a slot this port did not delete
        kStatusNone = 0xFFFFFFFF,  // no command has run yet
    };

    // Registers the page-track client (which enables write tracking); fails if that cannot be done.
    static Result<std::unique_ptr<MemslotTestPort>, mmu::PageTrackError> Create(mmu::Memslots& slots,
                                                                                 mmu::PageTrack& page_track);
    ~MemslotTestPort() override;  // unregisters the client
    MemslotTestPort(const MemslotTestPort&) = delete;
    MemslotTestPort& operator=(const MemslotTestPort&) = delete;

    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    // Runs the command the last COMMAND write queued, if any. Call at a safe point of the vCPU thread, outside
    // any bus access and memslot read section: the bare runner calls it from VcpuMemory's after-port-write hook.
    void RunPending();

private:
    MemslotTestPort(mmu::Memslots& slots, mmu::PageTrack& page_track);
    Status Execute(u32 command, mmu::SlotId slot, u64 gpa);

    mmu::Memslots& slots_;
    mmu::PageTrack& page_track_;
    mmu::PageTrackNotifier client_;

    std::mutex mutex_;  // the registers: written by the vCPU, the client callback may run on the updater's thread
    u32 slot_ = 0;
    u64 gpa_ = 0;
    std::optional<u32> pending_;
    u32 status_ = kStatusNone;
    u32 removals_ = 0;
    u64 last_gfn_ = 0, last_pages_ = 0;
    // Slots this port deleted, by id: what CREATE restores.
    std::vector<std::optional<mmu::SlotView>> deleted_;
};

}  // namespace emu::machine
