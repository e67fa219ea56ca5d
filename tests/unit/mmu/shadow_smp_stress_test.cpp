// SMP stress test of the shadow MMU and page-track (issue #12, acceptance 3; page-track.md sections 5 and 7): four
// vCPU threads share one ShadowMmu, each with its own SoftTlb, and edit guest page tables (their own and shared
// ones) through their TLBs, fault through their ShadowVcpu, INVLPG and reload CR3, while an external client (a GPU)
// adds and removes gfns and re-registers its notifier, and a memslot thread deletes, recreates and moves a slot and
// toggles dirty logging. Run it under ThreadSanitizer with tools/test-tsan (longer: EMU64_STRESS_SECONDS).
//
// TLB ownership (the machine's rule, which this test follows): a SoftTlb belongs to its vCPU thread. The MMU calls
// TlbShootdown with mmu_lock held, from any thread, and a shootdown must not return before the target can no longer
// use the dropped entries. Here each vCPU's TLB has a mutex that stands for "the vCPU is in guest mode": the vCPU
// holds it while it looks up, stores through, or fills its TLB, and releases it before every call into the MMU or
// page-track (Translate, Invlpg, OnCr3Write, OnTrackedWrite), as a vCPU leaves guest mode before it calls into the
// MMU. A remote flush takes the same mutex, so it waits for the vCPU's current TLB use to end and never deadlocks:
// a vCPU never waits for an MMU lock while holding its TLB. The tracked check and the fill happen in one hold of
// the mutex, so an add-gfn either is seen by the fill or demotes the filled entry before it returns.
//
// Checked during the run: whenever the client holds a gfn (its AddGfn returned, its RemoveGfn not yet called), no
// vCPU's TLB has a writable fast-path entry for it; every RemoveGfn of the client balances; the memslot thread
// samples CheckInvariants, at most two generations alive (I8) and the obsolete FIFO tail. After the run: no TLB
// holds a writable entry for a tracked gfn (I1), the structural checker, no shadow page or TLB entry refers to a
// deleted slot (I5), every translation equals the reference walker after a flush point, and all counts return to
// zero once every shadow page is zapped and the client has let go (I3).
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/unit/mmu/shadow_test_env.h"

namespace emu::mmu {
namespace {

using test::kA;
using test::kD;
using test::kP;
using test::kPs;
using test::kW;
using test::SameResult;
using test::ShadowEnv;
using test::SlotPhys;
using test::StoreGuest;

constexpr unsigned kVcpus = 4;
constexpr unsigned kLive = 16;     // entries 0..15 of each edited table are live; the windows map them
constexpr unsigned kSharedPts = 4;  // shared leaf tables, under PD_shared entries 0..3
constexpr u64 kPoolPages = 24;      // data pages in slot 0
constexpr u64 kSlot1Base = 0x4000000;
constexpr u64 kSlot1MovedBase = 0x6000000;
constexpr u64 kSlot1Size = 1 << 20;
constexpr u64 kSlot1Pages = 8;         // data pages of the pool in slot 1
constexpr u64 kLargeBase = 0x800000;   // 2 MiB guest pages mapped by PD_shared entries (no tables there)
constexpr u64 kSharedLinear = u64{1} << 39;  // PML4 entry 1: the shared tables
constexpr u64 kOwnLinear = 0x200000;         // PD entry 1 of the private tables: the vCPU's own leaf table
constexpr MmuIndex kIndex = MmuIndex::Supervisor;
constexpr AccessFlags kSupervisor{};

// Indices of a vCPU's table list, mapped at linear j * 4 KiB (its "page-table window").
enum TableIndex : unsigned { kPml4, kPdpt, kPd, kPtMeta, kPtOwn, kPdptShared, kPdShared, kPtShared0, kTables = 11 };
static_assert(kTables == kPtShared0 + kSharedPts);

u64 SharedLinear(unsigned k, unsigned i) { return kSharedLinear + (u64{k} << 21) + u64{i} * kPageSize; }
u64 OwnLinear(unsigned i) { return kOwnLinear + u64{i} * kPageSize; }

double StressSeconds() {
    const char* s = std::getenv("EMU64_STRESS_SECONDS");
    return s ? std::max(0.1, std::atof(s)) : 2.0;
}

// The first failure seen by any thread, reported by the main thread (Catch2 assertions are not thread-safe).
class Failures {
public:
    void Add(std::string what) {
        count_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(mutex_);
        if (first_.empty()) first_ = std::move(what);
    }
    u64 count() const { return count_.load(); }
    std::string first() {
        std::lock_guard lock(mutex_);
        return first_;
    }

private:
    std::atomic<u64> count_{0};
    std::mutex mutex_;
    std::string first_;
};

// One vCPU's TLB and its "guest mode" mutex (see the header comment).
class VcpuTlb final : public TlbShootdown {
public:
    void FlushAll() override {
        std::lock_guard lock(mutex);
        tlb.FlushAll();
    }
    void FlushGfn(Gfn gfn) override {
        std::lock_guard lock(mutex);
        tlb.FlushGfn(gfn);
    }
    void DemoteWritesToGfn(Gfn gfn) override {
        std::lock_guard lock(mutex);
        tlb.DemoteWritesToGfn(gfn);
    }
    std::mutex mutex;
    SoftTlb tlb;
};

struct Rig {
    ShadowEnv env{16u << 20};
    GuestRam slot1_ram = test::NewRam(kSlot1Size);
    Failures failures;
    std::atomic<bool> stop{false};
    std::vector<u64> pool;  // data frames (gpa)
    u64 pdpt_shared = 0, pd_shared = 0;
    std::array<u64, kSharedPts> pt_shared{};
    std::array<std::array<u64, kTables>, kVcpus> tables{};  // per vCPU, by TableIndex
    std::array<PagingRegs, kVcpus> regs{};
    std::array<std::vector<u64>, kVcpus> linears;  // every linear page a vCPU may use
    std::vector<Gfn> client_candidates;
    // Built before any thread starts: TLBs outlive the vCPUs that point at them.
    std::array<VcpuTlb, kVcpus> tlbs;
    std::array<std::unique_ptr<ShadowVcpu>, kVcpus> vcpus;

    Rig() {
        REQUIRE(env.slots.SetMemoryRegion(1, Gpa(kSlot1Base), kSlot1Size, SlotFlags::None, slot1_ram.host()).ok());
        for (u64 i = 0; i < kPoolPages; ++i) pool.push_back(env.AllocPage());
        for (u64 i = 0; i < kSlot1Pages; ++i) pool.push_back(kSlot1Base + i * kPageSize);
        pdpt_shared = env.AllocPage();
        pd_shared = env.AllocPage();
        for (u64& pt : pt_shared) pt = env.AllocPage();
        env.WriteEntry(pdpt_shared, pd_shared | kP | kW | kA, 8);
        for (unsigned k = 0; k < kSharedPts; ++k) env.WriteEntry(pd_shared + k * 8, pt_shared[k] | kP | kW | kA, 8);
        for (unsigned t = 0; t < kVcpus; ++t) {
            auto& tb = tables[t];
            for (unsigned j : {kPml4, kPdpt, kPd, kPtMeta, kPtOwn}) tb[j] = env.AllocPage();
            tb[kPdptShared] = pdpt_shared;
            tb[kPdShared] = pd_shared;
            for (unsigned k = 0; k < kSharedPts; ++k) tb[kPtShared0 + k] = pt_shared[k];
            env.WriteEntry(tb[kPml4], tb[kPdpt] | kP | kW | kA, 8);
            env.WriteEntry(tb[kPml4] + 8, pdpt_shared | kP | kW | kA, 8);
            env.WriteEntry(tb[kPdpt], tb[kPd] | kP | kW | kA, 8);
            env.WriteEntry(tb[kPd], tb[kPtMeta] | kP | kW | kA, 8);
            env.WriteEntry(tb[kPd] + 8, tb[kPtOwn] | kP | kW | kA, 8);
            for (unsigned j = 0; j < kTables; ++j) {
                env.WriteEntry(tb[kPtMeta] + j * 8, tb[j] | kP | kW | kA | kD, 8);
                linears[t].push_back(u64{j} * kPageSize);
            }
            regs[t] = env.NewRegs(PagingMode::Level4);  // for the control bits; its fresh page stays unused
            regs[t].cr3 = tb[kPml4];
            for (unsigned i = 0; i < kLive; ++i) {
                linears[t].push_back(OwnLinear(i));
                for (unsigned k = 0; k < kSharedPts; ++k) linears[t].push_back(SharedLinear(k, i));
            }
            vcpus[t] = env.mmu->AddVcpu(&tlbs[t]);
            for (unsigned j : {kPml4, kPdpt, kPd, kPtMeta, kPtOwn}) client_candidates.push_back(tb[j] >> kPageShift);
        }
        client_candidates.push_back(pdpt_shared >> kPageShift);
        client_candidates.push_back(pd_shared >> kPageShift);
        for (u64 pt : pt_shared) client_candidates.push_back(pt >> kPageShift);
        for (u64 gpa : pool) client_candidates.push_back(gpa >> kPageShift);
        for (unsigned k = 0; k < kSharedPts; ++k) {
            for (unsigned i = 0; i < kLive; ++i) client_candidates.push_back((kLargeBase >> kPageShift) + k * 512 + i);
        }
    }

    // Each vCPU's fill: the translation came from the MMU without the TLB mutex; the tracked check and the fill are
    // made under it, as one step (see the header comment).
    void FillLocked(unsigned t, u64 linear, const WalkResult& r) {
        const Memslots::ReadSection section(env.slots);
        const SlotEntry* slot = section.Find(Gpa(r.gpa));
        u64 flags = 0;
        u8* host = nullptr;
        if (!slot) {
            flags |= tlb_flag::kMmio;
        } else {
            host = slot->host.get() + (r.gpa - slot->base.value());
            if (HasFlag(slot->flags, SlotFlags::LogDirtyPages)) flags |= tlb_flag::kNotDirty;
            if (env.track.IsWriteTracked(Gpa(r.gpa))) flags |= tlb_flag::kTracked;
        }
        if (section.generation() & kGenerationInProgress) return;
        tlbs[t].tlb.FillFromWalk(kIndex, linear, r, host, flags);
    }

    // A TLB miss: translate through the vCPU's shadow MMU (TLB mutex released), then fill. False on a #PF.
    bool Fill(unsigned t, SlotPhys& phys, u64 linear, AccessType access) {
        const WalkResult r = vcpus[t]->Translate(regs[t], linear, access, kSupervisor, phys);
        if (r.status != WalkStatus::Ok) return false;  // #PF, or a torn gPTE pointing at a table outside RAM
        std::lock_guard lock(tlbs[t].mutex);
        FillLocked(t, linear, r);
        return true;
    }

    // The machine's store path: inline hit, else the slow path (dirty log, page-track dispatcher after the bytes
    // landed, outside guest mode), else translate and fill. False if the store faulted or hit no RAM.
    bool Store(unsigned t, SlotPhys& phys, u64 linear, u64 value, unsigned size) {
        for (unsigned attempt = 0; attempt < 4; ++attempt) {
            u64 gpa = 0;
            u64 flags = 0;
            {
                std::lock_guard lock(tlbs[t].mutex);
                const TlbLookup l = tlbs[t].tlb.Lookup(kIndex, linear, AccessType::Write);
                if (l.kind == TlbLookupKind::Hit) {
                    StoreGuest(l.host, value, size);
                    return true;
                }
                if (l.kind == TlbLookupKind::SlowPath) {
                    if (l.flags & tlb_flag::kMmio) return false;
                    StoreGuest(reinterpret_cast<u8*>(tlbs[t].tlb.Entry(kIndex, linear).addend + linear), value, size);
                    gpa = l.gpa;
                    flags = l.flags;
                }
            }
            if (flags) {
                if (flags & tlb_flag::kNotDirty) env.slots.MarkDirty(Gpa(gpa));
                if (flags & tlb_flag::kTracked) {
                    env.track.OnTrackedWrite(Gpa(gpa), std::span<const u8>(reinterpret_cast<const u8*>(&value), size));
                }
                return true;
            }
            if (!Fill(t, phys, linear, AccessType::Write)) return false;
        }
        return false;
    }

    void Load(unsigned t, SlotPhys& phys, u64 linear) {
        for (unsigned attempt = 0; attempt < 2; ++attempt) {
            {
                std::lock_guard lock(tlbs[t].mutex);
                const TlbLookup l = tlbs[t].tlb.Lookup(kIndex, linear & ~u64{7}, AccessType::Read);
                if (l.kind == TlbLookupKind::Hit) {
                    (void)std::atomic_ref<u64>(*reinterpret_cast<u64*>(l.host)).load(std::memory_order_relaxed);
                    return;
                }
                if (l.kind == TlbLookupKind::SlowPath) return;  // MMIO: a device would answer
            }
            if (!Fill(t, phys, linear, AccessType::Read)) return;
        }
    }

    // A random leaf gPTE: not present, or a pool frame read-only, writable and dirty, or writable and clean.
    u64 RandomLeaf(std::mt19937_64& rng) {
        const u64 frame = pool[rng() % pool.size()];
        switch (rng() % 4) {
            case 0: return 0;
            case 1: return frame | kP | kA;
            case 2: return frame | kP | kW | kA | kD;
            default: return frame | kP | kW;
        }
    }

    void VcpuThread(unsigned t, u64 seed, u64* ops) {
        std::mt19937_64 rng(seed);
        SlotPhys phys(env.slots);
        while (!stop.load(std::memory_order_relaxed)) {
            ++*ops;
            const unsigned op = rng() % 100;
            if (op < 55) {
                // Edit a gPTE of its own leaf table, a shared leaf table or (rarely) the shared PD, through its
                // page-table window: a tracked page's store reaches the dispatcher, an unsync one is a plain store.
                const unsigned i = rng() % kLive;
                const unsigned choice = rng() % 10;
                unsigned table = kPtOwn;
                u64 value = RandomLeaf(rng);
                u64 invlpg = OwnLinear(i);
                bool reload = false;
                if (choice == 0) {
                    const unsigned k = i % kSharedPts;
                    table = kPdShared;
                    const u64 options[] = {pt_shared[k] | kP | kW | kA, 0,
                                           (kLargeBase + (u64{k} << 21)) | kP | kW | kA | kD | kPs};
                    value = options[rng() % 3];
                    reload = true;  // a PDE: the guest reloads CR3 rather than INVLPG 512 pages
                    Edit(t, phys, rng, table, k, value);
                } else {
                    if (choice >= 4) {
                        const unsigned k = rng() % kSharedPts;
                        table = kPtShared0 + k;
                        invlpg = SharedLinear(k, i);
                    }
                    Edit(t, phys, rng, table, i, value);
                }
                if (reload) {
                    Cr3Reload(t);
                } else if (rng() % 4 != 0) {  // sometimes no INVLPG: the guest may use the old translation a while
                    vcpus[t]->Invlpg(regs[t], invlpg);
                    std::lock_guard lock(tlbs[t].mutex);
                    tlbs[t].tlb.FlushPage(invlpg);
                }
            } else if (op < 95) {
                const std::vector<u64>& lin = linears[t];
                const u64 linear = lin[kTables + rng() % (lin.size() - kTables)] + (rng() % 512) * 8;
                if (rng() % 2) {
                    (void)Store(t, phys, linear, rng(), 8);
                } else {
                    Load(t, phys, linear);
                }
            } else {
                Cr3Reload(t);
            }
        }
    }

    // One gPTE store: mostly 8 bytes; also a 4-byte half, an aligned byte (KVM's bit-clear case) and a misaligned
    // 2-byte store (the write handler zaps the whole shadow page).
    void Edit(unsigned t, SlotPhys& phys, std::mt19937_64& rng, unsigned table, unsigned index, u64 value) {
        const u64 entry = u64{table} * kPageSize + index * 8;
        switch (rng() % 8) {
            case 0: (void)Store(t, phys, entry + 4 * (rng() % 2), value >> (32 * (rng() % 2)), 4); break;
            case 1: (void)Store(t, phys, entry, value, 1); break;
            case 2: (void)Store(t, phys, entry + 1, value >> 8, 2); break;
            default: (void)Store(t, phys, entry, value, 8); break;
        }
    }

    void Cr3Reload(unsigned t) {
        vcpus[t]->OnCr3Write();
        std::lock_guard lock(tlbs[t].mutex);
        tlbs[t].tlb.FlushNonGlobal();
    }

    // Whether a vCPU's TLB lets a store to gfn take the fast path. Takes each TLB's mutex.
    std::string WritableEntry(Gfn gfn) {
        for (unsigned t = 0; t < kVcpus; ++t) {
            std::lock_guard lock(tlbs[t].mutex);
            for (u64 linear : linears[t]) {
                const TlbLookup l = tlbs[t].tlb.Lookup(kIndex, linear, AccessType::Write);
                if (l.kind == TlbLookupKind::Hit && GfnOf(Gpa(l.gpa)) == gfn) {
                    return fmt::format("vCPU {} can write tracked gfn {:#x} at {:#x} on the fast path", t, gfn, linear);
                }
            }
        }
        return "";
    }
};

// The external client (a GPU): holds up to 8 gfns at a time, checks that no TLB can write them on the fast path,
// lets go of them when their slot goes away (track_remove_region) and re-registers a fresh notifier now and then
// (the old node is freed at once: Unregister's grace period, I10).
struct Client {
    Rig& rig;
    std::mutex mutex;  // guards held (taken in track_remove_region and around AddGfn/RemoveGfn)
    std::vector<Gfn> held;
    std::unique_ptr<PageTrackNotifier> node;
    std::atomic<u64> writes{0}, regions{0};
    u64 adds = 0, scans = 0, registrations = 0;

    explicit Client(Rig& r) : rig(r) {}

    void Register() {
        node = std::make_unique<PageTrackNotifier>();
        node->name = "stress-gpu";
        node->track_write = [this](Gpa, std::span<const u8>) { writes.fetch_add(1, std::memory_order_relaxed); };
        node->track_remove_region = [this](Gfn first, u64 npages) {
            regions.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard lock(mutex);
            std::erase_if(held, [&](Gfn g) { return g - first < npages; });  // the counts died with the slot
        };
        if (!rig.env.track.Register(node.get())) rig.failures.Add("client: Register failed");
        ++registrations;
    }

    // A DELETE/MOVE of slot 1 publishes its final memslot set before its commit sends track_remove_region: in
    // between, RemoveGfn of a gfn of the old slot finds no slot (NoSlot, harmless: the count died with the slot, as
    // KVM's remove-gfn returns -EINVAL there). Any other failure is an unbalanced count.
    void Remove(Gfn gfn) {
        const auto r = rig.env.track.RemoveGfn(gfn, "stress-gpu");
        if (!r && !(r.error() == PageTrackError::NoSlot && GpaOf(gfn).value() - kSlot1Base < kSlot1Size)) {
            rig.failures.Add(fmt::format("client: unbalanced remove of {:#x} (error {})", gfn, int(r.error())));
        }
    }

    void ReleaseAll() {
        std::lock_guard lock(mutex);
        for (Gfn g : held) Remove(g);
        held.clear();
    }

    void Unregister() {
        ReleaseAll();
        if (!rig.env.track.Unregister(node.get())) rig.failures.Add("client: Unregister failed");
        node.reset();
    }

    void Check(Gfn gfn) {
        ++scans;
        if (std::string bad = rig.WritableEntry(gfn); !bad.empty()) rig.failures.Add("during the run: " + bad);
    }

    void Run(u64 seed) {
        std::mt19937_64 rng(seed);
        Register();
        while (!rig.stop.load(std::memory_order_relaxed)) {
            const unsigned op = rng() % 32;
            if (op == 0) {
                Unregister();
                Register();
                continue;
            }
            std::lock_guard lock(mutex);
            if (op < 16 && held.size() < 8) {
                const Gfn gfn = rig.client_candidates[rng() % rig.client_candidates.size()];
                // NoSlot is expected while slot 1 is deleted or moved away.
                if (rig.env.track.AddGfn(gfn, "stress-gpu")) {
                    held.push_back(gfn);
                    ++adds;
                    Check(gfn);
                }
            } else if (!held.empty()) {
                const size_t i = rng() % held.size();
                Check(held[i]);
                Remove(held[i]);
                held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
        Unregister();
    }
};

// Memslot changes while the vCPUs run: DELETE + CREATE and MOVE + MOVE back of slot 1 (data pages of the pool), and
// FLAGS_ONLY dirty-logging toggles of slot 0 (every table). Samples the MMU's checkers between changes.
void MemslotThread(Rig& rig, u64 seed, u64* changes, u64* samples) {
    std::mt19937_64 rng(seed);
    bool logging = false;
    auto set = [&](SlotId id, u64 base, u64 size, SlotFlags flags, HostPtr host) {
        if (!rig.env.slots.SetMemoryRegion(id, Gpa(base), size, flags, host)) {
            rig.failures.Add(fmt::format("memslot change of slot {} at {:#x} failed", id, base));
        }
        ++*changes;
    };
    while (!rig.stop.load(std::memory_order_relaxed)) {
        std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 1500));
        switch (rng() % 3) {
            case 0:
                set(1, kSlot1Base, 0, SlotFlags::None, rig.slot1_ram.host());
                std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
                set(1, kSlot1Base, kSlot1Size, SlotFlags::None, rig.slot1_ram.host());
                break;
            case 1:
                set(1, kSlot1MovedBase, kSlot1Size, SlotFlags::None, rig.slot1_ram.host());
                std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
                set(1, kSlot1Base, kSlot1Size, SlotFlags::None, rig.slot1_ram.host());
                break;
            default:
                logging = !logging;
                set(0, ShadowEnv::kRamBase, rig.env.ram.size(), logging ? SlotFlags::LogDirtyPages : SlotFlags::None,
                    rig.env.ram.host());
                if (!logging) break;
                std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
                (void)rig.env.slots.GetAndClearDirtyLog(0);
                break;
        }
        ++*samples;
        if (std::string bad = rig.env.mmu->CheckInvariants(); !bad.empty()) rig.failures.Add("checker: " + bad);
        if (rig.env.mmu->GenerationsAlive() > 2) rig.failures.Add("more than two generations alive (I8)");
        if (!rig.env.mmu->ObsoleteFormTail()) rig.failures.Add("obsolete pages are not the FIFO tail (I8)");
    }
}

}  // namespace

TEST_CASE("SMP stress: 4 vCPUs edit shared page tables beside a GPU client and memslot changes; invariants hold",
          "[shadow][smp]") {
    const double seconds = StressSeconds();
    const u64 seed = std::getenv("EMU64_STRESS_SEED") ? std::strtoull(std::getenv("EMU64_STRESS_SEED"), nullptr, 0)
                                                      : std::random_device{}();
    INFO("seed " << seed << " (EMU64_STRESS_SEED), " << seconds << " s (EMU64_STRESS_SECONDS)");
    Rig rig;
    Client client(rig);
    std::array<u64, kVcpus> ops{};
    u64 changes = 0, samples = 0;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < kVcpus; ++t) threads.emplace_back([&, t] { rig.VcpuThread(t, seed + t, &ops[t]); });
    threads.emplace_back([&] { client.Run(seed + 100); });
    threads.emplace_back([&] { MemslotThread(rig, seed + 200, &changes, &samples); });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    rig.stop = true;
    for (std::thread& th : threads) th.join();

    CHECK(rig.failures.first() == "");
    CHECK(rig.failures.count() == 0);
    // The run did what it claims (else it proves nothing).
    for (unsigned t = 0; t < kVcpus; ++t) CHECK(ops[t] > 100);
    const ShadowStats stats = rig.env.mmu->Stats();
    UNSCOPED_INFO(stats.ToString());
    CHECK(stats.write_calls > 0);
    CHECK(stats.unsync_made > 0);
    CHECK(stats.fast_zaps > 0);
    CHECK(client.adds > 0);
    CHECK(client.scans > 0);
    CHECK(client.registrations > 1);
    CHECK(client.regions.load() > 0);
    CHECK(changes > 2);
    CHECK(samples > 0);

    // I1 at rest: no TLB lets a store to a tracked gfn take the fast path.
    for (Gfn gfn = 0; gfn < (rig.env.ram.size() >> kPageShift); ++gfn) {
        if (rig.env.track.TrackCount(gfn) == 0) continue;
        const std::string bad = rig.WritableEntry(gfn);
        CHECK(bad == "");
        if (!bad.empty()) break;
    }
    CHECK(rig.env.mmu->CheckInvariants() == "");
    CHECK(rig.env.mmu->GenerationsAlive() <= 2);
    CHECK(rig.env.mmu->ObsoleteFormTail());

    // I5: once slot 1 is deleted no shadow page, SPTE or TLB entry refers to it.
    REQUIRE(rig.env.slots.SetMemoryRegion(1, Gpa(kSlot1Base), 0, SlotFlags::None, rig.slot1_ram.host()).ok());
    CHECK(rig.env.mmu->ValidReferencesTo(kSlot1Base >> kPageShift, kSlot1Size >> kPageShift) == 0);
    for (unsigned t = 0; t < kVcpus; ++t) {
        for (u64 linear : rig.linears[t]) {
            const TlbLookup l = rig.tlbs[t].tlb.Lookup(kIndex, linear, AccessType::Read);
            CHECK((l.kind == TlbLookupKind::Miss || l.gpa - kSlot1Base >= kSlot1Size));
        }
    }

    // After a flush point every translation equals the reference walker's.
    for (unsigned t = 0; t < kVcpus; ++t) {
        rig.vcpus[t]->OnCr3Write();
        rig.tlbs[t].tlb.FlushAll();
        for (u64 linear : rig.linears[t]) {
            const WalkResult shadow =
                rig.vcpus[t]->Translate(rig.regs[t], linear, AccessType::Read, kSupervisor, rig.env.phys);
            PagingRegs copy = rig.regs[t];
            const WalkResult walk = Walk(copy, linear, AccessType::Read, kSupervisor, rig.env.phys);
            INFO("vCPU " << t << " linear " << std::hex << linear);
            CHECK(SameResult(shadow, walk));
        }
    }

    // I3: the client let go of everything; zapping every shadow page brings every count back to zero.
    rig.env.mmu->ZapAll();
    CHECK(rig.env.mmu->indirect_shadow_pages().load() == 0);
    u64 still_tracked = 0;
    for (Gfn gfn = 0; gfn < (rig.env.ram.size() >> kPageShift); ++gfn) still_tracked += rig.env.track.TrackCount(gfn);
    CHECK(still_tracked == 0);
    for (auto& vcpu : rig.vcpus) vcpu.reset();
}

}  // namespace emu::mmu
