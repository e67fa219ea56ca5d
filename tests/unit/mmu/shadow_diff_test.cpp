// Differential test: the shadow MMU against the reference walker. Two identical guest memories hold random page
// tables in every format (shared tables, recursive entries, large pages, reserved bits, MMIO leaves); random
// accesses, guest gPTE stores of every width, CR3 switches, paging-bit changes, INVLPG and fast zaps are applied
// to both. Every translation (status, gpa, size, rights, G, D, error code) and every A/D bit in memory must agree.
// Seeded and reproducible: a failure prints the case seed. Default: kCases cases; the 'slow' suite runs 100x more.
//
// With unsync leaf pages (the default), gPTE stores to leaf tables are not trapped, so the shadow may answer from a
// stale SPTE exactly as a real TLB may answer from a stale entry (SDM Vol. 3 4.10.4): only for a 4 KiB leaf gPTE
// written since the last flush point (MOV CR3, paging-mode change) and not followed by an INVLPG of the address,
// and only with a value that gPTE held in that window. Such a translation is accepted iff it equals the walker's
// answer over memory in which that gPTE holds one of those values (A/D aside: a stale hit sets none, so the two
// memories may differ in the A/D bits of such gPTEs until the next flush point, where they are reconciled).
// After a flush point, or for an INVLPG'd address, the comparison is exact again.
#include <catch2/catch.hpp>

#include <cstring>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "tests/unit/mmu/shadow_test_env.h"

namespace emu::mmu {
namespace {

using test::kP;
using test::ShadowEnv;

constexpr u64 kPoolBase = 0x10000;
constexpr u64 kPoolPages = 48;
constexpr unsigned kLiveEntries = 6;  // entries 0..5 of each page are random; linear indices pick among them
constexpr unsigned kCases = 1500;
constexpr unsigned kOpsPerCase = 120;

constexpr u64 kAdBits = test::kA | test::kD;

ShadowOptions Options(bool unsync, u64 max_pages) {
    ShadowOptions options;
    options.unsync = unsync;
    options.max_pages = max_pages;
    return options;
}

// A gPTE written since the last flush point: the values it held in that window, and when it was last written.
struct StaleWindow {
    std::vector<u64> values;
    u64 last_write = 0;
};

struct Rig {
    ShadowEnv walk_env{1u << 20};  // the reference memory (Walk only)
    ShadowEnv shadow_env;          // the shadow MMU's memory
    ShadowEnv scratch_env{1u << 20};  // unsync: walk memory with one gPTE replaced by an older value
    std::unique_ptr<ShadowVcpu> vcpu = shadow_env.mmu->AddVcpu(nullptr);
    std::mt19937_64 rng;
    PagingMode mode = PagingMode::Level4;
    PagingRegs regs;
    std::vector<u64> hot;
    bool unsync;
    std::unordered_map<u64, StaleWindow> written;  // entry gpa -> window (unsync only)
    std::unordered_map<u64, u64> invlpg_at;        // linear page -> clock of its last INVLPG
    u64 clock = 0;
    u64 stale_accepted = 0;  // translations that differed from the walker's and were legal TLB staleness

    Rig(u64 seed, bool unsync, u64 max_pages)
        : shadow_env(1u << 20, Options(unsync, max_pages)), rng(seed), unsync(unsync) {}

    u64 Rand(u64 n) { return rng() % n; }
    bool Chance(unsigned percent) { return Rand(100) < percent; }
    unsigned EntryBytes() const { return mode == PagingMode::Bits32 ? 4 : 8; }

    u64 RandomEntry() {
        if (Chance(15)) return Chance(50) ? 0 : (rng() & ~kP) & (EntryBytes() == 4 ? 0xFFFFFFFFu : ~u64{0});
        u64 frame = kPoolBase + Rand(kPoolPages) * kPageSize;
        if (Chance(5)) frame = (Rand(64) + 1) << 21;            // beyond RAM: an MMIO leaf or a missing table
        u64 e = frame | kP | (rng() & 0x178);                    // PWT PCD A D G at random
        if (Chance(80)) e |= test::kU;
        if (Chance(75)) e |= test::kW;
        if (Chance(10)) {                                        // PS: a large leaf where the level allows one
            e = (e & 0xFFF) | 0x80 | (Rand(8) << (EntryBytes() == 4 ? 22 : 21));
            if (Chance(10)) e = (e & 0xFFF) | (Rand(4) << 30);  // 1 GiB aligned
        }
        if (EntryBytes() == 8) {
            if (Chance(10)) e |= test::kXd;
            if (Chance(3)) e |= u64{1} << (40 + Rand(12));       // a reserved physical-address bit
            if (Chance(mode == PagingMode::Pae ? 3 : 40)) e |= Rand(16) << 59;  // a protection key (reserved in PAE)
        } else {
            e &= 0xFFFFFFFFu;
            if (Chance(5)) e |= u64{Rand(0x1FF)} << 13;          // PSE-36 bits / reserved bits of a 4 MiB PDE
        }
        if (Chance(3)) e |= u64{1} << (13 + Rand(8));            // reserved in a 2 MiB leaf
        return e;
    }

    u64 EntryValue(ShadowEnv& env, u64 entry) { return env.ReadEntry(entry, EntryBytes()); }

    void Store(u64 gpa, u64 value, unsigned bytes) {
        const u64 entry = gpa & ~u64{EntryBytes() - 1};
        if (unsync) {
            StaleWindow& w = written[entry];
            if (w.values.empty()) w.values.push_back(EntryValue(walk_env, entry));
            w.last_write = ++clock;
        }
        std::memcpy(walk_env.Host(gpa), &value, bytes);  // the walker needs no notification
        shadow_env.GuestWrite(gpa, &value, bytes);        // the shadow side goes through the dispatcher
        if (unsync) written[entry].values.push_back(EntryValue(walk_env, entry));
    }

    // The two memories may differ only in the A/D bits of gPTEs written since the last flush point.
    std::string CompareMemory() {
        const u8* a = walk_env.Host(kPoolBase);
        const u8* b = shadow_env.Host(kPoolBase);
        if (!std::memcmp(a, b, kPoolPages * kPageSize)) return "";
        for (u64 i = 0; i < kPoolPages * kPageSize; ++i) {
            if (a[i] == b[i]) continue;
            const u64 gpa = kPoolBase + i;
            const bool ad_only =
                unsync && (gpa % EntryBytes()) == 0 && written.count(gpa) && ((a[i] ^ b[i]) & ~kAdBits) == 0;
            if (!ad_only) return fmt::format("guest memory differs at {:#x}: walk {:#x} shadow {:#x}", gpa, a[i], b[i]);
        }
        return "";
    }

    // At a flush point: from now on both sides must agree exactly; A/D bits the walker set behind a stale SPTE go.
    void Reconcile() {
        if (!unsync) return;
        for (const auto& [entry, window] : written) std::memcpy(walk_env.Host(entry), shadow_env.Host(entry), 1);
        written.clear();
        invlpg_at.clear();
    }

    u64 LinearPage(u64 linear) const {
        const bool long_mode = mode == PagingMode::Level4 || mode == PagingMode::Level5;
        return (long_mode ? linear : (linear & 0xFFFFFFFFu)) & ~kPageMask;
    }

    void Invlpg(u64 linear) {
        vcpu->Invlpg(regs, linear);
        if (!unsync) return;
        invlpg_at[LinearPage(linear)] = ++clock;
        // The shadow re-reads that gPTE at the next access: take its A/D bits as the shadow memory holds them.
        if (auto entry = Level1Entry(linear); entry && written.count(*entry)) {
            std::memcpy(walk_env.Host(*entry), shadow_env.Host(*entry), 1);
        }
    }

    // The gpa of the 4 KiB-leaf gPTE (in a level-1 table) the walk of linear reads in walk memory, if it gets there.
    std::optional<u64> Level1Entry(u64 linear) {
        const unsigned bytes = EntryBytes();
        const unsigned bits = mode == PagingMode::Bits32 ? 10 : 9;
        const u64 frame_mask = bytes == 4 ? 0xFFFFF000u : 0xFFFFFFFFFF000;
        u64 lin = LinearPage(linear);
        u64 table = regs.cr3 & frame_mask;
        unsigned shift = test::TopShift(mode);
        if (mode == PagingMode::Pae) {
            const u64 pdpte = regs.pdptes[(lin >> 30) & 3];
            if (!(pdpte & kP)) return std::nullopt;
            table = pdpte & frame_mask;
        }
        for (;; shift -= bits) {
            const u64 entry = table + ((lin >> shift) & ((u64{1} << bits) - 1)) * bytes;
            if (entry < kPoolBase || entry >= kPoolBase + kPoolPages * kPageSize) return std::nullopt;
            if (shift == 12) return entry;
            const u64 value = EntryValue(walk_env, entry);
            if (!(value & kP) || (value & 0x80)) return std::nullopt;
            table = value & frame_mask;
        }
    }

    // Whether `got` is what a TLB may still answer for linear: the walker's result with its level-1 gPTE holding a
    // value from the stale window (the D bit aside: it comes from whichever copy of the gPTE a walk updated).
    bool LegalStale(u64 linear, AccessType type, AccessFlags flags, const WalkResult& got);

    u64 RandomTable() { return kPoolBase + Rand(kPoolPages) * kPageSize; }

    bool SetCr3(u64 table) {
        PagingRegs next = regs;
        next.cr3 = table;
        if (mode == PagingMode::Pae) {
            next.cr3 = table + Rand(4) * 32;
            if (!LoadPdptes(next, walk_env.phys)) return false;  // a reserved PDPTE: MOV CR3 would #GP
        }
        regs = next;
        vcpu->OnCr3Write();
        return true;
    }

    void Setup() {
        const PagingMode modes[] = {PagingMode::Bits32, PagingMode::Pae, PagingMode::Level4, PagingMode::Level5};
        mode = modes[Rand(4)];
        regs = PagingRegs{};
        regs.cr0 = PagingRegs::kCr0Pg | 1 | (Chance(70) ? PagingRegs::kCr0Wp : 0);
        if (mode != PagingMode::Bits32) regs.cr4 |= PagingRegs::kCr4Pae;
        if (mode == PagingMode::Level5) regs.cr4 |= PagingRegs::kCr4La57;
        if (mode == PagingMode::Level4 || mode == PagingMode::Level5) regs.efer |= PagingRegs::kEferLma;
        RandomizeBits();
        for (u64 page = 0; page < kPoolPages; ++page) {
            const u64 gpa = kPoolBase + page * kPageSize;
            std::memset(walk_env.Host(gpa), 0, kPageSize);
            std::memset(shadow_env.Host(gpa), 0, kPageSize);
            const unsigned stride = (mode == PagingMode::Pae && Chance(30)) ? 32 : 0;
            for (unsigned i = 0; i < kLiveEntries; ++i) Store(gpa + i * EntryBytes(), RandomEntry(), EntryBytes());
            if (stride) {  // a page usable as a PAE PDPT: four sane PDPTEs at some 32-byte offset
                for (unsigned i = 0; i < 4; ++i) {
                    const u64 pdpte = Chance(85) ? (RandomTable() | kP) : 0;
                    Store(gpa + i * 8, pdpte, 8);
                }
            }
        }
        for (int tries = 0; tries < 64 && !SetCr3(RandomTable()); ++tries) {
        }
        if (mode == PagingMode::Pae && !(regs.cr4 & PagingRegs::kCr4Pae)) regs.cr4 |= PagingRegs::kCr4Pae;
    }

    void RandomizeBits() {
        auto flip = [&](u64& reg, u64 bit, unsigned percent) { reg = Chance(percent) ? (reg | bit) : (reg & ~bit); };
        flip(regs.cr4, PagingRegs::kCr4Smep, 30);
        flip(regs.cr4, PagingRegs::kCr4Smap, 30);
        flip(regs.cr4, PagingRegs::kCr4Pge, 50);
        flip(regs.cr0, PagingRegs::kCr0Wp, 70);
        flip(regs.cr4, PagingRegs::kCr4Pke, 50);
        regs.pkru = Chance(70) ? static_cast<u32>(rng()) : 0;  // the shadow MMU applies it at lookup, as the walk
        if (mode == PagingMode::Bits32) flip(regs.cr4, PagingRegs::kCr4Pse, 70);
        else flip(regs.efer, PagingRegs::kEferNxe, 70);
    }

    // Mostly a few hot pages per case (so SPTEs get hit), else a fresh random address.
    u64 RandomLinear() {
        if (hot.empty()) {
            for (int i = 0; i < 6; ++i) hot.push_back(GuidedLinear());
        }
        if (Chance(75)) return (hot[Rand(hot.size())] & ~kPageMask) | Rand(kPageSize);
        return Chance(70) ? GuidedLinear() : FreshLinear();
    }

    // Follows present entries from the top table, so that most such addresses reach a leaf.
    u64 GuidedLinear() {
        const unsigned bits = mode == PagingMode::Bits32 ? 10 : 9;
        unsigned shift = test::TopShift(mode);
        u64 linear = Rand(kPageSize);
        u64 table = regs.cr3 & (EntryBytes() == 4 ? 0xFFFFF000u : 0xFFFFFFFFFF000);
        if (mode == PagingMode::Pae) {
            const u64 q = Rand(4);
            linear |= q << 30;
            table = regs.pdptes[q] & 0xFFFFFFFFFF000;
        }
        for (; shift >= 12; shift -= bits) {
            if (table < kPoolBase || table >= kPoolBase + kPoolPages * kPageSize) break;
            u64 index = Rand(kLiveEntries);
            u64 entry = 0;
            for (int tries = 0; tries < 8; ++tries) {
                index = Rand(kLiveEntries);
                std::memcpy(&entry, walk_env.Host(table + index * EntryBytes()), EntryBytes());
                if (EntryBytes() == 4) entry &= 0xFFFFFFFFu;
                if (entry & kP) break;
            }
            linear |= index << shift;
            if (shift == 12 || (entry & 0x80)) {
                linear |= Rand(u64{1} << shift) & ~kPageMask;
                break;
            }
            table = entry & (EntryBytes() == 4 ? 0xFFFFF000u : 0xFFFFFFFFFF000);
        }
        return linear;
    }

    u64 FreshLinear() {
        u64 linear = Rand(kPageSize);
        const unsigned bits = mode == PagingMode::Bits32 ? 10 : 9;
        const unsigned top = test::TopShift(mode);
        for (unsigned shift = 12; shift <= top; shift += bits) linear |= Rand(kLiveEntries) << shift;
        if (mode == PagingMode::Pae) linear |= Rand(4) << 30;
        if (Chance(10)) linear = rng();  // anything, including high halves (the walker truncates or indexes)
        if (mode == PagingMode::Level4 && Chance(50)) linear = (linear & ((u64{1} << 48) - 1));
        return linear;
    }

    AccessFlags RandomFlags() {
        AccessFlags f;
        f.user = Chance(40);
        f.implicit_supervisor = Chance(15);
        f.rflags_ac = Chance(40);
        return f;
    }
};

bool Same(const WalkResult& a, const WalkResult& b) {
    return a.status == b.status && a.gpa == b.gpa && a.page_size == b.page_size && a.readable == b.readable &&
           a.writable == b.writable && a.executable == b.executable && a.user_page == b.user_page &&
           a.global == b.global && a.dirty == b.dirty && a.error_code == b.error_code && a.table_gpa == b.table_gpa;
}

bool Rig::LegalStale(u64 linear, AccessType type, AccessFlags flags, const WalkResult& got) {
    if (!unsync) return false;
    const std::optional<u64> entry = Level1Entry(linear);
    if (!entry) return false;
    auto window = written.find(*entry);
    if (window == written.end()) return false;
    auto inv = invlpg_at.find(LinearPage(linear));
    if (inv != invlpg_at.end() && inv->second > window->second.last_write) {
        return false;  // INVLPG after the last write: no staleness left for this address
    }
    for (u64 value : window->second.values) {
        std::memcpy(scratch_env.Host(kPoolBase), walk_env.Host(kPoolBase), kPoolPages * kPageSize);
        std::memcpy(scratch_env.Host(*entry), &value, EntryBytes());
        WalkResult alt = Walk(regs, linear, type, flags, scratch_env.phys);
        alt.dirty = got.dirty;
        if (Same(alt, got)) return true;
    }
    return false;
}

std::string Describe(const WalkResult& r) {
    return fmt::format("status {} gpa {:#x} size {:#x} r{} w{} x{} u{} g{} d{} err {:#x} table {:#x}", int(r.status),
                       r.gpa, r.page_size, r.readable, r.writable, r.executable, r.user_page, r.global, r.dirty,
                       r.error_code, r.table_gpa);
}

// Runs one case; returns "" or a description of the first disagreement.
std::string RunCase(u64 seed, bool unsync, u64 max_pages, ShadowStats* totals, u64* stale_accepted) {
    Rig rig(seed, unsync, max_pages);
    rig.Setup();
    for (unsigned op = 0; op < kOpsPerCase; ++op) {
        const u64 pick = rig.Rand(100);
        if (pick < 60) {
            const u64 linear = rig.RandomLinear();
            const AccessType type = static_cast<AccessType>(rig.Rand(3));
            const AccessFlags flags = rig.RandomFlags();
            const WalkResult expect = Walk(rig.regs, linear, type, flags, rig.walk_env.phys);
            const WalkResult got = rig.vcpu->Translate(rig.regs, linear, type, flags, rig.shadow_env.phys);
            if (!Same(expect, got)) {
                if (!rig.LegalStale(linear, type, flags, got)) {
                    return fmt::format("op {} mode {} linear {:#x} type {} user {}: walk [{}] shadow [{}]", op,
                                       int(rig.mode), linear, int(type), flags.user, Describe(expect), Describe(got));
                }
                ++rig.stale_accepted;
            }
            if (std::string diff = rig.CompareMemory(); !diff.empty()) {
                return fmt::format("op {}: after linear {:#x}: {}", op, linear, diff);
            }
        } else if (pick < 88) {
            u64 entry = rig.RandomTable() + rig.Rand(kLiveEntries) * rig.EntryBytes();
            if (rig.unsync && !rig.hot.empty() && rig.Chance(50)) {
                // The leaf gPTE of a hot address: its SPTE is live, so an untrapped store leaves it stale.
                if (auto leaf = rig.Level1Entry(rig.hot[rig.Rand(rig.hot.size())])) entry = *leaf;
            }
            const u64 value = rig.RandomEntry();
            switch (rig.Rand(6)) {
                case 0: rig.Store(entry, value, 1); break;                                  // aligned byte
                case 1: rig.Store(entry + 1 + rig.Rand(2), value, 2); break;                // misaligned
                case 2: rig.Store(entry, value, 4); break;                                  // a 4-byte half
                default: rig.Store(entry, value, rig.EntryBytes()); break;                  // the whole gPTE
            }
        } else if (pick < 93) {
            if (rig.SetCr3(rig.RandomTable())) rig.Reconcile();
        } else if (pick < 97) {
            rig.RandomizeBits();
            rig.vcpu->OnPagingModeChange();
            rig.Reconcile();
        } else if (pick < 99) {
            rig.Invlpg(rig.RandomLinear());
        } else {
            rig.shadow_env.mmu->ZapAllFast();
        }
    }
    if (std::string broken = rig.shadow_env.mmu->CheckInvariants(); !broken.empty()) return "invariants: " + broken;
    const ShadowStats s = rig.shadow_env.mmu->Stats();
    totals->spte_hits += s.spte_hits;
    totals->spte_misses += s.spte_misses;
    totals->write_calls += s.write_calls;
    totals->write_zapped += s.write_zapped;
    totals->write_updated += s.write_updated;
    totals->ad_zaps += s.ad_zaps;
    totals->unsync_made += s.unsync_made;
    totals->synced += s.synced;
    totals->sync_dropped += s.sync_dropped;
    totals->sync_on_reuse += s.sync_on_reuse;
    totals->cap_zaps += s.cap_zaps;
    *stale_accepted += rig.stale_accepted;
    return "";
}

void RunCases(u64 first_seed, unsigned count, bool unsync, u64 max_pages = ShadowOptions{}.max_pages) {
    ShadowStats totals;
    u64 stale_accepted = 0;
    unsigned failures = 0;
    for (unsigned i = 0; i < count && failures < 5; ++i) {
        const u64 seed = first_seed + i;
        const std::string diff = RunCase(seed, unsync, max_pages, &totals, &stale_accepted);
        if (!diff.empty()) {
            ++failures;
            FAIL_CHECK("seed " << seed << ": " << diff);
        }
    }
    // The cases exercised what they are meant to: hits, misses, trapped writes of both outcomes.
    CHECK(totals.spte_hits > count);
    CHECK(totals.spte_misses > count);
    CHECK(totals.write_zapped > 0);
    CHECK(totals.write_updated > 0);
    CHECK((totals.cap_zaps > 0) == (max_pages < ShadowOptions{}.max_pages));  // a small cap was reached
    if (unsync) {
        // Tables went unsync, were synced at flush points and found stale, and stale answers were seen and legal.
        CHECK(totals.unsync_made > count / 4);
        CHECK(totals.synced > count / 4);
        CHECK(totals.sync_dropped > 0);
        CHECK(stale_accepted > 0);
        WARN("unsync made " << totals.unsync_made << ", synced " << totals.synced << ", stale SPTEs dropped "
                            << totals.sync_dropped << ", reused " << totals.sync_on_reuse << ", stale answers "
                            << stale_accepted);
    } else {
        CHECK(totals.unsync_made == 0);
        CHECK(stale_accepted == 0);
    }
}

TEST_CASE("shadow MMU translations equal the walker's on random page tables of every format", "[shadow][diff]") {
    RunCases(1, kCases, false);
}

TEST_CASE("with unsync leaf tables, shadow answers are the walker's or legal TLB staleness until a flush point",
          "[shadow][diff][unsync]") {
    RunCases(1, kCases, true);
}

TEST_CASE("with a cap of 12 shadow pages, zapping the oldest keeps every answer the walker's", "[shadow][diff][cap]") {
    RunCases(3'000'000, kCases / 3, false, 12);
    RunCases(4'000'000, kCases / 3, true, 12);
}

TEST_CASE("shadow vs walk differential, 100x cases", "[.][slow]") {
    RunCases(1'000'000, kCases * 100, false);
    RunCases(2'000'000, kCases * 100, true);
}

}  // namespace
}  // namespace emu::mmu
