#pragma once
// Multiboot v1 (the GNU Multiboot Specification 0.6.96): an ELF32 kernel carrying a Multiboot header in its
// first 8 KiB is loaded from its program headers (bss zeroed) and entered in flat 32-bit protected mode with
// EAX = 0x2BADB002 and EBX pointing at a multiboot_info structure (memory sizes, a memory map, the command
// line and the initrd as the single module). The a.out kludge (header flag 16) is not supported.
#include <span>
#include <string>
#include <vector>

#include "emu/common/result.h"
#include "emu/cpu/state/cpu_state.h"
#include "emu/machine/boot/linux_loader.h"
#include "emu/machine/boot/phys_writer.h"

namespace emu::machine {

inline constexpr u32 kMultibootHeaderMagic = 0x1BADB002;
inline constexpr u32 kMultibootBootloaderMagic = 0x2BADB002;

enum class MultibootError {
    NoHeader,         //!< no Multiboot header (magic and checksum) in the first 8 KiB
    AoutKludge,       //!< the header asks for the a.out kludge (flag 16), which is not supported
    UnsupportedFlags, //!< the header requires a feature this loader does not provide (video mode)
    NotElf32,         //!< not a 32-bit little-endian x86 ELF executable
    BadSegment,       //!< a program header points outside the file
    SegmentOutsideRam,//!< a loadable segment (with its BSS) lies outside guest RAM
    NoLoadableSegment,//!< the ELF has no loadable segment: nothing to run
    EntryOutsideImage,//!< the entry point is in none of the loadable segments
    ModuleTooLarge,   //!< the initrd does not fit in guest RAM below 4 GiB
    InfoDoesNotFit,   //!< no guest RAM below 4 GiB above the kernel and module for the boot information
    WriteFailed,      //!< a boot structure could not be written to guest RAM
};

const char* MultibootErrorMessage(MultibootError e);

// True if the image carries a Multiboot v1 header (checked before treating a -kernel as a bzImage).
bool HasMultibootHeader(std::span<const u8> image);

struct MultibootConfig {
    std::string cmdline;            // "<kernel path> <-append>", as the issue and GRUB do
    std::span<const u8> module;     // -initrd, or empty
    std::string module_name;        // the module's string
    std::vector<E820Entry> memory_map;
    std::vector<PhysRange> ram;
};

struct MultibootPlan {
    u64 entry = 0;
    u64 info_gpa = 0;     // the loader's area: GDT, multiboot_info, module list, memory map, strings
    u64 info_end = 0;
    u64 kernel_start = 0; // lowest and highest (exclusive) addresses the ELF segments occupy, BSS included
    u64 kernel_end = 0;
    u64 module_gpa = 0;
    u64 module_size = 0;
};

// Where the loader's own structures go: after everything it loaded (the kernel with its BSS, then the module) and
// above 1 MiB, page aligned, as QEMU's loader does, so that they overlap neither. The spec leaves the place to the loader; a kernel
// finds them through EBX and must not assume any address.
Result<MultibootPlan, MultibootError> LoadMultiboot(PhysWriter& memory, std::span<const u8> image,
                                                    const MultibootConfig& config, cpu::CpuState& state);

}  // namespace emu::machine
