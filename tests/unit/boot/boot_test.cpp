// Loader tests: the start states and the Linux boot protocol, checked against the protocol document
// (Documentation/arch/x86/boot.rst) and the SDM's descriptor and page-table formats.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "emu/machine/boot/linux_loader.h"
#include "emu/machine/boot/start_state.h"

using namespace emu;
using namespace emu::machine;

namespace {

class VectorMemory : public PhysWriter {
public:
    explicit VectorMemory(size_t size) : bytes(size, 0) {}
    bool WritePhys(u64 gpa, std::span<const u8> data) override {
        if (gpa + data.size() > bytes.size()) return false;
        std::memcpy(&bytes[gpa], data.data(), data.size());
        return true;
    }
    template <typename T>
    T Read(u64 gpa) const {
        T v;
        std::memcpy(&v, &bytes[gpa], sizeof(T));
        return v;
    }
    std::vector<u8> bytes;
};

// Translates through 4-level tables as SDM Vol. 3 4.5 describes, returning ~0 when not present.
u64 WalkIdentity(const VectorMemory& mem, u64 cr3, u64 la) {
    u64 table = cr3 & ~0xFFFull;
    for (int level = 3; level >= 0; --level) {
        const u64 entry = mem.Read<u64>(table + ((la >> (12 + 9 * level)) & 511) * 8);
        if (!(entry & 1)) return ~0ull;
        const u64 frame = entry & 0x000FFFFFFFFFF000ull;
        if (level == 0) return frame | (la & 0xFFF);
        if ((entry & 0x80) && level <= 2) {
            const u64 size = 1ull << (12 + 9 * level);
            return (frame & ~(size - 1)) | (la & (size - 1));
        }
        table = frame;
    }
    return ~0ull;
}

std::vector<u8> MakeBzImage(u16 version, u16 xloadflags, size_t kernel_bytes) {
    std::vector<u8> file(2 * 512 + kernel_bytes, 0);
    auto put16 = [&](size_t at, u16 v) { std::memcpy(&file[at], &v, 2); };
    auto put32 = [&](size_t at, u32 v) { std::memcpy(&file[at], &v, 4); };
    auto put64 = [&](size_t at, u64 v) { std::memcpy(&file[at], &v, 8); };
    file[0x1F1] = 1;  // one setup sector after the boot sector
    put16(0x1FE, 0xAA55);
    file[0x200] = 0xEB;
    file[0x201] = 0x66;  // the header ends at 0x202 + 0x66
    std::memcpy(&file[0x202], "HdrS", 4);
    put16(0x206, version);
    file[0x211] = 0x01;  // LOADED_HIGH
    put32(0x22C, 0x7FFFFFFF);
    put32(0x230, 0x200000);
    file[0x234] = 1;
    put16(0x236, xloadflags);
    put32(0x238, 64);
    put64(0x258, 0x1000000);
    put32(0x260, static_cast<u32>(kernel_bytes + 0x1000));
    for (size_t i = 0; i < kernel_bytes; ++i) file[1024 + i] = static_cast<u8>(i * 7);
    return file;
}

LinuxBootConfig RamConfig(u64 ram) {
    LinuxBootConfig config;
    config.ram = {{0, ram}};
    config.e820 = {{0, 0x9FC00, 1}, {0x100000, ram - 0x100000, 1}};
    return config;
}

}  // namespace

TEST_CASE("a 64-bit start state has long mode, Linux selectors and an identity map", "[boot]") {
    VectorMemory mem(0x400000);
    cpu::CpuState state;
    StartOptions options;
    options.mode = StartMode::Long64;
    options.cpl = 3;
    options.identity_map = {{0, 0x400000}};
    options.entry = 0x10000;
    REQUIRE(PrepareStartState(mem, StartLayout{}, options, state));
    CHECK(state.mode() == cpu::CpuMode::Long64);
    CHECK(state.cpl() == 3);
    CHECK(state.segment(cpu::SegReg::Cs).selector == 0x33);
    CHECK(state.segment(cpu::SegReg::Ss).selector == 0x2B);
    CHECK((state.cr0 & cpu::cr0::PG) != 0);
    CHECK(WalkIdentity(mem, state.cr3, 0x12345) == 0x12345);
    CHECK(WalkIdentity(mem, state.cr3, 0x3FFFFF) == 0x3FFFFF);
    // The user code descriptor in the GDT: L=1, DPL=3, present code (SDM Vol. 3 3.4.5).
    const u64 desc = mem.Read<u64>(state.gdtr.base + 0x30);
    CHECK(((desc >> 53) & 1) == 1);
    CHECK(((desc >> 45) & 3) == 3);
    CHECK(((desc >> 47) & 1) == 1);
    // The TSS descriptor points at a TSS whose RSP0 is the kernel stack.
    CHECK(mem.Read<u64>(state.tr.base + 4) == StartLayout{}.kernel_stack_top);
}

TEST_CASE("identity maps use 1 GiB pages for whole gigabytes and 2 MiB pages elsewhere", "[boot]") {
    VectorMemory mem(0x100000);
    cpu::CpuState state;
    StartOptions options;
    options.identity_map = {{0, 0x200000}, {0x100000000ull, 0x40000000}, {0x7F0000000000ull, 0x1000}};
    REQUIRE(PrepareStartState(mem, StartLayout{}, options, state));
    CHECK(WalkIdentity(mem, state.cr3, 0x100000000ull + 0x3FFFFFFF) == 0x100000000ull + 0x3FFFFFFF);
    CHECK(WalkIdentity(mem, state.cr3, 0x7F0000000123ull) == 0x7F0000000123ull);
    CHECK(WalkIdentity(mem, state.cr3, 0x80000000ull) == ~0ull);  // unmapped hole
}

TEST_CASE("real mode starts with CS:IP built from the entry address", "[boot]") {
    VectorMemory mem(0x100000);
    cpu::CpuState state;
    StartOptions options;
    options.mode = StartMode::Real;
    options.entry = 0x10000;
    REQUIRE(PrepareStartState(mem, StartLayout{}, options, state));
    CHECK(state.mode() == cpu::CpuMode::Real);
    CHECK(state.segment(cpu::SegReg::Cs).base + state.rip == 0x10000);
    options.cpl = 3;
    CHECK(PrepareStartState(mem, StartLayout{}, options, state).error() == StartError::RealModeCpl);
}

TEST_CASE("a bzImage with the 64-bit protocol is loaded per the boot protocol", "[boot][linux]") {
    const auto file = MakeBzImage(0x20F, 1, 0x3000);
    auto image = ParseBzImage(file);
    REQUIRE(image.ok());
    CHECK(image->protocol == 0x20F);
    CHECK(image->has_64bit_entry());
    CHECK(image->kernel.size() == 0x3000);

    VectorMemory mem(64 << 20);
    cpu::CpuState state;
    std::vector<u8> initrd(0x5000, 0xAB);
    auto config = RamConfig(64 << 20);
    config.cmdline = "console=ttyS0 quiet";
    config.initrd = initrd;
    auto plan = LoadLinux(mem, *image, config, state);
    REQUIRE(plan.ok());
    CHECK(plan->entry64);
    CHECK(plan->kernel_gpa == 0x1000000);
    CHECK(mem.bytes[0x1000000 + 5] == file[1024 + 5]);
    // 64-bit entry: startup_64 is 0x200 into the protected-mode kernel; RSI points at boot_params.
    CHECK(state.rip == 0x1000200);
    CHECK(state.reg(cpu::Gpr::Rsi) == kBootParamsGpa);
    CHECK(state.mode() == cpu::CpuMode::Long64);
    CHECK(state.segment(cpu::SegReg::Cs).selector == 0x10);
    CHECK((state.rflags & cpu::rflags::IF) == 0);
    // boot_params fields at their documented offsets.
    const u64 bp = kBootParamsGpa;
    CHECK(mem.bytes[bp + 0x210] == 0xFF);
    CHECK(mem.Read<u32>(bp + 0x228) == kCmdlineGpa);
    CHECK(std::strcmp(reinterpret_cast<const char*>(&mem.bytes[kCmdlineGpa]), "console=ttyS0 quiet") == 0);
    CHECK(mem.Read<u32>(bp + 0x218) == plan->initrd_gpa);
    CHECK(mem.Read<u32>(bp + 0x21C) == 0x5000);
    CHECK(plan->initrd_gpa >= plan->kernel_end);
    CHECK(plan->initrd_gpa + 0x5000 <= (64u << 20));
    CHECK(mem.bytes[plan->initrd_gpa] == 0xAB);
    CHECK(mem.bytes[bp + 0x1E8] == 2);
    CHECK(mem.Read<u64>(bp + 0x2D0 + 20) == 0x100000);
    CHECK(mem.Read<u32>(bp + 0x2D0 + 20 + 16) == 1);
    CHECK(std::memcmp(&mem.bytes[bp + 0x202], "HdrS", 4) == 0);
    CHECK(WalkIdentity(mem, state.cr3, 0x1000200) == 0x1000200);
}

TEST_CASE("an older protocol without XLF_KERNEL_64 enters in 32-bit protected mode", "[boot][linux]") {
    const auto file = MakeBzImage(0x20A, 0, 0x1000);
    auto image = ParseBzImage(file);
    REQUIRE(image.ok());
    CHECK_FALSE(image->has_64bit_entry());
    VectorMemory mem(32 << 20);
    cpu::CpuState state;
    auto plan = LoadLinux(mem, *image, RamConfig(32 << 20), state);
    REQUIRE(plan.ok());
    CHECK_FALSE(plan->entry64);
    CHECK(state.rip == plan->kernel_gpa);
    CHECK(state.mode() == cpu::CpuMode::Protected32);
    CHECK(state.reg(cpu::Gpr::Rsi) == kBootParamsGpa);
}

TEST_CASE("bad kernel images and boot configurations are refused with a reason", "[boot][linux]") {
    auto file = MakeBzImage(0x20F, 1, 0x1000);
    SECTION("no HdrS signature") {
        file[0x202] = 'X';
        CHECK(ParseBzImage(file).error() == LinuxError::NotBzImage);
    }
    SECTION("protocol older than 2.06") {
        file[0x206] = 0x05;
        file[0x207] = 0x02;
        CHECK(ParseBzImage(file).error() == LinuxError::ProtocolTooOld);
    }
    SECTION("truncated before the kernel") {
        file.resize(0x300);
        CHECK(ParseBzImage(file).error() == LinuxError::Truncated);
    }
    SECTION("an initrd larger than RAM") {
        auto image = ParseBzImage(file);
        REQUIRE(image.ok());
        VectorMemory mem(32 << 20);
        cpu::CpuState state;
        std::vector<u8> initrd(40 << 20, 1);
        auto config = RamConfig(32 << 20);
        config.initrd = initrd;
        CHECK(LoadLinux(mem, *image, config, state).error() == LinuxError::InitrdTooLarge);
    }
    SECTION("a command line longer than cmdline_size") {
        auto image = ParseBzImage(file);
        REQUIRE(image.ok());
        VectorMemory mem(32 << 20);
        cpu::CpuState state;
        auto config = RamConfig(32 << 20);
        config.cmdline = std::string(65, 'x');
        CHECK(LoadLinux(mem, *image, config, state).error() == LinuxError::CmdlineTooLong);
    }
}
