#pragma once
// Builds the CPU state a loader hands over: real mode, flat 32-bit protected mode, or 64-bit long mode
// with identity-mapped page tables, a Linux-style GDT (user code 0x33, user data 0x2B) and a TSS.
// Used by the bare-metal runner and by the Linux and Multiboot loaders.
#include <algorithm>
#include <vector>

#include "emu/common/result.h"
#include "emu/cpu/state/cpu_state.h"
#include "emu/machine/boot/phys_writer.h"
#include "emu/machine/boot/start_mode.h"

namespace emu::machine {

// GDT selectors, as Linux lays them out (arch/x86/include/asm/segment.h), so user code sees 0x33/0x2B.
namespace selector {
inline constexpr u16 KernelCode32 = 0x08;
inline constexpr u16 KernelCode = 0x10;  // 64-bit code in Long64 starts, 32-bit code otherwise
inline constexpr u16 KernelData = 0x18;
inline constexpr u16 UserCode32 = 0x23;
inline constexpr u16 UserData = 0x2B;
inline constexpr u16 UserCode64 = 0x33;
inline constexpr u16 Tss = 0x40;
}  // namespace selector

// A guest-physical range the identity map must cover.
struct PhysRange {
    u64 base = 0;
    u64 size = 0;
};

// Whether [base, base + size) lies inside one of `ram`'s ranges. Overflow-safe: base + size may not fit in 64 bits
// (an image's preferred address near 2^64).
inline bool InRam(const std::vector<PhysRange>& ram, u64 base, u64 size) {
    return std::any_of(ram.begin(), ram.end(), [&](const PhysRange& r) {
        return base >= r.base && size <= r.size && base - r.base <= r.size - size;
    });
}

struct StartLayout {
    u64 gdt_gpa = 0x1000;           // GDT (0x50 bytes) followed by the TSS at gdt_gpa + 0x100
    u64 tables_gpa = 0x2000;        // first page-table page; tables grow upwards
    u64 tables_limit = 0x7000;      // tables end below this (the Linux zero page sits at 0x7000)
    u64 kernel_stack_top = 0x10000; // TSS RSP0/ESP0 for ring transitions
};

enum class StartError {
    TablesTooLarge,   //!< the identity map does not fit below StartLayout::tables_limit
    WriteFailed,      //!< a boot structure lies outside guest RAM
    BadCpl,           //!< CPL must be 0 or 3
    RealModeCpl,      //!< real mode has no CPL 3
    RealModeEntry,    //!< real mode cannot reach the entry address (above FFFF:FFFF)
};

// The highest linear address real-mode code can start at: FFFF:FFFF.
inline constexpr u64 kRealModeTop = 0x10FFEF;

const char* StartErrorMessage(StartError e);

struct StartOptions {
    StartMode mode = StartMode::Long64;
    u8 cpl = 0;
    std::vector<PhysRange> identity_map;  // Long64 only: ranges to map (rounded out to 2 MiB), user-accessible
    u64 entry = 0;                        // linear address to start at
    u64 stack_pointer = 0;
};

// Writes the GDT, TSS and (Long64) page tables into guest memory and sets `state` to start at
// options.entry in the requested mode. Registers not named here keep their values.
Result<void, StartError> PrepareStartState(PhysWriter& memory, const StartLayout& layout, const StartOptions& options,
                                           cpu::CpuState& state);

}  // namespace emu::machine
