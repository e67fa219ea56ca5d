#pragma once
// What a memory access asks of the MMU, and the #PF error code it gets back on failure. Shared by the walker,
// the soft TLB and (later) the shadow MMU.
#include "emu/common/types.h"

namespace emu::mmu {

enum class AccessType : u8 { Read, Write, Fetch };

// The privilege of an access (SDM Vol. 3 4.6 "Access Rights").
struct AccessFlags {
    // A user-mode access: CPL 3 and not an implicit supervisor access.
    bool user = false;
    // An implicit supervisor-mode access (GDT/LDT/IDT/TSS reads, at any CPL). SMAP always applies to these,
    // whatever RFLAGS.AC says. Ignored when `user` is set.
    bool implicit_supervisor = false;
    // RFLAGS.AC at the time of the access: an explicit supervisor data access to a user page passes SMAP
    // when it is set.
    bool rflags_ac = false;
};

// #PF error code bits (SDM Vol. 3 4.7, Figure 4-12). SS, HLAT and SGX are never set: shadow stacks and SGX are
// not emulated.
namespace pf_error {
inline constexpr u32 kPresent = 1u << 0;   // 0: not-present page; 1: protection (or reserved-bit) violation
inline constexpr u32 kWrite = 1u << 1;     // the access was a write
inline constexpr u32 kUser = 1u << 2;      // the access was a user-mode access
inline constexpr u32 kReserved = 1u << 3;  // a reserved bit was set in some paging-structure entry
inline constexpr u32 kFetch = 1u << 4;     // instruction fetch (only with SMEP, or PAE/4-level paging and NXE)
inline constexpr u32 kProtKey = 1u << 5;   // a data access to a user page that PKRU denies (4.6.2)
}  // namespace pf_error

}  // namespace emu::mmu
