#include "emu/machine/boot/linux_loader.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "emu/common/bits.h"

namespace emu::machine {

namespace {

// Offsets in the file and in boot_params (they coincide for the setup header).
constexpr size_t kSetupSects = 0x1F1, kSysSize = 0x1F4, kBootFlag = 0x1FE, kJump = 0x200, kHeaderMagic = 0x202, kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210, kLoadflags = 0x211, kRamdiskImage = 0x218, kRamdiskSize = 0x21C;
constexpr size_t kHeapEndPtr = 0x224, kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22C, kKernelAlignment = 0x230;
constexpr size_t kRelocatable = 0x234, kXloadflags = 0x236, kCmdlineSize = 0x238, kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
// boot_params-only fields.
constexpr size_t kAcpiRsdpAddr = 0x070, kExtRamdiskImage = 0x0C0, kExtRamdiskSize = 0x0C4, kExtCmdLinePtr = 0x0C8;
constexpr size_t kE820Entries = 0x1E8, kE820Table = 0x2D0, kE820Max = 128;
constexpr u8 kLoaderUndefined = 0xFF;
constexpr u8 kCanUseHeap = 0x80;

template <typename T>
T Load(std::span<const u8> bytes, size_t offset) {
    T v{};
    std::memcpy(&v, bytes.data() + offset, sizeof(T));
    return v;
}

template <typename T>
void Store(std::span<u8> bytes, size_t offset, T v) {
    std::memcpy(bytes.data() + offset, &v, sizeof(T));
}

// The highest page-aligned address at which `size` bytes fit inside a RAM range, above `floor` and below
// `ceiling`; 0 if none.
u64 HighestFit(const std::vector<PhysRange>& ram, u64 size, u64 floor, u64 ceiling) {
    u64 best = 0;
    for (const PhysRange& r : ram) {
        const u64 top = std::min(r.base + r.size, ceiling);
        if (top < size) continue;
        const u64 start = AlignDown(top - size, kPageSize);
        if (start >= std::max(r.base, floor) && start > best) best = start;
    }
    return best;
}

}  // namespace

const char* LinuxErrorMessage(LinuxError e) {
    switch (e) {
        case LinuxError::NotBzImage: return "not a Linux bzImage (no boot flag or HdrS signature)";
        case LinuxError::Truncated: return "the kernel image is truncated";
        case LinuxError::ProtocolTooOld: return "the kernel's boot protocol is older than 2.06";
        case LinuxError::NotRelocatable: return "the kernel is not relocatable and its load address is not RAM";
        case LinuxError::KernelTooLarge: return "the kernel does not fit in guest RAM";
        case LinuxError::CmdlineTooLong: return "the kernel command line is longer than the kernel accepts";
        case LinuxError::InitrdTooLarge: return "the initrd does not fit in guest RAM below the kernel's limit";
        case LinuxError::WriteFailed: return "a boot structure could not be written to guest RAM";
        case LinuxError::StartFailed: return "the start state could not be built";
    }
    return "unknown Linux loader error";
}

Result<BzImage, LinuxError> ParseBzImage(std::span<const u8> file) {
    if (file.size() < 0x264) return Err{file.size() < 0x206 ? LinuxError::NotBzImage : LinuxError::Truncated};
    if (Load<u16>(file, kBootFlag) != 0xAA55 || std::memcmp(&file[kHeaderMagic], "HdrS", 4) != 0) {
        return Err{LinuxError::NotBzImage};
    }
    BzImage img;
    img.protocol = Load<u16>(file, kVersion);
    if (img.protocol < 0x206) return Err{LinuxError::ProtocolTooOld};
    img.setup_sects = file[kSetupSects] ? file[kSetupSects] : 4;
    img.loadflags = file[kLoadflags];
    img.initrd_addr_max = Load<u32>(file, kInitrdAddrMax);
    img.kernel_alignment = Load<u32>(file, kKernelAlignment);
    img.relocatable = file[kRelocatable] != 0;
    img.cmdline_size = Load<u32>(file, kCmdlineSize);
    if (img.protocol >= 0x20A) {
        img.pref_address = Load<u64>(file, kPrefAddress);
        img.init_size = Load<u32>(file, kInitSize);
    }
    if (img.protocol >= 0x20C) img.xloadflags = Load<u16>(file, kXloadflags);

    const size_t header_end = kHeaderMagic + file[kJump + 1];  // the jump at 0x200 skips the header
    const size_t kernel_offset = (size_t{img.setup_sects} + 1) * 512;
    if (header_end > file.size() || kernel_offset >= file.size()) return Err{LinuxError::Truncated};
    img.header = file.subspan(kSetupSects, header_end - kSetupSects);
    img.kernel = file.subspan(kernel_offset);
    // syssize: the protected-mode kernel's size in 16-byte paragraphs (protocol >= 2.04). A file cut short of it
    // would boot into zeroed memory where the rest of the kernel should be.
    if (img.kernel.size() / 16 < Load<u32>(file, kSysSize)) return Err{LinuxError::Truncated};
    if (img.init_size == 0) img.init_size = static_cast<u32>(img.kernel.size());
    return img;
}

Result<LinuxBootPlan, LinuxError> LoadLinux(PhysWriter& memory, const BzImage& image, const LinuxBootConfig& config,
                                            cpu::CpuState& state) {
    LinuxBootPlan plan;
    plan.entry64 = image.has_64bit_entry() && !config.force_32bit_entry;

    // The kernel: its preferred address if that is RAM, else relocated to the default aligned address.
    const u64 footprint = std::max<u64>(image.init_size, image.kernel.size());
    u64 kernel_gpa = image.pref_address ? image.pref_address : kDefaultKernelGpa;
    if (!InRam(config.ram, kernel_gpa, footprint)) {
        if (!image.relocatable) return Err{LinuxError::NotRelocatable};
        kernel_gpa = AlignUp(kDefaultKernelGpa, std::max<u64>(image.kernel_alignment, kPageSize));
        if (!InRam(config.ram, kernel_gpa, footprint)) return Err{LinuxError::KernelTooLarge};
    }
    if (!memory.WritePhys(kernel_gpa, image.kernel)) return Err{LinuxError::WriteFailed};
    plan.kernel_gpa = kernel_gpa;
    plan.kernel_end = kernel_gpa + footprint;

    if (config.cmdline.size() > image.cmdline_size) return Err{LinuxError::CmdlineTooLong};
    const std::string cmdline = config.cmdline;  // written with its terminating NUL
    if (!memory.WritePhys(kCmdlineGpa, std::span<const u8>(reinterpret_cast<const u8*>(cmdline.c_str()),
                                                            cmdline.size() + 1))) {
        return Err{LinuxError::WriteFailed};
    }
    plan.cmdline_gpa = kCmdlineGpa;

    if (!config.initrd.empty()) {
        const u64 ceiling = u64{image.initrd_addr_max ? image.initrd_addr_max : 0x37FFFFFF} + 1;
        plan.initrd_gpa = HighestFit(config.ram, config.initrd.size(), plan.kernel_end, ceiling);
        if (plan.initrd_gpa == 0) return Err{LinuxError::InitrdTooLarge};
        if (!memory.WritePhys(plan.initrd_gpa, config.initrd)) return Err{LinuxError::WriteFailed};
        plan.initrd_size = config.initrd.size();
    }

    std::array<u8, 4096> params{};
    std::span<u8> bp(params);
    std::memcpy(&params[kSetupSects], image.header.data(), image.header.size());
    bp[kTypeOfLoader] = kLoaderUndefined;
    bp[kLoadflags] = static_cast<u8>(image.loadflags | kCanUseHeap);
    Store<u16>(bp, kHeapEndPtr, 0xFE00);
    Store<u32>(bp, kCmdLinePtr, static_cast<u32>(kCmdlineGpa));
    Store<u32>(bp, kExtCmdLinePtr, 0);
    Store<u32>(bp, kRamdiskImage, static_cast<u32>(plan.initrd_gpa));
    Store<u32>(bp, kExtRamdiskImage, static_cast<u32>(plan.initrd_gpa >> 32));
    Store<u32>(bp, kRamdiskSize, static_cast<u32>(plan.initrd_size));
    Store<u32>(bp, kExtRamdiskSize, static_cast<u32>(plan.initrd_size >> 32));
    Store<u64>(bp, kAcpiRsdpAddr, config.acpi_rsdp);
    const size_t entries = std::min(config.e820.size(), kE820Max);
    bp[kE820Entries] = static_cast<u8>(entries);
    for (size_t i = 0; i < entries; ++i) {
        const size_t at = kE820Table + i * 20;
        Store<u64>(bp, at, config.e820[i].addr);
        Store<u64>(bp, at + 8, config.e820[i].size);
        Store<u32>(bp, at + 16, config.e820[i].type);
    }
    if (!memory.WritePhys(kBootParamsGpa, params)) return Err{LinuxError::WriteFailed};
    plan.boot_params_gpa = kBootParamsGpa;

    StartOptions start;
    start.mode = plan.entry64 ? StartMode::Long64 : StartMode::Prot32;
    start.identity_map = config.ram;
    start.entry = plan.entry64 ? kernel_gpa + 0x200 : kernel_gpa;
    if (!PrepareStartState(memory, StartLayout{}, start, state)) return Err{LinuxError::StartFailed};
    state.rflags = cpu::rflags::Reserved1;  // interrupts off, as the protocol requires
    state.reg(cpu::Gpr::Rsi) = kBootParamsGpa;
    return plan;
}

}  // namespace emu::machine
