// Soft TLB: hit/miss/flag semantics of the inline compare, fills from walks, and the flush operations the CPU
// and page-track need (INVLPG, MOV CR3 with global pages, add-gfn). The oracle is the architectural TLB contract
// (SDM Vol. 3 4.10: what INVLPG and MOV CR3 must invalidate) and the inline-compare recipe in softtlb.h.
#include <catch2/catch.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "mmu/softtlb/softtlb.h"

using namespace emu;
using namespace emu::mmu;

namespace {

constexpr u64 kMiB = u64{1} << 20;

// Host memory standing in for guest RAM: 4 MiB, the TLB's host pointers point into it.
struct Env {
    std::vector<u8> ram = std::vector<u8>(4 * kMiB);
    SoftTlb tlb;

    u8* Host(u64 gpa) { return ram.data() + gpa; }

    TlbFill Rw(u64 vaddr, u64 gpa, bool global = false) {
        TlbFill f;
        f.vaddr = vaddr;
        f.gpa = gpa;
        f.host = Host(gpa);
        f.read = f.write = f.exec = true;
        f.global = global;
        return f;
    }

    // What the JIT's inline sequence does (softtlb.h): index, masked compare, add the addend.
    u8* InlineProbe(MmuIndex index, u64 va, AccessType access, unsigned size) {
        const TlbEntry* entry = tlb.Table(index) + ((va >> kPageShift) & (SoftTlb::kEntries - 1));
        const u64 tag = access == AccessType::Read    ? entry->addr_read
                        : access == AccessType::Write ? entry->addr_write
                                                      : entry->addr_code;
        if ((va & TagCompareMask(size)) != tag) return nullptr;
        return reinterpret_cast<u8*>(va + entry->addend);
    }
};

bool IsHit(const TlbLookup& l) { return l.kind == TlbLookupKind::Hit; }

}  // namespace

TEST_CASE("the entry layout is the one the JIT is written against", "[mmu][softtlb]") {
    SoftTlb tlb;
    CHECK(sizeof(TlbEntry) == 32);
    CHECK(tlb.Table(MmuIndex::User) == tlb.Base() + 2 * SoftTlb::kEntries);
    CHECK(reinterpret_cast<std::uintptr_t>(tlb.Base()) % 32 == 0);
    // A fresh TLB misses everything, including address 0 and the all-ones address.
    CHECK(tlb.Lookup(MmuIndex::Supervisor, 0, AccessType::Read).kind == TlbLookupKind::Miss);
    CHECK(tlb.Lookup(MmuIndex::Supervisor, ~u64{0}, AccessType::Read).kind == TlbLookupKind::Miss);
    Env env;
    CHECK(env.InlineProbe(MmuIndex::Supervisor, ~u64{0} & ~u64{7}, AccessType::Write, 8) == nullptr);
}

TEST_CASE("a filled page hits for every byte with the right host address, and only in its MMU index",
          "[mmu][softtlb]") {
    Env env;
    const u64 va = 0xFFFF'8000'1234'5000;
    env.tlb.Fill(MmuIndex::Supervisor, env.Rw(va + 0x123, 0x0020'0123));
    for (u64 off : {u64{0}, u64{0x7FF}, u64{0xFFF}}) {
        const TlbLookup l = env.tlb.Lookup(MmuIndex::Supervisor, va + off, AccessType::Write);
        REQUIRE(IsHit(l));
        CHECK(l.host == env.Host(0x0020'0000 + off));
        CHECK(l.gpa == 0x0020'0000 + off);
        CHECK(env.InlineProbe(MmuIndex::Supervisor, va + off, AccessType::Read, 1) == env.Host(0x0020'0000 + off));
    }
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::User, va, AccessType::Read)));
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::SupervisorAc, va, AccessType::Read)));
    // Same index slot, different page (aliases 1024 pages away): a miss, not a wrong hit.
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, va + SoftTlb::kEntries * kPageSize, AccessType::Read)));
    CHECK(env.tlb.stats().fills == 1);
    CHECK(env.tlb.stats().hits == 3);
    CHECK(env.tlb.stats().misses == 3);
}

TEST_CASE("the inline compare sends misaligned accesses to the slow path and accepts aligned ones",
          "[mmu][softtlb]") {
    Env env;
    env.tlb.Fill(MmuIndex::User, env.Rw(0x40'0000, 0x1000));
    CHECK(env.InlineProbe(MmuIndex::User, 0x40'0FF8, AccessType::Read, 8) == env.Host(0x1FF8));
    CHECK(env.InlineProbe(MmuIndex::User, 0x40'0FFC, AccessType::Read, 8) == nullptr);  // could cross the page
    CHECK(env.InlineProbe(MmuIndex::User, 0x40'0FF0, AccessType::Read, 16) == env.Host(0x1FF0));
    CHECK(env.InlineProbe(MmuIndex::User, 0x40'0FFF, AccessType::Read, 1) == env.Host(0x1FFF));
}

TEST_CASE("permissions: a denied access kind misses, the others hit", "[mmu][softtlb]") {
    Env env;
    TlbFill f = env.Rw(0x5000, 0x5000);
    f.write = false;
    f.exec = false;
    env.tlb.Fill(MmuIndex::User, f);
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x5010, AccessType::Read)));
    CHECK(env.tlb.Lookup(MmuIndex::User, 0x5010, AccessType::Write).kind == TlbLookupKind::Miss);
    CHECK(env.tlb.Lookup(MmuIndex::User, 0x5010, AccessType::Fetch).kind == TlbLookupKind::Miss);
}

TEST_CASE("slow-path flags: MMIO on every access, TRACKED and NOTDIRTY on writes only", "[mmu][softtlb]") {
    Env env;
    TlbFill mmio = env.Rw(0xFEE0'0000, 0xFEE0'0000);
    mmio.host = nullptr;  // no RAM: becomes MMIO even without the flag
    env.tlb.Fill(MmuIndex::Supervisor, mmio);
    for (AccessType a : {AccessType::Read, AccessType::Write, AccessType::Fetch}) {
        const TlbLookup l = env.tlb.Lookup(MmuIndex::Supervisor, 0xFEE0'0030, a);
        REQUIRE(l.kind == TlbLookupKind::SlowPath);
        CHECK(l.flags == tlb_flag::kMmio);
        CHECK(l.gpa == 0xFEE0'0030);
        CHECK(env.InlineProbe(MmuIndex::Supervisor, 0xFEE0'0030, a, 4) == nullptr);
    }

    for (u64 flag : {tlb_flag::kTracked, tlb_flag::kNotDirty}) {
        TlbFill f = env.Rw(0x7000, 0x3000);
        f.flags = flag;
        env.tlb.Fill(MmuIndex::User, f);
        CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x7000, AccessType::Read)));
        CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x7000, AccessType::Fetch)));
        const TlbLookup w = env.tlb.Lookup(MmuIndex::User, 0x7008, AccessType::Write);
        REQUIRE(w.kind == TlbLookupKind::SlowPath);
        CHECK(w.flags == flag);
        CHECK(w.gpa == 0x3008);
        CHECK(env.InlineProbe(MmuIndex::User, 0x7008, AccessType::Write, 8) == nullptr);
    }
}

TEST_CASE("FillFromWalk allows writes only on a dirty translation and keeps the walk's rights", "[mmu][softtlb]") {
    Env env;
    WalkResult walk;
    walk.status = WalkStatus::Ok;
    walk.gpa = 0x0012'3456;
    walk.page_size = kPageSize;
    walk.readable = walk.writable = true;
    walk.executable = false;
    walk.dirty = false;
    env.tlb.FillFromWalk(MmuIndex::Supervisor, 0x8000'0456, walk, env.Host(walk.gpa));
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, 0x8000'0000, AccessType::Read)));
    CHECK(env.tlb.Lookup(MmuIndex::Supervisor, 0x8000'0000, AccessType::Write).kind == TlbLookupKind::Miss);
    CHECK(env.tlb.Lookup(MmuIndex::Supervisor, 0x8000'0000, AccessType::Fetch).kind == TlbLookupKind::Miss);

    walk.dirty = true;  // the write walk set D
    env.tlb.FillFromWalk(MmuIndex::Supervisor, 0x8000'0456, walk, env.Host(walk.gpa));
    const TlbLookup w = env.tlb.Lookup(MmuIndex::Supervisor, 0x8000'0010, AccessType::Write);
    REQUIRE(IsHit(w));
    CHECK(w.host == env.Host(0x0012'3010));
}

TEST_CASE("the MMU index follows the SMAP-relevant privilege of the access (SDM 4.6.1)", "[mmu][softtlb]") {
    CHECK(MmuIndexOf(AccessFlags{true, false, false}) == MmuIndex::User);
    CHECK(MmuIndexOf(AccessFlags{true, false, true}) == MmuIndex::User);
    CHECK(MmuIndexOf(AccessFlags{false, false, false}) == MmuIndex::Supervisor);
    CHECK(MmuIndexOf(AccessFlags{false, true, true}) == MmuIndex::Supervisor);  // implicit: SMAP ignores AC
    CHECK(MmuIndexOf(AccessFlags{false, false, true}) == MmuIndex::SupervisorAc);
}

TEST_CASE("MOV CR3 drops non-global entries and keeps global ones; FlushAll drops both (SDM 4.10.4.1)",
          "[mmu][softtlb]") {
    Env env;
    env.tlb.Fill(MmuIndex::Supervisor, env.Rw(0xFFFF'FFFF'8000'0000, 0x1000, true));
    env.tlb.Fill(MmuIndex::Supervisor, env.Rw(0x0000'0000'0040'1000, 0x2000, false));
    env.tlb.Fill(MmuIndex::User, env.Rw(0x0000'0000'0040'2000, 0x3000, true));
    env.tlb.FlushNonGlobal();
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, 0xFFFF'FFFF'8000'0000, AccessType::Read)));
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x40'2000, AccessType::Read)));
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, 0x40'1000, AccessType::Read)));
    env.tlb.FlushAll();
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, 0xFFFF'FFFF'8000'0000, AccessType::Read)));
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::User, 0x40'2000, AccessType::Read)));
    CHECK(env.tlb.stats().flush_non_global == 1);
    CHECK(env.tlb.stats().flush_all == 1);
}

TEST_CASE("INVLPG drops the page in every MMU index, global or not, and nothing else (SDM 4.10.4.1)",
          "[mmu][softtlb]") {
    Env env;
    const u64 va = 0x0000'7000'0000'3000;
    for (MmuIndex i : {MmuIndex::Supervisor, MmuIndex::SupervisorAc, MmuIndex::User}) {
        env.tlb.Fill(i, env.Rw(va, 0x3000, true));
        env.tlb.Fill(i, env.Rw(va + kPageSize, 0x4000));
    }
    // A page in the same slot must not be flushed by mistake for another one, nor the other way round.
    env.tlb.FlushPage(va + SoftTlb::kEntries * kPageSize);
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, va, AccessType::Read)));
    env.tlb.FlushPage(va + 0x7FF);
    for (MmuIndex i : {MmuIndex::Supervisor, MmuIndex::SupervisorAc, MmuIndex::User}) {
        CHECK_FALSE(IsHit(env.tlb.Lookup(i, va, AccessType::Read)));
        CHECK(IsHit(env.tlb.Lookup(i, va + kPageSize, AccessType::Read)));
    }
    CHECK(env.tlb.stats().flush_page == 2);
    CHECK(env.tlb.stats().flush_page_large == 0);
}

TEST_CASE("INVLPG anywhere in a large page drops every 4 KiB piece of it (SDM 4.10.4.1, 4.10.2.3)",
          "[mmu][softtlb]") {
    Env env;
    const u64 base = 0xFFFF'8000'0020'0000;  // a 2 MiB page at gpa 2 MiB
    for (u64 off : {u64{0}, u64{0x1000}, u64{0x1F'F000}}) {
        TlbFill f = env.Rw(base + off, 2 * kMiB + off);
        f.page_size = 2 * kMiB;
        env.tlb.Fill(MmuIndex::Supervisor, f);
    }
    env.tlb.Fill(MmuIndex::User, env.Rw(0x1000, 0x1000));  // another index, 4 KiB: unaffected
    env.tlb.FlushPage(base + 0x10'0000);  // a piece that was never filled
    for (u64 off : {u64{0}, u64{0x1000}, u64{0x1F'F000}}) {
        CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, base + off, AccessType::Read)));
    }
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x1000, AccessType::Read)));
    CHECK(env.tlb.stats().flush_page_large == 1);

    SECTION("the large-page range grows to cover two large pages, and is forgotten after the flush") {
        TlbFill f = env.Rw(base, 2 * kMiB);
        f.page_size = 2 * kMiB;
        env.tlb.Fill(MmuIndex::Supervisor, f);
        f = env.Rw(base + 0x40'0000, 2 * kMiB);
        f.page_size = 2 * kMiB;
        env.tlb.Fill(MmuIndex::Supervisor, f);
        env.tlb.FlushPage(base + 0x40'0000 + 0x1234);
        CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, base, AccessType::Read)));
        env.tlb.Fill(MmuIndex::Supervisor, env.Rw(base, 2 * kMiB));  // now a 4 KiB translation
        env.tlb.FlushPage(base + 0x1000);
        CHECK(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, base, AccessType::Read)));
        CHECK(env.tlb.stats().flush_page_large == 2);
    }
}

TEST_CASE("page-track: DemoteWritesToGfn makes writes to that gfn slow, FlushGfn drops its entries",
          "[mmu][softtlb]") {
    Env env;
    // Two linear aliases of gfn 5 in two indexes, plus gfn 6, plus a read-only alias of gfn 5.
    env.tlb.Fill(MmuIndex::Supervisor, env.Rw(0x10'0000, 0x5000));
    env.tlb.Fill(MmuIndex::User, env.Rw(0x20'0000, 0x5000));
    env.tlb.Fill(MmuIndex::User, env.Rw(0x30'0000, 0x6000));
    TlbFill ro = env.Rw(0x40'0000, 0x5000);
    ro.write = false;
    env.tlb.Fill(MmuIndex::Supervisor, ro);

    CHECK(env.tlb.DemoteWritesToGfn(5) == 2);  // the read-only alias has no write tag to demote
    const std::pair<MmuIndex, u64> aliases[] = {{MmuIndex::Supervisor, 0x10'0000}, {MmuIndex::User, 0x20'0000}};
    for (auto [index, va] : aliases) {
        const TlbLookup w = env.tlb.Lookup(index, va, AccessType::Write);
        REQUIRE(w.kind == TlbLookupKind::SlowPath);
        CHECK(w.flags == tlb_flag::kTracked);
        CHECK(IsHit(env.tlb.Lookup(index, va, AccessType::Read)));
        CHECK(IsHit(env.tlb.Lookup(index, va, AccessType::Fetch)));
    }
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x30'0000, AccessType::Write)));
    CHECK(env.tlb.DemoteWritesToGfn(5) == 0);  // idempotent

    CHECK(env.tlb.FlushGfn(5) == 3);
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, 0x10'0000, AccessType::Read)));
    CHECK_FALSE(IsHit(env.tlb.Lookup(MmuIndex::Supervisor, 0x40'0000, AccessType::Read)));
    CHECK(IsHit(env.tlb.Lookup(MmuIndex::User, 0x30'0000, AccessType::Read)));
    CHECK(env.tlb.stats().demote_gfn == 2);
    CHECK(env.tlb.stats().flush_gfn == 1);
}

namespace {

// The memory path the machine will implement around the two modules: lookup, miss -> walk -> fill, retry.
// Guest RAM is 1 MiB; one 4-level path maps linear 0x40'0000 to gpa 0x8000 as a writable user page.
class WalkedMemory : public PhysMemory {
public:
    static constexpr u64 kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000, kPage = 0x8000;
    static constexpr u64 kVa = 0x40'0000;

    WalkedMemory() : ram_(kMiB / 8) {
        Set(kPml4, kPdpt | 7);
        Set(kPdpt, kPd | 7);
        Set(kPd + 2 * 8, kPt | 7);
        Set(kPt, kPage | 7);
        regs.cr0 = PagingRegs::kCr0Pg | PagingRegs::kCr0Wp | 1;
        regs.cr4 = PagingRegs::kCr4Pae | PagingRegs::kCr4Smap;
        regs.efer = PagingRegs::kEferLma;
        regs.cr3 = kPml4;
    }
    u8* HostPointer(u64 gpa) override { return gpa < kMiB ? reinterpret_cast<u8*>(ram_.data()) + gpa : nullptr; }
    u64 Get(u64 gpa) const { return ram_[gpa / 8]; }
    void Set(u64 gpa, u64 value) { ram_[gpa / 8] = value; }

    // Returns the host address for the access, or nullptr with *error_code set when it faults.
    u8* Access(u64 va, AccessType access, AccessFlags flags, u32* error_code) {
        const MmuIndex index = MmuIndexOf(flags);
        const TlbLookup hit = tlb.Lookup(index, va, access);
        if (hit.kind == TlbLookupKind::Hit) return hit.host;
        const WalkResult walk = Walk(regs, va, access, flags, *this, &walk_stats);
        if (walk.status != WalkStatus::Ok) {
            *error_code = walk.error_code;
            return nullptr;
        }
        tlb.FillFromWalk(index, va, walk, HostPointer(walk.gpa));
        const TlbLookup again = tlb.Lookup(index, va, access);
        return again.kind == TlbLookupKind::Hit ? again.host : nullptr;
    }

    PagingRegs regs;
    SoftTlb tlb;
    WalkStats walk_stats;

private:
    std::vector<u64> ram_;
};

}  // namespace

TEST_CASE("walk + fill: the first write to a clean page walks again and sets D (SDM 4.8)", "[mmu][softtlb]") {
    WalkedMemory m;
    u32 error = 0;
    const AccessFlags user{true, false, false};
    REQUIRE(m.Access(WalkedMemory::kVa + 8, AccessType::Read, user, &error) == m.HostPointer(WalkedMemory::kPage + 8));
    CHECK((m.Get(WalkedMemory::kPt) & 0x60) == 0x20);  // A set, D clear
    CHECK(m.walk_stats.walks == 1);

    // The entry allows reads only while D is clear: the write misses, walks, sets D, and then hits.
    REQUIRE(m.Access(WalkedMemory::kVa + 8, AccessType::Write, user, &error) == m.HostPointer(WalkedMemory::kPage + 8));
    CHECK((m.Get(WalkedMemory::kPt) & 0x60) == 0x60);
    CHECK(m.walk_stats.walks == 2);
    REQUIRE(m.Access(WalkedMemory::kVa + 16, AccessType::Write, user, &error) != nullptr);
    CHECK(m.walk_stats.walks == 2);  // a TLB hit: no walk

    // The guest clears D and runs INVLPG: the next write walks again and sets it again.
    m.Set(WalkedMemory::kPt, m.Get(WalkedMemory::kPt) & ~u64{0x40});
    m.tlb.FlushPage(WalkedMemory::kVa);
    REQUIRE(m.Access(WalkedMemory::kVa, AccessType::Write, user, &error) != nullptr);
    CHECK((m.Get(WalkedMemory::kPt) & 0x40) == 0x40);
    CHECK(m.walk_stats.walks == 3);
}

TEST_CASE("walk + fill: SMAP rights live in separate MMU indexes, so AC needs no flush (SDM 4.6.1)",
          "[mmu][softtlb]") {
    WalkedMemory m;
    u32 error = 0;
    // An explicit supervisor read with AC = 1 fills the SupervisorAc index...
    REQUIRE(m.Access(WalkedMemory::kVa, AccessType::Read, AccessFlags{false, false, true}, &error) != nullptr);
    // ...which must not let the same read with AC = 0, or an implicit access, through.
    CHECK(m.Access(WalkedMemory::kVa, AccessType::Read, AccessFlags{false, false, false}, &error) == nullptr);
    CHECK(error == pf_error::kPresent);
    CHECK(m.Access(WalkedMemory::kVa, AccessType::Write, AccessFlags{false, true, true}, &error) == nullptr);
    CHECK(error == (pf_error::kPresent | pf_error::kWrite));
    CHECK(m.tlb.Lookup(MmuIndex::Supervisor, WalkedMemory::kVa, AccessType::Read).kind == TlbLookupKind::Miss);
}
