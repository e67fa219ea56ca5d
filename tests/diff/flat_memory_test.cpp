// FlatMemory must fault like the native sandbox: #PF with CR2 at the first unreachable byte and an error
// code built as the hardware builds it (SDM Vol. 3 4.7).
#include <catch2/catch.hpp>

#include "tests/diff/flat_memory.h"

namespace emu::diff {
namespace {

TEST_CASE("flat memory serves the code page and the data area and faults elsewhere", "[diff][flat]") {
    FlatMemory mem;
    cpu::CpuState s;
    cpu::MemFault f;
    u64 v = 0x1122334455667788;
    REQUIRE(mem.Write(s, kDataBase + 8, &v, 8, true, &f));
    u64 back = 0;
    REQUIRE(mem.Read(s, kDataBase + 8, &back, 8, cpu::MemAccess::Read, true, &f));
    CHECK(back == v);
    CHECK(mem.data()[8] == 0x88);
    REQUIRE(mem.Read(s, kCodeBase, &back, 4, cpu::MemAccess::Fetch, true, &f));

    SECTION("a store that crosses the end of the data area faults at the first unmapped byte, writing nothing") {
        mem.data()[kDataSize - 2] = 0;
        REQUIRE_FALSE(mem.Write(s, kGuardBase - 2, &v, 4, true, &f));
        CHECK(f.vector == 14);
        CHECK(f.cr2 == kGuardBase);
        CHECK(f.error_code == 6);  // not present, write, user
        CHECK(mem.data()[kDataSize - 2] == 0);
    }
    SECTION("the control page after the code page is not mapped for the emulator") {
        REQUIRE_FALSE(mem.Read(s, kCodeBase + kCodeSize, &back, 1, cpu::MemAccess::Read, true, &f));
        CHECK(f.error_code == 4);
        CHECK(f.cr2 == kCodeBase + kCodeSize);
    }
    SECTION("fetching from the data area is a protection fault (it is not executable natively)") {
        REQUIRE_FALSE(mem.Read(s, kDataBase, &back, 1, cpu::MemAccess::Fetch, true, &f));
        CHECK(f.error_code == (0x10 | 4 | 1));
    }
}

}  // namespace
}  // namespace emu::diff
