#include "devices/virtio/virtqueue.h"

#include <atomic>
#include <bit>

#include "devices/bus/io_device.h"
#include "devices/virtio/regs.h"
#include "devices/virtio/virtio_state.h"

namespace emu::devices::virtio {

const char* QueueErrorMessage(QueueError error) {
    switch (error) {
        case QueueError::SizeNotPowerOfTwo: return "queue size is zero, not a power of two or above the maximum";
        case QueueError::MisalignedRing: return "a ring address is misaligned";
        case QueueError::RingOutsideRam: return "a ring is not entirely in guest RAM";
        case QueueError::AvailIndexJump: return "the available index moved ahead by more than the queue size";
        case QueueError::HeadOutOfRange: return "an available ring entry names a descriptor beyond the table";
        case QueueError::NextOutOfRange: return "a descriptor's next index is beyond its table";
        case QueueError::ChainLoops: return "a descriptor chain loops";
        case QueueError::BufferOutsideRam: return "a descriptor's buffer is not entirely in guest RAM";
        case QueueError::WritableBeforeRead: return "a device-readable descriptor follows a device-writable one";
        case QueueError::NestedIndirect: return "an indirect table contains an indirect descriptor";
        case QueueError::BadIndirectTable: return "bad indirect descriptor table";
        case QueueError::IndirectNotNegotiated: return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
        case QueueError::UsedRingWrite: return "the used ring could not be written";
    }
    return "unknown queue error";
}

namespace {

// 2.7.7.2 / 2.7.10: the driver asked to be notified once the used index passes `event`.
bool NeedEvent(u16 event, u16 new_idx, u16 old_idx) {
    return static_cast<u16>(new_idx - event - 1) < static_cast<u16>(new_idx - old_idx);
}

}  // namespace

Result<void, QueueError> SplitQueue::Enable(const QueueLayout& layout, u16 max_size, bool event_idx, bool indirect) {
    if (layout.size == 0 || !std::has_single_bit(layout.size) || layout.size > max_size) {
        return Err(QueueError::SizeNotPowerOfTwo);
    }
    if ((layout.desc & 15) != 0 || (layout.driver & 1) != 0 || (layout.device & 3) != 0) {
        return Err(QueueError::MisalignedRing);
    }
    const u64 n = layout.size;
    // The event fields are part of the rings' sizes whether or not EVENT_IDX is negotiated (2.7).
    if (!memory_->IsRam(layout.desc, desc::kSize * n) ||
        !memory_->IsRam(layout.driver, ring::kAvailHeader + ring::kAvailEntry * n + 2) ||
        !memory_->IsRam(layout.device, ring::kUsedHeader + ring::kUsedEntry * n + 2)) {
        return Err(QueueError::RingOutsideRam);
    }
    layout_ = layout;
    event_idx_ = event_idx;
    indirect_ = indirect;
    last_avail_ = used_idx_ = signalled_used_ = 0;
    pushed_since_signal_ = false;
    enabled_ = true;
    return {};
}

void SplitQueue::Reset() {
    layout_ = QueueLayout{};
    enabled_ = false;
    last_avail_ = used_idx_ = signalled_used_ = 0;
    pushed_since_signal_ = false;
}

Result<SplitQueue::Descriptor, QueueError> SplitQueue::ReadDescriptor(u64 table, u32 count, u32 index) const {
    if (index >= count) return Err(QueueError::NextOutOfRange);
    u8 raw[desc::kSize];
    if (!memory_->Read(table + desc::kSize * index, raw)) return Err(QueueError::RingOutsideRam);
    Descriptor d{};
    const std::span<const u8> bytes(raw);
    d.addr = LoadLe(bytes.subspan(0, 8));
    d.len = static_cast<u32>(LoadLe(bytes.subspan(8, 4)));
    d.flags = static_cast<u16>(LoadLe(bytes.subspan(12, 2)));
    d.next = static_cast<u16>(LoadLe(bytes.subspan(14, 2)));
    return d;
}

Result<void, QueueError> SplitQueue::AddBuffer(const Descriptor& d, DescriptorChain& chain) const {
    if (!memory_->IsRam(d.addr, d.len)) return Err(QueueError::BufferOutsideRam);
    if (d.flags & desc::kWrite) {
        chain.writable.push_back({d.addr, d.len});
        chain.writable_bytes += d.len;
    } else {
        if (!chain.writable.empty()) return Err(QueueError::WritableBeforeRead);
        chain.readable.push_back({d.addr, d.len});
        chain.readable_bytes += d.len;
    }
    return {};
}

Result<void, QueueError> SplitQueue::WalkTable(u64 table, u32 count, u32 index, bool indirect,
                                               DescriptorChain& chain) const {
    // A chain visits each descriptor of its table at most once, so more than `count` steps means a loop.
    for (u32 steps = 0;; ++steps) {
        if (steps >= count) return Err(QueueError::ChainLoops);
        auto d = ReadDescriptor(table, count, index);
        if (!d) return Err(d.error());
        if (d->flags & desc::kIndirect) {
            if (indirect) return Err(QueueError::NestedIndirect);
            if (!indirect_) return Err(QueueError::IndirectNotNegotiated);
            // 2.7.5.3.1: a table of len / 16 descriptors, no NEXT on the descriptor that points at it.
            if ((d->flags & desc::kNext) || d->len == 0 || d->len % desc::kSize != 0 ||
                d->len / desc::kSize > kMaxQueueSize) {
                return Err(QueueError::BadIndirectTable);
            }
            if (!memory_->IsRam(d->addr, d->len)) return Err(QueueError::BufferOutsideRam);
            return WalkTable(d->addr, static_cast<u32>(d->len / desc::kSize), 0, true, chain);
        }
        if (auto r = AddBuffer(*d, chain); !r) return r;
        if (!(d->flags & desc::kNext)) return {};
        index = d->next;
    }
}

Result<std::optional<DescriptorChain>, QueueError> SplitQueue::Pop() {
    if (!enabled_) return std::optional<DescriptorChain>{};
    u16 avail_idx = 0;
    if (!memory_->ReadObject(layout_.driver + 2, &avail_idx)) return Err(QueueError::RingOutsideRam);
    // The ring entries and descriptors were written before the index (2.7.13.3): read them after it.
    std::atomic_thread_fence(std::memory_order_acquire);
    const u16 pending = static_cast<u16>(avail_idx - last_avail_);
    if (pending > layout_.size) return Err(QueueError::AvailIndexJump);
    if (pending == 0) return std::optional<DescriptorChain>{};

    u16 head = 0;
    const u64 slot = layout_.driver + ring::kAvailHeader + ring::kAvailEntry * (last_avail_ % layout_.size);
    if (!memory_->ReadObject(slot, &head)) return Err(QueueError::RingOutsideRam);
    if (head >= layout_.size) return Err(QueueError::HeadOutOfRange);
    DescriptorChain chain;
    chain.head = head;
    if (auto r = WalkTable(layout_.desc, layout_.size, head, false, chain); !r) return Err(r.error());
    ++last_avail_;
    if (event_idx_) {
        // Ask to be notified as soon as the driver makes the next chain available (2.7.10).
        if (!memory_->WriteObject(AvailEventAddress(), last_avail_)) return Err(QueueError::UsedRingWrite);
    }
    return std::optional<DescriptorChain>(std::move(chain));
}

Result<void, QueueError> SplitQueue::PushUsed(u16 head, u32 written) {
    const u64 slot = layout_.device + ring::kUsedHeader + ring::kUsedEntry * (used_idx_ % layout_.size);
    u8 entry[ring::kUsedEntry];
    StoreLe(std::span<u8>(entry, 4), head);
    StoreLe(std::span<u8>(entry + 4, 4), written);
    if (!memory_->Write(slot, entry)) return Err(QueueError::UsedRingWrite);
    ++used_idx_;
    // The entry must be visible before the index that publishes it (2.7.8.2).
    std::atomic_thread_fence(std::memory_order_release);
    if (!memory_->WriteObject(layout_.device + 2, used_idx_)) return Err(QueueError::UsedRingWrite);
    pushed_since_signal_ = true;
    return {};
}

bool SplitQueue::ShouldInterrupt() {
    if (!pushed_since_signal_) return false;
    // The used index store must be visible before the driver's suppression fields are read, or a driver that
    // just re-enabled interrupts could be missed (the fence pairs with the driver's after it writes them).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool interrupt = true;
    if (event_idx_) {
        u16 used_event = 0;
        interrupt = !memory_->ReadObject(UsedEventAddress(), &used_event) ||
                    NeedEvent(used_event, used_idx_, signalled_used_);
    } else {
        u16 flags = 0;
        interrupt = !memory_->ReadObject(layout_.driver, &flags) || !(flags & ring::kAvailNoInterrupt);
    }
    // With event index the window restarts at every check, interrupt or not (Linux's vring_need_event use).
    if (interrupt || event_idx_) {
        signalled_used_ = used_idx_;
        pushed_since_signal_ = false;
    }
    return interrupt;
}

SplitQueueState SplitQueue::SaveState() const {
    return SplitQueueState{layout_,     enabled_,  event_idx_,      indirect_,
                           last_avail_, used_idx_, signalled_used_, pushed_since_signal_};
}

Result<void, QueueError> SplitQueue::RestoreState(const SplitQueueState& state, u16 max_size) {
    Reset();
    if (state.enabled) {
        if (auto r = Enable(state.layout, max_size, state.event_idx, state.indirect); !r) return r;
    }
    last_avail_ = state.last_avail;
    used_idx_ = state.used_idx;
    signalled_used_ = state.signalled_used;
    pushed_since_signal_ = state.pushed_since_signal;
    return {};
}

bool ChainReader::Read(std::span<u8> bytes) {
    const bool ok = ForEachBufferPiece(chain_.readable, consumed_, bytes.size(), [&](u64 gpa, u64 done, u64 piece) {
        return memory_.Read(gpa, bytes.subspan(done, piece));
    });
    if (ok) consumed_ += bytes.size();
    return ok;
}

bool ChainReader::Skip(u64 size) {
    if (size > remaining()) return false;
    consumed_ += size;
    return true;
}

template <typename F>
bool ChainWriter::Copy(u64 offset, u64 size, F&& fn) {
    if (offset > chain_.writable_bytes || size > chain_.writable_bytes - offset) return false;
    if (!ForEachBufferPiece(chain_.writable, offset, size, fn)) return false;
    written_ = std::max(written_, offset + size);
    return true;
}

bool ChainWriter::Write(std::span<const u8> bytes) {
    return Copy(written_, bytes.size(),
                [&](u64 gpa, u64 done, u64 piece) { return memory_.Write(gpa, bytes.subspan(done, piece)); });
}

bool ChainWriter::Zero(u64 size) {
    return Copy(written_, size, [&](u64 gpa, u64, u64 piece) { return memory_.Zero(gpa, piece); });
}

bool ChainWriter::WriteAt(u64 offset, std::span<const u8> bytes) {
    return Copy(offset, bytes.size(),
                [&](u64 gpa, u64 done, u64 piece) { return memory_.Write(gpa, bytes.subspan(done, piece)); });
}

}  // namespace emu::devices::virtio
