#pragma once
// What the system-architecture helpers (emu/cpu/system) return: success, or the exception the instruction or
// event raises. Helpers change no guest state when they fail, so the caller can raise the exception at the
// instruction boundary (the IR helper mechanism does this: translate/system.cpp adapts them).
#include "emu/common/result.h"
#include "emu/common/types.h"
#include "emu/cpu/memory_interface.h"
#include "emu/cpu/state/cpu_state.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::system {

struct Exception {
    u8 vector = 0;
    bool has_error_code = false;
    u32 error_code = 0;
    u64 cr2 = 0;  // #PF only
};

using Status = Result<void, Exception>;
template <typename T>
using SysResult = Result<T, Exception>;

// Exceptions with an error code (#DF #TS #NP #SS #GP #PF #AC) and without.
inline Err<Exception> Raise(u8 vector) { return Err{Exception{vector, false, 0, 0}}; }
inline Err<Exception> RaiseCode(u8 vector, u32 code) { return Err{Exception{vector, true, code, 0}}; }
inline Err<Exception> Gp(u32 code) { return RaiseCode(vec::GP, code); }
inline Err<Exception> Ud() { return Raise(vec::UD); }

// Selector error code (SDM Vol. 3 6.13): index and TI from the selector, EXT in bit 0.
inline constexpr u32 SelectorCode(u16 selector, u32 ext = 0) { return (selector & 0xFFFCu) | ext; }

// Converts a memory-path fault into an exception.
inline Exception FromMemFault(const MemFault& f) {
    const bool code = f.vector == vec::PF || f.vector == vec::GP || f.vector == vec::SS || f.vector == vec::AC;
    return Exception{f.vector, code, code ? f.error_code : 0, f.cr2};
}

// Guest memory at a linear address. `user` is the privilege of the access: false for implicit supervisor
// accesses (descriptor tables, IDT, TSS) and for stack accesses at CPL < 3.
inline Status ReadLinear(MemoryInterface& m, const CpuState& s, u64 linear, void* dst, unsigned size,
                         bool user = false) {
    MemFault f;
    if (m.Read(s, linear, dst, size, MemAccess::Read, user, &f)) return {};
    return Err{FromMemFault(f)};
}
inline Status WriteLinear(MemoryInterface& m, const CpuState& s, u64 linear, const void* src, unsigned size,
                          bool user = false) {
    MemFault f;
    if (m.Write(s, linear, src, size, user, &f)) return {};
    return Err{FromMemFault(f)};
}

inline bool IsCanonical(u64 v) { return static_cast<u64>(static_cast<i64>(v << 16) >> 16) == v; }

}  // namespace emu::cpu::system

// Propagates a failed Status / SysResult from the current function (the one macro of this folder: the
// alternative is an `if (!r) return Err{r.error()};` after every descriptor-table access).
#define EMU_SYS_TRY(expr)                                         \
    do {                                                          \
        if (auto emu_sys_try_ = (expr); !emu_sys_try_) {          \
            return ::emu::Err{emu_sys_try_.error()};              \
        }                                                         \
    } while (false)
