// The split virtqueue against a small guest RAM (virtio 1.2 section 2.7): well-formed chains, indirect tables,
// event-index suppression, and every malformed input the driver can give (loops, buffers outside RAM, indexes past
// the table, readable after writable, bad queue sizes), which must end in a QueueError, never in a host access
// outside guest RAM. Device writes reach page-track like CPU stores.
#include <catch2/catch.hpp>

#include "virtio_test_env.h"

using namespace emu;
using namespace emu::devices::virtio;
using namespace emu::devices::virtio::test;

namespace {

struct QueueEnv {
    explicit QueueEnv(u16 size = 8, bool event_idx = false, bool indirect = true) : driver(guest, size) {
        REQUIRE(queue.Enable(driver.Layout(), 256, event_idx, indirect).ok());
    }
    QueueError PopError() {
        auto r = queue.Pop();
        REQUIRE_FALSE(r.ok());
        return r.error();
    }
    DescriptorChain PopChain() {
        auto r = queue.Pop();
        REQUIRE(r.ok());
        REQUIRE(r->has_value());
        return std::move(**r);
    }

    FakeGuest guest;
    QueueDriver driver;
    SplitQueue queue{guest.memory};
};

constexpr u16 kNext = desc::kNext, kWrite = desc::kWrite, kIndirect = desc::kIndirect;

}  // namespace

TEST_CASE("a chain of readable then writable buffers is popped and returned through the used ring", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(3, QueueDriver::kData, 16, kNext, 5);
    env.driver.SetDesc(5, QueueDriver::kData + 0x100, 512, kNext | kWrite, 1);
    env.driver.SetDesc(1, QueueDriver::kData + 0x400, 1, kWrite);
    env.driver.MakeAvailable(3);
    std::memcpy(env.guest.At(QueueDriver::kData), "0123456789abcdef", 16);

    DescriptorChain chain = env.PopChain();
    CHECK(chain.head == 3);
    CHECK(chain.readable.size() == 1);
    CHECK(chain.writable.size() == 2);
    CHECK(chain.readable_bytes == 16);
    CHECK(chain.writable_bytes == 513);

    ChainReader reader(env.guest.memory, chain);
    u8 header[10];
    REQUIRE(reader.Read(header));
    CHECK(std::memcmp(header, "0123456789", 10) == 0);
    u8 too_much[7];
    CHECK_FALSE(reader.Read(too_much));  // 6 bytes are left
    CHECK(reader.remaining() == 6);

    ChainWriter writer(env.guest.memory, chain);
    const u8 fill[600] = {1};
    CHECK_FALSE(writer.Write(fill));  // more than the 513 writable bytes
    REQUIRE(writer.Write(std::span<const u8>(fill, 512)));
    const u8 status = 0x5A;
    REQUIRE(writer.WriteAt(512, std::span<const u8>(&status, 1)));
    CHECK(env.guest.Get<u8>(QueueDriver::kData + 0x400) == 0x5A);
    CHECK(writer.written() == 513);

    REQUIRE(env.queue.PushUsed(chain.head, 513).ok());
    CHECK(env.driver.UsedIdx() == 1);
    CHECK(env.driver.UsedId(0) == 3);
    CHECK(env.driver.UsedLen(0) == 513);
    CHECK(env.queue.ShouldInterrupt());
    CHECK_FALSE(env.queue.ShouldInterrupt());  // nothing new since
    auto empty = env.queue.Pop();
    REQUIRE(empty.ok());
    CHECK_FALSE(empty->has_value());
}

TEST_CASE("a descriptor chain that loops is an error, not an endless walk", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(0, QueueDriver::kData, 8, kNext, 1);
    env.driver.SetDesc(1, QueueDriver::kData, 8, kNext, 0);
    env.driver.MakeAvailable(0);
    CHECK(env.PopError() == QueueError::ChainLoops);
}

TEST_CASE("a chain linking to itself is a loop", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(2, QueueDriver::kData, 8, kNext, 2);
    env.driver.MakeAvailable(2);
    CHECK(env.PopError() == QueueError::ChainLoops);
}

TEST_CASE("buffers outside guest RAM or wrapping the address space are refused", "[virtio]") {
    for (const u64 addr : {kRamBytes, kRamBytes - 8, ~u64{0} - 3, u64{1} << 40}) {
        QueueEnv env;
        env.driver.SetDesc(0, addr, 16, 0);
        env.driver.MakeAvailable(0);
        CHECK(env.PopError() == QueueError::BufferOutsideRam);
    }
}

TEST_CASE("a next index or head beyond the queue size is refused", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(0, QueueDriver::kData, 8, kNext, 8);  // the table has 8 entries, 0-7
    env.driver.MakeAvailable(0);
    CHECK(env.PopError() == QueueError::NextOutOfRange);

    QueueEnv head_env;
    head_env.driver.MakeAvailable(9);
    CHECK(head_env.PopError() == QueueError::HeadOutOfRange);
}

TEST_CASE("an available index more than the queue size ahead is refused", "[virtio]") {
    QueueEnv env;
    env.driver.SetAvailIdx(9);
    CHECK(env.PopError() == QueueError::AvailIndexJump);
}

TEST_CASE("a readable buffer after a writable one is the wrong direction", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(0, QueueDriver::kData, 8, kNext | kWrite, 1);
    env.driver.SetDesc(1, QueueDriver::kData + 8, 8, 0);
    env.driver.MakeAvailable(0);
    CHECK(env.PopError() == QueueError::WritableBeforeRead);
}

TEST_CASE("zero-length descriptors are empty buffers: nothing can be copied into them", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(0, QueueDriver::kData, 0, kWrite);
    env.driver.MakeAvailable(0);
    DescriptorChain chain = env.PopChain();
    CHECK(chain.writable_bytes == 0);
    ChainWriter writer(env.guest.memory, chain);
    const u8 byte = 1;
    CHECK_FALSE(writer.Write(std::span<const u8>(&byte, 1)));
    CHECK(env.guest.Get<u8>(QueueDriver::kData) == 0);
}

TEST_CASE("an indirect table is walked like a chain of its own", "[virtio]") {
    QueueEnv env;
    const u64 table = 0x8000;
    env.driver.SetTableDesc(table, 0, QueueDriver::kData, 4, kNext, 2);
    env.driver.SetTableDesc(table, 2, QueueDriver::kData + 0x100, 64, kWrite);
    env.driver.SetDesc(0, table, 3 * 16, kIndirect);
    env.driver.MakeAvailable(0);
    DescriptorChain chain = env.PopChain();
    CHECK(chain.head == 0);
    CHECK(chain.readable_bytes == 4);
    CHECK(chain.writable_bytes == 64);
}

TEST_CASE("malformed indirect descriptors are refused", "[virtio]") {
    const u64 table = 0x8000;
    SECTION("nested") {
        QueueEnv env;
        env.driver.SetTableDesc(table, 0, table, 16, kIndirect);
        env.driver.SetDesc(0, table, 16, kIndirect);
        env.driver.MakeAvailable(0);
        CHECK(env.PopError() == QueueError::NestedIndirect);
    }
    SECTION("zero length, a length not a multiple of 16, or with NEXT") {
        for (const auto& [len, flags] : {std::pair<u32, u16>{0, kIndirect}, {24, kIndirect}, {16, kIndirect | kNext}}) {
            QueueEnv env;
            env.driver.SetDesc(0, table, len, flags, 1);
            env.driver.MakeAvailable(0);
            CHECK(env.PopError() == QueueError::BadIndirectTable);
        }
    }
    SECTION("a table outside RAM") {
        QueueEnv env;
        env.driver.SetDesc(0, kRamBytes - 16, 32, kIndirect);
        env.driver.MakeAvailable(0);
        CHECK(env.PopError() == QueueError::BufferOutsideRam);
    }
    SECTION("a loop inside the table") {
        QueueEnv env;
        env.driver.SetTableDesc(table, 0, QueueDriver::kData, 4, kNext, 1);
        env.driver.SetTableDesc(table, 1, QueueDriver::kData, 4, kNext, 0);
        env.driver.SetDesc(0, table, 32, kIndirect);
        env.driver.MakeAvailable(0);
        CHECK(env.PopError() == QueueError::ChainLoops);
    }
    SECTION("not negotiated") {
        QueueEnv env(8, false, false);
        env.driver.SetTableDesc(table, 0, QueueDriver::kData, 4, 0);
        env.driver.SetDesc(0, table, 16, kIndirect);
        env.driver.MakeAvailable(0);
        CHECK(env.PopError() == QueueError::IndirectNotNegotiated);
    }
}

TEST_CASE("a queue is enabled only with a power-of-two size and aligned rings in RAM", "[virtio]") {
    FakeGuest guest;
    SplitQueue queue(guest.memory);
    QueueDriver driver(guest, 8);
    for (const u16 size : {0, 3, 6, 12, 512}) {
        QueueLayout layout = driver.Layout();
        layout.size = size;
        auto r = queue.Enable(layout, 256, false, false);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == QueueError::SizeNotPowerOfTwo);
    }
    QueueLayout misaligned = driver.Layout();
    misaligned.device += 2;
    CHECK(queue.Enable(misaligned, 256, false, false).error() == QueueError::MisalignedRing);
    QueueLayout outside = driver.Layout();
    outside.desc = kRamBytes - 64;  // 8 descriptors need 128 bytes
    CHECK(queue.Enable(outside, 256, false, false).error() == QueueError::RingOutsideRam);
    CHECK_FALSE(queue.enabled());
    CHECK(queue.Enable(driver.Layout(), 256, false, false).ok());
}

TEST_CASE("with event index the device interrupts only when the used index passes used_event", "[virtio]") {
    QueueEnv env(8, true);
    for (u16 i = 0; i < 4; ++i) {
        env.driver.SetDesc(i, QueueDriver::kData + 0x100 * i, 16, kWrite);
        env.driver.MakeAvailable(i);
    }
    env.driver.SetUsedEvent(2);  // interrupt when entry 2 (the third) is used
    for (u16 i = 0; i < 4; ++i) {
        DescriptorChain chain = env.PopChain();
        CHECK(env.driver.AvailEvent() == i + 1);  // the device asks for a notification at the next chain
        REQUIRE(env.queue.PushUsed(chain.head, 0).ok());
        CHECK(env.queue.ShouldInterrupt() == (i == 2));
    }
}

TEST_CASE("without event index VIRTQ_AVAIL_F_NO_INTERRUPT suppresses interrupts", "[virtio]") {
    QueueEnv env;
    env.driver.SetDesc(0, QueueDriver::kData, 16, kWrite);
    env.driver.MakeAvailable(0);
    env.driver.SetAvailFlags(ring::kAvailNoInterrupt);
    DescriptorChain chain = env.PopChain();
    REQUIRE(env.queue.PushUsed(chain.head, 0).ok());
    CHECK_FALSE(env.queue.ShouldInterrupt());
}

TEST_CASE("device writes to a write-tracked page reach page-track like CPU stores", "[virtio]") {
    FakeGuest guest;
    std::vector<u64> seen;
    emu::mmu::PageTrackNotifier node;
    node.track_write = [&](Gpa gpa, std::span<const u8>) { seen.push_back(gpa.value()); };
    REQUIRE(guest.track.Register(&node).ok());
    REQUIRE(guest.track.AddGfn(Gfn{0x20}).ok());
    const u8 bytes[0x20] = {7};
    REQUIRE(guest.memory.Write(0x20FF0, bytes));  // crosses from the tracked page into the next
    REQUIRE(guest.memory.Write(0x30000, bytes));  // an untracked page
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == 0x20FF0);
    CHECK(guest.Get<u8>(0x20FF0) == 7);
    CHECK_FALSE(guest.memory.Write(kRamBytes - 4, bytes));  // runs off the end of RAM
    (void)guest.track.RemoveGfn(Gfn{0x20});
    REQUIRE(guest.track.Unregister(&node).ok());
}
