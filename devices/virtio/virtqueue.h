#pragma once
// A split virtqueue (virtio 1.2 section 2.7) seen from the device: the descriptor table, the available ring the
// driver fills and the used ring the device fills, with indirect descriptors (2.7.5.3) and event index
// notification suppression (2.7.7, 2.7.10).
//
// This is the only code that reads descriptors. Every index, address and length the driver supplies is checked
// before it is used: the rings must be RAM when the queue is enabled, every buffer of a chain must be RAM when the
// chain is popped (and each copy is checked again by DmaMemory as it runs), chains may not loop or outgrow the
// queue, device-readable buffers come before device-writable ones. A violation is a QueueError; the transport then
// marks the device DEVICE_NEEDS_RESET (2.1.1) and stops using the queue. Device models see buffers only through
// DescriptorChain, ChainReader and ChainWriter.
//
// Threads: not synchronised; the transport serialises every call on one queue with its lock.
#include <algorithm>
#include <optional>
#include <span>
#include <vector>

#include "devices/virtio/dma_memory.h"
#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::devices::virtio {

enum class QueueError {
    SizeNotPowerOfTwo,   /*!< queue size is zero, not a power of two or above the device's maximum */
    MisalignedRing,      /*!< a ring address breaks the alignment of 2.7 (descriptors 16, driver 2, device 4) */
    RingOutsideRam,      /*!< a ring is not entirely in guest RAM */
    AvailIndexJump,      /*!< the available index moved ahead by more than the queue size */
    HeadOutOfRange,      /*!< an available ring entry names a descriptor beyond the table */
    NextOutOfRange,      /*!< a descriptor's next index is beyond its table */
    ChainLoops,          /*!< a chain has more descriptors than its table: it loops */
    BufferOutsideRam,    /*!< a descriptor's buffer is not entirely in guest RAM */
    WritableBeforeRead,  /*!< a device-readable descriptor follows a device-writable one */
    NestedIndirect,      /*!< an indirect table contains an indirect descriptor */
    BadIndirectTable,    /*!< indirect table length is zero, not a multiple of 16, too long, or has NEXT */
    IndirectNotNegotiated, /*!< an indirect descriptor although VIRTIO_F_INDIRECT_DESC was not negotiated */
    UsedRingWrite,       /*!< the used ring could not be written (it left guest RAM) */
};

const char* QueueErrorMessage(QueueError error);

// One guest buffer of a chain, already checked to be RAM when the chain was popped.
struct GuestBuffer {
    u64 gpa = 0;
    u32 len = 0;
};

struct DescriptorChain {
    u16 head = 0;                       // what goes back in the used ring
    std::vector<GuestBuffer> readable;  // device-readable buffers, in order
    std::vector<GuestBuffer> writable;  // device-writable buffers, in order
    u64 readable_bytes = 0;
    u64 writable_bytes = 0;
};

// The driver-visible queue registers (4.1.4.3 queue_size ... queue_device).
struct QueueLayout {
    u16 size = 0;
    u64 desc = 0;    // descriptor table
    u64 driver = 0;  // available ring
    u64 device = 0;  // used ring
};

struct SplitQueueState;

class SplitQueue {
public:
    explicit SplitQueue(DmaMemory& memory) : memory_(&memory) {}

    // Starts using the rings of `layout` (queue_enable = 1), after checking them. max_size is the device's limit.
    Result<void, QueueError> Enable(const QueueLayout& layout, u16 max_size, bool event_idx, bool indirect);
    void Reset();  // back to disabled, indexes zero (device reset)
    bool enabled() const { return enabled_; }
    u16 size() const { return layout_.size; }

    // The next available chain, or nothing when the driver has made none available.
    Result<std::optional<DescriptorChain>, QueueError> Pop();
    // Returns a chain to the driver with `written` bytes written into its writable buffers.
    Result<void, QueueError> PushUsed(u16 head, u32 written);
    // Whether the driver wants an interrupt for what was pushed since the last call that returned true (2.7.7.2,
    // 2.7.10). Call after a batch of PushUsed.
    bool ShouldInterrupt();

    SplitQueueState SaveState() const;
    // Takes the queue back to a saved point; an enabled queue's rings are checked again (they must still be RAM).
    Result<void, QueueError> RestoreState(const SplitQueueState& state, u16 max_size);

private:
    struct Descriptor {
        u64 addr;
        u32 len;
        u16 flags;
        u16 next;
    };
    Result<Descriptor, QueueError> ReadDescriptor(u64 table, u32 count, u32 index) const;
    // Walks the descriptors of one table starting at `index` into chain; `indirect` is true inside a table.
    Result<void, QueueError> WalkTable(u64 table, u32 count, u32 index, bool indirect, DescriptorChain& chain) const;
    Result<void, QueueError> AddBuffer(const Descriptor& d, DescriptorChain& chain) const;
    u64 UsedEventAddress() const { return layout_.driver + 4 + 2 * u64{layout_.size}; }
    u64 AvailEventAddress() const { return layout_.device + 4 + 8 * u64{layout_.size}; }

    DmaMemory* memory_;
    QueueLayout layout_;
    bool enabled_ = false;
    bool event_idx_ = false;
    bool indirect_ = false;
    u16 last_avail_ = 0;      // the next available ring slot the device reads
    u16 used_idx_ = 0;        // the device's used index (mirrors the ring's idx)
    u16 signalled_used_ = 0;  // used_idx_ when the driver was last interrupted (event index bookkeeping)
    bool pushed_since_signal_ = false;
};

// Sequential copies out of a chain's readable buffers.
class ChainReader {
public:
    ChainReader(const DmaMemory& memory, const DescriptorChain& chain) : memory_(memory), chain_(chain) {}
    // Copies the next bytes.size() bytes; false (and nothing consumed) if the chain has fewer or RAM changed.
    bool Read(std::span<u8> bytes);
    bool Skip(u64 size);
    u64 remaining() const { return chain_.readable_bytes - consumed_; }

private:
    const DmaMemory& memory_;
    const DescriptorChain& chain_;
    u64 consumed_ = 0;
};

// Sequential copies into a chain's writable buffers; written() is what PushUsed reports.
class ChainWriter {
public:
    ChainWriter(DmaMemory& memory, const DescriptorChain& chain) : memory_(memory), chain_(chain) {}
    bool Write(std::span<const u8> bytes);
    bool Zero(u64 size);
    // Writes at an absolute offset in the writable space (the virtio-blk status byte is the last one).
    bool WriteAt(u64 offset, std::span<const u8> bytes);
    u64 written() const { return written_; }
    u64 remaining() const { return chain_.writable_bytes - written_; }

private:
    template <typename F>
    bool Copy(u64 offset, u64 size, F&& fn);

    DmaMemory& memory_;
    const DescriptorChain& chain_;
    u64 written_ = 0;
};

// Calls fn(gpa, piece_offset, piece_size) for the part [offset, offset + size) of buffers; false if it does not
// fit or fn fails.
template <typename F>
bool ForEachBufferPiece(std::span<const GuestBuffer> buffers, u64 offset, u64 size, F&& fn) {
    u64 start = 0, done = 0;
    for (const GuestBuffer& b : buffers) {
        if (done == size) break;
        const u64 end = start + b.len;
        if (offset + done < end) {
            const u64 at = offset + done - start;
            const u64 piece = std::min<u64>(b.len - at, size - done);
            if (!fn(b.gpa + at, done, piece)) return false;
            done += piece;
        }
        start = end;
    }
    return done == size;
}

}  // namespace emu::devices::virtio
