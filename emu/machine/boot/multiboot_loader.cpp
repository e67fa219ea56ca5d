#include "emu/machine/boot/multiboot_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "emu/common/bits.h"

namespace emu::machine {

namespace {

constexpr size_t kHeaderSearchBytes = 8192;
constexpr u32 kFlagPageAlignModules = 1u << 0, kFlagMemoryInfo = 1u << 1, kFlagVideoMode = 1u << 2;
constexpr u32 kFlagAoutKludge = 1u << 16;
constexpr u32 kKnownHeaderFlags = kFlagPageAlignModules | kFlagMemoryInfo;
// multiboot_info flags.
constexpr u32 kInfoMem = 1u << 0, kInfoCmdline = 1u << 2, kInfoMods = 1u << 3, kInfoMmap = 1u << 6;
constexpr u32 kInfoLoaderName = 1u << 9;
// Layout of the loader's area at kMultibootInfoGpa: info (0x80 bytes), module list, memory map, strings.
constexpr u64 kModsOffset = 0x80, kMmapOffset = 0x100, kStringsOffset = 0xC00, kAreaSize = 0x1000;
constexpr char kLoaderName[] = "emu64";

template <typename T>
T Load(std::span<const u8> bytes, size_t offset) {
    T v{};
    std::memcpy(&v, bytes.data() + offset, sizeof(T));
    return v;
}

template <typename T>
void Store(std::vector<u8>& bytes, size_t offset, T v) {
    std::memcpy(bytes.data() + offset, &v, sizeof(T));
}

// Offset of a valid header (magic, flags, checksum summing to zero), or npos.
size_t FindHeader(std::span<const u8> image) {
    const size_t end = std::min(image.size(), kHeaderSearchBytes);
    for (size_t at = 0; at + 12 <= end; at += 4) {
        const u32 magic = Load<u32>(image, at);
        if (magic != kMultibootHeaderMagic) continue;
        if (magic + Load<u32>(image, at + 4) + Load<u32>(image, at + 8) == 0) return at;
    }
    return std::string::npos;
}

bool InRam(const std::vector<PhysRange>& ram, u64 base, u64 size) {
    return std::any_of(ram.begin(), ram.end(), [&](const PhysRange& r) {
        return base >= r.base && base + size <= r.base + r.size;
    });
}

Result<u64, MultibootError> LoadElfSegments(PhysWriter& memory, std::span<const u8> image,
                                            const std::vector<PhysRange>& ram, u64* entry) {
    if (image.size() < sizeof(Elf32_Ehdr)) return Err{MultibootError::NotElf32};
    Elf32_Ehdr eh;
    std::memcpy(&eh, image.data(), sizeof eh);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS32 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_386 || eh.e_type != ET_EXEC) {
        return Err{MultibootError::NotElf32};
    }
    if (eh.e_phentsize != sizeof(Elf32_Phdr) || u64{eh.e_phoff} + u64{eh.e_phnum} * sizeof(Elf32_Phdr) > image.size()) {
        return Err{MultibootError::BadSegment};
    }
    u64 end = 0;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf32_Phdr ph;
        std::memcpy(&ph, image.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        if (ph.p_filesz > ph.p_memsz || u64{ph.p_offset} + ph.p_filesz > image.size() ||
            !InRam(ram, ph.p_paddr, ph.p_memsz)) {
            return Err{MultibootError::BadSegment};
        }
        if (!memory.WritePhys(ph.p_paddr, image.subspan(ph.p_offset, ph.p_filesz))) return Err{MultibootError::WriteFailed};
        const std::vector<u8> bss(ph.p_memsz - ph.p_filesz, 0);
        if (!memory.WritePhys(ph.p_paddr + ph.p_filesz, bss)) return Err{MultibootError::WriteFailed};
        end = std::max<u64>(end, u64{ph.p_paddr} + ph.p_memsz);
    }
    *entry = eh.e_entry;
    return end;
}

// Conventional and extended memory in KiB, from the memory map (multiboot_info mem_lower / mem_upper).
void MemorySizes(const std::vector<E820Entry>& map, u32* lower_kib, u32* upper_kib) {
    *lower_kib = *upper_kib = 0;
    for (const E820Entry& e : map) {
        if (e.type != 1) continue;
        if (e.addr == 0) *lower_kib = static_cast<u32>(std::min<u64>(e.size, 0xA0000) / 1024);
        if (e.addr <= 0x100000 && e.addr + e.size > 0x100000) {
            *upper_kib = static_cast<u32>(std::min<u64>(e.addr + e.size - 0x100000, u64{0xFFFFFFFF} * 1024) / 1024);
        }
    }
}

}  // namespace

const char* MultibootErrorMessage(MultibootError e) {
    switch (e) {
        case MultibootError::NoHeader: return "no Multiboot header in the first 8 KiB";
        case MultibootError::AoutKludge: return "Multiboot a.out kludge images are not supported";
        case MultibootError::UnsupportedFlags: return "the Multiboot header requires an unsupported feature";
        case MultibootError::NotElf32: return "the Multiboot kernel is not a 32-bit x86 ELF executable";
        case MultibootError::BadSegment: return "an ELF segment lies outside the file or guest RAM";
        case MultibootError::ModuleTooLarge: return "the initrd does not fit in guest RAM below 4 GiB";
        case MultibootError::WriteFailed: return "a boot structure could not be written to guest RAM";
    }
    return "unknown Multiboot error";
}

bool HasMultibootHeader(std::span<const u8> image) { return FindHeader(image) != std::string::npos; }

Result<MultibootPlan, MultibootError> LoadMultiboot(PhysWriter& memory, std::span<const u8> image,
                                                    const MultibootConfig& config, cpu::CpuState& state) {
    const size_t header = FindHeader(image);
    if (header == std::string::npos) return Err{MultibootError::NoHeader};
    const u32 flags = Load<u32>(image, header + 4);
    if (flags & kFlagAoutKludge) return Err{MultibootError::AoutKludge};
    if (flags & 0xFFFF & ~kKnownHeaderFlags) return Err{MultibootError::UnsupportedFlags};
    (void)kFlagVideoMode;

    MultibootPlan plan;
    auto end = LoadElfSegments(memory, image, config.ram, &plan.entry);
    if (!end) return Err{end.error()};
    plan.kernel_end = *end;

    std::vector<u8> area(kAreaSize, 0);
    u32 info_flags = kInfoMem | kInfoCmdline | kInfoMmap | kInfoLoaderName;
    u32 lower = 0, upper = 0;
    MemorySizes(config.memory_map, &lower, &upper);
    Store<u32>(area, 4, lower);
    Store<u32>(area, 8, upper);

    size_t strings = kStringsOffset;
    auto put_string = [&](const std::string& s) -> u32 {
        const size_t n = std::min(s.size(), kAreaSize - strings - 1);
        std::memcpy(&area[strings], s.data(), n);
        const u32 gpa = static_cast<u32>(kMultibootInfoGpa + strings);
        strings += n + 1;
        return gpa;
    };
    Store<u32>(area, 16, put_string(config.cmdline));
    Store<u32>(area, 64, put_string(kLoaderName));

    if (!config.module.empty()) {
        // Above the kernel, page-aligned, as GRUB places modules.
        const u64 start = AlignUp(std::max<u64>(plan.kernel_end, 0x100000), kPageSize);
        if (start + config.module.size() > 0x100000000ull || !InRam(config.ram, start, config.module.size())) {
            return Err{MultibootError::ModuleTooLarge};
        }
        if (!memory.WritePhys(start, config.module)) return Err{MultibootError::WriteFailed};
        plan.module_gpa = start;
        plan.module_size = config.module.size();
        Store<u32>(area, kModsOffset, static_cast<u32>(start));
        Store<u32>(area, kModsOffset + 4, static_cast<u32>(start + config.module.size()));
        Store<u32>(area, kModsOffset + 8, put_string(config.module_name));
        info_flags |= kInfoMods;
        Store<u32>(area, 20, 1);
        Store<u32>(area, 24, static_cast<u32>(kMultibootInfoGpa + kModsOffset));
    }

    // The memory map: entries of (size = 20, base, length, type); `size` does not count itself.
    size_t at = kMmapOffset;
    for (const E820Entry& e : config.memory_map) {
        if (at + 24 > kStringsOffset) break;
        Store<u32>(area, at, 20);
        Store<u64>(area, at + 4, e.addr);
        Store<u64>(area, at + 12, e.size);
        Store<u32>(area, at + 20, e.type);
        at += 24;
    }
    Store<u32>(area, 44, static_cast<u32>(at - kMmapOffset));
    Store<u32>(area, 48, static_cast<u32>(kMultibootInfoGpa + kMmapOffset));
    Store<u32>(area, 0, info_flags);
    if (!memory.WritePhys(kMultibootInfoGpa, area)) return Err{MultibootError::WriteFailed};
    plan.info_gpa = kMultibootInfoGpa;

    StartOptions start;
    start.mode = StartMode::Prot32;
    start.entry = plan.entry;
    if (!PrepareStartState(memory, StartLayout{}, start, state)) return Err{MultibootError::WriteFailed};
    state.rflags = cpu::rflags::Reserved1;  // IF = 0, VM = 0
    state.reg(cpu::Gpr::Rax) = kMultibootBootloaderMagic;
    state.reg(cpu::Gpr::Rbx) = kMultibootInfoGpa;
    return plan;
}

}  // namespace emu::machine
