// Shadow MMU unit tests: one or more per invariant of shared/design/page-track.md section 7 (as adapted by
// section 8). The oracle is the reference walker (Walk over the same memory) and the SDM's paging rules.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "tests/unit/mmu/shadow_test_env.h"

namespace emu::mmu {
namespace {

using test::DirectTlb;
using test::kA;
using test::SameResult;
using test::kD;
using test::kG;
using test::kP;
using test::kU;
using test::kW;
using test::ShadowEnv;

constexpr AccessFlags kSupervisor{};
constexpr AccessFlags kUserAccess{true, false, false};

WalkResult T(ShadowVcpu& vcpu, ShadowEnv& env, const PagingRegs& regs, u64 linear, AccessType type,
             ShadowTranslateInfo* info = nullptr, AccessFlags flags = kSupervisor) {
    return vcpu.Translate(regs, linear, type, flags, env.phys, info);
}

// What the machine's memory path does on a TLB miss: translate, then fill with kTracked if page-track says so.
void FillTlb(DirectTlb& hook, ShadowEnv& env, const WalkResult& r, u64 linear) {
    REQUIRE(r.status == WalkStatus::Ok);
    const u64 flags = env.track.IsWriteTracked(Gpa(r.gpa)) ? tlb_flag::kTracked : 0;
    hook.tlb.FillFromWalk(MmuIndex::Supervisor, linear, r, env.Host(r.gpa & ~kPageMask), flags);
}

// Table gfns of a 4-level walk of `linear`.
std::vector<Gfn> TableGfns(ShadowEnv& env, const PagingRegs& regs, u64 linear) {
    WalkTrace trace;
    PagingRegs copy = regs;
    (void)WalkTraced(copy, linear, AccessType::Read, kSupervisor, env.phys, &trace);
    std::vector<Gfn> gfns;
    for (unsigned i = 0; i < trace.count; ++i) gfns.push_back(trace.levels[i].entry_gpa >> kPageShift);
    return gfns;
}

TEST_CASE("I1: every guest table of a walked path is write-tracked and TLB writes to it take the slow path",
          "[shadow]") {
    ShadowEnv env;
    DirectTlb hook;
    auto vcpu = env.mmu->AddVcpu(&hook);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 data = env.AllocPage();
    env.Map(regs, 0x400000, data, kW);
    const std::vector<Gfn> tables = TableGfns(env, regs, 0x400000);
    REQUIRE(tables.size() == 4);
    // Map every table page at a linear address too, and fill writable TLB entries for them before shadowing.
    for (unsigned i = 0; i < tables.size(); ++i) env.Map(regs, 0x800000 + i * kPageSize, tables[i] << 12, kW | kD);
    for (unsigned i = 0; i < tables.size(); ++i) {
        const WalkResult r = T(*vcpu, env, regs, 0x800000 + i * kPageSize, AccessType::Write);
        FillTlb(hook, env, r, 0x800000 + i * kPageSize);
    }
    env.mmu->ZapAll();  // start from no shadow pages: the TLB entries are plain writable
    hook.tlb.FlushAll();
    for (unsigned i = 0; i < tables.size(); ++i) {
        PagingRegs copy = regs;
        const WalkResult r = Walk(copy, 0x800000 + i * kPageSize, AccessType::Write, kSupervisor, env.phys);
        FillTlb(hook, env, r, 0x800000 + i * kPageSize);
        CHECK(hook.tlb.Lookup(MmuIndex::Supervisor, 0x800000 + i * kPageSize, AccessType::Write).kind ==
              TlbLookupKind::Hit);
    }
    REQUIRE(T(*vcpu, env, regs, 0x400000, AccessType::Read).status == WalkStatus::Ok);
    for (unsigned i = 0; i < tables.size(); ++i) {
        INFO("table level " << i);
        CHECK(env.track.TrackCount(tables[i]) >= 1);
        const TlbLookup w = hook.tlb.Lookup(MmuIndex::Supervisor, 0x800000 + i * kPageSize, AccessType::Write);
        CHECK(w.kind == TlbLookupKind::SlowPath);
        CHECK((w.flags & tlb_flag::kTracked) != 0);
        // Loads stay on the fast path.
        CHECK(hook.tlb.Lookup(MmuIndex::Supervisor, 0x800000 + i * kPageSize, AccessType::Read).kind ==
              TlbLookupKind::Hit);
    }
    CHECK(env.mmu->CheckInvariants() == "");
}

TEST_CASE("a translation that hits a valid SPTE reads no guest page table and answers as the walker", "[shadow]") {
    for (PagingMode mode : {PagingMode::Bits32, PagingMode::Pae, PagingMode::Level4, PagingMode::Level5}) {
        ShadowEnv env;
        auto vcpu = env.mmu->AddVcpu(nullptr);
        PagingRegs regs = env.NewRegs(mode);
        env.Map(regs, 0x1234000, 0x345000, kW | kU);
        ShadowTranslateInfo info;
        const WalkResult first = T(*vcpu, env, regs, 0x1234567, AccessType::Read, &info);
        CHECK_FALSE(info.spte_hit);
        const u64 reads = env.phys.reads.load();
        const WalkResult second = T(*vcpu, env, regs, 0x1234567, AccessType::Read, &info);
        CHECK(info.spte_hit);
        CHECK(env.phys.reads.load() == reads);
        CHECK(SameResult(first, second));
        CHECK(second.gpa == 0x345567);
        PagingRegs copy = regs;
        CHECK(SameResult(second, Walk(copy, 0x1234567, AccessType::Read, kSupervisor, env.phys)));
        // Refused accesses are answered from the SPTE too, with the walker's error code.
        const WalkResult fetch_user = T(*vcpu, env, regs, 0x1234567, AccessType::Write, &info, kUserAccess);
        CHECK(fetch_user.status == WalkStatus::Ok);
        CHECK(env.mmu->CheckInvariants() == "");
    }
}

TEST_CASE("accessed and dirty bits are set as hardware does; the SPTE stays read-only until D is set", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 pte = env.Map(regs, 0x5000, 0x9000, kW);
    ShadowTranslateInfo info;
    REQUIRE(T(*vcpu, env, regs, 0x5000, AccessType::Read, &info).dirty == false);
    CHECK((env.ReadEntry(pte, 8) & (kA | kD)) == kA);
    REQUIRE(T(*vcpu, env, regs, 0x5000, AccessType::Read, &info).status == WalkStatus::Ok);
    CHECK(info.spte_hit);
    // First write: misses (the SPTE is clean), walks, sets D.
    const WalkResult w = T(*vcpu, env, regs, 0x5000, AccessType::Write, &info);
    CHECK_FALSE(info.spte_hit);
    CHECK(w.dirty);
    CHECK((env.ReadEntry(pte, 8) & kD) != 0);
    (void)T(*vcpu, env, regs, 0x5000, AccessType::Write, &info);
    CHECK(info.spte_hit);
    // The guest clears A and D (a trapped write): the SPTE goes, the next read sets A again.
    env.WriteEntry(pte, env.ReadEntry(pte, 8) & ~(kA | kD), 8);
    (void)T(*vcpu, env, regs, 0x5000, AccessType::Read, &info);
    CHECK_FALSE(info.spte_hit);
    CHECK((env.ReadEntry(pte, 8) & (kA | kD)) == kA);
}

ShadowOptions NoUnsync() {
    ShadowOptions options;
    options.unsync = false;
    return options;
}

TEST_CASE("I2: without unsync, leaf tables stay write-protected and external tracking stacks on them", "[shadow]") {
    ShadowEnv env(16u << 20, NoUnsync());
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 pte = env.Map(regs, 0x7000, 0x9000, kW);
    const Gfn leaf_table = pte >> kPageShift;
    REQUIRE(T(*vcpu, env, regs, 0x7000, AccessType::Read).status == WalkStatus::Ok);
    CHECK(env.track.TrackCount(leaf_table) == 1);
    // Writing the leaf table never makes it writable: the count stays, each write is trapped.
    const u64 calls = env.mmu->Stats().write_calls;
    env.WriteEntry(pte, 0x9000 | kP | kW, 8);
    env.WriteEntry(pte, 0xA000 | kP | kW, 8);
    CHECK(env.mmu->Stats().write_calls == calls + 2);
    CHECK(env.track.TrackCount(leaf_table) == 1);
    CHECK(T(*vcpu, env, regs, 0x7000, AccessType::Read).gpa == 0xA000);
    // A GPU-like client adds the same gfn: counts stack; its remove leaves the MMU's protection.
    REQUIRE(env.track.AddGfn(leaf_table).ok());
    CHECK(env.track.TrackCount(leaf_table) == 2);
    REQUIRE(env.track.RemoveGfn(leaf_table).ok());
    CHECK(env.track.TrackCount(leaf_table) == 1);
    CHECK(env.track.IsWriteTracked(Gpa(pte)));
}

// ---- unsync leaf tables (page-track.md I2; KVM's unsync shadow pages) ----

// A 4-level guest with data pages mapped at 0x1000.., its leaf table also mapped as data at kPtAlias (through
// another PT) so that a TLB entry for the table page can be filled.
struct UnsyncRig {
    static constexpr u64 kPtAlias = 0x40000000;
    explicit UnsyncRig(ShadowOptions options = {}) : env(16u << 20, options) {
        vcpu = env.mmu->AddVcpu(&hook);
        regs = env.NewRegs(PagingMode::Level4);
        pte = env.Map(regs, 0x1000, 0x9000, kW | kD);
        env.Map(regs, 0x2000, 0xA000, kW | kD);
        pt = pte >> kPageShift;
        env.Map(regs, kPtAlias, pt << kPageShift, kW | kD);
        REQUIRE(T(*vcpu, env, regs, 0x1000, AccessType::Read).gpa == 0x9000);
        REQUIRE(T(*vcpu, env, regs, 0x2000, AccessType::Read).gpa == 0xA000);
        FillAlias();
    }
    // The machine's TLB fill for the table page's alias (kTracked while page-track counts the gfn).
    void FillAlias() { FillTlb(hook, env, T(*vcpu, env, regs, kPtAlias, AccessType::Write), kPtAlias); }
    TlbLookupKind AliasWrite() { return hook.tlb.Lookup(MmuIndex::Supervisor, kPtAlias, AccessType::Write).kind; }
    // A guest store to the leaf table through the machine's path: the TLB says whether it reaches the dispatcher.
    void StorePte(u64 gpa, u64 value) {
        if (AliasWrite() == TlbLookupKind::Miss) FillAlias();
        if (AliasWrite() == TlbLookupKind::Hit) {
            std::memcpy(env.Host(gpa), &value, 8);  // the inline fast path: no notification
        } else {
            env.WriteEntry(gpa, value, 8);
        }
    }
    u64 Gpa(u64 linear) { return T(*vcpu, env, regs, linear, AccessType::Read).gpa; }

    ShadowEnv env;
    DirectTlb hook;
    std::unique_ptr<ShadowVcpu> vcpu;
    PagingRegs regs;
    u64 pte = 0;
    Gfn pt = 0;
};

TEST_CASE("unsync: the first trapped write to a leaf table makes it unsync; later writes are plain stores",
          "[shadow][unsync]") {
    UnsyncRig r;
    CHECK(r.env.track.TrackCount(r.pt) == 1);
    CHECK(r.AliasWrite() == TlbLookupKind::SlowPath);
    const u64 calls = r.env.mmu->Stats().write_calls;
    r.StorePte(r.pte, 0xB000 | kP | kW | kD);  // trapped: handled (SPTE zapped), then the table goes unsync
    CHECK(r.env.mmu->Stats().write_calls == calls + 1);
    CHECK(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);
    CHECK(r.env.track.TrackCount(r.pt) == 0);
    CHECK(r.Gpa(0x1000) == 0xB000);  // the trapped write itself was applied
    // The table's TLB entry was dropped; refilled, it is writable on the fast path.
    CHECK(r.AliasWrite() == TlbLookupKind::Miss);
    r.FillAlias();
    CHECK(r.AliasWrite() == TlbLookupKind::Hit);
    r.StorePte(r.pte, 0xC000 | kP | kW | kD);
    CHECK(r.env.mmu->Stats().write_calls == calls + 1);
    // Non-leaf tables never go unsync: their counts stay.
    for (Gfn g : TableGfns(r.env, r.regs, 0x1000)) {
        if (g != r.pt) CHECK(r.env.track.TrackCount(g) >= 1);
    }
    CHECK(r.env.mmu->CheckInvariants() == "");
}

TEST_CASE("unsync: a stale SPTE lives only until the flush point: INVLPG, MOV CR3, CR4.PGE toggle",
          "[shadow][unsync]") {
    UnsyncRig r;
    r.StorePte(r.pte, 0x9000 | kP | kW | kD | kA);  // goes unsync
    r.FillAlias();
    REQUIRE(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);
    // An untrapped edit: the old translation may be used (a TLB could hold it), as the SDM allows.
    r.StorePte(r.pte, 0xB000 | kP | kW | kD);
    r.StorePte(r.pte + 8, 0xD000 | kP | kW | kD);
    ShadowTranslateInfo info;
    CHECK(T(*r.vcpu, r.env, r.regs, 0x1000, AccessType::Read, &info).gpa == 0x9000);
    CHECK(info.spte_hit);
    SECTION("INVLPG of the address") {
        r.vcpu->Invlpg(r.regs, 0x1000);
        CHECK(r.Gpa(0x1000) == 0xB000);
        CHECK(r.Gpa(0x2000) == 0xA000);  // another address stays stale until its own flush
        r.vcpu->Invlpg(r.regs, 0x2000);
        CHECK(r.Gpa(0x2000) == 0xD000);
        CHECK(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);  // INVLPG does not end the unsync state
    }
    SECTION("MOV CR3 (same CR3)") {
        r.vcpu->OnCr3Write();
        CHECK(r.env.mmu->UnsyncPages() == 0);
        CHECK(r.env.track.TrackCount(r.pt) >= 1);   // write-protected again
        CHECK(r.AliasWrite() == TlbLookupKind::SlowPath);  // the writable TLB entry was demoted
        CHECK(r.Gpa(0x1000) == 0xB000);
        CHECK(r.Gpa(0x2000) == 0xD000);
        CHECK(r.env.mmu->Stats().sync_dropped >= 2);
    }
    SECTION("CR4.PGE toggle (a paging-mode change)") {
        r.regs.cr4 ^= PagingRegs::kCr4Pge;
        r.vcpu->OnPagingModeChange();
        r.regs.cr4 ^= PagingRegs::kCr4Pge;
        r.vcpu->OnPagingModeChange();
        CHECK(r.env.mmu->UnsyncPages() == 0);
        CHECK(r.Gpa(0x1000) == 0xB000);
        CHECK(r.Gpa(0x2000) == 0xD000);
    }
    // Whatever the flush, every translation now equals the walker's.
    for (u64 linear : {u64{0x1000}, u64{0x2000}}) {
        PagingRegs copy = r.regs;
        CHECK(SameResult(T(*r.vcpu, r.env, r.regs, linear, AccessType::Read),
                         Walk(copy, linear, AccessType::Read, kSupervisor, r.env.phys)));
    }
    CHECK(r.env.mmu->CheckInvariants() == "");
}

TEST_CASE("unsync: a stale SPTE that would fault is not trusted; the access walks", "[shadow][unsync]") {
    UnsyncRig r;
    r.StorePte(r.pte, 0x9000 | kP | kD | kA);  // read-only now (trapped: the SPTE is rebuilt from it)
    REQUIRE(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);
    REQUIRE(r.Gpa(0x1000) == 0x9000);  // a read-only SPTE in the unsync SP
    CHECK(T(*r.vcpu, r.env, r.regs, 0x1000, AccessType::Write).status == WalkStatus::PageFault);
    // The guest makes it writable without INVLPG (Linux's spurious-fault path relies on the retry walking).
    r.StorePte(r.pte, 0x9000 | kP | kW | kD | kA);
    const WalkResult w = T(*r.vcpu, r.env, r.regs, 0x1000, AccessType::Write);
    CHECK(w.status == WalkStatus::Ok);
    CHECK(w.writable);
}

TEST_CASE("unsync: a walk that links an unsync table at a new place re-reads it first", "[shadow][unsync]") {
    UnsyncRig r;
    r.StorePte(r.pte, 0x9000 | kP | kW | kD | kA);
    r.FillAlias();
    REQUIRE(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);
    r.StorePte(r.pte + 8, 0xE000 | kP | kW | kD);  // stale in the SP for 0x2000
    CHECK(r.Gpa(0x2000) == 0xA000);
    r.StorePte(r.pte, 0xF000 | kP | kW | kD);      // and for 0x1000
    CHECK(r.Gpa(0x1000) == 0x9000);
    // The guest points a new PDE (2 MiB higher) at the same PT; no flush is needed for a not-present PDE.
    const u64 pde = (TableGfns(r.env, r.regs, 0x1000)[2] << kPageShift);
    r.env.WriteEntry(pde + 8, r.env.ReadEntry(pde, 8), 8);
    CHECK(r.Gpa(0x200000 + 0x2000) == 0xE000);  // the walked address
    CHECK(r.env.mmu->Stats().sync_on_reuse == 1);
    CHECK(r.Gpa(0x200000 + 0x1000) == 0xF000);  // another one: the link re-read the whole table
    CHECK(r.env.mmu->CheckInvariants() == "");
}

TEST_CASE("I2: add-gfn on an unsync leaf table write-protects it before returning and resyncs it before any use",
          "[shadow][unsync]") {
    UnsyncRig r;
    r.StorePte(r.pte, 0x9000 | kP | kW | kD | kA);
    r.FillAlias();
    REQUIRE(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);
    REQUIRE(r.AliasWrite() == TlbLookupKind::Hit);
    r.StorePte(r.pte, 0xB000 | kP | kW | kD);  // untracked: the SPTE is stale
    // A GPU-like client starts tracking the table page.
    REQUIRE(r.env.track.AddGfn(r.pt).ok());
    CHECK(r.AliasWrite() == TlbLookupKind::SlowPath);  // demoted inside add-gfn, before any MMU call
    // The first MMU section after it synced the page: no stale translation, protection counted again.
    CHECK(r.env.mmu->UnsyncPagesForGfn(r.pt) == 0);
    CHECK(r.Gpa(0x1000) == 0xB000);
    CHECK(r.env.track.TrackCount(r.pt) == 1 + r.env.mmu->ValidPagesForGfn(r.pt));
    CHECK(r.env.mmu->Stats().resync_requests == 1);
    // Writes trap again, and unsync is refused while the client holds the gfn.
    const u64 calls = r.env.mmu->Stats().write_calls;
    r.StorePte(r.pte, 0xC000 | kP | kW | kD);
    CHECK(r.env.mmu->Stats().write_calls == calls + 1);
    CHECK(r.env.mmu->Stats().unsync_refused >= 1);
    CHECK(r.env.mmu->UnsyncPagesForGfn(r.pt) == 0);
    CHECK(r.Gpa(0x1000) == 0xC000);
    // Once the client lets go, the next write may make it unsync again.
    REQUIRE(r.env.track.RemoveGfn(r.pt).ok());
    r.StorePte(r.pte, 0xD000 | kP | kW | kD);
    CHECK(r.env.mmu->UnsyncPagesForGfn(r.pt) >= 1);
    CHECK(r.env.mmu->CheckInvariants() == "");
}

TEST_CASE("I2: add-gfn racing the unsync decision never leaves a tracked gfn unsync", "[shadow][unsync]") {
    UnsyncRig r;
    std::atomic<bool> stop{false};
    std::atomic<u64> violations{0};
    std::atomic<u64> rounds{0};
    std::thread client([&] {
        while (!stop.load()) {
            if (!r.env.track.AddGfn(r.pt).ok()) std::abort();
            violations += r.env.mmu->UnsyncPagesForGfn(r.pt) != 0;
            std::this_thread::yield();
            violations += r.env.mmu->UnsyncPagesForGfn(r.pt) != 0;
            if (!r.env.track.RemoveGfn(r.pt).ok()) std::abort();
            rounds.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::microseconds(20));  // untracked for a while: unsync happens
        }
    });
    // The vCPU side: trapped stores (the dispatcher runs while the page is tracked) and translations.
    test::SlotPhys phys(r.env.slots);
    auto vcpu = r.env.mmu->AddVcpu(nullptr);
    for (u64 i = 0; rounds.load() < 2000 && i < 5'000'000; ++i) {
        r.env.WriteEntry(r.pte + 8 * (i % 4), (0x9000 + (i % 8) * kPageSize) | kP | kW | kD | kA, 8);
        if (i % 16 == 0) vcpu->OnCr3Write();
        (void)vcpu->Translate(r.regs, 0x1000 * (1 + i % 4), AccessType::Read, kSupervisor, phys);
    }
    stop = true;
    client.join();
    CHECK(violations.load() == 0);
    CHECK(rounds.load() >= 100);
    CHECK(r.env.mmu->Stats().unsync_made > 0);
    CHECK(r.env.track.TrackCount(r.pt) == r.env.mmu->ValidPagesForGfn(r.pt) - r.env.mmu->UnsyncPagesForGfn(r.pt));
    CHECK(r.env.mmu->CheckInvariants() == "");
}

TEST_CASE("unsync off: ShadowOptions::unsync = false keeps every leaf table trapped", "[shadow][unsync]") {
    UnsyncRig r(NoUnsync());
    for (int i = 0; i < 4; ++i) r.StorePte(r.pte, (0x9000 + i * kPageSize) | kP | kW | kD);
    CHECK(r.env.mmu->Stats().unsync_made == 0);
    CHECK(r.env.mmu->Stats().write_calls == 4);
    CHECK(r.Gpa(0x1000) == 0xC000);
}

TEST_CASE("I3: accounting balances: zapping every shadow page brings all MMU counts back to zero", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    std::vector<Gfn> tables;
    for (u64 i = 0; i < 8; ++i) {
        const u64 linear = 0x40000000 * i + 0x200000 * i + 0x1000 * i;
        env.Map(regs, linear, 0x9000, kW);
        REQUIRE(T(*vcpu, env, regs, linear, AccessType::Read).status == WalkStatus::Ok);
        for (Gfn g : TableGfns(env, regs, linear)) tables.push_back(g);
    }
    for (Gfn g : tables) CHECK(env.track.TrackCount(g) >= 1);
    CHECK(env.mmu->indirect_shadow_pages().load() > 0);
    env.mmu->ZapAll();
    for (Gfn g : tables) CHECK(env.track.TrackCount(g) == 0);
    CHECK(env.mmu->indirect_shadow_pages().load() == 0);
    CHECK(env.mmu->CheckInvariants() == "");
    // An extra remove is refused, not wrapped.
    CHECK(env.track.RemoveGfn(tables[0]).error() == PageTrackError::Underflow);
    // Rebuilding counts again.
    REQUIRE(T(*vcpu, env, regs, 0, AccessType::Read).status == WalkStatus::Ok);
    CHECK(env.track.TrackCount(regs.cr3 >> kPageShift) == 1);
}

TEST_CASE("a cap on shadow pages: the oldest non-root pages are zapped, counts stay balanced", "[shadow][cap]") {
    // 300 linear addresses in distinct 2 MiB regions (spread over 1 GiB regions too): a guest table per region,
    // about 330 SPs without a cap. With max_pages = 64 the MMU must stay near 64, answer every translation as the
    // walker does, keep its invariants, and leave page-track counts that ZapAll brings back to zero.
    ShadowOptions options;
    options.max_pages = 64;
    ShadowEnv env(32u << 20, options);
    DirectTlb tlb;
    auto vcpu = env.mmu->AddVcpu(&tlb);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    std::vector<u64> linears;
    std::vector<Gfn> tables;
    for (u64 i = 0; i < 300; ++i) {
        const u64 linear = (i % 30) * 0x40000000ull + (i / 30) * 0x200000ull + 0x3000;
        env.Map(regs, linear, 0x100000 + i * kPageSize, kW | kU);
        linears.push_back(linear);
        const WalkResult r = T(*vcpu, env, regs, linear, AccessType::Read);
        REQUIRE(r.status == WalkStatus::Ok);
        CHECK(r.gpa == 0x100000 + i * kPageSize);
        for (Gfn g : TableGfns(env, regs, linear)) tables.push_back(g);
        CHECK(env.mmu->Stats().pages_alive <= options.max_pages);
    }
    const ShadowStats stats = env.mmu->Stats();
    CHECK(stats.cap_zaps > 0);
    CHECK(stats.pages_created > 2 * options.max_pages);  // the workload does need more than the cap
    CHECK(env.mmu->CheckInvariants() == "");
    // Zapped paths are rebuilt on demand: every address still translates as the walker says.
    for (u64 linear : linears) {
        const WalkResult shadow = T(*vcpu, env, regs, linear, AccessType::Write);
        const WalkResult walk = Walk(regs, linear, AccessType::Write, kSupervisor, env.phys);
        CHECK((shadow.status == walk.status && shadow.gpa == walk.gpa));
    }
    CHECK(env.mmu->CheckInvariants() == "");
    // The counts balance: every SP the cap zapped gave its count back.
    vcpu.reset();
    env.mmu->ZapAll();
    for (Gfn g : tables) CHECK(env.track.TrackCount(g) == 0);
    CHECK(env.mmu->indirect_shadow_pages().load() == 0);
}

TEST_CASE("I4: the MMU handler runs only while shadow pages exist; clients see bytes already in RAM", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    REQUIRE(env.track.EnableTracking());
    const u64 page = env.AllocPage();
    REQUIRE(env.track.AddGfn(page >> kPageShift).ok());
    u64 seen = 0;
    u64 client_calls = 0;
    PageTrackNotifier client;
    client.track_write = [&](Gpa gpa, std::span<const u8> bytes) {
        ++client_calls;
        std::memcpy(&seen, env.Host(gpa.value()), 8);
        CHECK(std::memcmp(env.Host(gpa.value()), bytes.data(), bytes.size()) == 0);
    };
    REQUIRE(env.track.Register(&client).ok());
    env.WriteEntry(page, 0x1122334455667788, 8);
    CHECK(seen == 0x1122334455667788);
    CHECK(client_calls == 1);
    CHECK(env.mmu->Stats().write_calls == 0);  // no shadow page: the handler was not even called
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    env.Map(regs, 0, 0x9000, kW);
    REQUIRE(T(*vcpu, env, regs, 0, AccessType::Read).status == WalkStatus::Ok);
    env.WriteEntry(page, 1, 8);
    CHECK(env.mmu->Stats().write_calls == 1);
    CHECK(env.mmu->Stats().write_ignored == 1);  // page is not a shadowed table
    REQUIRE(env.track.Unregister(&client).ok());
}

TEST_CASE("write handler: a changed gPTE is re-read and its SPTE replaced; the TLB entry for it is flushed",
          "[shadow]") {
    ShadowEnv env(16u << 20, NoUnsync());  // every write to the leaf table stays trapped
    DirectTlb hook;
    auto vcpu = env.mmu->AddVcpu(&hook);
    PagingRegs regs = env.NewRegs(PagingMode::Pae);
    const u64 pte = env.Map(regs, 0x3000, 0x9000, kW | kD);
    FillTlb(hook, env, T(*vcpu, env, regs, 0x3000, AccessType::Read), 0x3000);
    REQUIRE(hook.tlb.Lookup(MmuIndex::Supervisor, 0x3000, AccessType::Read).kind == TlbLookupKind::Hit);
    // A 4-byte write of the low half of an 8-byte PAE gPTE is widened to the whole entry.
    env.WriteEntry(pte, 0xB000 | kP | kW | kA, 4);
    CHECK(env.mmu->Stats().write_updated == 1);
    CHECK(hook.tlb.Lookup(MmuIndex::Supervisor, 0x3000, AccessType::Read).kind == TlbLookupKind::Miss);
    CHECK(T(*vcpu, env, regs, 0x3000, AccessType::Read).gpa == 0xB000);
    // Rewriting the same value changes nothing.
    env.WriteEntry(pte, env.ReadEntry(pte, 8), 8);
    CHECK(env.mmu->Stats().write_unchanged == 1);
    ShadowTranslateInfo info;
    (void)T(*vcpu, env, regs, 0x3000, AccessType::Read, &info);
    CHECK(info.spte_hit);
    // Not present: the next access faults exactly as the walker says.
    env.WriteEntry(pte, 0, 8);
    const WalkResult r = T(*vcpu, env, regs, 0x3000, AccessType::Write);
    CHECK(r.status == WalkStatus::PageFault);
    CHECK(r.error_code == pf_error::kWrite);
}

TEST_CASE("heuristics: aligned byte write keeps the SP, misaligned write zaps it, flooding zaps a PD", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 pte = env.Map(regs, 0x3000, 0x9000, kW);
    const Gfn pt = pte >> kPageShift;
    REQUIRE(T(*vcpu, env, regs, 0x3000, AccessType::Read).status == WalkStatus::Ok);
    REQUIRE(env.mmu->ValidPagesForGfn(pt) == 1);

    SECTION("1-byte aligned write (bit clear) keeps the SP") {
        const u8 low = static_cast<u8>(env.ReadEntry(pte, 1) & ~kA);
        env.GuestWrite(pte, &low, 1);
        CHECK(env.mmu->ValidPagesForGfn(pt) == 1);
        CHECK(env.mmu->Stats().write_updated == 1);
    }
    SECTION("2-byte write zaps the SP") {
        const u16 v = 0x1234;
        env.GuestWrite(pte + 2, &v, 2);
        CHECK(env.mmu->ValidPagesForGfn(pt) == 0);
        CHECK(env.mmu->Stats().write_misaligned == 1);
        CHECK(env.track.TrackCount(pt) == 0);
    }
    SECTION("a write crossing two gPTEs zaps the SP") {
        const u64 v = 0;
        env.GuestWrite(pte + 4, &v, 8);
        CHECK(env.mmu->ValidPagesForGfn(pt) == 0);
    }
    SECTION("3 writes to a PD without a walk zap it; a walk in between resets the count") {
        // The leaf PT is never considered flooded.
        for (int i = 0; i < 5; ++i) env.WriteEntry(pte + 8, 0, 8);
        CHECK(env.mmu->ValidPagesForGfn(pt) == 1);
        const std::vector<Gfn> tables = TableGfns(env, regs, 0x3000);
        const Gfn pd = tables[2];
        const u64 spare = (pd << kPageShift) + 8 * 100;  // an unused PDE
        env.WriteEntry(spare, 0, 8);
        env.WriteEntry(spare, 0, 8);
        REQUIRE(T(*vcpu, env, regs, 0x3000, AccessType::Read).status == WalkStatus::Ok);  // uses the PD
        env.WriteEntry(spare, 0, 8);
        env.WriteEntry(spare, 0, 8);
        CHECK(env.mmu->ValidPagesForGfn(pd) == 1);
        env.WriteEntry(spare, 0, 8);
        CHECK(env.mmu->ValidPagesForGfn(pd) == 0);
        CHECK(env.mmu->Stats().write_flooded == 1);
        // The translation is rebuilt and still right.
        CHECK(T(*vcpu, env, regs, 0x3000, AccessType::Read).gpa == 0x9000);
    }
    CHECK(env.mmu->CheckInvariants() == "");
}

TEST_CASE("a table orphaned by its parent's zap is dropped at its next write, and its page untracked", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 pte = env.Map(regs, 0x3000, 0x9000, kW);
    const Gfn pt = pte >> kPageShift;
    REQUIRE(T(*vcpu, env, regs, 0x3000, AccessType::Read).status == WalkStatus::Ok);
    // The guest unmaps the PT (PDE cleared) and reuses the page as data.
    const u64 pde = (TableGfns(env, regs, 0x3000)[2] << kPageShift) + 0;
    env.WriteEntry(pde, 0, 8);
    CHECK(env.mmu->ValidPagesForGfn(pt) == 1);  // still there, but nothing links to it
    CHECK(env.track.IsWriteTracked(Gpa(pte)));
    env.WriteEntry(pte + 16, 0x1234, 8);
    CHECK(env.mmu->ValidPagesForGfn(pt) == 0);
    CHECK_FALSE(env.track.IsWriteTracked(Gpa(pte)));
    CHECK(env.mmu->Stats().write_orphans == 1);
    CHECK(env.mmu->CheckInvariants() == "");
}

TEST_CASE("32-bit guest: a 4-byte PDE write zaps both 2 MiB shadow PDEs (quadrants)", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Bits32);
    // One guest PT covers 4 MiB: 0x400000..0x7FFFFF; the two halves go through two shadow PDEs and two level-1 SPs.
    env.Map(regs, 0x400000, 0x9000, kW);
    const u64 pte_hi = env.Map(regs, 0x600000, 0xA000, kW);
    REQUIRE(T(*vcpu, env, regs, 0x400000, AccessType::Read).gpa == 0x9000);
    REQUIRE(T(*vcpu, env, regs, 0x600000, AccessType::Read).gpa == 0xA000);
    CHECK(env.mmu->ValidPagesForGfn(pte_hi >> kPageShift) == 2);  // two quadrants of one guest PT
    CHECK(env.track.TrackCount(pte_hi >> kPageShift) == 2);
    ShadowTranslateInfo info;
    (void)T(*vcpu, env, regs, 0x600000, AccessType::Read, &info);
    REQUIRE(info.spte_hit);
    const u64 pde = (regs.cr3 & ~kPageMask) + (0x400000 >> 22) * 4;
    env.WriteEntry(pde, env.ReadEntry(pde, 4) & ~kA, 4);
    (void)T(*vcpu, env, regs, 0x400000, AccessType::Read, &info);
    CHECK_FALSE(info.spte_hit);
    (void)T(*vcpu, env, regs, 0x600000, AccessType::Read, &info);
    CHECK_FALSE(info.spte_hit);
    // A PTE write in the upper half touches only the upper quadrant's SPTE.
    env.WriteEntry(pte_hi, 0xC000 | kP | kW, 4);
    (void)T(*vcpu, env, regs, 0x400000, AccessType::Read, &info);
    CHECK(info.spte_hit);
    CHECK(T(*vcpu, env, regs, 0x600000, AccessType::Read).gpa == 0xC000);
}

TEST_CASE("large guest pages are shadowed by 4 KiB direct pages in every format", "[shadow]") {
    struct Case {
        PagingMode mode;
        unsigned shift;
        u64 linear;
        u64 frame;
    };
    for (const Case c : {Case{PagingMode::Bits32, 22, 0x800000, 0x1400000},
                         Case{PagingMode::Pae, 21, 0x600000, 0xA00000},
                         Case{PagingMode::Level4, 21, 0x600000, 0xA00000},
                         Case{PagingMode::Level4, 30, 0x40000000, 0x40000000}}) {
        ShadowEnv env;
        auto vcpu = env.mmu->AddVcpu(nullptr);
        PagingRegs regs = env.NewRegs(c.mode);
        const u64 leaf = env.Map(regs, c.linear, c.frame, kW | kG, c.shift);
        const unsigned bytes = c.mode == PagingMode::Bits32 ? 4 : 8;
        regs.cr4 |= PagingRegs::kCr4Pge;
        for (u64 off : {u64{0}, u64{0x1234}, (u64{1} << c.shift) - 8, u64{1} << (c.shift - 1)}) {
            ShadowTranslateInfo info;
            const WalkResult r = T(*vcpu, env, regs, c.linear + off, AccessType::Read);
            CHECK(r.gpa == c.frame + off);
            CHECK(r.page_size == u64{1} << c.shift);
            CHECK(r.global);
            const WalkResult again = T(*vcpu, env, regs, c.linear + off, AccessType::Read, &info);
            CHECK(info.spte_hit);
            CHECK(SameResult(r, again));
        }
        // A write to the clean large page sets D once; pieces built clean then miss once and see D set.
        CHECK((env.ReadEntry(leaf, bytes) & kD) == 0);
        CHECK(T(*vcpu, env, regs, c.linear, AccessType::Write).dirty);
        CHECK((env.ReadEntry(leaf, bytes) & kD) != 0);
        const WalkResult piece = T(*vcpu, env, regs, c.linear + 0x1234, AccessType::Read);
        CHECK(piece.dirty);
        CHECK(env.mmu->CheckInvariants() == "");
    }
}

TEST_CASE("roots are kept per CR3 and role and reused across CR3 switches and mode changes", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs a = env.NewRegs(PagingMode::Level4);
    PagingRegs b = env.NewRegs(PagingMode::Level4);
    env.Map(a, 0x1000, 0x9000, kW);
    env.Map(b, 0x1000, 0xA000, kW);
    CHECK(T(*vcpu, env, a, 0x1000, AccessType::Read).gpa == 0x9000);
    vcpu->OnCr3Write();
    CHECK(T(*vcpu, env, b, 0x1000, AccessType::Read).gpa == 0xA000);
    const u64 created = env.mmu->Stats().roots_created;
    vcpu->OnCr3Write();
    ShadowTranslateInfo info;
    CHECK(T(*vcpu, env, a, 0x1000, AccessType::Read, &info).gpa == 0x9000);
    CHECK(info.spte_hit);  // the old root and its SPTEs were kept
    CHECK(env.mmu->Stats().roots_created == created);
    // CR0.WP off is a new role; back on reuses the first.
    PagingRegs nowp = a;
    nowp.cr0 &= ~PagingRegs::kCr0Wp;
    vcpu->OnPagingModeChange();
    (void)T(*vcpu, env, nowp, 0x1000, AccessType::Read, &info);
    CHECK_FALSE(info.spte_hit);
    CHECK(env.mmu->Stats().roots_created == created + 1);
    vcpu->OnPagingModeChange();
    (void)T(*vcpu, env, a, 0x1000, AccessType::Read, &info);
    CHECK(info.spte_hit);
}

TEST_CASE("INVLPG drops the leaf SPTE of the address", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    env.Map(regs, 0x1000, 0x9000, kW);
    env.Map(regs, 0x2000, 0xA000, kW);
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read);
    (void)T(*vcpu, env, regs, 0x2000, AccessType::Read);
    vcpu->Invlpg(regs, 0x1000);
    ShadowTranslateInfo info;
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read, &info);
    CHECK_FALSE(info.spte_hit);
    (void)T(*vcpu, env, regs, 0x2000, AccessType::Read, &info);
    CHECK(info.spte_hit);
    CHECK(env.mmu->Stats().invlpg == 1);
}

TEST_CASE("I5: after DELETE no TLB entry, valid SP or SPTE refers to the slot (2 vCPUs)", "[shadow]") {
    ShadowEnv env;
    DirectTlb hook0;
    DirectTlb hook1;
    auto vcpu0 = env.mmu->AddVcpu(&hook0);
    auto vcpu1 = env.mmu->AddVcpu(&hook1);
    auto extra = test::NewRam(1 << 20);
    const u64 base = 0x4000000;
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(base), 1 << 20, SlotFlags::None, extra.host()).ok());
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    for (u64 i = 0; i < 16; ++i) env.Map(regs, 0x100000 + i * kPageSize, base + i * kPageSize, kW | kD);
    for (u64 i = 0; i < 16; ++i) {
        const u64 linear = 0x100000 + i * kPageSize;
        FillTlb(hook0, env, T(*vcpu0, env, regs, linear, AccessType::Read), linear);
        FillTlb(hook1, env, T(*vcpu1, env, regs, linear, AccessType::Write), linear);
    }
    REQUIRE(env.mmu->ValidReferencesTo(base >> kPageShift, 256) == 16);
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(base), 0, SlotFlags::None, extra.host()).ok());
    CHECK(env.mmu->Stats().fast_zaps == 1);
    CHECK(env.mmu->ValidReferencesTo(base >> kPageShift, 256) == 0);
    CHECK(env.mmu->ValidPages() == 0);
    for (DirectTlb* hook : {&hook0, &hook1}) {
        for (u64 i = 0; i < 16; ++i) {
            CHECK(hook->tlb.Lookup(MmuIndex::Supervisor, 0x100000 + i * kPageSize, AccessType::Read).kind ==
                  TlbLookupKind::Miss);
        }
    }
    // The translation rebuilds (the frame is now MMIO), and obsolete pages are reclaimed from the tail.
    ShadowTranslateInfo info;
    CHECK(T(*vcpu0, env, regs, 0x100000, AccessType::Read, &info).gpa == base);
    CHECK(info.mmio);
    CHECK(env.mmu->Stats().obsolete_reclaimed > 0);
    CHECK(env.mmu->ObsoleteFormTail());
    CHECK(env.mmu->CheckInvariants() == "");
}

TEST_CASE("I6: a DELETE whose prepare fails zapped shadow state but told the client nothing", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    env.Map(regs, 0x1000, 0x9000, kW);
    REQUIRE(T(*vcpu, env, regs, 0x1000, AccessType::Read).status == WalkStatus::Ok);
    const Gfn gpu_table = env.AllocPage() >> kPageShift;
    int removes = 0;
    PageTrackNotifier client;
    client.track_remove_region = [&](Gfn, u64) { ++removes; };
    REQUIRE(env.track.Register(&client).ok());
    REQUIRE(env.track.AddGfn(gpu_table).ok());
    env.slots.SetPrepareFaultInjector([](const SlotChange& c) { return c.kind == ChangeKind::Delete; });
    CHECK(env.slots.SetMemoryRegion(0, Gpa(0), 0, SlotFlags::None, env.ram.host()).error() ==
          MemslotError::PrepareFailed);
    CHECK(env.mmu->Stats().fast_zaps == 1);  // speculative zap happened
    CHECK(removes == 0);
    CHECK(env.track.TrackCount(gpu_table) == 1);
    REQUIRE(env.slots.GetSlot(0).has_value());
    // The slot is usable: the shadow rebuilds, and the reclaimed obsolete SPs were unaccounted in the live slot.
    CHECK(T(*vcpu, env, regs, 0x1000, AccessType::Read).gpa == 0x9000);
    env.slots.SetPrepareFaultInjector(nullptr);
    env.mmu->ZapAll();
    CHECK(env.track.TrackCount(regs.cr3 >> kPageShift) == 0);
    CHECK(env.track.TrackCount(gpu_table) == 1);
    REQUIRE(env.track.Unregister(&client).ok());
}

TEST_CASE("I7: MOVE with an external client attached keeps the client correct", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    auto extra = test::NewRam(1 << 20);
    const u64 base = 0x4000000;
    const u64 moved = 0x6000000;
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(base), 1 << 20, SlotFlags::None, extra.host()).ok());
    // The guest's tables live in the moving slot.
    PagingRegs regs;
    regs.cr0 = PagingRegs::kCr0Pg | PagingRegs::kCr0Wp | 1;
    regs.cr4 = PagingRegs::kCr4Pae;
    regs.efer = PagingRegs::kEferLma | PagingRegs::kEferNxe;
    env.next_page = base;
    regs.cr3 = env.AllocPage();
    env.Map(regs, 0x1000, 0x9000, kW);
    REQUIRE(T(*vcpu, env, regs, 0x1000, AccessType::Read).gpa == 0x9000);
    REQUIRE(env.track.TrackCount(regs.cr3 >> kPageShift) == 1);
    // The client protects a page in the slot (its own shadow of it).
    std::vector<Gfn> protected_gfns{(base >> kPageShift) + 100};
    std::vector<std::pair<Gfn, u64>> removed;
    PageTrackNotifier client;
    client.track_remove_region = [&](Gfn first, u64 n) {
        removed.emplace_back(first, n);
        std::erase_if(protected_gfns, [&](Gfn g) { return g - first < n; });  // drop protection, no RemoveGfn
    };
    REQUIRE(env.track.Register(&client).ok());
    REQUIRE(env.track.AddGfn(protected_gfns[0]).ok());
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(moved), 1 << 20, SlotFlags::None, extra.host()).ok());
    REQUIRE(removed.size() == 1);
    CHECK(removed[0] == std::pair<Gfn, u64>(base >> kPageShift, 256));
    CHECK(protected_gfns.empty());
    // New slot counters start at zero; the client re-protects at the new place; the MMU rebuilds there.
    CHECK(env.track.TrackCount((moved >> kPageShift) + 100) == 0);
    REQUIRE(env.track.AddGfn((moved >> kPageShift) + 100).ok());
    // Table entries still point into the old range: the guest builds a new chain in the moved slot.
    PagingRegs moved_regs = regs;
    env.next_page = moved + 0x80000;
    moved_regs.cr3 = env.AllocPage();
    env.Map(moved_regs, 0x1000, 0x9000, kW);
    CHECK(T(*vcpu, env, moved_regs, 0x1000, AccessType::Read).gpa == 0x9000);
    CHECK(env.track.TrackCount(moved_regs.cr3 >> kPageShift) == 1);
    CHECK(env.mmu->ValidReferencesTo(base >> kPageShift, 256) == 0);
    // Obsolete SPs of the old slot are reclaimed without touching the new slot's counters.
    env.mmu->ZapAll();
    CHECK(env.track.TrackCount(moved_regs.cr3 >> kPageShift) == 0);
    CHECK(env.track.TrackCount((moved >> kPageShift) + 100) == 1);
    REQUIRE(env.track.Unregister(&client).ok());
}

TEST_CASE("I8: fast zaps alternate with concurrent faults; at most two generations coexist", "[shadow]") {
    ShadowEnv env;
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    for (u64 i = 0; i < 64; ++i) env.Map(regs, i << 21, 0x9000, kW);
    auto extra = test::NewRam(1 << 16);
    std::atomic<bool> stop{false};
    std::atomic<u64> faults{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            auto vcpu = env.mmu->AddVcpu(nullptr);
            test::SlotPhys phys(env.slots);
            u64 i = static_cast<u64>(t);
            while (!stop.load()) {
                const WalkResult r = vcpu->Translate(regs, (i++ % 64) << 21, AccessType::Read, kSupervisor, phys);
                if (r.status != WalkStatus::Ok || r.gpa != 0x9000) std::abort();
                faults.fetch_add(1);
            }
        });
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    u64 zaps = 0;
    bool ok = true;
    std::string broken;
    while (std::chrono::steady_clock::now() < until) {
        // An unrelated slot's CREATE + DELETE: the DELETE fast-zaps.
        REQUIRE(env.slots.SetMemoryRegion(5, Gpa(0x8000000), 1 << 16, SlotFlags::None, extra.host()).ok());
        REQUIRE(env.slots.SetMemoryRegion(5, Gpa(0x8000000), 0, SlotFlags::None, extra.host()).ok());
        ++zaps;
        ok &= env.mmu->GenerationsAlive() <= 2;
        ok &= env.mmu->ObsoleteFormTail();
        if (broken.empty()) broken = env.mmu->CheckInvariants();
    }
    stop = true;
    for (auto& th : threads) th.join();
    CHECK(ok);
    CHECK(broken == "");
    CHECK(zaps > 10);
    CHECK(faults.load() > 100);
    // Reclaim stops at the first valid SP.
    auto vcpu = env.mmu->AddVcpu(nullptr);
    (void)vcpu->Translate(regs, 0, AccessType::Read, kSupervisor, env.phys);
    env.mmu->ZapAllFast();
    (void)vcpu->Translate(regs, 0, AccessType::Read, kSupervisor, env.phys);  // new valid SPs at the head
    const u64 valid = env.mmu->ValidPages();
    while (env.mmu->ReclaimObsolete(10) == 10) {
    }
    CHECK(env.mmu->ReclaimObsolete(10) == 0);
    CHECK(env.mmu->ValidPages() == valid);
    CHECK(env.mmu->GenerationsAlive() == 1);
}

TEST_CASE("I9: cached MMIO leaves are valid only for their memslot generation; a wrap zaps all", "[shadow]") {
    ShadowOptions options;
    options.mmio_gen_bits = 2;
    ShadowEnv env(16u << 20, options);
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 hole = 0x5000000;
    env.Map(regs, 0x1000, hole, kW);
    ShadowTranslateInfo info;
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read, &info);
    CHECK(info.mmio);
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read, &info);
    CHECK(info.spte_hit);
    CHECK(info.mmio);
    // RAM appears there (CREATE, no zap): the MMIO leaf is stale and rebuilt as RAM.
    auto extra = test::NewRam(1 << 16);
    const u64 wraps = env.mmu->Stats().mmio_gen_wraps;
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(hole), 1 << 16, SlotFlags::None, extra.host()).ok());
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read, &info);
    CHECK_FALSE(info.spte_hit);
    CHECK_FALSE(info.mmio);
    // FLAGS_ONLY elsewhere: a cached MMIO leaf misses and rebuilds.
    env.Map(regs, 0x2000, 0x7000000, kW);
    (void)T(*vcpu, env, regs, 0x2000, AccessType::Read, &info);
    REQUIRE(info.mmio);
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(hole), 1 << 16, SlotFlags::LogDirtyPages, extra.host()).ok());
    const u64 stale = env.mmu->Stats().mmio_stale;
    (void)T(*vcpu, env, regs, 0x2000, AccessType::Read, &info);
    CHECK(env.mmu->Stats().mmio_stale + env.mmu->Stats().mmio_gen_wraps > stale + wraps);
    CHECK(info.mmio);
    // With 2 generation bits, four commits wrap at least once: a fast zap is observed.
    for (int i = 0; i < 4; ++i) {
        REQUIRE(env.slots.SetMemoryRegion(1, Gpa(hole), 1 << 16, i % 2 ? SlotFlags::LogDirtyPages : SlotFlags::None,
                                          extra.host()).ok());
    }
    CHECK(env.mmu->Stats().mmio_gen_wraps > wraps);
    CHECK(env.mmu->Stats().fast_zaps >= 1);
}

TEST_CASE("page-track's I10 test (unregister waits for a running track_write) is in page_track_test", "[shadow]") {
    // I10 belongs to mmu/page_track; here we only check that unregistering our fake client mid-flight is safe.
    ShadowEnv env;
    REQUIRE(env.track.EnableTracking());
    const u64 page = env.AllocPage();
    REQUIRE(env.track.AddGfn(page >> kPageShift).ok());
    std::atomic<bool> inside{false};
    std::atomic<bool> release{false};
    PageTrackNotifier client;
    client.track_write = [&](Gpa, std::span<const u8>) {
        inside = true;
        while (!release.load()) std::this_thread::yield();
    };
    REQUIRE(env.track.Register(&client).ok());
    std::thread writer([&] { env.WriteEntry(page, 1, 8); });
    while (!inside.load()) std::this_thread::yield();
    std::atomic<bool> unregistered{false};
    std::thread remover([&] {
        (void)env.track.Unregister(&client);
        unregistered = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK_FALSE(unregistered.load());
    release = true;
    writer.join();
    remover.join();
    CHECK(unregistered.load());
}

// A GVT-g-like client: shadows a guest "PPGTT" page of 8-byte entries, accepts full-entry writes at once, defers
// 4-byte halves to submission, and forgets removed regions without calling RemoveGfn.
struct FakeGpu {
    explicit FakeGpu(ShadowEnv& env) : env(env) {
        node.track_write = [this](Gpa gpa, std::span<const u8> bytes) { OnWrite(gpa, bytes); };
        node.track_remove_region = [this](Gfn first, u64 n) {
            std::lock_guard lock(mutex);
            std::erase_if(tracked, [&](Gfn g) { return g - first < n; });
        };
    }
    void Shadow(Gfn table) {
        std::lock_guard lock(mutex);
        REQUIRE(env.track.AddGfn(table).ok());
        tracked.push_back(table);
        for (unsigned i = 0; i < 512; ++i) shadow[i] = env.ReadEntry((table << kPageShift) + i * 8, 8);
        this->table = table;
    }
    void OnWrite(Gpa gpa, std::span<const u8> bytes) {
        std::lock_guard lock(mutex);
        if (std::find(tracked.begin(), tracked.end(), GfnOf(gpa)) == tracked.end()) return;
        const unsigned index = static_cast<unsigned>(gpa.page_offset() / 8);
        if (bytes.size() == 8 && gpa.page_offset() % 8 == 0) {
            shadow[index] = env.ReadEntry(gpa.value(), 8);
        } else {
            post_shadow.push_back(index);
        }
    }
    void Submit() {
        std::lock_guard lock(mutex);
        for (unsigned index : post_shadow) shadow[index] = env.ReadEntry((table << kPageShift) + index * 8, 8);
        post_shadow.clear();
    }
    ShadowEnv& env;
    PageTrackNotifier node;
    std::mutex mutex;
    std::vector<Gfn> tracked;
    std::vector<unsigned> post_shadow;
    std::array<u64, 512> shadow{};
    Gfn table = 0;
};

TEST_CASE("GPU flow: an external client keeps its shadow right beside the shadow MMU", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    auto gpu_ram = test::NewRam(1 << 20);
    const u64 base = 0x4000000;
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(base), 1 << 20, SlotFlags::None, gpu_ram.host()).ok());
    FakeGpu gpu(env);
    REQUIRE(env.track.Register(&gpu.node).ok());
    const Gfn ppgtt = (base >> kPageShift) + 3;
    gpu.Shadow(ppgtt);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    env.Map(regs, 0x1000, 0x9000, kW);
    REQUIRE(T(*vcpu, env, regs, 0x1000, AccessType::Read).status == WalkStatus::Ok);
    const u64 entry = (ppgtt << kPageShift) + 5 * 8;
    env.WriteEntry(entry, 0xABC000 | 3, 8);
    CHECK(gpu.shadow[5] == (0xABC000 | 3));
    CHECK(env.mmu->Stats().write_ignored >= 1);  // the MMU saw it too and had nothing there
    env.WriteEntry(entry, 0xDEF000 | 3, 4);
    env.WriteEntry(entry + 4, 0x1, 4);
    CHECK(gpu.shadow[5] == (0xABC000 | 3));  // deferred
    gpu.Submit();
    CHECK(gpu.shadow[5] == (u64{1} << 32 | 0xDEF000 | 3));
    // DELETE: the client forgets its gfns at commit and never calls RemoveGfn (counters died with the slot).
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(base), 0, SlotFlags::None, gpu_ram.host()).ok());
    CHECK(gpu.tracked.empty());
    REQUIRE(env.track.Unregister(&gpu.node).ok());
}

TEST_CASE("lazy enable: no arrays before the first root; 8 racing first roots allocate once", "[shadow]") {
    ShadowEnv env;
    auto extra = test::NewRam(1 << 20);
    REQUIRE(env.slots.SetMemoryRegion(1, Gpa(0x4000000), 1 << 20, SlotFlags::None, extra.host()).ok());
    CHECK_FALSE(env.track.TrackingEnabled());
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    env.Map(regs, 0x1000, 0x9000, kW);
    // Paging off: nothing to shadow, nothing allocated.
    {
        auto vcpu = env.mmu->AddVcpu(nullptr);
        PagingRegs off;
        CHECK(vcpu->Translate(off, 0x1000, AccessType::Read, kSupervisor, env.phys).gpa == 0x1000);
        CHECK_FALSE(env.track.TrackingEnabled());
    }
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            auto vcpu = env.mmu->AddVcpu(nullptr);
            test::SlotPhys phys(env.slots);
            ready.fetch_add(1);
            while (ready.load() < 8) std::this_thread::yield();
            if (vcpu->Translate(regs, 0x1000, AccessType::Read, kSupervisor, phys).gpa != 0x9000) std::abort();
        });
    }
    for (auto& th : threads) th.join();
    CHECK(env.track.TrackingEnabled());
    CHECK(env.slots.WriteTrackAllocations() == 2);
    auto later = test::NewRam(1 << 16);
    REQUIRE(env.slots.SetMemoryRegion(2, Gpa(0x8000000), 1 << 16, SlotFlags::None, later.host()).ok());
    CHECK(env.track.AddGfn(0x8000).ok());
    CHECK(env.slots.WriteTrackAllocations() == 2);
    CHECK(env.track.RemoveGfn(0x8000).ok());
}

TEST_CASE("statistics count and print", "[shadow]") {
    ShadowEnv env;
    auto vcpu = env.mmu->AddVcpu(nullptr);
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    env.Map(regs, 0x1000, 0x9000, kW);
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read);
    (void)T(*vcpu, env, regs, 0x1000, AccessType::Read);
    const ShadowStats s = env.mmu->Stats();
    CHECK(s.pages_alive == 4);
    CHECK(s.indirect_alive == 4);
    CHECK(s.pages_created == 4);
    CHECK(s.spte_hits == 1);
    CHECK(s.spte_misses == 1);
    CHECK(s.roots_created == 1);
    CHECK(s.ToString().find("pages alive 4") != std::string::npos);
    env.mmu->ZapAllFast();
    CHECK(env.mmu->Stats().fast_zaps == 1);
}

}  // namespace
}  // namespace emu::mmu

namespace emu::mmu {
namespace {

TEST_CASE("WalkTraced reports every entry used, before and after the A/D update", "[walk][shadow]") {
    ShadowEnv env;
    PagingRegs regs = env.NewRegs(PagingMode::Level4);
    const u64 pte = env.Map(regs, 0x7000, 0x9000, kW | kU);
    WalkTrace trace;
    const WalkResult r = WalkTraced(regs, 0x7123, AccessType::Write, kSupervisor, env.phys, &trace);
    REQUIRE(r.status == WalkStatus::Ok);
    REQUIRE(trace.count == 4);
    CHECK(trace.mode == PagingMode::Level4);
    CHECK(trace.entry_bytes == 8);
    CHECK(trace.levels[0].entry_gpa == (regs.cr3 & ~kPageMask));  // PML4 index 0
    CHECK(trace.levels[3].entry_gpa == pte);
    for (unsigned i = 0; i < 4; ++i) {
        CHECK(trace.levels[i].shift == 39 - 9 * i);
        CHECK((trace.levels[i].before & kA) == 0);
        CHECK(trace.levels[i].after == env.ReadEntry(trace.levels[i].entry_gpa, 8));  // what memory now holds
        CHECK(trace.levels[i].host == env.Host(trace.levels[i].entry_gpa));
    }
    CHECK((trace.levels[3].after & kD) != 0);
    CHECK((trace.levels[2].after & kD) == 0);
    CHECK(trace.leaf.gpa == 0x9123);
    CHECK(trace.leaf.rights.user_all);
    CHECK_FALSE(trace.leaf.dirty_bit);  // D before this access
    // A 4 MiB page in 32-bit paging: two entries, the leaf large.
    PagingRegs r32 = env.NewRegs(PagingMode::Bits32);
    env.Map(r32, 0x800000, 0x1400000, kW, 22);
    REQUIRE(WalkTraced(r32, 0x923456, AccessType::Read, kSupervisor, env.phys, &trace).status == WalkStatus::Ok);
    CHECK(trace.count == 1);
    CHECK(trace.entry_bytes == 4);
    CHECK(trace.levels[0].large);
    CHECK(trace.leaf.gpa == 0x1523456);
    CHECK(trace.leaf.page_size == (4u << 20));
}

TEST_CASE("FinishLeaf answers as Walk for every rights combination and access", "[walk][shadow]") {
    ShadowEnv env;
    for (u64 bits = 0; bits < 64; ++bits) {
        PagingRegs regs = env.NewRegs(PagingMode::Level4);
        if (bits & 8) regs.cr4 |= PagingRegs::kCr4Smep;
        if (bits & 16) regs.cr4 |= PagingRegs::kCr4Smap;
        if (bits & 32) regs.cr0 &= ~PagingRegs::kCr0Wp;
        const u64 leaf_flags = ((bits & 1) ? kU : 0) | ((bits & 2) ? kW : 0) | ((bits & 4) ? test::kXd : 0) | kA | kD;
        env.Map(regs, 0x5000, 0x9000, leaf_flags);
        for (unsigned type = 0; type < 3; ++type) {
            for (AccessFlags flags : {AccessFlags{}, AccessFlags{true, false, false}, AccessFlags{false, false, true},
                                      AccessFlags{false, true, true}}) {
                WalkTrace trace;
                const WalkResult full = WalkTraced(regs, 0x5000, AccessType(type), flags, env.phys, &trace);
                WalkLeaf leaf;
                leaf.gpa = 0x9000;
                leaf.rights = LeafRights{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
                leaf.dirty_bit = true;
                const WalkResult fin = FinishLeaf(regs, AccessType(type), flags, leaf);
                INFO("bits " << bits << " type " << type << " user " << flags.user);
                CHECK(fin.status == full.status);
                CHECK(fin.error_code == full.error_code);
                CHECK(fin.readable == full.readable);
                CHECK(fin.writable == full.writable);
                CHECK(fin.executable == full.executable);
            }
        }
    }
}

}  // namespace
}  // namespace emu::mmu
