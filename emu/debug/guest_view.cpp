#include "emu/debug/guest_view.h"

#include <array>
#include <cstring>
#include <map>

#include "mmu/walk/walk.h"

namespace emu::debug {
namespace {

// The walker reads paging entries through host pointers and may set A/D bits through them: give it private copies
// of the table pages, so that a debugger's look changes nothing in the guest.
class CopiedTables final : public mmu::PhysMemory {
public:
    explicit CopiedTables(mmu::Memslots& slots) : slots_(slots) {}
    u8* HostPointer(u64 gpa) override {
        const u64 page = gpa & ~kPageMask;
        auto it = pages_.find(page);
        if (it == pages_.end()) {
            const auto host = slots_.Translate(Gpa(page));
            if (!host) return nullptr;
            it = pages_.emplace(page, std::array<u8, kPageSize>{}).first;
            std::memcpy(it->second.data(), host->get(), kPageSize);
        }
        return it->second.data() + (gpa & kPageMask);
    }

private:
    mmu::Memslots& slots_;
    std::map<u64, std::array<u8, kPageSize>> pages_;
};

// Walks `bytes` page by page with `piece(gpa, offset, size)`; returns how many bytes the pieces took.
template <typename Piece>
size_t ForEachVirtualPiece(const GuestView& view, const cpu::CpuState& state, u64 linear, size_t size, Piece&& piece) {
    size_t done = 0;
    while (done < size) {
        const u64 at = linear + done;
        const size_t chunk = std::min<size_t>(size - done, kPageSize - (at & kPageMask));
        const std::optional<u64> gpa = view.Translate(state, at);
        if (!gpa || !piece(*gpa, done, chunk)) break;
        done += chunk;
    }
    return done;
}

}  // namespace

std::optional<u64> GuestView::Translate(const cpu::CpuState& state, u64 linear) const {
    mmu::PagingRegs regs;
    // Without WP, SMEP and SMAP a supervisor read reaches every present page.
    regs.cr0 = state.cr0 & ~mmu::PagingRegs::kCr0Wp;
    regs.cr3 = state.cr3;
    regs.cr4 = state.cr4 & ~(mmu::PagingRegs::kCr4Smep | mmu::PagingRegs::kCr4Smap);
    regs.efer = state.efer;
    if (!(regs.cr0 & mmu::PagingRegs::kCr0Pg)) return linear;
    CopiedTables tables(slots_);
    if (mmu::ModeOf(regs) == mmu::PagingMode::Pae && !mmu::LoadPdptes(regs, tables)) return std::nullopt;
    const mmu::WalkResult walk = mmu::Walk(regs, linear, mmu::AccessType::Read, mmu::AccessFlags{}, tables);
    if (walk.status != mmu::WalkStatus::Ok) return std::nullopt;
    return walk.gpa;
}

size_t GuestView::ReadVirtual(const cpu::CpuState& state, u64 linear, std::span<u8> bytes) const {
    return ForEachVirtualPiece(*this, state, linear, bytes.size(), [&](u64 gpa, size_t offset, size_t size) {
        return dma_.Read(gpa, bytes.subspan(offset, size));
    });
}

size_t GuestView::WriteVirtual(const cpu::CpuState& state, u64 linear, std::span<const u8> bytes) {
    return ForEachVirtualPiece(*this, state, linear, bytes.size(), [&](u64 gpa, size_t offset, size_t size) {
        return dma_.Write(gpa, bytes.subspan(offset, size));
    });
}

}  // namespace emu::debug
