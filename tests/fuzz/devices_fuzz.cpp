// The PC board's register interfaces (issue #16): random sequences of port and MMIO reads and writes of every size
// on the board as the machine wires it (PIC, PIT, RTC, HPET, APICs, UARTs, i8042, ACPI, the PCI host bridge) with
// a virtio-blk, a virtio-rng and the emu64 GPU plugged in, PCI configuration cycles through 0xCF8/0xCFC that move
// BARs over RAM and over each other, timers firing and interrupts taken. Nothing may crash or touch host memory
// outside guest RAM; the devices' DMA goes through the memslots.
#include <cstring>

#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_machine.h"

namespace {

using namespace emu;
using namespace emu::machine;

constexpr u64 kRamBytes = fuzz::kMachineRamBytes;
constexpr unsigned kMaxSteps = 512;

// Where a BAR or an MMIO access goes: RAM, the PCI hole, the platform's fixed windows, or anywhere.
constexpr u64 kPlaces[] = {0x0, 0x100000, kRamBytes - 0x1000, 0xC0000000, 0xE0000000, 0xFD000000,
                           0xFE000000, 0xFEBFF000, 0xFEC00000, 0xFED00000, 0xFEE00000, 0xFFFFF000};

u64 TakeAddress(fuzz::FuzzInput& in) {
    const u8 kind = in.Take<u8>();
    const u64 offset = in.Take<u32>();
    if (kind < 192) return kPlaces[kind % std::size(kPlaces)] + (offset & 0x3FFF);
    return offset | (kind == 255 ? in.Take<u64>() : 0);
}

unsigned TakeSize(fuzz::FuzzInput& in) { return 1u << in.TakeBelow(4); }

// A virtio-blk, a virtio-rng and the emu64 GPU (with its copy engine) on the board.
struct Machine : fuzz::FuzzMachine {
    Machine()
        : FuzzMachine({DeviceSpec{"virtio-blk-pci", DeviceKind::VirtioBlk, "d0"},
                       DeviceSpec{"virtio-rng-pci", DeviceKind::VirtioRng}, DeviceSpec{"emu64-gpu", DeviceKind::Emu64Gpu}},
                      false) {}
};

void ConfigCycle(Machine& m, fuzz::FuzzInput& in, bool write) {
    const u32 device = in.TakeBelow(8), function = in.TakeBelow(8) == 0 ? in.TakeBelow(8) : 0;
    // Mostly the header's interesting registers: command, BARs, the capability list; sometimes any dword.
    static constexpr u32 kRegs[] = {0x04, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x30, 0x34, 0x3C};
    const u32 reg = in.TakeBool() ? kRegs[in.TakeBelow(std::size(kRegs))] : in.Take<u8>() & 0xFC;
    const u32 address = 0x80000000u | device << 11 | function << 8 | reg;
    u8 bytes[4];
    std::memcpy(bytes, &address, 4);
    m.board.pio().Write(0xCF8, bytes);
    const unsigned size = TakeSize(in) & 7;
    const unsigned width = size ? std::min(size, 4u) : 4;
    const u16 port = static_cast<u16>(0xCFC + (in.TakeBelow(4) & (4 - width)));
    if (write) {
        // A BAR's value: one of the places above (over RAM, over another BAR) or the all-ones sizing probe.
        const u32 value = in.TakeBool() ? static_cast<u32>(TakeAddress(in)) | in.TakeBelow(2) : ~0u;
        std::memcpy(bytes, &value, 4);
        m.board.pio().Write(port, std::span<const u8>(bytes, width));
    } else {
        m.board.pio().Read(port, std::span<u8>(bytes, width));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
    Machine m;
    fuzz::FuzzInput in(data, size);
    u8 buffer[8];
    for (unsigned step = 0; step < kMaxSteps && !in.empty(); ++step) {
        switch (in.TakeBelow(8)) {
            case 0: {
                const u16 port = in.Take<u16>();
                const auto value = in.Take<u64>();
                std::memcpy(buffer, &value, 8);
                m.board.pio().Write(port, std::span<const u8>(buffer, std::min(TakeSize(in), 4u)));
                break;
            }
            case 1:
                m.board.pio().Read(in.Take<u16>(), std::span<u8>(buffer, std::min(TakeSize(in), 4u)));
                break;
            case 2: {
                const u64 address = TakeAddress(in);
                const auto value = in.Take<u64>();
                std::memcpy(buffer, &value, 8);
                m.board.mmio().Write(address, std::span<const u8>(buffer, TakeSize(in)));
                break;
            }
            case 3:
                m.board.mmio().Read(TakeAddress(in), std::span<u8>(buffer, TakeSize(in)));
                break;
            case 4: ConfigCycle(m, in, true); break;
            case 5: ConfigCycle(m, in, false); break;
            case 6:  // time passes: timers fire, deferred work runs
                m.clock.Advance(u64{in.Take<u32>()} * 16);
                m.timers.RunDue();
                m.board.RunDeferred();
                break;
            default:  // the CPU takes what is pending
                for (unsigned n = 0; n < 64 && m.board.HasInterrupt(); ++n) (void)m.board.Acknowledge();
                if (m.board.HasNmi()) m.board.AcknowledgeNmi();
                break;
        }
    }
    return 0;
}
