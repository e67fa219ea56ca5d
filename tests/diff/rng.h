#pragma once
// splitmix64: a small, fast, seedable generator with good statistics for any seed, so that every test
// case and the data area pattern are reproducible from integers alone.
#include <array>

#include "emu/common/types.h"

namespace emu::diff {

class Rng {
public:
    explicit Rng(u64 seed) : state_(seed) {}
    u64 Next() {
        u64 z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    u64 Below(u64 n) { return n ? Next() % n : 0; }
    bool Chance(u64 num, u64 den) { return Below(den) < num; }
    template <typename T, size_t N>
    T Pick(const std::array<T, N>& items) { return items[Below(N)]; }

private:
    u64 state_;
};

}  // namespace emu::diff
