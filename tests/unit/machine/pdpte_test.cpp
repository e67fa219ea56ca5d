// PAE PDPTE registers through the machine's memory path (VcpuMemory), in both MMU modes. SDM Vol. 3 4.4.1: MOV to
// CR3 (and the CR0/CR4 writes it lists) loads the four PDPTEs from CR3[31:5]; a present PDPTE with a reserved bit
// (2:1, 8:5, 63:MAXPHYADDR = 40) is #GP(0) with CR3 unchanged; translations use the loaded copies, so a store to
// the PDPT changes nothing until the next load. Page tables are encoded here from SDM Tables 4-8 to 4-11.
#include <cstring>

#include <catch2/catch.hpp>

#include "devices/bus/bus.h"
#include "emu/cpu/system/control.h"
#include "emu/machine/vcpu_memory.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

using namespace emu;
using emu::machine::MmuMode;
using emu::machine::VcpuMemory;

namespace {

constexpr u64 kP = 1, kRw = 2;
constexpr u64 kPdpt = 0x1000;                // two 32-byte PDPTs: at +0 and +0x20
constexpr u64 kPdA = 0x2000, kPtA = 0x3000;  // tables of mapping A
constexpr u64 kPdB = 0x4000, kPtB = 0x5000;  // tables of mapping B
constexpr u64 kPageA = 0x10000, kPageB = 0x20000;
constexpr u64 kLinear = 0x7000;              // PDPTE 0, PDE 0, PTE 7 in both mappings
constexpr u64 kRamSize = 1 << 20;

struct Env {
    mmu::GuestRam ram = std::move(mmu::GuestRam::Create(kRamSize).value());
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    devices::Bus mmio, pio;
    VcpuMemory memory;
    cpu::CpuState s;

    explicit Env(MmuMode mode) : memory(slots, &track, mmio, pio, mode) {
        REQUIRE(slots.SetMemoryRegion(0, Gpa(0), kRamSize, mmu::SlotFlags::None, ram.host()).ok());
        Set(kPdA, kPtA | kP | kRw);
        Set(kPtA + 7 * 8, kPageA | kP | kRw);
        Set(kPdB, kPtB | kP | kRw);
        Set(kPtB + 7 * 8, kPageB | kP | kRw);
        Set(kPageA, 0xAAAA);
        Set(kPageB, 0xBBBB);
        Set(kPdpt, kPdA | kP);         // PDPT 0 maps A
        Set(kPdpt + 0x20, kPdB | kP);  // PDPT 1 maps B
        // 32-bit protected mode, CPL 0, PAE paging turned on by MOV CR0 (which loads the PDPTEs).
        s.cr0 = cpu::cr0::PE | cpu::cr0::ET;
        s.cr4 = cpu::cr4::PAE;
        s.cr3 = kPdpt;
        s.segment(cpu::SegReg::Cs) = cpu::Segment{0x8, 0, 0xFFFFFFFF, 0xC09B};
        s.segment(cpu::SegReg::Ss) = cpu::Segment{0x10, 0, 0xFFFFFFFF, 0xC093};
    }

    void Set(u64 gpa, u64 value) { std::memcpy(ram.host().get() + gpa, &value, sizeof value); }
    u64 ReadLinear(u64 linear) {
        u64 v = 0;
        cpu::MemFault fault;
        REQUIRE(memory.Read(s, linear, &v, sizeof v, cpu::MemAccess::Read, false, &fault));
        return v;
    }
    cpu::system::Status MovCr(unsigned n, u64 value) { return cpu::system::WriteControlRegister(s, memory, n, value); }
    void ExpectGp(unsigned n, u64 value) {
        const cpu::system::Status r = MovCr(n, value);
        REQUIRE_FALSE(r);
        CHECK(r.error().vector == cpu::vec::GP);
        CHECK(r.error().error_code == 0);
    }
};

const char* Name(MmuMode mode) { return mode == MmuMode::Walk ? "walk" : "shadow"; }

}  // namespace

TEST_CASE("a present PDPTE with a reserved bit makes MOV CR3 #GP(0) and keeps CR3 and the loaded PDPTEs",
          "[machine][pdpte]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    REQUIRE(e.MovCr(0, e.s.cr0 | cpu::cr0::PG));
    CHECK(e.ReadLinear(kLinear) == 0xAAAA);
    // Each reserved bit of a present PDPTE (Table 4-8), in a PDPTE other than the one the walks use.
    for (const unsigned bit : {1u, 2u, 5u, 6u, 7u, 8u, 40u, 51u, 62u, 63u}) {
        INFO("bit " << bit);
        e.Set(kPdpt + 0x20 + 16, kPdA | kP | (u64{1} << bit));
        e.ExpectGp(3, kPdpt + 0x20);
        CHECK(e.s.cr3 == kPdpt);
        CHECK(e.ReadLinear(kLinear) == 0xAAAA);  // still PDPT 0's PDPTEs
    }
    // Reserved bits of a not-present PDPTE are ignored; the load then switches to mapping B.
    e.Set(kPdpt + 0x20 + 16, ~kP);
    REQUIRE(e.MovCr(3, kPdpt + 0x20));
    CHECK(e.ReadLinear(kLinear) == 0xBBBB);
    // CR4 and CR0 writes that load the PDPTEs fault the same way and leave the register alone.
    e.Set(kPdpt + 0x20 + 8, kPdA | kP | kRw);
    e.ExpectGp(4, cpu::cr4::PAE | cpu::cr4::PGE);
    CHECK(e.s.cr4 == cpu::cr4::PAE);
    e.ExpectGp(0, e.s.cr0 | cpu::cr0::CD);
    CHECK_FALSE(e.s.cr0 & cpu::cr0::CD);
    CHECK(e.ReadLinear(kLinear) == 0xBBBB);
    // A PDPT outside RAM cannot be loaded either.
    e.ExpectGp(3, kRamSize + 0x1000);
    CHECK(e.s.cr3 == kPdpt + 0x20);
}

TEST_CASE("translations use the PDPTEs loaded by the last MOV CR, not the PDPT in memory", "[machine][pdpte]") {
    const MmuMode mode = GENERATE(MmuMode::Walk, MmuMode::Shadow);
    INFO(Name(mode));
    Env e(mode);
    REQUIRE(e.MovCr(0, e.s.cr0 | cpu::cr0::PG));
    CHECK(e.ReadLinear(kLinear) == 0xAAAA);
    e.Set(kPdpt, kPdB | kP);  // PDPT 0 now points at B in memory
    // Writes that flush the TLB but do not load PDPTEs (CR0.WP, CR4.OSFXSR; INVLPG) keep the loaded copy.
    REQUIRE(e.MovCr(0, e.s.cr0 | cpu::cr0::WP));
    CHECK(e.ReadLinear(kLinear) == 0xAAAA);
    REQUIRE(e.MovCr(4, e.s.cr4 | cpu::cr4::OSFXSR));
    REQUIRE(cpu::system::Invlpg(e.s, e.memory, kLinear));
    CHECK(e.ReadLinear(kLinear) == 0xAAAA);
    // MOV CR3 with the same value loads them again.
    REQUIRE(e.MovCr(3, kPdpt));
    CHECK(e.ReadLinear(kLinear) == 0xBBBB);
    // So does a CR4 write that changes PGE, and CR0 turning paging back on.
    e.Set(kPdpt, kPdA | kP);
    REQUIRE(e.MovCr(4, e.s.cr4 | cpu::cr4::PGE));
    CHECK(e.ReadLinear(kLinear) == 0xAAAA);
    REQUIRE(e.MovCr(0, e.s.cr0 & ~cpu::cr0::PG));
    e.Set(kPdpt, kPdB | kP);
    REQUIRE(e.MovCr(0, e.s.cr0 | cpu::cr0::PG));
    CHECK(e.ReadLinear(kLinear) == 0xBBBB);
}
