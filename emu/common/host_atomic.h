#pragma once
// Host atomic operations on guest RAM (LOCK-prefixed guest instructions): x86-TSO on the host is x86-TSO in the
// guest, and a locked guest access is one locked host instruction.
#include <atomic>
#include <cstring>

#include "emu/common/guest_ram.h"
#include "emu/common/types.h"

namespace emu {

// One host locked CMPXCHG of `size` bytes (1, 2, 4, 8 or 16) at host, which must be naturally aligned: if the bytes
// equal `expected` they become `desired`. Returns whether they matched.
inline bool HostCompareExchange(u8* host, unsigned size, const void* expected, const void* desired) {
    bool equal = false;
    const bool word = guest_ram::AsAlignedWord(host, size, [&]<typename T>(T) {
        T want;
        T value;
        std::memcpy(&want, expected, sizeof(T));
        std::memcpy(&value, desired, sizeof(T));
        equal = std::atomic_ref<T>(*reinterpret_cast<T*>(host)).compare_exchange_strong(want, value);
    });
    if (word) return equal;
    // 16 bytes: std::atomic_ref of a 16-byte type goes through libatomic (not lock-free); the instruction is.
    u64 want[2];
    u64 value[2];
    std::memcpy(want, expected, 16);
    std::memcpy(value, desired, 16);
    asm volatile("lock cmpxchg16b %[mem]"
                 : [mem] "+m"(*reinterpret_cast<unsigned __int128*>(host)), "=@ccz"(equal), "+a"(want[0]),
                   "+d"(want[1])
                 : "b"(value[0]), "c"(value[1])
                 : "memory");
    return equal;
}

}  // namespace emu
