// The snapshot file format (emu/snapshot/snapshot_file.h) and its byte codec: round trips, and every corruption a
// file can suffer (each single flipped byte, each truncation, bytes appended) refused with its own error.
#include <catch2/catch.hpp>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>

#include "emu/snapshot/codec.h"
#include "emu/snapshot/snapshot_file.h"

using namespace emu;
using namespace emu::snapshot;

namespace {

struct Plain {
    u64 a = 0;
    u32 b = 0;
    u8 c[4] = {};
};

std::string TempPath(const char* name) { return (std::filesystem::temp_directory_path() / name).string(); }

std::vector<u8> ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<u8>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::vector<u8>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<Section> SomeSections() {
    Encoder e;
    e.U64(0x1122334455667788);
    e.String("hello");
    return {{"first", std::move(e.bytes())}, {"empty", {}}, {"third", std::vector<u8>(100, 0xAB)}};
}

}  // namespace

TEST_CASE("the codec reads back what it wrote and refuses short or mismatched input", "[snapshot]") {
    Encoder e;
    e.U8(0xFE);
    e.U16(0xBEEF);
    e.U32(0xDEADBEEF);
    e.U64(0x0123456789ABCDEF);
    e.Bool(true);
    e.String("snapshot");
    e.Pod(Plain{7, 9, {1, 2, 3, 4}});
    Decoder d(e.bytes());
    u8 a = 0;
    u16 b = 0;
    u32 c = 0;
    u64 f = 0;
    bool g = false;
    std::string s;
    Plain p;
    REQUIRE((d.U8(a) && d.U16(b) && d.U32(c) && d.U64(f) && d.Bool(g) && d.String(s) && d.Pod(p)));
    CHECK(a == 0xFE);
    CHECK(b == 0xBEEF);
    CHECK(c == 0xDEADBEEF);
    CHECK(f == 0x0123456789ABCDEF);
    CHECK(g);
    CHECK(s == "snapshot");
    CHECK((p.a == 7 && p.b == 9 && p.c[3] == 4));
    CHECK(d.AtEnd());

    u64 more = 0;
    CHECK_FALSE(d.U64(more));
    CHECK_FALSE(d.ok());

    Encoder wrong_size;
    wrong_size.Pod(u32{5});
    Decoder w(wrong_size.bytes());
    CHECK_FALSE(w.Pod(p));  // a struct of another size is refused, not misread

    Encoder long_string;
    long_string.U32(1000);  // says 1000 bytes, has none
    Decoder l(long_string.bytes());
    CHECK_FALSE(l.String(s));
}

TEST_CASE("Field encodes sequences as a count and elements, and refuses an impossible count", "[snapshot]") {
    const std::deque<Plain> queue{{1, 2, {}}, {3, 4, {5, 6, 7, 8}}};
    const std::vector<u16> words{10, 20, 30};
    Encoder e;
    REQUIRE((e.Field(queue) && e.Field(words) && e.Field(true)));
    Decoder d(e.bytes());
    std::deque<Plain> queue_back{{9, 9, {}}};  // replaced, not appended to
    std::vector<u16> words_back;
    bool flag = false;
    REQUIRE((d.Field(queue_back) && d.Field(words_back) && d.Field(flag)));
    REQUIRE(queue_back.size() == 2);
    CHECK((queue_back[1].a == 3 && queue_back[1].c[0] == 5));
    CHECK(words_back == words);
    CHECK(flag);
    CHECK(d.AtEnd());

    Encoder huge;
    huge.U32(0xFFFFFFFF);  // four billion elements in four bytes
    Decoder h(huge.bytes());
    CHECK_FALSE(h.Field(words_back));
}

TEST_CASE("a snapshot file reads back its sections", "[snapshot]") {
    const std::string path = TempPath("emu64_snapshot_roundtrip.emu64snap");
    const auto sections = SomeSections();
    REQUIRE(WriteSnapshotFile(path, sections).ok());
    CHECK_FALSE(std::filesystem::exists(path + ".part"));
    auto image = ReadSnapshotFile(path);
    REQUIRE(image.ok());
    REQUIRE(image->sections.size() == sections.size());
    for (size_t i = 0; i < sections.size(); ++i) {
        CHECK(image->sections[i].name == sections[i].name);
        CHECK(std::vector<u8>(image->sections[i].data.begin(), image->sections[i].data.end()) == sections[i].data);
    }
    CHECK(image->Find("third") != nullptr);
    CHECK(image->Find("missing") == nullptr);
    std::remove(path.c_str());
}

TEST_CASE("every flipped byte, every truncation and appended bytes are refused", "[snapshot]") {
    const std::string path = TempPath("emu64_snapshot_corrupt.emu64snap");
    REQUIRE(WriteSnapshotFile(path, SomeSections()).ok());
    const std::vector<u8> good = ReadAll(path);
    REQUIRE(good.size() > kHeaderBytes);

    for (size_t i = 0; i < good.size(); ++i) {
        std::vector<u8> bad = good;
        bad[i] ^= 0x01;
        WriteAll(path, bad);
        auto image = ReadSnapshotFile(path);
        INFO("byte " << i);
        REQUIRE_FALSE(image.ok());
        if (i < sizeof kMagic) CHECK(image.error() == FileError::NotSnapshot);
        else if (i < kHeaderBytes) CHECK(image.error() == FileError::HeaderChecksum);
        else CHECK(image.error() == FileError::BodyChecksum);
    }
    for (size_t n = 0; n < good.size(); ++n) {
        WriteAll(path, std::vector<u8>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
        auto image = ReadSnapshotFile(path);
        INFO("length " << n);
        REQUIRE_FALSE(image.ok());
        if (n >= sizeof kMagic && n >= kHeaderBytes) CHECK(image.error() == FileError::Truncated);
    }
    std::vector<u8> longer = good;
    longer.push_back(0);
    WriteAll(path, longer);
    auto image = ReadSnapshotFile(path);
    REQUIRE_FALSE(image.ok());
    CHECK(image.error() == FileError::TrailingBytes);

    std::remove(path.c_str());
    auto missing = ReadSnapshotFile(path);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error() == FileError::Open);
}
