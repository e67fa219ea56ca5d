#pragma once
// Helper functions called from IR (CallHelper) and the exceptions IR code raises. A helper gets the whole
// guest state and memory, so passes treat a call as reading and writing everything.
#include <cstring>
#include <optional>
#include <string_view>

#include "emu/common/bits.h"
#include "emu/common/guest_ram.h"
#include "emu/common/types.h"
#include "emu/cpu/memory_interface.h"
#include "emu/cpu/state/cpu_state.h"
#include "mmu/softtlb/softtlb.h"

namespace emu::cpu::ir {

// Vectors that push an error code (SDM Vol. 3 6.3.1, Table 6-1).
constexpr bool HasErrorCode(u8 vector) {
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

// An exception raised by IR code, a helper or the memory path.
struct Fault {
    u8 vector = 0;
    bool has_error_code = false;
    u32 error_code = 0;
    u64 cr2 = 0;
    // INT n / INT3 / INTO: a trap whose saved RIP is the next instruction, with the software-interrupt
    // privilege check at delivery.
    bool software = false;
    u64 next_rip = 0;  // valid when software
    u64 insn_rip = 0;  // valid when software: the instruction's own RIP, saved if delivering it faults
    bool icebp = false;  // with software: INT1 (F1), a #DB trap delivered without the gate DPL check
    // Not an exception: the instruction runs again from its start (a locked store found memory changed since the
    // instruction's load; Translator::LoadForUpdate). Nothing is delivered.
    bool restart = false;
};

inline Fault RestartFault() {
    Fault f;
    f.restart = true;
    return f;
}

inline Fault MakeFault(u8 vector, u32 error_code = 0) {
    return Fault{vector, HasErrorCode(vector), HasErrorCode(vector) ? error_code : 0, 0, false, 0};
}

struct HelperEnv {
    CpuState& state;
    MemoryInterface& memory;
    std::optional<Fault> fault;  // set by a helper to end the block with an exception
    // The memory's inline soft-TLB tables (MemoryInterface::InlineTlb) for supervisor and user accesses, or null:
    // Read and Write then take the TLB's hit path themselves, as translated code does, before calling the memory.
    const mmu::TlbEntry* tlb_supervisor = nullptr;
    const mmu::TlbEntry* tlb_user = nullptr;

    // Raises `vector` and returns 0 so helpers can `return env.Raise(...)`.
    u64 Raise(u8 vector, u32 error_code = 0) {
        fault = MakeFault(vector, error_code);
        return 0;
    }
    bool user() const { return state.cpl() == 3; }

    // Guest memory at the current privilege; on a fault these record it and return false.
    bool Read(u64 linear, void* dst, unsigned size);
    bool Write(u64 linear, const void* src, unsigned size);

    // The host address of [linear, linear + size) at the current privilege if the TLB has a plain RAM entry allowing
    // the access (the hit path of softtlb.h: a page-crossing access, a flagged tag or a miss returns null; the caller
    // then goes through Read or Write, which handle every other case).
    u8* TlbHit(u64 linear, unsigned size, bool write) const {
        const mmu::TlbEntry* table = user() ? tlb_user : tlb_supervisor;
        if (table == nullptr || size == 0) return nullptr;
        // A supervisor access with RFLAGS.AC set (between STAC and CLAC, as in the kernel's copies to and from user
        // memory) has its own table (mmu::MmuIndexOf), the one after the supervisor table: with SMAP the supervisor
        // table never holds user pages.
        if (!user() && (state.rflags & rflags::AC)) {
            table += mmu::SoftTlb::kEntries * static_cast<unsigned>(mmu::MmuIndex::SupervisorAc);
        }
        const mmu::TlbEntry& e = table[(linear >> kPageShift) & (mmu::SoftTlb::kEntries - 1)];
        const u64 last_page = (linear + size - 1) & ~kPageMask;
        if (last_page != (write ? e.addr_write : e.addr_read)) return nullptr;
        return reinterpret_cast<u8*>(linear + e.addend);
    }
};

using HelperFn = u64 (*)(HelperEnv& env, u64 a, u64 b, u64 c);

// A helper as named in IR dumps. Instances are static; IR refers to them by address.
struct HelperInfo {
    std::string_view name;
    HelperFn fn;
};

inline bool HelperEnv::Read(u64 linear, void* dst, unsigned size) {
    if (SignExtend(linear, 48) != linear) {  // non-canonical (only possible in 64-bit mode)
        fault = MakeFault(13, 0);
        return false;
    }
    if (u8* host = TlbHit(linear, size, false)) {
        guest_ram::Load(dst, host, size);
        return true;
    }
    MemFault f;
    if (memory.Read(state, linear, dst, size, MemAccess::Read, user(), &f)) return true;
    fault = Fault{f.vector, HasErrorCode(f.vector), f.error_code, f.cr2, false, 0};
    return false;
}

inline bool HelperEnv::Write(u64 linear, const void* src, unsigned size) {
    if (SignExtend(linear, 48) != linear) {
        fault = MakeFault(13, 0);
        return false;
    }
    if (u8* host = TlbHit(linear, size, true)) {
        guest_ram::Store(host, src, size);
        return true;
    }
    MemFault f;
    if (memory.Write(state, linear, src, size, user(), &f)) return true;
    fault = Fault{f.vector, HasErrorCode(f.vector), f.error_code, f.cr2, false, 0};
    return false;
}

}  // namespace emu::cpu::ir
