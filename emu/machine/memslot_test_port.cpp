#include "emu/machine/memslot_test_port.h"

#include "emu/common/log.h"

namespace emu::machine {

Result<std::unique_ptr<MemslotTestPort>, mmu::PageTrackError> MemslotTestPort::Create(mmu::Memslots& slots,
                                                                                       mmu::PageTrack& page_track) {
    std::unique_ptr<MemslotTestPort> port(new MemslotTestPort(slots, page_track));
    if (auto r = page_track.Register(&port->client_); !r) return Err(r.error());
    return port;
}

MemslotTestPort::MemslotTestPort(mmu::Memslots& slots, mmu::PageTrack& page_track)
    : slots_(slots), page_track_(page_track), deleted_(mmu::kMaxSlots) {
    // Like a GPU client at commit (flow 6): it learns that the range is gone; it tracks no gfn, so it has
    // no protection to drop.
    client_.name = "memslot-test-port";
    client_.track_remove_region = [this](Gfn first, u64 npages) {
        std::lock_guard lock(mutex_);
        ++removals_;
        last_gfn_ = first;
        last_pages_ = npages;
    };
}

MemslotTestPort::~MemslotTestPort() { (void)page_track_.Unregister(&client_); }

void MemslotTestPort::Read(u64 offset, std::span<u8> data) {
    if (data.size() != 4) {
        log::Log(log::Category::GuestErrors, "memslot test port: {}-byte read at offset {:#x}", data.size(), offset);
        devices::StoreLe(data, ~u64{0});
        return;
    }
    std::lock_guard lock(mutex_);
    u64 value = ~u64{0};
    switch (offset) {
        case kStatus: value = status_; break;
        case kRemovals: value = removals_; break;
        case kLastGfn: value = last_gfn_; break;
        case kLastPages: value = last_pages_; break;
        case kGeneration: value = slots_.Generation(); break;
        default: break;
    }
    devices::StoreLe(data, value & 0xFFFFFFFFu);
}

void MemslotTestPort::Write(u64 offset, std::span<const u8> data) {
    if (data.size() != 4) {
        log::Log(log::Category::GuestErrors, "memslot test port: {}-byte write at offset {:#x}", data.size(), offset);
        return;
    }
    const u32 value = static_cast<u32>(devices::LoadLe(data));
    std::lock_guard lock(mutex_);
    switch (offset) {
        case kSlot: slot_ = value; break;
        case kGpaLo: gpa_ = (gpa_ & ~u64{0xFFFFFFFF}) | value; break;
        case kGpaHi: gpa_ = (gpa_ & 0xFFFFFFFF) | (u64{value} << 32); break;
        case kCommand: pending_ = value; break;
        default:
            log::Log(log::Category::GuestErrors, "memslot test port: write to read-only offset {:#x}", offset);
            break;
    }
}

void MemslotTestPort::RunPending() {
    u32 command = 0, slot = 0;
    u64 gpa = 0;
    {
        std::lock_guard lock(mutex_);
        if (!pending_) return;
        command = *pending_;
        pending_.reset();
        slot = slot_;
        gpa = gpa_;
    }
    // Without the lock: the change's commit calls the client, which takes it.
    const Status status = Execute(command, slot, gpa);
    std::lock_guard lock(mutex_);
    status_ = status;
}

MemslotTestPort::Status MemslotTestPort::Execute(u32 command, mmu::SlotId slot, u64 gpa) {
    const bool inject = (command & kInjectPrepareFailure) != 0;
    const u32 kind = command & ~u32{kInjectPrepareFailure};
    if (slot >= mmu::kMaxSlots || (kind != kMove && kind != kDelete && kind != kCreate)) return kStatusBadCommand;

    // The slot to change: the live one (MOVE, DELETE) or the one this port deleted (CREATE).
    const std::optional<mmu::SlotView> view = kind == kCreate ? deleted_[slot] : slots_.GetSlot(slot);
    if (!view) return kind == kCreate ? kStatusBadCommand : kStatusRefused;
    const Gpa base = kind == kDelete ? view->base : Gpa(gpa);
    const u64 size = kind == kDelete ? 0 : view->size;

    if (inject) slots_.SetPrepareFaultInjector([](const mmu::SlotChange&) { return true; });
    const auto r = slots_.SetMemoryRegion(slot, base, size, view->flags, view->host);
    if (inject) slots_.SetPrepareFaultInjector({});
    log::Log(log::Category::Memslot, "memslot test port: command {:#x} slot {} gpa {:#x}: {}", command, slot, gpa,
             r ? "done" : "refused");
    if (!r) return r.error() == mmu::MemslotError::PrepareFailed ? kStatusAborted : kStatusRefused;
    if (kind == kDelete) deleted_[slot] = view;
    if (kind == kCreate) deleted_[slot].reset();
    return kStatusOk;
}

}  // namespace emu::machine
