#include "devices/virtio/blk/virtio_blk.h"

#include <algorithm>
#include <array>
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/virtio/blk/regs.h"
#include "emu/common/log.h"

namespace emu::devices::virtio {

namespace {

// Requests are copied through a bounce buffer of at most this many bytes at a time.
constexpr u64 kChunkBytes = u64{1} << 20;
// Limits advertised for discard and write-zeroes (one segment per request keeps requests simple).
constexpr u32 kMaxRangeSectors = (u32{1} << 30) / blk::kSectorSize;

}  // namespace

VirtioBlk::VirtioBlk(BlockBackend& backend, std::string serial) : backend_(backend), serial_(std::move(serial)) {
    worker_ = std::thread([this] { WorkerLoop(); });
}

VirtioBlk::~VirtioBlk() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    work_cv_.notify_all();
    worker_.join();
}

u64 VirtioBlk::Features() const {
    u64 features = blk::feature::kSegMax | blk::feature::kBlkSize | blk::feature::kFlush | feature::kEventIdx |
                   feature::kIndirectDesc;
    if (backend_.ReadOnly()) return features | blk::feature::kReadOnly;
    return features | blk::feature::kDiscard | blk::feature::kWriteZeroes;
}

u32 VirtioBlk::ConfigSize() const { return blk::kConfigSize; }

void VirtioBlk::ReadConfig(u64 offset, std::span<u8> data) {
    std::array<u8, blk::kConfigSize> config{};
    auto put = [&](u64 at, unsigned size, u64 value) { StoreLe(std::span<u8>(config).subspan(at, size), value); };
    put(blk::kCapacity, 8, backend_.SizeBytes() / blk::kSectorSize);
    put(blk::kSegMaxOffset, 4, kQueueSize - 2);  // 5.2.6.1: header and status take two descriptors
    put(blk::kBlkSizeOffset, 4, blk::kSectorSize);
    put(blk::kMaxDiscardSectors, 4, kMaxRangeSectors);
    put(blk::kMaxDiscardSeg, 4, 1);
    put(blk::kDiscardSectorAlignment, 4, kPageSize / blk::kSectorSize);
    put(blk::kMaxWriteZeroesSectors, 4, kMaxRangeSectors);
    put(blk::kMaxWriteZeroesSeg, 4, 1);
    put(blk::kWriteZeroesMayUnmap, 1, 1);
    std::copy_n(config.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), data.begin());
}

void VirtioBlk::Activate(VirtioQueues& queues, u64) {
    std::lock_guard lock(mutex_);
    queues_ = &queues;
}

void VirtioBlk::QueueNotify(unsigned index) {
    std::unique_lock lock(mutex_);
    if (!queues_) return;
    VirtioQueues* queues = queues_;
    lock.unlock();
    // Pop on the vCPU thread (cheap: descriptors only), execute on the worker.
    std::deque<Request> popped;
    while (auto request = queues->PopChain(index)) popped.push_back(std::move(*request));
    if (popped.empty()) return;
    lock.lock();
    for (Request& r : popped) pending_.push_back(std::move(r));
    lock.unlock();
    work_cv_.notify_one();
}

void VirtioBlk::Reset() {
    std::unique_lock lock(mutex_);
    // Requests not started are dropped; the one running finishes (its completion is dropped by the transport,
    // which has moved to a new generation) before the reset returns to the driver.
    pending_.clear();
    idle_cv_.wait(lock, [&] { return !busy_; });
    queues_ = nullptr;
}

void VirtioBlk::WorkerLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        work_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
        if (stop_) return;
        Request request = std::move(pending_.front());
        pending_.pop_front();
        VirtioQueues* queues = queues_;
        busy_ = true;
        lock.unlock();
        if (queues) {
            const u32 written = Execute(queues->memory(), request.chain);
            queues->Complete(0, request, written);
        }
        lock.lock();
        busy_ = false;
        idle_cv_.notify_all();
    }
}

u32 VirtioBlk::Execute(DmaMemory& memory, const DescriptorChain& chain) {
    // The status byte is the chain's last writable byte; without one the request cannot be answered.
    if (chain.writable_bytes == 0) {
        log::Log(log::Category::GuestErrors, "virtio-blk: request without a status byte");
        return 0;
    }
    std::array<u8, blk::kHeaderSize> header{};
    ChainReader reader(memory, chain);
    u8 status = blk::kStatusIoErr;
    u32 written = 1;
    if (reader.Read(header)) {
        const std::span<const u8> h(header);
        const u32 type = static_cast<u32>(LoadLe(h.subspan(0, 4)));
        const u64 sector = LoadLe(h.subspan(8, 8));
        switch (type) {
            case blk::kTypeIn: status = ReadRequest(memory, chain, sector, &written); break;
            case blk::kTypeOut: status = WriteRequest(memory, chain, sector); break;
            case blk::kTypeFlush: status = backend_.Flush() ? blk::kStatusOk : blk::kStatusIoErr; break;
            case blk::kTypeGetId: status = GetId(memory, chain, &written); break;
            case blk::kTypeDiscard: status = RangeRequest(memory, chain, true); break;
            case blk::kTypeWriteZeroes: status = RangeRequest(memory, chain, false); break;
            default: status = blk::kStatusUnsupported; break;
        }
    }
    ChainWriter writer(memory, chain);
    if (!writer.WriteAt(chain.writable_bytes - 1, std::span<const u8>(&status, 1))) return 0;
    return written;
}

u8 VirtioBlk::ReadRequest(DmaMemory& memory, const DescriptorChain& chain, u64 sector, u32* written) {
    const u64 size = chain.writable_bytes - 1;
    const u64 offset = sector * blk::kSectorSize;
    if (sector > backend_.SizeBytes() / blk::kSectorSize || size > backend_.SizeBytes() - offset) {
        return blk::kStatusIoErr;
    }
    std::vector<u8> buffer(std::min(size, kChunkBytes));
    ChainWriter writer(memory, chain);
    for (u64 done = 0; done < size;) {
        const std::span<u8> piece(buffer.data(), std::min<u64>(buffer.size(), size - done));
        if (!backend_.Read(offset + done, piece) || !writer.Write(piece)) return blk::kStatusIoErr;
        done += piece.size();
    }
    *written = static_cast<u32>(size + 1);
    return blk::kStatusOk;
}

u8 VirtioBlk::WriteRequest(DmaMemory& memory, const DescriptorChain& chain, u64 sector) {
    const u64 size = chain.readable_bytes - blk::kHeaderSize;
    const u64 offset = sector * blk::kSectorSize;
    if (backend_.ReadOnly()) return blk::kStatusIoErr;
    if (sector > backend_.SizeBytes() / blk::kSectorSize || size > backend_.SizeBytes() - offset) {
        return blk::kStatusIoErr;
    }
    std::vector<u8> buffer(std::min(size, kChunkBytes));
    ChainReader reader(memory, chain);
    if (!reader.Skip(blk::kHeaderSize)) return blk::kStatusIoErr;
    for (u64 done = 0; done < size;) {
        const std::span<u8> piece(buffer.data(), std::min<u64>(buffer.size(), size - done));
        if (!reader.Read(piece) || !backend_.Write(offset + done, piece)) return blk::kStatusIoErr;
        done += piece.size();
    }
    return blk::kStatusOk;
}

u8 VirtioBlk::RangeRequest(DmaMemory& memory, const DescriptorChain& chain, bool discard) {
    if (backend_.ReadOnly()) return blk::kStatusIoErr;
    ChainReader reader(memory, chain);
    if (!reader.Skip(blk::kHeaderSize)) return blk::kStatusIoErr;
    // 5.2.6.2: one or more segments; we advertised max_*_seg = 1, more is a driver error.
    if (reader.remaining() != blk::kSegmentSize) return blk::kStatusUnsupported;
    std::array<u8, blk::kSegmentSize> segment{};
    if (!reader.Read(segment)) return blk::kStatusIoErr;
    const std::span<const u8> s(segment);
    const u64 sector = LoadLe(s.subspan(0, 8));
    const u64 sectors = LoadLe(s.subspan(8, 4));
    const u32 flags = static_cast<u32>(LoadLe(s.subspan(12, 4)));
    if (sectors > kMaxRangeSectors || (discard && flags != 0) || (flags & ~u32{1}) != 0) {
        return blk::kStatusUnsupported;
    }
    const u64 capacity = backend_.SizeBytes() / blk::kSectorSize;
    if (sector > capacity || sectors > capacity - sector) return blk::kStatusIoErr;
    const u64 offset = sector * blk::kSectorSize, size = sectors * blk::kSectorSize;
    // Write-zeroes with the unmap flag may deallocate: a discard reads back as zeroes on a raw file.
    const bool ok = (discard || (flags & 1)) ? backend_.Discard(offset, size) : backend_.WriteZeroes(offset, size);
    return ok ? blk::kStatusOk : blk::kStatusIoErr;
}

u8 VirtioBlk::GetId(DmaMemory& memory, const DescriptorChain& chain, u32* written) {
    std::array<u8, blk::kIdBytes> id{};
    std::copy_n(serial_.begin(), std::min<size_t>(serial_.size(), id.size()), id.begin());
    const u64 room = std::min<u64>(chain.writable_bytes - 1, id.size());
    ChainWriter writer(memory, chain);
    if (!writer.Write(std::span<const u8>(id.data(), room))) return blk::kStatusIoErr;
    *written = static_cast<u32>(room + 1);
    return blk::kStatusOk;
}

}  // namespace emu::devices::virtio
