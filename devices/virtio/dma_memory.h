#pragma once
// DmaMemory: how a device reaches guest RAM. Every access is checked against the memslots at the moment it is
// made (a range outside RAM, across a hole, or written on a READONLY slot fails as a whole and nothing is copied
// for the failing page onwards), and every write goes the way CPU stores go: the bytes land, the page is
// marked dirty on a dirty-logged slot, and page-track's dispatcher hears about it when the page is write-tracked,
// so a DMA write onto a guest page table reaches the shadow MMU and one onto translated code drops that code.
//
// Threads: any thread (memslot lookups are lock-free, page-track's dispatcher may run on any thread). The caller
// serialises its own use of the bytes.
#include <span>

#include "emu/common/types.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::devices::virtio {

class DmaMemory {
public:
    // page_track may be null (a machine without write tracking: unit tests).
    DmaMemory(mmu::Memslots& slots, mmu::PageTrack* page_track) : slots_(slots), page_track_(page_track) {}

    // False if any byte of [gpa, gpa + size) is not guest RAM (or, for writes, not writable RAM).
    bool Read(u64 gpa, std::span<u8> bytes) const;
    bool Write(u64 gpa, std::span<const u8> bytes);
    // Fills [gpa, gpa + size) with zero bytes, through the same write path.
    bool Zero(u64 gpa, u64 size);
    // Whether the whole range is guest RAM now (the queue layer checks rings once, at enable).
    bool IsRam(u64 gpa, u64 size) const;

    template <typename T>
    bool ReadObject(u64 gpa, T* value) const {
        return Read(gpa, std::span<u8>(reinterpret_cast<u8*>(value), sizeof(T)));
    }
    template <typename T>
    bool WriteObject(u64 gpa, const T& value) {
        return Write(gpa, std::span<const u8>(reinterpret_cast<const u8*>(&value), sizeof(T)));
    }

private:
    // The host address of gpa's page piece of `size` bytes (within one page), or null.
    u8* HostPiece(u64 gpa, bool write) const;
    void AfterWrite(u64 gpa, std::span<const u8> bytes);

    mmu::Memslots& slots_;
    mmu::PageTrack* page_track_;
};

// The largest range end that does not wrap: ranges are [gpa, gpa + size) with gpa + size <= 2^64.
inline bool RangeWraps(u64 gpa, u64 size) { return size != 0 && gpa + size - 1 < gpa; }

}  // namespace emu::devices::virtio
