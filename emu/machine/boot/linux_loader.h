#pragma once
// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst): parse a bzImage's setup header, place
// the protected-mode kernel, command line and initrd in guest RAM, build the boot_params "zero page" with
// an E820 map, and choose the 64-bit entry (protocol >= 2.12 with XLF_KERNEL_64) or the 32-bit one.
#include <span>
#include <string>
#include <vector>

#include "emu/common/result.h"
#include "emu/cpu/state/cpu_state.h"
#include "emu/machine/boot/phys_writer.h"
#include "emu/machine/boot/start_state.h"

namespace emu::machine {

enum class LinuxError {
    NotBzImage,        //!< no 0xAA55 boot flag or "HdrS" signature: not a Linux bzImage
    Truncated,         //!< the file ends before its setup sectors or the end of its protected-mode kernel (syssize)
    ProtocolTooOld,    //!< boot protocol older than 2.06 (no command-line size, no relocation info)
    NotRelocatable,    //!< the kernel must be loaded at a fixed address that is not RAM here
    KernelTooLarge,    //!< the kernel's init_size does not fit in RAM
    CmdlineTooLong,    //!< the command line exceeds the kernel's cmdline_size
    InitrdTooLarge,    //!< no room for the initrd below initrd_addr_max and above the kernel
    WriteFailed,       //!< a boot structure could not be written to guest RAM
    StartFailed,       //!< the start state (GDT, page tables) could not be built
};

const char* LinuxErrorMessage(LinuxError e);

// Setup-header fields we use, read from the file (offsets per the boot protocol).
struct BzImage {
    u16 protocol = 0;             // 0x206
    u8 setup_sects = 0;           // 0x1F1 (0 means 4)
    u8 loadflags = 0;             // 0x211
    u32 initrd_addr_max = 0;      // 0x22C (protocol >= 2.03)
    u32 kernel_alignment = 0;     // 0x230
    bool relocatable = false;     // 0x234
    u16 xloadflags = 0;           // 0x236 (protocol >= 2.12)
    u32 cmdline_size = 255;       // 0x238 (protocol >= 2.06)
    u64 pref_address = 0;         // 0x258 (protocol >= 2.10)
    u32 init_size = 0;            // 0x260 (protocol >= 2.10)
    std::span<const u8> header;   // bytes 0x1F1 .. end of the setup header, copied into boot_params
    std::span<const u8> kernel;   // the protected-mode kernel (after the setup sectors)

    bool has_64bit_entry() const { return protocol >= 0x20C && (xloadflags & 1); }
};

Result<BzImage, LinuxError> ParseBzImage(std::span<const u8> file);

struct E820Entry {
    u64 addr = 0;
    u64 size = 0;
    u32 type = 1;  // 1 RAM, 2 reserved, 3 ACPI reclaimable, 4 ACPI NVS
};

struct LinuxBootConfig {
    std::string cmdline;
    std::span<const u8> initrd;        // empty: no initrd
    std::vector<E820Entry> e820;       // the memory map given to the kernel
    std::vector<PhysRange> ram;        // guest RAM ranges (identity-mapped for the 64-bit entry)
    u64 acpi_rsdp = 0;                 // 0: let the kernel scan the BIOS area
    bool force_32bit_entry = false;
};

// Where things went; the CPU state is set up to enter the kernel.
struct LinuxBootPlan {
    u64 kernel_gpa = 0;
    u64 kernel_end = 0;     // kernel_gpa + init_size
    u64 boot_params_gpa = 0;
    u64 cmdline_gpa = 0;
    u64 initrd_gpa = 0;
    u64 initrd_size = 0;
    bool entry64 = false;
};

// Guest-physical addresses of the loader's own structures (below 1 MiB, as a BIOS loader would use).
inline constexpr u64 kBootParamsGpa = 0x7000;
inline constexpr u64 kCmdlineGpa = 0x20000;
inline constexpr u64 kDefaultKernelGpa = 0x1000000;  // 16 MiB, the x86-64 default LOAD_PHYSICAL_ADDR

Result<LinuxBootPlan, LinuxError> LoadLinux(PhysWriter& memory, const BzImage& image, const LinuxBootConfig& config,
                                            cpu::CpuState& state);

}  // namespace emu::machine
