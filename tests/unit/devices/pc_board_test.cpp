// The PC board as the machine builds it (emu/machine/pc_board), driven through its buses the way a guest drives
// it: IA32_APIC_BASE moves and disables the local APIC's window (SDM Vol. 3 11.4.4), the HPET's legacy
// replacement mode takes IRQ0 and IRQ8 from the PIT and the RTC (IA-PC HPET spec 2.3.9.2.2), COM2 sits at
// 0x2F8 on IRQ3 (the PC's standard resources).
#include <catch2/catch.hpp>

#include "device_test_util.h"
#include "devices/backends/char_backend.h"
#include "devices/irq/apic_regs.h"
#include "devices/pci/regs.h"
#include "devices/timer/hpet_regs.h"
#include "emu/cpu/system/msr.h"
#include "emu/machine/pc_board.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::test;

namespace {

constexpr u64 kEn = apic::kApicBaseEnable;
constexpr u64 kBsp = apic::kApicBaseBsp;

struct BoardEnv : TimerEnv {
    NullBackend com1;
    BufferBackend com2;
    int exits = 0;
    std::vector<u32> apic_ids{0};
    machine::PcBoard board;

    explicit BoardEnv(std::vector<u32> ids = {0}) : apic_ids(std::move(ids)), board(timers, Config()) {}

    machine::PcBoardConfig Config() {
        machine::PcBoardConfig c;
        c.ram_bytes = c.below_4g = 64 << 20;
        c.com1 = &com1;
        c.com2 = &com2;
        c.on_exit = [this](int) { ++exits; };
        c.on_reset = [] {};
        c.apic_ids = apic_ids;
        return c;
    }

    // As the machine's VcpuMemory decodes CPU 0's accesses: its local APIC window first, then the shared bus.
    void Read(u64 addr, std::span<u8> bytes) {
        const u64 window = board.cpu(0).LapicWindow();
        if (window != 0 && addr - window < apic::kLapicSize) {
            board.cpu(0).lapic().Read(addr - window, bytes);
        } else {
            board.mmio().Read(addr, bytes);
        }
    }
    void Write(u64 addr, std::span<const u8> bytes) {
        const u64 window = board.cpu(0).LapicWindow();
        if (window != 0 && addr - window < apic::kLapicSize) {
            board.cpu(0).lapic().Write(addr - window, bytes);
        } else {
            board.mmio().Write(addr, bytes);
        }
    }
    u32 Mmio32(u64 addr) {
        u8 bytes[4] = {0xAA, 0xAA, 0xAA, 0xAA};
        Read(addr, bytes);
        return static_cast<u32>(LoadLe(std::span<const u8>(bytes, 4)));
    }
    void SetMmio32(u64 addr, u32 value) {
        u8 bytes[4];
        StoreLe(std::span<u8>(bytes, 4), value);
        Write(addr, bytes);
    }
    void SetMmio64(u64 addr, u64 value) {
        u8 bytes[8];
        StoreLe(std::span<u8>(bytes, 8), value);
        Write(addr, bytes);
    }
    u8 Port8(u16 port) {
        u8 value = 0;
        board.pio().Read(port, std::span<u8>(&value, 1));
        return value;
    }
    void SetPort8(u16 port, u8 value) { board.pio().Write(port, std::span<const u8>(&value, 1)); }

    // Linux's APIC mode: the local APIC software-enabled with the virtual wire (LINT0) masked, so only the I/O
    // APIC reaches the CPU; `pin` sends `vector`, edge-triggered, to APIC 0.
    void RouteThroughIoapic(unsigned pin, u8 vector) {
        SetMmio32(apic::kLapicBase + apic::kRegSvr, apic::kSvrEnable | 0xFF);
        SetMmio32(apic::kLapicBase + apic::kRegLvtLint0, apic::kLvtMasked | 0x700);
        SetMmio32(apic::kIoapicBase + apic::kIoregsel, 0x11 + 2 * pin);
        SetMmio32(apic::kIoapicBase + apic::kIowin, 0);
        SetMmio32(apic::kIoapicBase + apic::kIoregsel, 0x10 + 2 * pin);
        SetMmio32(apic::kIoapicBase + apic::kIowin, vector);
    }
    // The CPU's side: takes every pending interrupt and EOIs it at the local APIC; returns how many had `vector`.
    int Take(u8 vector) {
        int n = 0;
        while (board.HasInterrupt()) {
            n += board.Acknowledge() == vector;
            SetMmio32(apic::kLapicBase + apic::kRegEoi, 0);
        }
        return n;
    }
    // Runs the clock to ns with the guest taking interrupts as they arrive (and any already pending now).
    int TicksUntil(u64 ns, u8 vector) {
        int n = Take(vector);
        RunUntil(ns, [&] { n += Take(vector); });
        return n;
    }
    // PIT channel 0, mode 2 (rate generator), count 1193: one IRQ0 edge per ms (8254 datasheet).
    // The master 8259: ICW1-4 (vector base 0x20, cascade on IRQ2, 8086 mode), then unmask only IRQ0.
    void PicIrq0Only() {
        SetPort8(0x20, 0x11);
        SetPort8(0x21, 0x20);
        SetPort8(0x21, 0x04);
        SetPort8(0x21, 0x01);
        SetPort8(0x21, 0xFE);
    }
    void StartPit() {
        SetPort8(0x43, 0x34);
        SetPort8(0x40, 1193 & 0xFF);
        SetPort8(0x40, 1193 >> 8);
    }
    // RTC periodic interrupt at the default 1024 Hz (register A = 0x26), PIE set in register B (MC146818).
    void StartRtcPeriodic() {
        SetPort8(0x70, 0x0B);
        SetPort8(0x71, 0x42);
    }
    int RtcTicksUntil(u64 ns) {
        int n = 0;
        auto react = [&] {
            const int taken = Take(0x38);
            if (taken) {
                SetPort8(0x70, 0x0C);  // reading register C ends the RTC's interrupt request
                (void)Port8(0x71);
            }
            n += taken;
        };
        react();
        RunUntil(ns, react);
        return n;
    }
};

// A memory interface that forwards platform MSRs to the board, as the machine's VcpuMemory does.
struct PlatformMsrMemory final : cpu::MemoryInterface {
    explicit PlatformMsrMemory(machine::PcBoard& b) : board(b) {}
    bool Read(const cpu::CpuState&, u64, void*, unsigned, cpu::MemAccess, bool, cpu::MemFault*) override {
        return false;
    }
    bool Write(const cpu::CpuState&, u64, const void*, unsigned, bool, cpu::MemFault*) override { return false; }
    u32 PortIn(u16, unsigned) override { return ~0u; }
    void PortOut(u16, unsigned, u32) override {}
    bool WritePlatformMsr(u32 index, u64 value) override { return board.WritePlatformMsr(index, value); }
    std::optional<u64> ReadPlatformMsr(u32 index) override { return board.ReadPlatformMsr(index); }
    machine::PcBoard& board;
};

}  // namespace

TEST_CASE("pc board: the local APIC answers at 0xFEE00000 after reset", "[devices][pc_board]") {
    BoardEnv env;
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == apic::kLapicVersion);
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegId) == 0);
}

TEST_CASE("pc board: IA32_APIC_BASE relocates the local APIC's window", "[devices][pc_board]") {
    BoardEnv env;
    constexpr u64 kNewBase = 0xFEF00000;  // unclaimed MMIO space above the I/O APIC and HPET
    REQUIRE(env.board.WriteApicBase(kNewBase | kEn | kBsp));
    CHECK(env.Mmio32(kNewBase + apic::kRegVersion) == apic::kLapicVersion);
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == 0xFFFFFFFF);  // the old page is unclaimed
    REQUIRE(env.board.WriteApicBase(apic::kLapicBase | kEn | kBsp));
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == apic::kLapicVersion);
    CHECK(env.Mmio32(kNewBase + apic::kRegVersion) == 0xFFFFFFFF);
}

TEST_CASE("pc board: clearing the APIC global enable unmaps the window and gives INTR to the 8259",
          "[devices][pc_board]") {
    BoardEnv env;
    env.RouteThroughIoapic(2, 0x30);  // APIC mode: LINT0 masked, the 8259 is cut off
    env.PicIrq0Only();
    env.StartPit();
    env.RunUntil(1'500'000);
    CHECK(env.board.HasInterrupt());
    CHECK(env.board.Acknowledge() == 0x30);  // through the I/O APIC
    env.SetMmio32(apic::kLapicBase + apic::kRegEoi, 0);

    REQUIRE(env.board.WriteApicBase(apic::kLapicBase | kBsp));  // EN = 0
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == 0xFFFFFFFF);  // not decoded
    env.RunUntil(3'500'000);
    REQUIRE(env.board.HasInterrupt());
    CHECK(env.board.Acknowledge() == 0x20);  // the 8259's vector: the legacy path
    env.SetPort8(0x20, 0x20);               // 8259 EOI

    // Re-enabling maps the window again; the software enable was cleared by the global disable (as QEMU).
    REQUIRE(env.board.WriteApicBase(apic::kLapicBase | kEn | kBsp));
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == apic::kLapicVersion);
    CHECK((env.Mmio32(apic::kLapicBase + apic::kRegSvr) & apic::kSvrEnable) == 0);
}

TEST_CASE("pc board: IA32_APIC_BASE refuses reserved bits", "[devices][pc_board]") {
    BoardEnv env;
    CHECK_FALSE(env.board.WriteApicBase(apic::kLapicBase | kEn | kBsp | 0x1));  // bit 0 is reserved
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == apic::kLapicVersion);  // unchanged
}

TEST_CASE("pc board: WRMSR(IA32_APIC_BASE) reaches the local APIC; refused values #GP and keep the CPU's copy",
          "[devices][pc_board]") {
    using namespace cpu::system;
    BoardEnv env;
    PlatformMsrMemory memory(env.board);
    cpu::CpuState s;  // CPL 0 at reset
    REQUIRE(*ReadMsr(s, memory, msr::ApicBase) == (apic::kLapicBase | kEn | kBsp));
    REQUIRE(WriteMsr(s, memory, msr::ApicBase, 0xFEF00000 | kEn));  // BSP is read-only: the CPU keeps it
    CHECK(*ReadMsr(s, memory, msr::ApicBase) == (0xFEF00000 | kEn | kBsp));
    CHECK(env.Mmio32(0xFEF00000 + apic::kRegVersion) == apic::kLapicVersion);
    CHECK_FALSE(WriteMsr(s, memory, msr::ApicBase, 0xFEF00000 | apic::kApicBaseX2apic));  // EXTD without EN
    CHECK_FALSE(WriteMsr(s, memory, msr::ApicBase, (u64{1} << 40) | kEn));  // above MAXPHYADDR (40)
    CHECK(*ReadMsr(s, memory, msr::ApicBase) == (0xFEF00000 | kEn | kBsp));
    CHECK(env.Mmio32(0xFEF00000 + apic::kRegVersion) == apic::kLapicVersion);
}

TEST_CASE("pc board: x2APIC mode: legal and illegal IA32_APIC_BASE transitions, MSRs instead of the MMIO window",
          "[devices][pc_board]") {
    using namespace cpu::system;
    BoardEnv env;
    PlatformMsrMemory memory(env.board);
    cpu::CpuState s;
    constexpr u64 kExtd = apic::kApicBaseX2apic;
    CHECK_FALSE(ReadMsr(s, memory, 0x803));  // x2APIC registers do not exist in xAPIC mode
    REQUIRE(WriteMsr(s, memory, msr::ApicBase, apic::kLapicBase | kEn | kExtd));
    CHECK(*ReadMsr(s, memory, 0x803) == apic::kLapicVersion);
    CHECK(*ReadMsr(s, memory, 0x80D) == 1);                 // LDR derived from x2APIC ID 0
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == 0xFFFFFFFF);  // the window is gone
    CHECK_FALSE(WriteMsr(s, memory, 0x80D, 2));             // LDR is read-only
    CHECK_FALSE(WriteMsr(s, memory, 0x80B, 1));             // EOI takes only 0
    CHECK_FALSE(ReadMsr(s, memory, 0x80B));                 // EOI is write-only
    CHECK_FALSE(ReadMsr(s, memory, 0x80E));                 // no DFR
    CHECK_FALSE(WriteMsr(s, memory, 0x808, u64{1} << 32));  // reserved upper half
    CHECK_FALSE(WriteMsr(s, memory, msr::ApicBase, apic::kLapicBase | kEn));  // x2APIC -> xAPIC
    REQUIRE(WriteMsr(s, memory, msr::ApicBase, apic::kLapicBase));            // -> disabled
    CHECK_FALSE(WriteMsr(s, memory, msr::ApicBase, apic::kLapicBase | kEn | kExtd));  // disabled -> x2APIC
    REQUIRE(WriteMsr(s, memory, msr::ApicBase, apic::kLapicBase | kEn));
    CHECK(env.Mmio32(apic::kLapicBase + apic::kRegVersion) == apic::kLapicVersion);
}

TEST_CASE("pc board: HPET legacy replacement takes IRQ0 from the PIT and gives it back", "[devices][pc_board]") {
    BoardEnv env;
    env.RouteThroughIoapic(2, 0x30);  // IRQ0 arrives on I/O APIC pin 2 (the MADT override)
    env.StartPit();
    (void)env.TicksUntil(500'000, 0x30);  // programming the PIT raises OUT: that edge is not a period
    CHECK(env.TicksUntil(10'500'000, 0x30) == 10);  // 1 kHz

    env.SetMmio64(hpet::kBase + hpet::kConfig, hpet::kLegacyReplacement);  // HPET halted, timers idle
    CHECK(env.TicksUntil(20'500'000, 0x30) == 0);  // the PIT is cut off

    // Timer 0 now owns IRQ0: a periodic 2 ms interrupt.
    env.SetMmio64(hpet::kBase + hpet::kTimerBase + hpet::kTimerConfig,
                  hpet::kTnIntEnable | hpet::kTnPeriodic | hpet::kTnValSet);
    env.SetMmio64(hpet::kBase + hpet::kTimerBase + hpet::kTimerComparator, 200'000);
    env.SetMmio64(hpet::kBase + hpet::kTimerBase + hpet::kTimerComparator, 200'000);
    env.SetMmio64(hpet::kBase + hpet::kConfig, hpet::kEnable | hpet::kLegacyReplacement);
    CHECK(env.TicksUntil(40'500'000, 0x30) == 10);  // 20 ms at 500 Hz, none from the PIT

    env.SetMmio64(hpet::kBase + hpet::kConfig, 0);  // legacy off: the PIT drives IRQ0 again
    // 10 periods; switching the line back to the PIT may show its high OUT as one more edge, as a mux would.
    const int after = env.TicksUntil(50'500'000, 0x30);
    CHECK(after >= 10);
    CHECK(after <= 11);
}

TEST_CASE("pc board: HPET legacy replacement takes IRQ8 from the RTC; timer 1 drives it", "[devices][pc_board]") {
    BoardEnv env;
    env.RouteThroughIoapic(8, 0x38);
    env.StartRtcPeriodic();
    const int before = env.RtcTicksUntil(100'000'000);
    CHECK(before >= 97);  // 1024 Hz for 100 ms
    CHECK(before <= 103);

    env.SetMmio64(hpet::kBase + hpet::kConfig, hpet::kLegacyReplacement);
    CHECK(env.RtcTicksUntil(200'000'000) == 0);

    constexpr u64 kTimer1 = hpet::kTimerBase + hpet::kTimerStride;
    env.SetMmio64(hpet::kBase + kTimer1 + hpet::kTimerConfig, hpet::kTnIntEnable);  // one-shot
    env.SetMmio64(hpet::kBase + kTimer1 + hpet::kTimerComparator, 500'000);       // 5 ms after enable
    env.SetMmio64(hpet::kBase + hpet::kConfig, hpet::kEnable | hpet::kLegacyReplacement);
    CHECK(env.RtcTicksUntil(210'000'000) == 1);

    env.SetMmio64(hpet::kBase + hpet::kConfig, 0);
    const int after = env.RtcTicksUntil(310'000'000);
    CHECK(after >= 97);
    CHECK(after <= 103);
}

TEST_CASE("pc board: COM2 at 0x2F8 transmits to its backend and interrupts on IRQ3", "[devices][pc_board]") {
    BoardEnv env;
    env.RouteThroughIoapic(3, 0x33);
    env.SetPort8(0x2F8, 'B');
    const auto out = env.com2.TakeOutput();
    CHECK(std::string(out.begin(), out.end()) == "B");
    CHECK(env.Port8(0x2F8 + 5) & 0x20);  // LSR.THRE
    CHECK(env.Take(0x33) == 0);
    env.SetPort8(0x2F8 + 1, 0x02);  // IER: THR empty -> an interrupt at once
    CHECK(env.Take(0x33) == 1);
    // COM1 keeps its own port and IRQ: nothing of COM2's reaches it.
    env.SetPort8(0x3F8, 'A');
    CHECK(env.com2.TakeOutput().empty());
}

TEST_CASE("pc board: FERR# raises IRQ13 and holds it until port 0xF0 is written", "[devices][pc_board]") {
    BoardEnv env;
    env.RouteThroughIoapic(13, 0x3D);
    env.board.SignalFpuError();
    CHECK(env.Take(0x3D) == 1);
    env.board.SignalFpuError();  // still asserted: no new edge until the guest clears it
    CHECK(env.Take(0x3D) == 0);
    env.SetPort8(0xF0, 0);
    env.board.SignalFpuError();
    CHECK(env.Take(0x3D) == 1);
}

TEST_CASE("gated irq line: closing lowers a held line, edges while closed are lost, opening passes the level",
          "[devices][pc_board]") {
    RecordingIrqLine target;
    GatedIrqLine gate(target);
    gate.Raise();
    CHECK(target.level);
    gate.SetOpen(false);
    CHECK_FALSE(target.level);
    gate.Lower();
    gate.Pulse();
    CHECK(target.rising_edges == 1);
    gate.Raise();
    gate.SetOpen(true);  // a device still asserting its line is seen again (the RTC waits for register C)
    CHECK(target.level);
    CHECK(target.rising_edges == 2);
    gate.Lower();
    gate.SetOpen(false);
    gate.SetOpen(true);  // a low line stays low: no edge
    CHECK(target.rising_edges == 2);
}

namespace {

// A function with one 32-bit memory BAR of `size` bytes that answers reads with its offset.
class BarFunction final : public PciDevice {
public:
    explicit BarFunction(u64 size) : PciDevice(PciIds{.vendor = 0x1AF4, .device = 0x1044, .interrupt_pin = 1}) {
        AddBar(0, BarKind::Mem32, size, window);
    }
    struct Window final : IoDevice {
        void Read(u64 offset, std::span<u8> data) override { StoreLe(data, offset | 0x5A000000); }
        void Write(u64, std::span<const u8>) override {}
    } window;
};

}  // namespace

TEST_CASE("plugged PCI functions get slots from 2 and their BARs mapped in the window at once, naturally aligned",
          "[pc_board]") {
    BoardEnv env;
    BarFunction small(0x1000), large(0x8000);
    REQUIRE_FALSE(env.board.AddPciDevice(small).has_value());
    REQUIRE_FALSE(env.board.AddPciDevice(large).has_value());
    const u64 base = machine::PcBoard::kPciBarWindowBase;
    CHECK(env.Mmio32(base + 0x10) == 0x5A000010);           // the first function's BAR at the window's start
    CHECK(env.Mmio32(base + 0x8000 + 0x20) == 0x5A000020);  // the second one aligned to its 32 KiB size
    // Config mechanism #1: slot 2 holds the first function, its BAR reads back the address.
    auto config_read = [&](unsigned slot, u8 reg) {
        u8 address[4];
        StoreLe(std::span<u8>(address, 4), 0x80000000u | slot << 11 | reg);
        env.board.pio().Write(pci::kConfigAddressPort, address);
        u8 data[4] = {};
        env.board.pio().Read(pci::kConfigDataPort, data);
        return static_cast<u32>(LoadLe(std::span<const u8>(data, 4)));
    };
    CHECK(config_read(2, 0) == 0x10441AF4);
    CHECK(config_read(2, 0x10) == base);
    CHECK(config_read(3, 0x10) == base + 0x8000);
}

// ---- several CPUs (issue #12) ----

// CPU n's access to its own local APIC register (each vCPU's memory path decodes its window itself).
u32 CpuReg(machine::PcBoard& board, unsigned cpu, u32 reg) {
    u8 bytes[4];
    board.cpu(cpu).lapic().Read(reg, bytes);
    return static_cast<u32>(LoadLe(std::span<const u8>(bytes, 4)));
}
void SetCpuReg(machine::PcBoard& board, unsigned cpu, u32 reg, u32 value) {
    u8 bytes[4];
    StoreLe(std::span<u8>(bytes, 4), value);
    board.cpu(cpu).lapic().Write(reg, bytes);
}

TEST_CASE("pc board: one local APIC per CPU, the same window address, each its own ID; only the BSP flag on CPU 0",
          "[devices][pc_board][smp]") {
    BoardEnv env({0, 1, 2, 4});
    REQUIRE(env.board.cpu_count() == 4);
    const u32 want[] = {0, 1, 2, 4};
    for (unsigned i = 0; i < 4; ++i) {
        CHECK(env.board.cpu(i).LapicWindow() == apic::kLapicBase);
        CHECK(CpuReg(env.board, i, apic::kRegId) == want[i] << 24);
        CHECK(((env.board.cpu(i).lapic().BaseMsr() & kBsp) != 0) == (i == 0));
    }
    // Moving CPU 1's window leaves the others'.
    REQUIRE(env.board.cpu(1).WriteApicBase(0xFEF00000 | kEn));
    CHECK(env.board.cpu(1).LapicWindow() == 0xFEF00000);
    CHECK(env.board.cpu(0).LapicWindow() == apic::kLapicBase);
}

TEST_CASE("pc board: an IPI from one CPU reaches another's interrupt pins; the 8259 reaches only the BSP",
          "[devices][pc_board][smp]") {
    BoardEnv env({0, 1});
    for (unsigned i = 0; i < 2; ++i) SetCpuReg(env.board, i, apic::kRegSvr, apic::kSvrEnable | 0xFF);
    SetCpuReg(env.board, 0, apic::kRegIcrHigh, 1u << 24);
    SetCpuReg(env.board, 0, apic::kRegIcrLow, 0x41);  // fixed, physical destination 1
    CHECK_FALSE(env.board.cpu(0).HasInterrupt());
    REQUIRE(env.board.cpu(1).HasInterrupt());
    CHECK(env.board.cpu(1).Acknowledge() == 0x41);
    SetCpuReg(env.board, 1, apic::kRegIcrLow, 0x00040000 | 0x400);  // NMI to self (CPU 1)
    CHECK(env.board.cpu(1).HasNmi());
    CHECK_FALSE(env.board.cpu(0).HasNmi());
    // The master 8259 raises IRQ0 (virtual wire: the BSP's LINT0 is ExtINT at reset); the AP has no path to it.
    env.PicIrq0Only();
    env.StartPit();
    env.RunUntil(1'500'000);
    CHECK(env.board.cpu(0).HasInterrupt());
    CHECK_FALSE(env.board.cpu(1).HasInterrupt());
}
