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
// The loader's area, in this order: the start state's GDT and TSS (StartLayout: GDT at the base, TSS 0x100 above it),
// multiboot_info, the module list (one 16-byte entry), the memory map (24-byte entries), then the strings. It is
// sized to what it holds, so no command line is cut and nothing can run past its end.
constexpr u64 kGdtAreaBytes = 0x200, kInfoBytes = 0x80, kModuleEntryBytes = 16, kMmapEntryBytes = 24;
constexpr u64 kFourGiB = u64{1} << 32;
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

struct LoadedImage {
    u64 start = ~u64{0};  // lowest byte of any loadable segment
    u64 end = 0;          // past the highest, BSS included
    u64 entry = 0;
};

Result<LoadedImage, MultibootError> LoadElfSegments(PhysWriter& memory, std::span<const u8> image,
                                                    const std::vector<PhysRange>& ram) {
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
    // Every segment is checked before any is written: a refused image leaves guest RAM as it was.
    std::vector<Elf32_Phdr> loads;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf32_Phdr ph;
        std::memcpy(&ph, image.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        if (ph.p_filesz > ph.p_memsz || u64{ph.p_offset} + ph.p_filesz > image.size()) {
            return Err{MultibootError::BadSegment};
        }
        if (!InRam(ram, ph.p_paddr, ph.p_memsz)) return Err{MultibootError::SegmentOutsideRam};
        loads.push_back(ph);
    }
    if (loads.empty()) return Err{MultibootError::NoLoadableSegment};
    LoadedImage loaded;
    loaded.entry = eh.e_entry;
    bool entry_loaded = false;
    for (const Elf32_Phdr& ph : loads) {
        if (!memory.WritePhys(ph.p_paddr, image.subspan(ph.p_offset, ph.p_filesz)) ||
            !memory.ZeroPhys(u64{ph.p_paddr} + ph.p_filesz, ph.p_memsz - ph.p_filesz)) {
            return Err{MultibootError::WriteFailed};
        }
        loaded.start = std::min<u64>(loaded.start, ph.p_paddr);
        loaded.end = std::max<u64>(loaded.end, u64{ph.p_paddr} + ph.p_memsz);
        entry_loaded |= eh.e_entry - u64{ph.p_paddr} < ph.p_memsz;
    }
    if (!entry_loaded) return Err{MultibootError::EntryOutsideImage};
    return loaded;
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
        case MultibootError::BadSegment: return "an ELF program header lies outside the file";
        case MultibootError::SegmentOutsideRam: return "an ELF segment (with its BSS) lies outside guest RAM";
        case MultibootError::NoLoadableSegment: return "the ELF has no loadable segment";
        case MultibootError::EntryOutsideImage: return "the ELF entry point is in no loadable segment";
        case MultibootError::ModuleTooLarge: return "the initrd does not fit in guest RAM below 4 GiB";
        case MultibootError::InfoDoesNotFit:
            return "no guest RAM below 4 GiB after the kernel and initrd for the Multiboot information";
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
    auto loaded = LoadElfSegments(memory, image, config.ram);
    if (!loaded) return Err{loaded.error()};
    plan.entry = loaded->entry;
    plan.kernel_start = loaded->start;
    plan.kernel_end = loaded->end;

    // Above 1 MiB, as the module: conventional memory below it ends at the EBDA and the BIOS area.
    u64 top = std::max<u64>(plan.kernel_end, 0x100000);
    if (!config.module.empty()) {
        // Above the kernel, page-aligned, as GRUB places modules.
        const u64 start = AlignUp(top, kPageSize);
        if (start + config.module.size() > kFourGiB || !InRam(config.ram, start, config.module.size())) {
            return Err{MultibootError::ModuleTooLarge};
        }
        if (!memory.WritePhys(start, config.module)) return Err{MultibootError::WriteFailed};
        plan.module_gpa = start;
        plan.module_size = config.module.size();
        top = start + config.module.size();
    }

    // The area: the start state's GDT first, then what EBX points at.
    const std::vector<std::string> strings = {config.cmdline, kLoaderName, config.module_name};
    u64 strings_bytes = 0;
    for (const std::string& text : strings) strings_bytes += text.size() + 1;
    const u64 info_offset = kGdtAreaBytes, mods_offset = info_offset + kInfoBytes;
    const u64 mmap_offset = mods_offset + kModuleEntryBytes;
    const u64 strings_offset = mmap_offset + config.memory_map.size() * kMmapEntryBytes;
    const u64 area_bytes = strings_offset + strings_bytes;
    const u64 base = AlignUp(top, kPageSize);
    if (base + area_bytes > kFourGiB || !InRam(config.ram, base, area_bytes)) return Err{MultibootError::InfoDoesNotFit};
    plan.info_gpa = base + info_offset;
    plan.info_end = base + area_bytes;

    std::vector<u8> area(area_bytes - info_offset, 0);  // from multiboot_info on: the GDT is PrepareStartState's
    const auto at = [&](u64 offset) { return static_cast<size_t>(offset - info_offset); };
    const auto gpa = [&](u64 offset) { return static_cast<u32>(base + offset); };
    std::vector<u32> string_gpas;
    for (u64 offset = strings_offset; const std::string& text : strings) {
        std::memcpy(&area[at(offset)], text.data(), text.size());
        string_gpas.push_back(gpa(offset));
        offset += text.size() + 1;
    }

    u32 info_flags = kInfoMem | kInfoCmdline | kInfoMmap | kInfoLoaderName;
    u32 lower = 0, upper = 0;
    MemorySizes(config.memory_map, &lower, &upper);
    Store<u32>(area, 4, lower);
    Store<u32>(area, 8, upper);
    Store<u32>(area, 16, string_gpas[0]);
    Store<u32>(area, 64, string_gpas[1]);
    if (!config.module.empty()) {
        Store<u32>(area, at(mods_offset), static_cast<u32>(plan.module_gpa));
        Store<u32>(area, at(mods_offset) + 4, static_cast<u32>(plan.module_gpa + plan.module_size));
        Store<u32>(area, at(mods_offset) + 8, string_gpas[2]);
        info_flags |= kInfoMods;
        Store<u32>(area, 20, 1);
        Store<u32>(area, 24, gpa(mods_offset));
    }
    // The memory map: entries of (size = 20, base, length, type); `size` does not count itself.
    for (size_t i = 0; i < config.memory_map.size(); ++i) {
        const E820Entry& e = config.memory_map[i];
        const size_t entry = at(mmap_offset + i * kMmapEntryBytes);
        Store<u32>(area, entry, 20);
        Store<u64>(area, entry + 4, e.addr);
        Store<u64>(area, entry + 12, e.size);
        Store<u32>(area, entry + 20, e.type);
    }
    Store<u32>(area, 44, static_cast<u32>(config.memory_map.size() * kMmapEntryBytes));
    Store<u32>(area, 48, gpa(mmap_offset));
    Store<u32>(area, 0, info_flags);
    if (!memory.WritePhys(plan.info_gpa, area)) return Err{MultibootError::WriteFailed};

    StartOptions start;
    start.mode = StartMode::Prot32;
    start.entry = plan.entry;
    StartLayout layout;
    layout.gdt_gpa = base;
    if (!PrepareStartState(memory, layout, start, state)) return Err{MultibootError::WriteFailed};
    state.rflags = cpu::rflags::Reserved1;  // IF = 0, VM = 0
    state.reg(cpu::Gpr::Rax) = kMultibootBootloaderMagic;
    state.reg(cpu::Gpr::Rbx) = plan.info_gpa;
    return plan;
}

}  // namespace emu::machine
