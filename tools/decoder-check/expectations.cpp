#include "tools/decoder-check/expectations.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace decoder_check {

std::optional<emu::u64> FileHash(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    emu::u64 h = 0xCBF29CE484222325ull;
    char buf[1 << 16];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
        for (std::streamsize i = 0; i < f.gcount(); ++i) {
            h ^= static_cast<unsigned char>(buf[i]);
            h *= 0x100000001B3ull;
        }
    }
    return h;
}

std::optional<Expectations> ReadExpectations(const std::string& path, std::string* error) {
    std::ifstream f(path);
    if (!f) {
        *error = path + ": cannot open";
        return std::nullopt;
    }
    Expectations e;
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream in(line);
        std::string kind, rest;
        in >> kind;
        auto fail = [&](const char* why) {
            *error = path + ":" + std::to_string(n) + ": " + why;
            return std::nullopt;
        };
        if (kind == "file") {
            std::string hash;
            CorpusFile c;
            if (!(in >> hash >> c.path)) return fail("expected 'file <hash> <path>'");
            c.hash = std::strtoull(hash.c_str(), nullptr, 16);
            e.files.push_back(std::move(c));
        } else if (kind == "compared") {
            if (!(in >> e.compared)) return fail("expected 'compared <count>'");
        } else if (kind == "length" || kind == "operand") {
            emu::u64 count = 0;
            if (!(in >> count) || !std::getline(in >> std::ws, rest) || rest.empty())
                return fail("expected '<length|operand> <count> <class key>'");
            e.classes[kind + " " + rest] = count;
        } else {
            return fail("unknown line kind");
        }
    }
    if (e.files.empty()) {
        *error = path + ": names no corpus file";
        return std::nullopt;
    }
    return e;
}

bool WriteExpectations(const std::string& path, const Expectations& e) {
    std::ofstream f(path);
    if (!f) return false;
    f << "# decoder-check --expect: written by --write-expect; see tools/decoder-check/expectations.h\n";
    for (const CorpusFile& c : e.files) {
        char hash[17];
        std::snprintf(hash, sizeof hash, "%016" PRIx64, c.hash);
        f << "file " << hash << ' ' << c.path << '\n';
    }
    f << "compared " << e.compared << '\n';
    for (const auto& [key, count] : e.classes) {
        const size_t space = key.find(' ');
        f << key.substr(0, space) << ' ' << count << ' ' << key.substr(space + 1) << '\n';
    }
    return static_cast<bool>(f);
}

std::vector<std::string> CompareExpectations(const Expectations& expected, const Expectations& found) {
    std::vector<std::string> out;
    for (const CorpusFile& want : expected.files) {
        const auto got = std::find_if(found.files.begin(), found.files.end(),
                                      [&](const CorpusFile& c) { return c.path == want.path; });
        if (got == found.files.end()) {
            out.push_back(want.path + ": missing (is the package tools/setup installs there?)");
        } else if (got->hash != want.hash) {
            out.push_back(want.path + ": its bytes changed (a package update?): the counts no longer apply; "
                                      "record them again with --write-expect after checking the new classes");
        }
    }
    if (found.compared != expected.compared) {
        out.push_back("instructions compared: " + std::to_string(found.compared) + ", expected " +
                      std::to_string(expected.compared));
    }
    std::set<std::string> keys;
    for (const auto& [k, v] : expected.classes) keys.insert(k);
    for (const auto& [k, v] : found.classes) keys.insert(k);
    for (const std::string& k : keys) {
        const auto w = expected.classes.find(k), g = found.classes.find(k);
        const emu::u64 want = w == expected.classes.end() ? 0 : w->second;
        const emu::u64 got = g == found.classes.end() ? 0 : g->second;
        if (want != got) out.push_back("[" + k + "]: " + std::to_string(got) + ", expected " + std::to_string(want));
    }
    return out;
}

}  // namespace decoder_check
