// The image loaders on mutated images (issue #16): a bzImage (setup header, placement, command line, initrd), a
// Multiboot ELF with an initrd as its module, and a flat binary's start state in each mode. The guest RAM is small
// and has a hole, and every write is checked against it, so a loader that writes outside RAM or past the end of a
// host buffer is caught (by the check or by ASan); refusing the image is a fine outcome.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "emu/machine/boot/linux_loader.h"
#include "emu/machine/boot/multiboot_loader.h"
#include "emu/machine/boot/start_state.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace emu;
using namespace emu::machine;

// 8 MiB of RAM at 0 and 8 MiB at 32 MiB: the loaders must respect the ranges they are given.
constexpr u64 kLowBytes = 8 << 20, kHighBase = 32 << 20, kHighBytes = 8 << 20;

// The bytes are shared by every run (clearing 16 MiB per input would be most of the time spent): what a loader
// wrote before is of no interest, only where it writes.
class CheckedRam : public PhysWriter {
public:
    bool WritePhys(u64 gpa, std::span<const u8> bytes) override {
        u8* at = Find(gpa, bytes.size());
        if (!at) return false;
        std::copy(bytes.begin(), bytes.end(), at);
        return true;
    }
    bool ZeroPhys(u64 gpa, u64 size) override {
        u8* at = Find(gpa, size);
        if (!at) return false;
        std::fill_n(at, size, 0);
        return true;
    }
    std::vector<PhysRange> ranges() const { return {{0, kLowBytes}, {kHighBase, kHighBytes}}; }

private:
    static u8* Find(u64 gpa, u64 size) {
        static std::vector<u8> low(kLowBytes), high(kHighBytes);
        if (InRam({{0, kLowBytes}}, gpa, size)) return low.data() + gpa;
        if (InRam({{kHighBase, kHighBytes}}, gpa, size)) return high.data() + (gpa - kHighBase);
        return nullptr;
    }
};

std::vector<E820Entry> MemoryMap() {
    return {{0, 0x9FC00, 1}, {0x100000, kLowBytes - 0x100000, 1}, {kHighBase, kHighBytes, 1}};
}

// The plan must name RAM the loader really wrote into.
void Require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "loaders_fuzz: %s\n", what);
        std::abort();
    }
}

void LoadBzImage(fuzz::FuzzInput& in) {
    const auto initrd = in.TakeBytes(64 << 10);
    const auto cmdline = in.TakeBytes(4096);
    const bool force32 = in.TakeBool();
    const auto file = in.Rest();
    const auto image = ParseBzImage(file);
    if (!image) return;
    CheckedRam ram;
    LinuxBootConfig config;
    config.cmdline.assign(cmdline.begin(), cmdline.end());
    config.initrd = initrd;
    config.e820 = MemoryMap();
    config.ram = ram.ranges();
    config.force_32bit_entry = force32;
    cpu::CpuState state;
    const auto plan = LoadLinux(ram, *image, config, state);
    if (!plan) return;
    Require(InRam(config.ram, plan->kernel_gpa, plan->kernel_end - plan->kernel_gpa), "kernel outside RAM");
    Require(initrd.empty() || InRam(config.ram, plan->initrd_gpa, plan->initrd_size), "initrd outside RAM");
}

void LoadMultibootImage(fuzz::FuzzInput& in) {
    const auto module = in.TakeBytes(64 << 10);
    const auto cmdline = in.TakeBytes(8192);
    const auto image = in.Rest();
    if (!HasMultibootHeader(image)) return;
    CheckedRam ram;
    MultibootConfig config;
    config.cmdline.assign(cmdline.begin(), cmdline.end());
    config.module = module;
    config.module_name = "initrd";
    config.memory_map = MemoryMap();
    config.ram = ram.ranges();
    cpu::CpuState state;
    const auto plan = LoadMultiboot(ram, image, config, state);
    if (!plan) return;
    Require(InRam(config.ram, plan->info_gpa, plan->info_end - plan->info_gpa), "information outside RAM");
    Require(plan->info_gpa >= plan->kernel_end, "information over the kernel");
    Require(module.empty() || plan->info_gpa >= plan->module_gpa + plan->module_size, "information over the module");
}

void LoadFlat(fuzz::FuzzInput& in) {
    StartOptions start;
    start.mode = static_cast<StartMode>(in.TakeBelow(3));
    start.cpl = in.Take<u8>() & 3;
    start.entry = in.Take<u64>();
    start.stack_pointer = in.Take<u64>();
    const u64 load = in.Take<u64>() & 0x3FFFFFF;
    CheckedRam ram;
    start.identity_map = ram.ranges();
    if (!ram.WritePhys(load, in.Rest())) return;  // the runner refuses a binary that does not fit
    cpu::CpuState state;
    (void)PrepareStartState(ram, StartLayout{}, start, state);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    fuzz::FuzzInput in(data, size);
    switch (in.TakeBelow(3)) {
        case 0: LoadBzImage(in); break;
        case 1: LoadMultibootImage(in); break;
        default: LoadFlat(in); break;
    }
    return 0;
}
