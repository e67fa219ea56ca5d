#include "mmu/memslots/guest_ram.h"

#include <sys/mman.h>

#include <utility>

#include "emu/common/bits.h"

namespace emu::mmu {

Result<GuestRam, GuestRamError> GuestRam::Create(u64 size) {
    if (size == 0) return Err(GuestRamError::ZeroSize);
    if (!IsAligned(size, kPageSize)) return Err(GuestRamError::Unaligned);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Err(GuestRamError::MapFailed);
    return GuestRam(static_cast<u8*>(p), size);
}

GuestRam::~GuestRam() { Release(); }

GuestRam::GuestRam(GuestRam&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

GuestRam& GuestRam::operator=(GuestRam&& other) noexcept {
    if (this != &other) {
        Release();
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

void GuestRam::Release() {
    if (base_) munmap(base_, size_);
    base_ = nullptr;
    size_ = 0;
}

}  // namespace emu::mmu
