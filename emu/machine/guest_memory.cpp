#include "emu/machine/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <iterator>

#include "emu/common/bits.h"

namespace emu::machine {

std::optional<std::string> GuestMemory::AddRam(u64 base, u64 size) {
    char where[64];
    std::snprintf(where, sizeof where, "%#llx+%#llx", static_cast<unsigned long long>(base),
                  static_cast<unsigned long long>(size));
    auto ram = mmu::GuestRam::Create(size);
    if (!ram) return std::string("cannot allocate guest memory ") + where;
    const auto id = static_cast<mmu::SlotId>(rams_.size());
    auto r = slots_.SetMemoryRegion(id, Gpa(base), size, mmu::SlotFlags::None, ram->host());
    if (!r) {
        const bool overlap = r.error() == mmu::MemslotError::Overlap;
        return std::string("memory region ") + where + (overlap ? " overlaps another region" : " is invalid");
    }
    rams_.push_back(std::move(*ram));
    ranges_.push_back({base, size});
    return std::nullopt;
}

bool GuestMemory::WritePhys(u64 gpa, std::span<const u8> bytes) {
    auto slot = slots_.FindSlot(Gpa(gpa));
    if (!slot || gpa + bytes.size() > slot->end().value()) return false;
    std::copy(bytes.begin(), bytes.end(), slot->host.get() + (gpa - slot->base.value()));
    return true;
}

bool GuestMemory::ZeroPhys(u64 gpa, u64 size) {
    auto slot = slots_.FindSlot(Gpa(gpa));
    if (!slot || size > slot->end().value() - gpa) return false;
    u8* const host = slot->host.get() + (gpa - slot->base.value());
    // The slot's host memory is a private anonymous mapping (GuestRam), page-aligned like the slot: MADV_DONTNEED
    // makes its pages read as zeros. The partial pages at either end are cleared by hand.
    u8* const first = reinterpret_cast<u8*>(AlignUp(reinterpret_cast<uintptr_t>(host), kPageSize));
    u8* const last = reinterpret_cast<u8*>(AlignDown(reinterpret_cast<uintptr_t>(host + size), kPageSize));
    if (first >= last || madvise(first, static_cast<size_t>(last - first), MADV_DONTNEED) != 0) {
        std::memset(host, 0, size);
        return true;
    }
    std::memset(host, 0, static_cast<size_t>(first - host));
    std::memset(last, 0, static_cast<size_t>(host + size - last));
    return true;
}

std::string ExceptionText::Describe(u8 vector, u32 error_code, u64 rip, u64 cr2) {
    static const char* const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09",
                                        "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM"};
    char text[160];
    const char* name = vector < std::size(names) ? names[vector] : "#??";
    int n = std::snprintf(text, sizeof text, "unexpected exception %s (vector %u, error code %#x) at rip=%#llx", name,
                          vector, error_code, static_cast<unsigned long long>(rip));
    if (vector == 14 && n > 0 && static_cast<size_t>(n) < sizeof text) {
        std::snprintf(text + n, sizeof text - n, " cr2=%#llx", static_cast<unsigned long long>(cr2));
    }
    return text;
}

}  // namespace emu::machine
