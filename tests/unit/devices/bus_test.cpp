// Bus semantics (style rule 8, firecracker's vstate/bus.rs): ranges never overlap, devices see offsets.
#include <catch2/catch.hpp>

#include <vector>

#include "devices/bus/bus.h"

using namespace emu;
using namespace emu::devices;

namespace {

// Reads return offset + i in each byte; writes are recorded.
struct FakeDevice final : IoDevice {
    struct Access {
        u64 offset;
        std::vector<u8> bytes;
    };
    void Read(u64 offset, std::span<u8> data) override {
        reads.push_back({offset, std::vector<u8>(data.size())});
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<u8>(offset + i);
    }
    void Write(u64 offset, std::span<const u8> data) override {
        writes.push_back({offset, std::vector<u8>(data.begin(), data.end())});
    }
    std::vector<Access> reads, writes;
};

}  // namespace

TEST_CASE("bus rejects zero-sized and wrapping ranges", "[devices][bus]") {
    Bus bus;
    FakeDevice dev;
    auto zero = bus.Insert(0x100, 0, dev);
    REQUIRE_FALSE(zero.ok());
    CHECK(zero.error() == BusError::ZeroSize);
    auto wrap = bus.Insert(~u64{0} - 1, 4, dev);
    REQUIRE_FALSE(wrap.ok());
    CHECK(wrap.error() == BusError::Wraparound);
    CHECK(bus.Insert(~u64{0} - 3, 4, dev).ok());  // ending exactly at 2^64 - 1 is fine
    CHECK(std::string(BusErrorMessage(BusError::Overlap)).find("overlaps") != std::string::npos);
}

TEST_CASE("bus rejects every kind of overlap and accepts adjacent ranges", "[devices][bus]") {
    Bus bus;
    FakeDevice a, b;
    REQUIRE(bus.Insert(0x100, 0x10, a).ok());  // [0x100, 0x110)
    for (auto [base, size] : {std::pair<u64, u64>{0x100, 0x10}, {0xF8, 0x9}, {0x10F, 1}, {0x104, 2}, {0xF0, 0x40}}) {
        INFO("base " << base << " size " << size);
        auto r = bus.Insert(base, size, b);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == BusError::Overlap);
    }
    CHECK(bus.Insert(0xF0, 0x10, b).ok());   // ends right before
    CHECK(bus.Insert(0x110, 0x10, b).ok());  // starts right after
}

TEST_CASE("bus dispatch passes the offset inside the range, not the address", "[devices][bus]") {
    Bus bus;
    FakeDevice dev;
    REQUIRE(bus.Insert(0x3F8, 8, dev).ok());
    u8 value = 0;
    REQUIRE(bus.Read(0x3FD, std::span<u8>(&value, 1)));
    CHECK(value == 5);
    REQUIRE(dev.reads.size() == 1);
    CHECK(dev.reads[0].offset == 5);

    const u8 out[2] = {0xAB, 0xCD};
    REQUIRE(bus.Write(0x3F8, out));
    REQUIRE(dev.writes.size() == 1);
    CHECK(dev.writes[0].offset == 0);
    CHECK(dev.writes[0].bytes == std::vector<u8>{0xAB, 0xCD});

    u64 offset = 0;
    CHECK(bus.Find(0x3FF, &offset) == &dev);
    CHECK(offset == 7);
    CHECK(bus.Find(0x400) == nullptr);
}

TEST_CASE("unclaimed addresses return false and read as all-ones", "[devices][bus]") {
    Bus bus;
    FakeDevice dev;
    REQUIRE(bus.Insert(0x60, 1, dev).ok());
    u8 data[4] = {0, 0, 0, 0};
    CHECK_FALSE(bus.Read(0x80, data));
    CHECK(data[0] == 0xFF);
    CHECK(data[3] == 0xFF);
    const u8 out = 1;
    CHECK_FALSE(bus.Write(0x61, std::span<const u8>(&out, 1)));
    CHECK(dev.writes.empty());
}

TEST_CASE("an access straddling range ends is split like an ISA cycle", "[devices][bus]") {
    Bus bus;
    FakeDevice low, high;
    REQUIRE(bus.Insert(0x20, 2, low).ok());
    REQUIRE(bus.Insert(0x23, 1, high).ok());
    u8 data[4] = {};
    REQUIRE(bus.Read(0x21, data));  // 0x21 -> low, 0x22 unclaimed, 0x23 -> high, 0x24 unclaimed
    CHECK(data[0] == 1);
    CHECK(data[1] == 0xFF);
    CHECK(data[2] == 0);
    CHECK(data[3] == 0xFF);
    REQUIRE(low.reads.size() == 1);
    CHECK(low.reads[0].offset == 1);
    CHECK(low.reads[0].bytes.size() == 1);
}

TEST_CASE("removed ranges stop dispatching and can be reused", "[devices][bus]") {
    Bus bus;
    FakeDevice a, b;
    REQUIRE(bus.Insert(0x1000, 0x100, a).ok());
    auto missing = bus.Remove(0x1001);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error() == BusError::NotFound);
    REQUIRE(bus.Remove(0x1000).ok());
    u8 v = 0;
    CHECK_FALSE(bus.Read(0x1000, std::span<u8>(&v, 1)));
    REQUIRE(bus.Insert(0x1080, 0x100, b).ok());
    CHECK(bus.Find(0x1100) == &b);
}
