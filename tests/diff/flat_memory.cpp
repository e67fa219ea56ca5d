#include "tests/diff/flat_memory.h"

#include <cstring>

namespace emu::diff {

namespace {
constexpr u32 kPfPresent = 1, kPfWrite = 2, kPfUser = 4, kPfFetch = 0x10;
}

FlatMemory::FlatMemory() : code_(kCodeSize), data_(kDataSize) {}

u8* FlatMemory::Map(u64 linear, unsigned size, cpu::MemAccess access, bool user, cpu::MemFault* fault) {
    const u32 base_code = (access == cpu::MemAccess::Write ? kPfWrite : 0) | (user ? kPfUser : 0) |
                          (access == cpu::MemAccess::Fetch ? kPfFetch : 0);
    // Walk the range region by region so CR2 names the first byte that cannot be reached.
    for (u64 a = linear; a - linear < size;) {
        u64 region_end;
        bool ok;
        if (a >= kCodeBase && a < kCodeBase + kCodeSize) {
            region_end = kCodeBase + kCodeSize;
            ok = true;
        } else if (a >= kDataBase && a < kDataBase + kDataSize) {
            region_end = kDataBase + kDataSize;
            ok = access != cpu::MemAccess::Fetch;
            if (!ok) {
                *fault = cpu::MemFault{14, base_code | kPfPresent, a};
                return nullptr;
            }
        } else {
            ok = false;
            region_end = 0;
        }
        if (!ok) {
            *fault = cpu::MemFault{14, base_code, a};
            return nullptr;
        }
        a = region_end;
    }
    // Both regions are contiguous host buffers, and no access spans both (they are far apart).
    if (linear >= kCodeBase && linear < kCodeBase + kCodeSize) return code_.data() + (linear - kCodeBase);
    return data_.data() + (linear - kDataBase);
}

bool FlatMemory::Read(const cpu::CpuState&, u64 linear, void* dst, unsigned size, cpu::MemAccess access, bool user,
                      cpu::MemFault* fault) {
    const u8* p = Map(linear, size, access, user, fault);
    if (!p) return false;
    std::memcpy(dst, p, size);
    return true;
}

bool FlatMemory::Write(const cpu::CpuState&, u64 linear, const void* src, unsigned size, bool user,
                       cpu::MemFault* fault) {
    u8* p = Map(linear, size, cpu::MemAccess::Write, user, fault);
    if (!p) return false;
    std::memcpy(p, src, size);
    if (linear >= kCodeBase && linear < kCodeBase + kCodeSize) {  // linear = physical in the sandbox
        code_writes_.push_back(cpu::CodeWrite{linear, size});
        SignalCodeWrite();
    }
    return true;
}

bool FlatMemory::TakeCodeWritten() {
    if (code_writes_.empty()) return false;
    taken_code_writes_.swap(code_writes_);
    code_writes_.clear();
    return true;
}

u32 FlatMemory::PortIn(u16, unsigned) { return ~u32{0}; }
void FlatMemory::PortOut(u16, unsigned, u32) {}

}  // namespace emu::diff
