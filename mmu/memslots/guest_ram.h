#pragma once
// GuestRam: anonymous host memory for guest RAM, mapped with MAP_NORESERVE so that a 4 GiB region costs
// address space only; a page gets real memory when first touched. The machine may allocate RAM itself and
// pass any page-aligned pointer to Memslots instead.
#include "emu/common/address.h"
#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::mmu {

enum class GuestRamError {
    ZeroSize,   /*!< guest RAM size is zero */
    Unaligned,  /*!< guest RAM size is not a multiple of 4 KiB */
    MapFailed,  /*!< mmap of guest RAM failed (address space exhausted?) */
};

class GuestRam {
public:
    static Result<GuestRam, GuestRamError> Create(u64 size);

    GuestRam() = default;
    ~GuestRam();
    GuestRam(GuestRam&& other) noexcept;
    GuestRam& operator=(GuestRam&& other) noexcept;
    GuestRam(const GuestRam&) = delete;
    GuestRam& operator=(const GuestRam&) = delete;

    HostPtr host() const { return HostPtr(base_); }
    u64 size() const { return size_; }

private:
    GuestRam(u8* base, u64 size) : base_(base), size_(size) {}
    void Release();

    u8* base_ = nullptr;
    u64 size_ = 0;
};

}  // namespace emu::mmu
