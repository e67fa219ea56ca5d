#include "devices/virtio/dma_memory.h"

#include <algorithm>
#include <cstring>

namespace emu::devices::virtio {

namespace {

// The bytes of [gpa, gpa + size) that lie in gpa's page.
u64 PieceSize(u64 gpa, u64 size) { return std::min<u64>(size, kPageSize - (gpa & kPageMask)); }

// Calls fn(gpa, offset, piece) for each page piece of [gpa, gpa + size); stops at the first false.
template <typename F>
bool ForEachPiece(u64 gpa, u64 size, F&& fn) {
    if (RangeWraps(gpa, size)) return false;
    for (u64 done = 0; done < size;) {
        const u64 piece = PieceSize(gpa + done, size - done);
        if (!fn(gpa + done, done, piece)) return false;
        done += piece;
    }
    return true;
}

}  // namespace

u8* DmaMemory::HostPiece(u64 gpa, bool write) const {
    const auto host = write ? slots_.TranslateForWrite(Gpa(gpa)) : slots_.Translate(Gpa(gpa));
    return host ? host->get() : nullptr;
}

bool DmaMemory::IsRam(u64 gpa, u64 size) const {
    return ForEachPiece(gpa, size, [&](u64 at, u64, u64) { return HostPiece(at, false) != nullptr; });
}

bool DmaMemory::Read(u64 gpa, std::span<u8> bytes) const {
    return ForEachPiece(gpa, bytes.size(), [&](u64 at, u64 offset, u64 piece) {
        const u8* host = HostPiece(at, false);
        if (!host) return false;
        std::memcpy(bytes.data() + offset, host, piece);
        return true;
    });
}

bool DmaMemory::Write(u64 gpa, std::span<const u8> bytes) {
    return ForEachPiece(gpa, bytes.size(), [&](u64 at, u64 offset, u64 piece) {
        u8* host = HostPiece(at, true);
        if (!host) return false;
        std::memcpy(host, bytes.data() + offset, piece);
        AfterWrite(at, bytes.subspan(offset, piece));
        return true;
    });
}

bool DmaMemory::Zero(u64 gpa, u64 size) {
    static constexpr u8 kZeroPage[kPageSize] = {};
    return ForEachPiece(gpa, size, [&](u64 at, u64, u64 piece) {
        u8* host = HostPiece(at, true);
        if (!host) return false;
        std::memset(host, 0, piece);
        AfterWrite(at, std::span<const u8>(kZeroPage, piece));
        return true;
    });
}

void DmaMemory::AfterWrite(u64 gpa, std::span<const u8> bytes) {
    // The same two steps as a CPU store's slow path (VcpuMemory::WritePiece), in the same order.
    slots_.MarkDirty(Gpa(gpa));
    if (page_track_ && page_track_->IsWriteTracked(Gpa(gpa))) page_track_->OnTrackedWrite(Gpa(gpa), bytes);
}

}  // namespace emu::devices::virtio
