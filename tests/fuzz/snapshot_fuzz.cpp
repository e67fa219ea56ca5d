// Snapshot files given to -loadvm's loader (issue #16): the input is a whole snapshot file. It is loaded twice into
// a PC board with a read-only virtio-blk, a virtio-rng and a Bochs display (the machine the seed was saved from):
// once as given, where the file checks (magic, version, lengths, checksums) meet the mutation, and once with its
// header and checksums made valid, so that the section decoders (machine, clock, cpu, board, pci, virtio, display,
// ram) meet it. Each load must succeed or return a message, never crash; after a successful load the vCPU runs a
// few hundred instructions from the restored state.
//
// The seed corpus is a snapshot this machine saves: EMU64_FUZZ_SAVE_SNAPSHOT=FILE fuzz_snapshot ANY writes one.
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "emu/cpu/vcpu.h"
#include "emu/machine/pc_snapshot.h"
#include "emu/machine/vcpu_memory.h"
#include "emu/snapshot/snapshot_file.h"
#include "tests/fuzz/fuzz_machine.h"

namespace {

using namespace emu;
using namespace emu::machine;

constexpr u64 kInstructionsAfterLoad = 500;

struct SnapshotMachine : fuzz::FuzzMachine {
    SnapshotMachine()
        : FuzzMachine({DeviceSpec{"virtio-blk-pci", DeviceKind::VirtioBlk, "d0"},
                       DeviceSpec{"virtio-rng-pci", DeviceKind::VirtioRng},
                       DeviceSpec{"VGA", DeviceKind::BochsDisplay}},
                      true) {
        vcpu.SetInterruptSource(&board);
    }
    PcSnapshotTarget Target() {
        return PcSnapshotTarget{&config, &slots, &track, &board, &vcpu, &vcpu_memory, &host_clock, virtio.get(),
                                display.get()};
    }

    VcpuMemory vcpu_memory{slots, &track, board.mmio(), board.pio(), MmuMode::Shadow};
    cpu::Vcpu vcpu{vcpu_memory};
    devices::HostClock host_clock;
};

u32 Crc32(std::span<const u8> bytes) {
    return static_cast<u32>(crc32(crc32(0, nullptr, 0), bytes.data(), static_cast<uInt>(bytes.size())));
}

// The input with magic, version, body length and both checksums as a writer would have put them.
std::vector<u8> WithValidHeader(const u8* data, size_t size) {
    std::vector<u8> file(data, data + size);
    if (file.size() < snapshot::kHeaderBytes) return file;
    auto put32 = [&](size_t at, u32 v) { std::memcpy(file.data() + at, &v, 4); };
    std::memcpy(file.data(), snapshot::kMagic, sizeof snapshot::kMagic);
    put32(8, snapshot::kFormatVersion);
    const u64 body = file.size() - snapshot::kHeaderBytes;
    std::memcpy(file.data() + 16, &body, 8);
    put32(24, Crc32(std::span<const u8>(file).subspan(snapshot::kHeaderBytes)));
    put32(28, Crc32(std::span<const u8>(file).first(28)));
    return file;
}

const std::string& ScratchFile() {
    static const std::string path = (std::filesystem::temp_directory_path() /
                                     ("emu64-fuzz-" + std::to_string(getpid()) + snapshot::kFileSuffix))
                                        .string();
    return path;
}

void Load(SnapshotMachine& m, std::span<const u8> file) {
    {
        std::ofstream out(ScratchFile(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
        if (!out) std::abort();
    }
    if (const auto error = LoadPcSnapshot(m.Target(), ScratchFile())) {
        if (error->empty()) {
            std::fprintf(stderr, "snapshot_fuzz: a refused load without a message\n");
            std::abort();
        }
        return;
    }
    (void)m.vcpu.Run(kInstructionsAfterLoad);
}

// A saved state with something in it: bytes in RAM, registers set, the PIT programmed.
void SaveSeed(const char* path) {
    SnapshotMachine m;
    for (u64 i = 0; i < kPageSize; ++i) m.ram.host().get()[0x100000 + i] = static_cast<u8>(i * 7 + 1);
    cpu::CpuState& s = m.vcpu.state();
    cpu::ResetState(s);
    for (unsigned i = 0; i < 16; ++i) s.gpr[i] = 0x1000 * i;
    const u8 pit[] = {0x34, 0x00, 0x10};
    m.board.pio().Write(0x43, std::span<const u8>(pit, 1));
    m.board.pio().Write(0x40, std::span<const u8>(pit + 1, 1));
    m.board.pio().Write(0x40, std::span<const u8>(pit + 2, 1));
    if (const auto error = SavePcSnapshot(m.Target(), path)) {
        std::fprintf(stderr, "snapshot_fuzz: %s\n", error->c_str());
        std::exit(1);
    }
    std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    if (const char* seed = std::getenv("EMU64_FUZZ_SAVE_SNAPSHOT")) SaveSeed(seed);
    SnapshotMachine m;
    Load(m, std::span<const u8>(data, size));
    Load(m, WithValidHeader(data, size));
    std::filesystem::remove(ScratchFile());
    return 0;
}
