#pragma once
// decoder-check's hermetic mode: a fixed corpus of files (from packages tools/setup installs) and the disagreement
// classes, with their counts, that a run over exactly those bytes must find. The file names its corpus with a
// content hash per file, so a changed file (a package update) is reported as such rather than as a decoder change.
//
// Format, one item per line ('#' starts a comment):
//   file <FNV-1a 64 hash, hex> <path>
//   compared <instructions compared>
//   length <count> <class key>     a length disagreement class (decoder_check.cpp's OpcodeKey + mnemonic)
//   operand <count> <class key>    an operand difference class (--operands)
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emu/common/types.h"

namespace decoder_check {

struct CorpusFile {
    std::string path;
    emu::u64 hash = 0;
};

struct Expectations {
    std::vector<CorpusFile> files;
    emu::u64 compared = 0;
    std::map<std::string, emu::u64> classes;  // "length <key>" / "operand <key>" -> count
};

// FNV-1a (64-bit) of the file's bytes, or nullopt if it cannot be read.
std::optional<emu::u64> FileHash(const std::filesystem::path& path);

// Parses an expectations file; on failure returns nullopt with *error saying where and why.
std::optional<Expectations> ReadExpectations(const std::string& path, std::string* error);
bool WriteExpectations(const std::string& path, const Expectations& e);

// The differences between what a run found and what was expected, one line each (empty: they agree).
std::vector<std::string> CompareExpectations(const Expectations& expected, const Expectations& found);

}  // namespace decoder_check
