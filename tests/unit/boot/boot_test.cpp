// Loader tests: the start states and the Linux boot protocol, checked against the protocol document
// (Documentation/arch/x86/boot.rst) and the SDM's descriptor and page-table formats.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
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
    SECTION("a protected-mode kernel shorter than its syssize") {
        const u32 paragraphs = 0x1000 / 16 + 1;  // one paragraph more than the file holds
        std::memcpy(&file[0x1F4], &paragraphs, 4);
        CHECK(ParseBzImage(file).error() == LinuxError::Truncated);
        const u32 exact = 0x1000 / 16;
        std::memcpy(&file[0x1F4], &exact, 4);
        CHECK(ParseBzImage(file).ok());
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

TEST_CASE("a preferred load address near 2^64 is not RAM: a relocatable kernel goes to the default", "[boot][linux]") {
    // pref_address + init_size wraps past 2^64; the RAM check must not take the wrapped end for a small address.
    auto file = MakeBzImage(0x20F, 1, 0x1000);
    const u64 pref = 0xFFFFFFFFFFFFF000ull;
    std::memcpy(&file[0x258], &pref, 8);
    auto image = ParseBzImage(file);
    REQUIRE(image.ok());
    VectorMemory mem(32 << 20);
    cpu::CpuState state;
    auto plan = LoadLinux(mem, *image, RamConfig(32 << 20), state);
    REQUIRE(plan.ok());
    CHECK(plan->kernel_gpa == kDefaultKernelGpa);
    CHECK(mem.bytes[kDefaultKernelGpa + 5] == file[1024 + 5]);
    file[0x234] = 0;  // not relocatable: refused, not written at the wrapped address
    auto fixed = ParseBzImage(file);
    REQUIRE(fixed.ok());
    CHECK(LoadLinux(mem, *fixed, RamConfig(32 << 20), state).error() == LinuxError::NotRelocatable);
}

// ---- Multiboot v1 (Multiboot Specification 0.6.96, sections 3.1 and 3.2)

#include <elf.h>

#include "emu/machine/boot/multiboot_loader.h"

namespace {

// An ELF32 executable with one PT_LOAD segment at `paddr` (entered 0x10 into it): a Multiboot header, `file_bytes` of
// code bytes (0x90), then bss.
std::vector<u8> MakeMultibootElf(u32 header_flags, u32 bss_bytes, u32 paddr = 0x100000, u32 file_bytes = 64) {
    std::vector<u8> payload(file_bytes, 0x90);
    const u32 magic = kMultibootHeaderMagic, checksum = 0u - magic - header_flags;
    std::memcpy(&payload[0], &magic, 4);
    std::memcpy(&payload[4], &header_flags, 4);
    std::memcpy(&payload[8], &checksum, 4);
    Elf32_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = paddr + 0x10;
    eh.e_phoff = sizeof(Elf32_Ehdr);
    eh.e_ehsize = sizeof(Elf32_Ehdr);
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = 1;
    Elf32_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_offset = 0x100;
    ph.p_paddr = ph.p_vaddr = paddr;
    ph.p_filesz = static_cast<u32>(payload.size());
    ph.p_memsz = static_cast<u32>(payload.size()) + bss_bytes;
    std::vector<u8> file(0x100 + payload.size(), 0);
    std::memcpy(file.data(), &eh, sizeof eh);
    std::memcpy(file.data() + sizeof eh, &ph, sizeof ph);
    std::memcpy(file.data() + 0x100, payload.data(), payload.size());
    return file;
}

}  // namespace

TEST_CASE("a Multiboot ELF is loaded from its program headers and entered as the spec says", "[boot][multiboot]") {
    const auto file = MakeMultibootElf(0x3, 0x1000);
    REQUIRE(HasMultibootHeader(file));
    VectorMemory mem(32 << 20);
    std::fill(mem.bytes.begin() + 0x100000, mem.bytes.begin() + 0x102000, 0xEE);  // bss must be zeroed
    cpu::CpuState state;
    std::vector<u8> initrd(3000, 0x5A);
    MultibootConfig config;
    config.cmdline = "/boot/kernel.elf console=ttyS0";
    config.module = initrd;
    config.module_name = "initrd";
    config.ram = {{0, 32 << 20}};
    config.memory_map = {{0, 0x9FC00, 1}, {0x100000, (32 << 20) - 0x100000, 1}};
    auto plan = LoadMultiboot(mem, file, config, state);
    REQUIRE(plan.ok());
    // Machine state (spec 3.2): EAX magic, EBX info, flat 32-bit protected mode, paging off, IF clear.
    CHECK(state.reg(cpu::Gpr::Rax) == 0x2BADB002);
    CHECK(state.reg(cpu::Gpr::Rbx) == plan->info_gpa);
    CHECK(state.rip == 0x100010);
    CHECK(state.mode() == cpu::CpuMode::Protected32);
    CHECK((state.cr0 & cpu::cr0::PG) == 0);
    CHECK((state.rflags & cpu::rflags::IF) == 0);
    CHECK(mem.bytes[0x100020] == 0x90);
    CHECK(mem.bytes[0x100040] == 0);  // bss
    CHECK(mem.bytes[0x100FFF] == 0);
    // Boot information (spec 3.3).
    const u64 info = plan->info_gpa;
    const u32 flags = mem.Read<u32>(info);
    CHECK((flags & (1u << 0)) != 0);  // mem_lower/mem_upper
    CHECK((flags & (1u << 2)) != 0);  // cmdline
    CHECK((flags & (1u << 3)) != 0);  // mods
    CHECK((flags & (1u << 6)) != 0);  // mmap
    CHECK(mem.Read<u32>(info + 4) == 0x9FC00 / 1024);
    CHECK(mem.Read<u32>(info + 8) == ((32u << 20) - 0x100000) / 1024);
    CHECK(std::strcmp(reinterpret_cast<const char*>(&mem.bytes[mem.Read<u32>(info + 16)]),
                      "/boot/kernel.elf console=ttyS0") == 0);
    CHECK(mem.Read<u32>(info + 20) == 1);
    const u32 mod = mem.Read<u32>(info + 24);
    const u32 mod_start = mem.Read<u32>(mod), mod_end = mem.Read<u32>(mod + 4);
    CHECK(mod_end - mod_start == 3000);
    CHECK(mod_start % 4096 == 0);
    CHECK(mod_start >= 0x100000 + 64 + 0x1000);
    CHECK(mem.bytes[mod_start] == 0x5A);
    CHECK(mem.Read<u32>(info + 44) == 2 * 24);
    const u32 mmap = mem.Read<u32>(info + 48);
    CHECK(mem.Read<u32>(mmap) == 20);
    CHECK(mem.Read<u64>(mmap + 24 + 4) == 0x100000);
    CHECK(mem.Read<u32>(mmap + 24 + 20) == 1);
}

TEST_CASE("images Multiboot cannot load are refused", "[boot][multiboot]") {
    VectorMemory mem(4 << 20);
    cpu::CpuState state;
    MultibootConfig config;
    config.ram = {{0, 4 << 20}};
    SECTION("no header") {
        std::vector<u8> junk(16384, 0x11);
        CHECK_FALSE(HasMultibootHeader(junk));
        CHECK(LoadMultiboot(mem, junk, config, state).error() == MultibootError::NoHeader);
    }
    SECTION("a.out kludge") {
        CHECK(LoadMultiboot(mem, MakeMultibootElf(0x10000, 0), config, state).error() == MultibootError::AoutKludge);
    }
    SECTION("video mode required") {
        CHECK(LoadMultiboot(mem, MakeMultibootElf(0x4, 0), config, state).error() == MultibootError::UnsupportedFlags);
    }
    SECTION("segment beyond RAM") {
        config.ram = {{0, 1 << 20}};
        CHECK(LoadMultiboot(mem, MakeMultibootElf(0, 0), config, state).error() == MultibootError::SegmentOutsideRam);
    }
    SECTION("a BSS that runs past the end of RAM") {
        CHECK(LoadMultiboot(mem, MakeMultibootElf(0, 0x80000000u), config, state).error() ==
              MultibootError::SegmentOutsideRam);
    }
    SECTION("a program header beyond the end of the file") {
        auto file = MakeMultibootElf(0, 0);
        file.resize(0x100 + 16);  // the segment's 64 file bytes are not all there
        CHECK(LoadMultiboot(mem, file, config, state).error() == MultibootError::BadSegment);
    }
    SECTION("no loadable segment") {
        auto file = MakeMultibootElf(0, 0);
        const u32 note = PT_NOTE;
        std::memcpy(&file[sizeof(Elf32_Ehdr)], &note, 4);  // p_type of the only program header
        CHECK(LoadMultiboot(mem, file, config, state).error() == MultibootError::NoLoadableSegment);
    }
    SECTION("an entry point outside the loaded segments") {
        auto file = MakeMultibootElf(0, 0);
        const u32 entry = 0x200000;
        std::memcpy(&file[offsetof(Elf32_Ehdr, e_entry)], &entry, 4);
        CHECK(LoadMultiboot(mem, file, config, state).error() == MultibootError::EntryOutsideImage);
    }
}

namespace {

// Records the largest single write: the loader must not build host buffers the size of a segment's BSS.
class LargestWriteMemory : public VectorMemory {
public:
    using VectorMemory::VectorMemory;
    bool WritePhys(u64 gpa, std::span<const u8> data) override {
        largest = std::max(largest, data.size());
        return VectorMemory::WritePhys(gpa, data);
    }
    size_t largest = 0;
};

// What a loader wrote must not overlap: [a, a + a_size) and [b, b + b_size).
bool Disjoint(u64 a, u64 a_size, u64 b, u64 b_size) { return a + a_size <= b || b + b_size <= a; }

}  // namespace

TEST_CASE("Multiboot boot information is placed after the kernel, its BSS and the module", "[boot][multiboot]") {
    // An image that covers low memory, 0x1000..0xA0000 (the old fixed places of the GDT and the information), with a
    // BSS, a command line of about 2,000 characters and a module: nothing may be overwritten or cut, and the
    // information and the GDT must lie outside the kernel and the module.
    LargestWriteMemory mem(32 << 20);
    cpu::CpuState state;
    const u32 kernel_bytes = 0x8F000, bss_bytes = 0x10000;
    const auto file = MakeMultibootElf(0x3, bss_bytes, 0x1000, kernel_bytes);
    std::vector<u8> initrd(5000, 0x5A);
    MultibootConfig config;
    config.cmdline = "/boot/kernel.elf " + std::string(2000, 'c');
    config.module = initrd;
    config.module_name = std::string(1500, 'm');
    config.ram = {{0, 0xA0000}, {0x100000, (32 << 20) - 0x100000}};
    config.memory_map = {{0, 0x9FC00, 1}, {0x100000, (32 << 20) - 0x100000, 1}};
    auto plan = LoadMultiboot(mem, file, config, state);
    REQUIRE(plan.ok());
    CHECK(plan->kernel_start == 0x1000);
    CHECK(plan->kernel_end == 0x1000 + kernel_bytes + bss_bytes);
    // The image is intact: its code bytes (0x90) where the info block and the GDT used to go, its BSS zero.
    CHECK(mem.bytes[0x1000 + 0x20] == 0x90);
    CHECK(mem.bytes[0x9000] == 0x90);
    CHECK(mem.bytes[0x1000 + kernel_bytes - 1] == 0x90);
    CHECK(mem.bytes[0x1000 + kernel_bytes + bss_bytes - 1] == 0);
    const u64 info = plan->info_gpa;
    CHECK(state.reg(cpu::Gpr::Rbx) == info);
    CHECK(info % 4 == 0);
    const u64 area = info & ~u64{0xFFF};
    const u64 area_size = plan->info_end - area;
    CHECK(Disjoint(area, area_size, plan->kernel_start, plan->kernel_end - plan->kernel_start));
    CHECK(Disjoint(area, area_size, plan->module_gpa, plan->module_size));
    CHECK(Disjoint(plan->module_gpa, plan->module_size, plan->kernel_start, plan->kernel_end - plan->kernel_start));
    // The GDT the start state loads lies in that area too.
    CHECK(state.gdtr.base >= area);
    CHECK(state.gdtr.base + state.gdtr.limit < plan->info_end);
    // Strings whole and terminated, inside the area.
    const u32 cmdline = mem.Read<u32>(info + 16);
    CHECK(std::string(reinterpret_cast<const char*>(&mem.bytes[cmdline])) == config.cmdline);
    const u32 mod = mem.Read<u32>(info + 24);
    CHECK(std::string(reinterpret_cast<const char*>(&mem.bytes[mem.Read<u32>(mod + 8)])) == config.module_name);
    CHECK(cmdline + config.cmdline.size() < plan->info_end);
    CHECK(mem.bytes[mem.Read<u32>(mod)] == 0x5A);
    // Nothing past the area was written: the byte after it is still zero (the RAM started zeroed).
    CHECK(mem.bytes[plan->info_end] == 0);
    CHECK(mem.largest <= 0x100000);  // no host buffer the size of the BSS or of RAM
}

TEST_CASE("a Multiboot kernel's BSS is zeroed without a host buffer of its size", "[boot][multiboot]") {
    LargestWriteMemory mem(96 << 20);
    std::fill(mem.bytes.begin() + 0x100000, mem.bytes.begin() + (80 << 20), 0xEE);
    cpu::CpuState state;
    MultibootConfig config;
    config.ram = {{0, 96 << 20}};
    const u32 bss_bytes = 64 << 20;
    auto plan = LoadMultiboot(mem, MakeMultibootElf(0x3, bss_bytes), config, state);
    REQUIRE(plan.ok());
    CHECK(std::all_of(mem.bytes.begin() + 0x100000 + 64, mem.bytes.begin() + 0x100000 + 64 + bss_bytes,
                      [](u8 b) { return b == 0; }));
    CHECK(mem.largest <= 0x10000);
}
