// GPU copy/fill engine benchmarks: build-dir/tools/bench/gpu_engine_bench [tables] [copy_mib]
//   1. A store into a GPU page table the engine shadows (DmaMemory write + page-track dispatch + the shadow's
//      track_write re-syncing the entry) vs the same store into an untracked page.
//   2. Shadow rebuild (bind: walk the guest's tables, build the shadow, add-gfn each table page) for a context of
//      N leaf tables, and the unbind that releases them.
//   3. Engine COPY throughput (MiB/s, batches of page-crossing copies through the shadow and the memslots) vs memcpy.
// Exit status 1 if a result is wrong (the copy's bytes, the counts after unbind); the figures are only printed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "devices/gpu/engine/copy_engine.h"
#include "devices/gpu/engine/gpu_pt.h"
#include "devices/gpu/engine/regs.h"
#include "devices/virtio/dma_memory.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace {

using namespace emu;
using namespace emu::devices::gpu;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

class NoScanout final : public Scanout {
public:
    ScanoutInfo Info() const override { return {}; }
    void WithVram(const std::function<void(std::span<u8>, const ScanoutInfo&)>&) override {}
};

// Guest RAM laid out as: tables from kTables, data from kData (identity-mapped by the GPU tables at gva kData).
struct Bench {
    static constexpr u64 kTables = 0x100000, kBatch = 0x1000, kData = 0x4000000;

    explicit Bench(u64 ram_bytes) : ram(std::move(mmu::GuestRam::Create(ram_bytes).value())) {
        if (!slots.SetMemoryRegion(0, Gpa(0), ram_bytes, mmu::SlotFlags::None, ram.host())) std::exit(2);
        engine.Connect([](bool) {}, scanout);
    }
    u64* At(u64 gpa) { return reinterpret_cast<u64*>(ram.host().get() + gpa); }
    // Maps `pages` data pages at gva == gpa == kData with one root, one level-3, one level-2 table and leaf tables.
    void BuildTables(u64 pages) {
        const u64 root = kTables, l3 = kTables + kPageSize, l2 = kTables + 2 * kPageSize;
        std::memset(At(root), 0, 3 * kPageSize);
        for (u64 leaf = 0; leaf * kGptEntries < pages; ++leaf) {
            const u64 table = kTables + (3 + leaf) * kPageSize;
            const u64 gva = kData + leaf * kGptEntries * kPageSize;
            At(root)[GptIndex(gva, 4)] = l3 | kGptPresent;
            At(l3)[GptIndex(gva, 3)] = l2 | kGptPresent;
            At(l2)[GptIndex(gva, 2)] = table | kGptPresent;
            for (u64 i = 0; i < kGptEntries; ++i) At(table)[i] = (gva + i * kPageSize) | kGptPresent | kGptWritable;
        }
    }
    void Reg(u64 offset, u32 value) {
        u8 bytes[4];
        devices::StoreLe(bytes, value);
        engine.Write(offset, std::span<const u8>(bytes, 4));
    }
    void Reg64(u64 lo, u64 value) {  // a LO/HI pair
        Reg(lo, static_cast<u32>(value));
        Reg(lo + 4, static_cast<u32>(value >> 32));
    }
    void Bind() {
        Reg64(regs::kCtxRootLo, kTables);
        Reg(regs::kControl, regs::kCtlBind);
    }
    void Unbind() { Reg(regs::kControl, regs::kCtlUnbind); }

    mmu::GuestRam ram;
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    devices::virtio::DmaMemory writer{slots, &track};
    NoScanout scanout;
    CopyEngine engine{slots, track};
};

void TrappedWrite(Bench& b) {
    b.BuildTables(kGptEntries);
    b.Bind();
    const u64 leaf = Bench::kTables + 3 * kPageSize;
    const u64 plain = Bench::kData + 0x10000;
    constexpr int kN = 200000;
    const auto time = [&](u64 gpa, bool entry) {
        const auto t0 = Clock::now();
        for (int i = 0; i < kN; ++i) {
            const u64 value = entry ? (Bench::kData + u64(i % 512) * kPageSize) | kGptPresent | kGptWritable : u64(i);
            b.writer.WriteObject(gpa + u64(i % 512) * 8, value);
        }
        return Seconds(t0, Clock::now()) * 1e9 / kN;
    };
    (void)time(plain, false);  // warm up: first touches of the pages, caches
    (void)time(leaf, true);
    const double untracked = time(plain, false);
    const double trapped = time(leaf, true);
    std::printf("store into a shadowed GPU table: %.1f ns (untracked page, same path: %.1f ns)\n", trapped, untracked);
    b.Unbind();
}

bool Rebuild(Bench& b, u64 tables) {
    b.BuildTables(tables * kGptEntries);
    const auto t0 = Clock::now();
    b.Bind();
    const auto t1 = Clock::now();
    const u64 tracked = b.engine.Stats().shadow.tracked_gfns;
    b.Unbind();
    const auto t2 = Clock::now();
    std::printf("bind of %llu leaf tables (%llu pages tracked): %.3f ms; unbind %.3f ms\n",
                static_cast<unsigned long long>(tables), static_cast<unsigned long long>(tracked),
                Seconds(t0, t1) * 1e3, Seconds(t1, t2) * 1e3);
    return tracked == tables + 3 && b.engine.Stats().shadow.tracked_gfns == 0;
}

bool CopyThroughput(Bench& b, u64 mib) {
    const u64 bytes = mib << 20;
    b.BuildTables(2 * bytes / kPageSize + 1);
    b.Bind();
    for (u64 i = 0; i < bytes / 8; ++i) b.At(Bench::kData)[i] = i * 0x9E3779B97F4A7C15ull;
    // One COPY per MiB (offset by 3 bytes so every page piece splits), in one batch.
    std::vector<regs::GpuCommand> cmds;
    for (u64 m = 0; m < mib; ++m) {
        cmds.push_back({regs::kCmdCopy, 0, Bench::kData + (m << 20), Bench::kData + bytes + 3 + (m << 20), 1 << 20});
    }
    std::memcpy(b.At(Bench::kBatch), cmds.data(), cmds.size() * sizeof(regs::GpuCommand));
    b.Reg64(regs::kBatchLo, Bench::kBatch);
    b.Reg(regs::kBatchCount, static_cast<u32>(cmds.size()));
    const auto t0 = Clock::now();
    b.Reg(regs::kDoorbell, 1);
    const double engine_s = Seconds(t0, Clock::now());
    const bool fault = b.engine.Stats().faults != 0 || b.engine.Stats().commands != cmds.size();
    const u8* src = reinterpret_cast<const u8*>(b.At(Bench::kData));
    const bool same = !fault && std::memcmp(src, src + bytes + 3, bytes) == 0;
    std::vector<u8> host(bytes);
    const auto t1 = Clock::now();
    std::memcpy(host.data(), src, bytes);
    const double memcpy_s = Seconds(t1, Clock::now());
    std::printf("engine COPY: %.0f MiB/s (memcpy: %.0f MiB/s), %llu MiB%s\n", double(mib) / engine_s,
                double(mib) / memcpy_s, static_cast<unsigned long long>(mib), same ? "" : " WRONG BYTES");
    b.Unbind();
    return same && host[bytes - 1] == src[bytes - 1];
}

}  // namespace

int main(int argc, char** argv) {
    const u64 tables = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 64;
    const u64 mib = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : 64;
    if (tables == 0 || tables > 512 || mib == 0 || mib > 256) {
        std::fprintf(stderr, "usage: gpu_engine_bench [tables 1-512] [copy_mib 1-256]\n");
        return 2;
    }
    Bench b(Bench::kData + 2 * (mib << 20) + (tables << 21) + (4 << 20));
    TrappedWrite(b);
    bool ok = true;
    for (u64 n : {u64{1}, tables}) ok &= Rebuild(b, n);
    ok &= CopyThroughput(b, mib);
    if (!ok) std::fprintf(stderr, "gpu_engine_bench: a result was wrong\n");
    return ok ? 0 : 1;
}
