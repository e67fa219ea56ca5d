#include "emu/debug/hex.h"

namespace emu::debug {
namespace {

int Digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string ToHex(std::span<const u8> bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const u8 b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 15]);
    }
    return out;
}

std::optional<std::vector<u8>> FromHex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::vector<u8> out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        const int hi = Digit(hex[2 * i]), lo = Digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<u8>(hi << 4 | lo);
    }
    return out;
}

std::optional<u64> ParseHexNumber(std::string_view text) {
    if (text.empty() || text.size() > 16) return std::nullopt;
    u64 value = 0;
    for (const char c : text) {
        const int d = Digit(c);
        if (d < 0) return std::nullopt;
        value = value << 4 | static_cast<u64>(d);
    }
    return value;
}

}  // namespace emu::debug
