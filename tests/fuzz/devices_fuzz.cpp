// The PC board's register interfaces (issue #16): random sequences of port and MMIO reads and writes of every size
// on the board as the machine wires it (PIC, PIT, RTC, HPET, I/O APIC, UARTs, i8042, ACPI, the PCI host bridge) with
// a virtio-blk, a virtio-rng and the emu64 GPU plugged in, PCI configuration cycles through 0xCF8/0xCFC that move
// BARs over RAM and over each other, timers firing and interrupts taken. Two vCPUs: each has its own local APIC,
// which is not on the board's MMIO bus but reached through the CPU's PcCpuPort (its xAPIC window, wherever
// IA32_APIC_BASE puts it, then the x2APIC MSRs), so MMIO accesses are made by one CPU or the other exactly as the
// machine's memory path routes them, and IPIs travel between the two APICs. Nothing may crash or touch host memory
// outside guest RAM; the devices' DMA goes through the memslots.
#include <cstring>
#include <type_traits>

#include "devices/irq/apic_regs.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_machine.h"

namespace {

using namespace emu;
using namespace emu::machine;

constexpr u64 kRamBytes = fuzz::kMachineRamBytes;
constexpr unsigned kMaxSteps = 512;
constexpr unsigned kCpus = 2;

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
                      false, kCpus) {}
};

unsigned TakeCpu(fuzz::FuzzInput& in) { return in.Take<u8>() % kCpus; }

// An MMIO access by one CPU, routed as VcpuMemory::MmioRead/MmioWrite do: its own local APIC window first (it wins
// over the shared bus where they overlap), else the board's bus.
template <typename Span>
void CpuMmio(Machine& m, unsigned cpu, u64 address, Span data) {
    PcCpuPort& port = m.board.cpu(cpu);
    const u64 window = port.LapicWindow();
    constexpr bool kWrite = std::is_const_v<typename Span::element_type>;
    if (window != 0 && address - window < devices::apic::kLapicSize) {
        if constexpr (kWrite) port.lapic().Write(address - window, data);
        else port.lapic().Read(address - window, data);
    } else if constexpr (kWrite) {
        m.board.mmio().Write(address, data);
    } else {
        m.board.mmio().Read(address, data);
    }
}

// WRMSR(IA32_APIC_BASE): mostly a base at one of the places with EN and maybe EXTD (x2APIC), sometimes any value
// (the port must refuse what the CPU would #GP on, and survive what it would let through).
void WriteApicBase(Machine& m, fuzz::FuzzInput& in) {
    const unsigned cpu = TakeCpu(in);
    const u8 kind = in.Take<u8>();
    u64 value = in.Take<u64>();
    if (kind < 224) value = (TakeAddress(in) & ~u64{0xFFF} & ((u64{1} << 40) - 1)) | (value & (3u << 10));
    (void)m.board.cpu(cpu).WritePlatformMsr(devices::apic::kMsrApicBase, value);
}

// RDMSR/WRMSR of an x2APIC register or IA32_TSC_DEADLINE (refused outside x2APIC mode / deadline mode).
void ApicMsr(Machine& m, fuzz::FuzzInput& in) {
    const unsigned cpu = TakeCpu(in);
    const u32 index = in.TakeBelow(16) == 0 ? devices::apic::kMsrTscDeadline
                                            : devices::apic::kMsrX2apicFirst + in.TakeBelow(0x100);
    const u64 value = in.Take<u64>();
    if (in.TakeBool()) {
        (void)m.board.cpu(cpu).WritePlatformMsr(index, value);
    } else {
        (void)m.board.cpu(cpu).ReadPlatformMsr(index);
    }
}

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
        switch (in.TakeBelow(10)) {
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
                const unsigned cpu = TakeCpu(in);
                const u64 address = TakeAddress(in);
                const auto value = in.Take<u64>();
                std::memcpy(buffer, &value, 8);
                CpuMmio(m, cpu, address, std::span<const u8>(buffer, TakeSize(in)));
                break;
            }
            case 3: {
                const unsigned cpu = TakeCpu(in);
                const u64 address = TakeAddress(in);
                CpuMmio(m, cpu, address, std::span<u8>(buffer, TakeSize(in)));
                break;
            }
            case 4: ConfigCycle(m, in, true); break;
            case 5: ConfigCycle(m, in, false); break;
            case 6:  // time passes: timers fire, deferred work runs
                m.clock.Advance(u64{in.Take<u32>()} * 16);
                m.timers.RunDue();
                m.board.RunDeferred();
                break;
            case 7: {  // a CPU takes what is pending (an ExtINT from the 8259 on the BSP, its APIC's vectors)
                PcCpuPort& port = m.board.cpu(TakeCpu(in));
                for (unsigned n = 0; n < 64 && port.HasInterrupt(); ++n) (void)port.Acknowledge();
                if (port.HasNmi()) port.AcknowledgeNmi();
                break;
            }
            case 8: WriteApicBase(m, in); break;
            default: ApicMsr(m, in); break;
        }
    }
    return 0;
}
