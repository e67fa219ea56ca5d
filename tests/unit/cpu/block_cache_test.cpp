// BlockCache::InvalidateRange (emu/cpu/block_cache.h): a code write drops exactly the blocks with a byte in the
// written range, on either of a block's two pages, and names the pages it leaves without blocks (the vCPU then
// releases their write-track counts).
#include <algorithm>
#include <vector>

#include <catch2/catch.hpp>

#include "emu/cpu/block_cache.h"

using namespace emu;
using emu::cpu::BlockCache;
using emu::cpu::CachedBlock;

namespace {

constexpr u64 kPage = 0x5000, kNext = 0x9000;  // two guest-physical pages (not adjacent: a block's second page is
                                               // wherever RIP's next linear page maps)

void Add(BlockCache& cache, u64 gpa, u64 span, u64 page2 = cpu::kNoPage) {
    CachedBlock b;
    b.block = std::make_unique<cpu::ir::Block>();
    b.gpa = gpa;
    b.rip = gpa;  // any RIP: the key
    b.span = span;
    b.page2_gpa = page2;
    cache.Insert(std::move(b));
}
bool Has(BlockCache& cache, u64 gpa) { return cache.Find(gpa, gpa, 0) != nullptr; }

}  // namespace

TEST_CASE("a code write drops only the blocks it overlaps and reports the pages left empty", "[cpu][smc]") {
    BlockCache cache;
    Add(cache, kPage + 0x000, 0x10);                 // [0x000, 0x010)
    Add(cache, kPage + 0x010, 0x08);                 // [0x010, 0x018)
    Add(cache, kPage + 0xFF8, 0x10, kNext);          // 8 bytes at the end of kPage, 8 at the start of kNext
    Add(cache, kNext + 0x100, 0x20);
    std::vector<u64> emptied;

    // One byte of the second block: the first and last bytes of a range are exact.
    CHECK(cache.InvalidateRange(kPage + 0x017, 1, &emptied) == 1);
    CHECK_FALSE(Has(cache, kPage + 0x010));
    CHECK(Has(cache, kPage + 0x000));
    CHECK(emptied.empty());
    CHECK(cache.InvalidateRange(kPage + 0x010, 0x100, &emptied) == 0);  // between the blocks now
    CHECK(emptied.empty());

    // The straddling block is dropped through its second page; kNext keeps its other block.
    CHECK(cache.InvalidateRange(kNext + 0x007, 1, &emptied) == 1);
    CHECK_FALSE(Has(cache, kPage + 0xFF8));
    CHECK(Has(cache, kNext + 0x100));
    CHECK(emptied.empty());
    // Past the straddling block's 8 bytes on kNext: nothing (it is gone anyway, and the other block starts later).
    CHECK(cache.InvalidateRange(kNext + 0x008, 0xF8, &emptied) == 0);

    // A write across the end of kPage into the next page number: kPage loses its last block, that page never had one.
    CHECK(cache.InvalidateRange(kPage + 0x00F, 0x1000, &emptied) == 1);
    CHECK_FALSE(Has(cache, kPage + 0x000));
    std::sort(emptied.begin(), emptied.end());
    CHECK(emptied == std::vector<u64>{kPage >> kPageShift, (kPage >> kPageShift) + 1});

    // Translated again after a drop, a block is found by the next write to it (its page lists it again).
    emptied.clear();
    Add(cache, kPage + 0x000, 0x10);
    CHECK(cache.InvalidateRange(kPage + 0x008, 2, &emptied) == 1);
    CHECK(emptied == std::vector<u64>{kPage >> kPageShift});
    CHECK(cache.size() == 1);  // kNext + 0x100
}
