#pragma once
// A machine's guest RAM: host allocations (lazily backed) registered as memslots, and the ranges they cover.
#include <optional>
#include <string>
#include <vector>

#include "emu/machine/boot/phys_writer.h"
#include "emu/machine/boot/start_state.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"

namespace emu::machine {

class GuestMemory final : public PhysWriter {
public:
    // Allocates `size` bytes of zeroed RAM and maps it at `base` in a new memslot. Returns an error message if
    // the region is invalid (unaligned, overlapping) or cannot be allocated.
    std::optional<std::string> AddRam(u64 base, u64 size);

    bool WritePhys(u64 gpa, std::span<const u8> bytes) override;
    // Whole pages are handed back to the host (they read as zeros again) instead of being written: a 2 GiB BSS
    // costs no host memory until the guest touches it.
    bool ZeroPhys(u64 gpa, u64 size) override;

    mmu::Memslots& slots() { return slots_; }
    const std::vector<PhysRange>& ranges() const { return ranges_; }

private:
    mmu::Memslots slots_;
    std::vector<PhysRange> ranges_;
    std::vector<mmu::GuestRam> rams_;
};

// "unexpected exception #GP (vector 13, error code 0x0) at rip=0x..." for messages.
struct ExceptionText {
    static std::string Describe(u8 vector, u32 error_code, u64 rip, u64 cr2);
};

}  // namespace emu::machine
