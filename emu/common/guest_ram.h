#pragma once
// Guest loads and stores on guest RAM, which every vCPU thread reads and writes at once (a host thread per vCPU;
// the guest's own x86-TSO sharing, as on hardware). SDM Vol. 3 9.1.1 makes naturally aligned 1-, 2-, 4- and 8-byte
// accesses single-copy atomic; a memcpy promises no such thing, and in C++ a plain copy that another thread reads or
// writes meanwhile is a data race (ThreadSanitizer reported them), so those sizes are one host atomic access. Loads
// acquire and stores release: plain MOVs on x86-64 (what translated code does inline), and the ordering TSO gives
// the guest. Other accesses (misaligned, wider, instruction bytes, REP MOVS/STOS runs) are architecturally a sequence
// of smaller ones in any order: CopyBytes and FillBytes, whose races with other vCPUs are the guest's
// (tools/tsan.supp names them, and only them).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "emu/common/types.h"

namespace emu::guest_ram {

// Calls f(T{}) with the unsigned type of `size` bytes if size is 1, 2, 4 or 8 and `host` is aligned to it.
template <typename F>
bool AsAlignedWord(const void* host, size_t size, F&& f) {
    if ((reinterpret_cast<uintptr_t>(host) & (size - 1)) != 0) return false;
    switch (size) {
        case 1: f(u8{}); return true;
        case 2: f(u16{}); return true;
        case 4: f(u32{}); return true;
        case 8: f(u64{}); return true;
        default: return false;
    }
}

// memmove / memset on guest RAM, for what x86 does not make atomic. Out of line: TSan suppressions name them.
void CopyBytes(void* dst, const void* src, size_t size);
void FillBytes(u8* dst, u8 value, size_t size);

// `size` guest bytes at host (guest RAM) into dst.
inline void Load(void* dst, const u8* host, size_t size) {
    const bool word = AsAlignedWord(host, size, [&]<typename T>(T) {
        T& word = *reinterpret_cast<T*>(const_cast<u8*>(host));
        const T value = std::atomic_ref<T>(word).load(std::memory_order_acquire);
        std::memcpy(dst, &value, sizeof(T));
    });
    if (!word) CopyBytes(dst, host, size);
}

// `size` bytes from src into guest RAM at host.
inline void Store(u8* host, const void* src, size_t size) {
    const bool word = AsAlignedWord(host, size, [&]<typename T>(T) {
        T value;
        std::memcpy(&value, src, sizeof(T));
        std::atomic_ref<T>(*reinterpret_cast<T*>(host)).store(value, std::memory_order_release);
    });
    if (!word) CopyBytes(host, src, size);
}

}  // namespace emu::guest_ram
