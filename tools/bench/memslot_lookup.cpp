// memslot_lookup: ns per Memslots::Translate() with 1, 8 and 64 slots, for a repeated address (last-hit
// hint) and random addresses (binary search), single-threaded and with two reader threads; plus the cost of
// the read section alone and, for comparison, of a std::atomic<std::shared_ptr> snapshot load.
// Usage: memslot_lookup [iterations]   (default 20000000)
#include <algorithm>
#include <atomic>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"

using namespace emu;
using namespace emu::mmu;

namespace {

constexpr u64 kSlotSize = 16u << 20;
constexpr u64 kSlotStride = 32u << 20;  // a gap after each slot

// CPU time of the calling thread: the build machine is shared, and wall time would count the time this thread
// waited for a core. Best of 5 runs, the least disturbed figure.
double ThreadCpuNs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

template <typename F>
double NsPerOp(u64 iterations, F&& body) {
    double best = 1e30;
    const u64 per_run = iterations / 5 ? iterations / 5 : 1;
    for (int run = 0; run < 5; ++run) {
        const double start = ThreadCpuNs();
        body(per_run);
        best = std::min(best, (ThreadCpuNs() - start) / double(per_run));
    }
    return best;
}

// Random in-slot addresses, 4096 of them (fits L1), so the measurement is the lookup, not the generator.
std::vector<Gpa> RandomAddresses(u32 slots) {
    std::mt19937_64 rng(slots);
    std::vector<Gpa> out(4096);
    for (Gpa& gpa : out) gpa = Gpa((rng() % slots) * kSlotStride + rng() % kSlotSize);
    return out;
}

u64 TranslateLoop(const Memslots& memslots, const std::vector<Gpa>& addresses, u64 iterations) {
    u64 sink = 0;
    for (u64 i = 0; i < iterations; ++i) {
        const std::optional<HostPtr> host = memslots.Translate(addresses[i & (addresses.size() - 1)]);
        sink += reinterpret_cast<uintptr_t>(host ? host->get() : nullptr);
    }
    return sink;
}

}  // namespace

int main(int argc, char** argv) {
    const u64 iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20'000'000;
    std::atomic<u64> sink{0};
    std::printf("%-8s %12s %12s %16s\n", "slots", "repeated", "random", "random,2 threads");
    for (const u32 count : {1u, 8u, 64u}) {
        auto ram = GuestRam::Create(count * kSlotSize);  // never touched: costs no memory
        if (!ram) return 1;
        Memslots memslots;
        for (u32 i = 0; i < count; ++i) {
            if (!memslots.SetMemoryRegion(i, Gpa(i * kSlotStride), kSlotSize, SlotFlags::None,
                                          ram->host() + i * kSlotSize)) {
                return 1;
            }
        }
        const std::vector<Gpa> random = RandomAddresses(count);
        const std::vector<Gpa> repeated(4096, random[0]);
        const double rep = NsPerOp(iterations, [&](u64 n) { sink += TranslateLoop(memslots, repeated, n); });
        const double rnd = NsPerOp(iterations, [&](u64 n) { sink += TranslateLoop(memslots, random, n); });
        // Both threads look up concurrently; the figure is the main thread's CPU time per lookup.
        const std::vector<Gpa> other_random = RandomAddresses(count + 1);
        const double two = NsPerOp(iterations, [&](u64 n) {
            std::thread other([&] { sink += TranslateLoop(memslots, other_random, n); });
            sink += TranslateLoop(memslots, random, n);
            other.join();
        });
        std::printf("%-8u %9.2f ns %9.2f ns %13.2f ns\n", count, rep, rnd, two);
    }

    Memslots memslots;
    const double section = NsPerOp(iterations, [&](u64 n) {
        for (u64 i = 0; i < n; ++i) {
            Memslots::ReadSection s(memslots);
            sink += s.generation();
        }
    });
    std::atomic<std::shared_ptr<const u64>> shared{std::make_shared<const u64>(1)};
    const double shared_load = NsPerOp(iterations, [&](u64 n) {
        for (u64 i = 0; i < n; ++i) sink += *shared.load();
    });
    const double shared_two = NsPerOp(iterations, [&](u64 n) {
        std::thread other([&] {
            for (u64 i = 0; i < n; ++i) sink.fetch_add(*shared.load(), std::memory_order_relaxed);
        });
        for (u64 i = 0; i < n; ++i) sink += *shared.load();
        other.join();
    });
    std::printf("read section alone (enter+leave): %.2f ns\n", section);
    std::printf("std::atomic<std::shared_ptr> load+release: %.2f ns (1 thread), %.2f ns (2 threads; lock-free: %s)\n",
                shared_load, shared_two, shared.is_lock_free() ? "yes" : "no");
    std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink.load() & 1));
    return 0;
}
