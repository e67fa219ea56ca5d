#pragma once
// The debugger's and the monitor's view of guest memory: by guest-physical address, and by linear address through
// the CPU's current paging. Reads have no side effects on the guest (the page walk sets no accessed or dirty bit and
// MMIO is never touched: an address that is not RAM is an error). Writes go through devices/virtio's DmaMemory, so
// they reach dirty logging and page-track like any other writer's: a write into translated code drops that code, a
// write into a shadowed page table reaches the shadow MMU.
//
// Threads: call while the vCPU is stopped (the CPU state must not change under a translation).
#include <optional>
#include <span>

#include "devices/virtio/dma_memory.h"
#include "emu/common/types.h"
#include "emu/cpu/state/cpu_state.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::debug {

class GuestView {
public:
    GuestView(mmu::Memslots& slots, mmu::PageTrack* page_track) : slots_(slots), dma_(slots, page_track) {}

    // The guest-physical address `linear` maps to now, whatever the privilege (no U/S, R/W, SMEP or SMAP check),
    // or nullopt if it is not mapped.
    std::optional<u64> Translate(const cpu::CpuState& state, u64 linear) const;

    bool ReadPhysical(u64 gpa, std::span<u8> bytes) const { return dma_.Read(gpa, bytes); }
    bool WritePhysical(u64 gpa, std::span<const u8> bytes) { return dma_.Write(gpa, bytes); }

    // By linear address, page by page: how many bytes from the start were read or written before an unmapped page,
    // or a page that is not (writable) RAM.
    size_t ReadVirtual(const cpu::CpuState& state, u64 linear, std::span<u8> bytes) const;
    size_t WriteVirtual(const cpu::CpuState& state, u64 linear, std::span<const u8> bytes);

    mmu::Memslots& slots() { return slots_; }

private:
    mmu::Memslots& slots_;
    mutable devices::virtio::DmaMemory dma_;
};

}  // namespace emu::debug
