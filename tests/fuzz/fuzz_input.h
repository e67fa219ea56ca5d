#pragma once
// Splitting a fuzzer's input into the choices and payloads of one run: numbers are taken from the front, the
// rest is left as bytes. Reading past the end gives zeros, so every input is a valid run.
#include <algorithm>
#include <cstring>
#include <span>

#include "emu/common/types.h"

namespace emu::fuzz {

class FuzzInput {
public:
    FuzzInput(const u8* data, size_t size) : bytes_(data, size) {}

    template <typename T>
    T Take() {
        T value{};
        const size_t n = std::min(sizeof value, bytes_.size());
        std::memcpy(&value, bytes_.data(), n);
        bytes_ = bytes_.subspan(n);
        return value;
    }
    bool TakeBool() { return Take<u8>() & 1; }
    // A number in [0, n).
    u32 TakeBelow(u32 n) { return n ? Take<u32>() % n : 0; }
    // Up to `max` bytes, their count taken first.
    std::span<const u8> TakeBytes(size_t max) {
        const size_t n = std::min<size_t>(Take<u32>() % (max + 1), bytes_.size());
        const auto out = bytes_.first(n);
        bytes_ = bytes_.subspan(n);
        return out;
    }
    std::span<const u8> Rest() const { return bytes_; }
    bool empty() const { return bytes_.empty(); }

private:
    std::span<const u8> bytes_;
};

}  // namespace emu::fuzz
