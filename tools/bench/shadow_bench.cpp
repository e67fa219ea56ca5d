// Shadow MMU benchmarks: build-dir/tools/bench/shadow_bench [address_spaces] [pages_per_space]
//   1. N address spaces x M pages: translations per second, shadow (SPTE hits after the first round) vs walk.
//   2. Fast zap time with 10, 1,000 and 100,000 shadow pages (must not grow), and the lazy reclaim that follows.
//   3. A trapped gPTE write (store + page-track dispatch + shadow write handler) vs a store to an untracked page
//      (unsync off: every leaf-table write stays trapped).
//   4. Unsync leaf tables: a leaf-table store once unsync, and the cycle a table goes through per flush point
//      (first trapped write + unsync, then the sync at MOV CR3: re-protect + re-read of 512 gPTEs).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"
#include "mmu/shadow/shadow_mmu.h"
#include "mmu/softtlb/softtlb.h"
#include "mmu/walk/walk.h"

namespace {

using namespace emu;
using namespace emu::mmu;
using Clock = std::chrono::steady_clock;

constexpr u64 kP = 1, kW = 2, kU = 4;
constexpr AccessFlags kSupervisor{};

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

class Phys final : public PhysMemory {
public:
    explicit Phys(Memslots& slots) : slots_(slots) {}
    u8* HostPointer(u64 gpa) override {
        auto host = slots_.TranslateForWrite(Gpa(gpa));
        return host ? host->get() : nullptr;
    }

private:
    Memslots& slots_;
};

class TlbHook final : public TlbShootdown {
public:
    void FlushAll() override { tlb.FlushAll(); }
    void FlushGfn(Gfn gfn) override { tlb.FlushGfn(gfn); }
    void DemoteWritesToGfn(Gfn gfn) override { tlb.DemoteWritesToGfn(gfn); }
    SoftTlb tlb;
};

struct Env {
    explicit Env(u64 ram_bytes, ShadowOptions options = {})
        : ram(std::move(GuestRam::Create(ram_bytes).value())), track(slots), phys(slots) {
        if (!slots.SetMemoryRegion(0, Gpa(0), ram_bytes, SlotFlags::None, ram.host())) std::abort();
        mmu = std::make_unique<ShadowMmu>(slots, track, options);
        vcpu = mmu->AddVcpu(&hook);
    }
    ~Env() {
        vcpu.reset();
        mmu.reset();
    }
    u8* Host(u64 gpa) { return slots.Translate(Gpa(gpa))->get(); }
    u64 Alloc() {
        const u64 gpa = next;
        next += kPageSize;
        return gpa;
    }
    // A guest store through the machine's slow path: bytes land, then page-track dispatch if tracked.
    void Store(u64 gpa, u64 value) {
        std::memcpy(Host(gpa), &value, 8);
        if (track.IsWriteTracked(Gpa(gpa))) track.OnTrackedWrite(Gpa(gpa), std::span<const u8>(Host(gpa), 8));
    }
    u64 Entry(u64 table, unsigned index, u64 flags) {
        u64 e;
        std::memcpy(&e, Host(table + index * 8), 8);
        if (!(e & kP)) {
            e = Alloc() | flags;
            std::memcpy(Host(table + index * 8), &e, 8);
        }
        return e & ~kPageMask;
    }
    // 4-level mapping of linear -> gpa; returns the leaf entry's gpa.
    u64 Map(u64 cr3, u64 linear, u64 gpa) {
        u64 table = cr3;
        for (unsigned shift = 39; shift > 12; shift -= 9) table = Entry(table, (linear >> shift) & 511, kP | kW | kU);
        const u64 leaf = table + ((linear >> 12) & 511) * 8;
        const u64 e = gpa | kP | kW | kU;
        std::memcpy(Host(leaf), &e, 8);
        return leaf;
    }
    PagingRegs Regs(u64 cr3) const {
        PagingRegs r;
        r.cr0 = PagingRegs::kCr0Pg | PagingRegs::kCr0Wp | 1;
        r.cr4 = PagingRegs::kCr4Pae;
        r.efer = PagingRegs::kEferLma | PagingRegs::kEferNxe;
        r.cr3 = cr3;
        return r;
    }

    GuestRam ram;
    Memslots slots;
    PageTrack track;
    Phys phys;
    TlbHook hook;
    std::unique_ptr<ShadowMmu> mmu;
    std::unique_ptr<ShadowVcpu> vcpu;
    u64 next = 0x200000;
};

void TranslationThroughput(u64 spaces, u64 pages) {
    Env env(u64{256} << 20);
    std::vector<PagingRegs> regs;
    for (u64 s = 0; s < spaces; ++s) {
        regs.push_back(env.Regs(env.Alloc()));
        for (u64 p = 0; p < pages; ++p) {
            env.Map(regs.back().cr3, 0x400000 + p * kPageSize, 0x100000 + (p % 64) * kPageSize);
        }
    }
    constexpr int kRounds = 20;
    auto run = [&](bool shadow) {
        u64 sink = 0;
        const auto t0 = Clock::now();
        for (int round = 0; round < kRounds; ++round) {
            for (u64 s = 0; s < spaces; ++s) {
                env.vcpu->OnCr3Write();
                for (u64 p = 0; p < pages; ++p) {
                    const u64 linear = 0x400000 + p * kPageSize;
                    const WalkResult r = shadow ? env.vcpu->Translate(regs[s], linear, AccessType::Read, kSupervisor,
                                                                      env.phys)
                                                : Walk(regs[s], linear, AccessType::Read, kSupervisor, env.phys);
                    sink += r.gpa;
                }
            }
        }
        const double secs = Seconds(t0, Clock::now());
        if (sink == 1) std::puts("");
        return double(kRounds * spaces * pages) / secs;
    };
    const double walk = run(false);
    const auto t0 = Clock::now();
    for (u64 s = 0; s < spaces; ++s) {
        env.vcpu->OnCr3Write();
        for (u64 p = 0; p < pages; ++p) {
            (void)env.vcpu->Translate(regs[s], 0x400000 + p * kPageSize, AccessType::Read, kSupervisor, env.phys);
        }
    }
    const double build = Seconds(t0, Clock::now()) / double(spaces * pages) * 1e9;
    const double shadow = run(true);
    const ShadowStats st = env.mmu->Stats();
    std::printf("1. %llu address spaces x %llu pages (TLB misses only, no soft-TLB):\n",
                (unsigned long long)spaces, (unsigned long long)pages);
    std::printf("   walk:   %.1f M translations/s\n", walk / 1e6);
    std::printf("   shadow: %.1f M translations/s (SPTE hits; first touch builds at %.0f ns/page), %llu SPs, "
                "%llu roots reused of %llu loads\n",
                shadow / 1e6, build, (unsigned long long)st.pages_alive,
                (unsigned long long)(st.roots_loaded - st.roots_created), (unsigned long long)st.roots_loaded);
}

void FastZap() {
    std::printf("2. fast zap (generation bump + TLB flush) and the lazy reclaim after it:\n");
    for (u64 target : {u64{10}, u64{1000}, u64{100000}}) {
        const u64 pts = target;  // one SP per guest PT, plus a few PDs/PDPT/PML4
        Env env((pts + pts / 512 + 64) * kPageSize + (u64{2} << 20));
        const PagingRegs regs = env.Regs(env.Alloc());
        for (u64 j = 0; j < pts; ++j) env.Map(regs.cr3, (j / 512) << 30 | (j % 512) << 21, 0x100000);
        for (u64 j = 0; j < pts; ++j) {
            (void)env.vcpu->Translate(regs, (j / 512) << 30 | (j % 512) << 21, AccessType::Read, kSupervisor, env.phys);
        }
        const u64 pages = env.mmu->Stats().pages_alive;
        const auto t0 = Clock::now();
        env.mmu->ZapAllFast();
        const auto t1 = Clock::now();
        u64 reclaimed = 0;
        for (u64 n; (n = env.mmu->ReclaimObsolete(10)) != 0;) reclaimed += n;
        const auto t2 = Clock::now();
        std::printf("   %7llu shadow pages: fast zap %.2f us; lazy reclaim %llu pages in batches of 10: %.2f ms "
                    "(%.0f ns/page)\n",
                    (unsigned long long)pages, Seconds(t0, t1) * 1e6, (unsigned long long)reclaimed,
                    Seconds(t1, t2) * 1e3, Seconds(t1, t2) / double(reclaimed ? reclaimed : 1) * 1e9);
    }
}

ShadowOptions Unsync(bool on) {
    ShadowOptions options;
    options.unsync = on;
    return options;
}

void TrappedWrites() {
    Env env(u64{16} << 20, Unsync(false));
    const PagingRegs regs = env.Regs(env.Alloc());
    const u64 leaf = env.Map(regs.cr3, 0x400000, 0x100000);
    const u64 untracked = env.Alloc();
    (void)env.vcpu->Translate(regs, 0x400000, AccessType::Read, kSupervisor, env.phys);
    constexpr u64 kWrites = 200000;
    auto time_ns = [&](auto&& body) {
        const auto t0 = Clock::now();
        for (u64 i = 0; i < kWrites; ++i) body(i);
        return Seconds(t0, Clock::now()) / double(kWrites) * 1e9;
    };
    const double plain = time_ns([&](u64 i) { env.Store(untracked, i); });
    const u64 pte = 0x100000 | kP | kW | kU | 0x20;
    const double same = time_ns([&](u64) { env.Store(leaf, pte); });
    const double other = time_ns([&](u64 i) { env.Store(leaf + 8 * (1 + i % 8), i & ~kP); });
    const double refault = time_ns([&](u64) {
        (void)env.vcpu->Translate(regs, 0x400000, AccessType::Read, kSupervisor, env.phys);
    });
    const double zap_refault = time_ns([&](u64 i) {
        env.Store(leaf, i & 1 ? pte : (pte | 0x40));
        (void)env.vcpu->Translate(regs, 0x400000, AccessType::Read, kSupervisor, env.phys);
    });
    const ShadowStats st = env.mmu->Stats();
    std::printf("3. guest stores (store + IsWriteTracked, then page-track dispatch when tracked):\n");
    std::printf("   untracked page:                              %6.1f ns/store\n", plain);
    std::printf("   trapped gPTE write, value unchanged:         %6.1f ns/write\n", same);
    std::printf("   trapped write to a gPTE with no SPTE:        %6.1f ns/write\n", other);
    std::printf("   trapped write zapping a live SPTE + TLB gfn flush, then the re-fault: %.1f ns "
                "(an SPTE hit alone: %.1f ns)\n",
                zap_refault, refault);
    std::printf("   handler outcomes: updated %llu, unchanged %llu, ignored %llu, sp zapped %llu\n",
                (unsigned long long)st.write_updated, (unsigned long long)st.write_unchanged,
                (unsigned long long)st.write_ignored, (unsigned long long)st.write_zapped);
}

void UnsyncCycle() {
    constexpr u64 kTables = 64;
    constexpr int kRounds = 200;
    Env env(u64{64} << 20, Unsync(true));
    const PagingRegs regs = env.Regs(env.Alloc());
    std::vector<u64> leaves;
    for (u64 t = 0; t < kTables; ++t) {
        const u64 linear = 0x400000 + t * (u64{1} << 21);  // one page table per 2 MiB
        for (u64 p = 0; p < 512; p += 8) env.Map(regs.cr3, linear + p * kPageSize, 0x100000 + (p % 64) * kPageSize);
        leaves.push_back(env.Map(regs.cr3, linear, 0x100000));
        for (u64 p = 0; p < 512; p += 8) {
            (void)env.vcpu->Translate(regs, linear + p * kPageSize, AccessType::Read, kSupervisor, env.phys);
        }
    }
    const u64 pte = 0x100000 | kP | kW | kU | 0x20;
    double first = 0, later = 0, sync = 0;
    for (int round = 0; round < kRounds; ++round) {
        const auto t0 = Clock::now();
        for (u64 t = 0; t < kTables; ++t) env.Store(leaves[t] + 8, pte ^ (round & 1 ? 0x40 : 0));  // traps, unsync
        const auto t1 = Clock::now();
        for (u64 t = 0; t < kTables; ++t) {
            for (u64 i = 2; i < 10; ++i) env.Store(leaves[t] + 8 * i, pte);  // plain stores now
        }
        const auto t2 = Clock::now();
        env.vcpu->OnCr3Write();  // syncs all kTables tables
        const auto t3 = Clock::now();
        first += Seconds(t0, t1);
        later += Seconds(t1, t2);
        sync += Seconds(t2, t3);
    }
    const ShadowStats st = env.mmu->Stats();
    const double n = double(kRounds * kTables);
    std::printf("4. unsync leaf tables (%llu tables with 64 live SPTEs each):\n", (unsigned long long)kTables);
    std::printf("   first write to a synced table (trap + handler + unsync + TLB gfn flush): %6.1f ns\n",
                first / n * 1e9);
    std::printf("   later writes to the unsync table (plain stores):                          %6.1f ns/store\n",
                later / (n * 8) * 1e9);
    std::printf("   sync at MOV CR3 (re-protect, TLB demote scan, 512 gPTE re-reads):         %6.1f ns/table\n",
                sync / n * 1e9);
    std::printf("   made unsync %llu, synced %llu, stale SPTEs dropped %llu\n", (unsigned long long)st.unsync_made,
                (unsigned long long)st.synced, (unsigned long long)st.sync_dropped);
}

}  // namespace

int main(int argc, char** argv) {
    const u64 spaces = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 16;
    const u64 pages = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : 512;
    TranslationThroughput(spaces, pages);
    FastZap();
    TrappedWrites();
    UnsyncCycle();
    return 0;
}
