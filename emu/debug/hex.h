#pragma once
// Hex text as the gdb remote protocol and the monitor write it: two lowercase digits per byte, numbers without a
// prefix. Parsers reject anything else.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emu/common/types.h"

namespace emu::debug {

std::string ToHex(std::span<const u8> bytes);
// Bytes from an even number of hex digits, or nullopt.
std::optional<std::vector<u8>> FromHex(std::string_view hex);
// A number in hex (1-16 digits, no prefix), or nullopt.
std::optional<u64> ParseHexNumber(std::string_view text);

}  // namespace emu::debug
