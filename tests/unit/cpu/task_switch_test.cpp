// Hardware task switches (emu/cpu/system/task_switch.h) on a flat test memory: the faults of SDM Vol. 2 JMP/CALL/IRET
// ("TASK-GATE", "TASK-STATE-SEGMENT", "TASK-RETURN") and Vol. 3 Table 8-2 with their error codes, which change nothing
// when raised before the switch; a switch's effects on busy bits, the back link, NT, CR0.TS and the registers; and
// the IA-32e rule (no task switches: the ordinary far transfer's #GP). The conform/task32 guest covers the rest.
#include <catch2/catch.hpp>

#include <cstring>

#include "emu/cpu/system/descriptors.h"
#include "emu/cpu/system/exceptions.h"
#include "emu/cpu/system/segments.h"
#include "emu/cpu/system/task_switch.h"
#include "flat_memory.h"

using namespace emu;
using namespace emu::cpu;
using namespace emu::cpu::system;

namespace {

constexpr u64 kGdt = 0x1000, kIdt = 0x2000, kTssA = 0x3000, kTssB = 0x3100, kStack = 0x9000;
constexpr u16 kCode = 0x08, kData = 0x10, kSelA = 0x18, kSelB = 0x20, kGate = 0x28, kUserGate = 0x30, kShortTss = 0x38,
              kAbsentTss = 0x40, kBadCsTss = 0x48;
constexpr u64 kTssBadCs = 0x3200;

u64 Desc(u32 base, u32 limit, u8 access, u8 flags) {
    return (limit & 0xFFFF) | (u64{base & 0xFFFFFF} << 16) | (u64{access} << 40) | (u64{(limit >> 16) & 0xF} << 48) |
           (u64{flags} << 52) | (u64{base >> 24} << 56);
}
u64 TaskGate(u16 tss, u8 access) { return (u64{tss} << 16) | (u64{access} << 40); }

struct Env {
    test::FlatMemory m{1 << 20};
    CpuState s;

    Env() {
        m.Set<u64>(kGdt + kCode, Desc(0, 0xFFFFF, 0x9A, 0xC));
        m.Set<u64>(kGdt + kData, Desc(0, 0xFFFFF, 0x92, 0xC));
        m.Set<u64>(kGdt + kSelA, Desc(kTssA, 0x67, 0x8B, 0));       // busy: the current task
        m.Set<u64>(kGdt + kSelB, Desc(kTssB, 0x67, 0x89, 0));       // available
        m.Set<u64>(kGdt + kGate, TaskGate(kSelB, 0x85));            // task gate, DPL 0
        m.Set<u64>(kGdt + kUserGate, TaskGate(kSelB, 0xE5));        // task gate, DPL 3
        m.Set<u64>(kGdt + kShortTss, Desc(0x3300, 0x50, 0x89, 0));  // limit below 0x67
        m.Set<u64>(kGdt + kAbsentTss, Desc(0x3300, 0x67, 0x09, 0)); // not present
        m.Set<u64>(kGdt + kBadCsTss, Desc(kTssBadCs, 0x67, 0x89, 0));
        test::Enter32(s, 0x5000, kStack);
        test::UseTables(s, {kCode, kData, {kGdt, 0x7F}, {kIdt, 0x7FF}, {kSelA, kTssA, 0x67, 0x8B}});
        FillTss(kTssB, 0x7000, 0xB0B0);
        FillTss(kTssBadCs, 0x7000, 0);
        m.Set<u32>(kTssBadCs + 0x4C, kData);  // CS names a data segment
    }
    void FillTss(u64 at, u32 eip, u32 eax) {
        m.Set<u32>(at + 0x20, eip);
        m.Set<u32>(at + 0x24, 0x2);
        m.Set<u32>(at + 0x28, eax);
        m.Set<u32>(at + 0x38, kStack - 0x100);
        m.Set<u32>(at + 0x4C, kCode);
        for (u32 off : {0x48u, 0x50u, 0x54u, 0x58u, 0x5Cu}) m.Set<u32>(at + off, kData);
    }
    u8 Type(u16 sel) const { return m.Get<u8>(kGdt + sel + 5) & 0xF; }
};

// The RIP a switch that did not fault goes on at.
u64 Switched(const std::optional<SysResult<u64>>& r) {
    REQUIRE(r.has_value());
    REQUIRE(*r);
    return **r;
}

void RequireFault(const std::optional<SysResult<u64>>& r, u8 vector, u32 code) {
    REQUIRE(r.has_value());
    REQUIRE_FALSE(*r);
    CHECK(r->error().vector == vector);
    CHECK(r->error().error_code == code);
}

}  // namespace

TEST_CASE("JMP to a TSS: busy bits move, no nesting, CR0.TS set, registers from the new TSS", "[task]") {
    Env e;
    e.s.reg(Gpr::Rsi) = 0x5151;
    CHECK(Switched(FarTaskSwitch(e.s, e.m, kSelB, false, 0x5007)) == 0x7000);
    CHECK(e.s.tr.selector == kSelB);
    CHECK(e.Type(kSelA) == 9);
    CHECK(e.Type(kSelB) == 11);
    CHECK((e.s.rflags & rflags::NT) == 0);
    CHECK((e.s.cr0 & cr0::TS) != 0);
    CHECK(e.s.reg(Gpr::Rax) == 0xB0B0);
    CHECK(e.m.Get<u32>(kTssA + 0x20) == 0x5007);  // the old task's EIP
    CHECK(e.m.Get<u32>(kTssA + 0x40) == 0x5151);  // and ESI
    CHECK(e.m.Get<u16>(kTssB) == 0);              // no back link
}

TEST_CASE("CALL through a task gate nests: back link, NT, old task stays busy; IRET returns", "[task]") {
    Env e;
    Switched(FarTaskSwitch(e.s, e.m, kGate, true, 0x5007));
    CHECK(e.m.Get<u16>(kTssB) == kSelA);
    CHECK((e.s.rflags & rflags::NT) != 0);
    CHECK(e.Type(kSelA) == 11);
    CHECK(e.Type(kSelB) == 11);
    const auto back = TaskReturn(e.s, e.m, 0x7010);
    REQUIRE(back);
    CHECK(*back == 0x5007);
    CHECK(e.s.tr.selector == kSelA);
    CHECK(e.Type(kSelB) == 9);
    CHECK((e.m.Get<u32>(kTssB + 0x24) & rflags::NT) == 0);  // saved with NT clear
}

TEST_CASE("task switch faults before the switch change nothing", "[task]") {
    Env e;
    const CpuState before = e.s;
    RequireFault(FarTaskSwitch(e.s, e.m, kSelA, false, 0), vec::GP, kSelA);          // busy TSS
    RequireFault(FarTaskSwitch(e.s, e.m, kAbsentTss, false, 0), vec::NP, kAbsentTss);
    RequireFault(FarTaskSwitch(e.s, e.m, kShortTss, true, 0), vec::TS, kShortTss);   // limit < 0x67
    RequireFault(FarTaskSwitch(e.s, e.m, kSelB | 3, false, 0), vec::GP, kSelB);      // RPL 3 > DPL 0
    e.s.segment(SegReg::Cs).attr |= attr::Dpl(3);
    RequireFault(FarTaskSwitch(e.s, e.m, kGate, false, 0), vec::GP, kGate);          // gate DPL 0 < CPL 3
    e.s.segment(SegReg::Cs).attr &= ~attr::Dpl(3);
    e.m.Set<u64>(kGdt + kUserGate, TaskGate(kSelA, 0xE5));
    RequireFault(FarTaskSwitch(e.s, e.m, kUserGate, false, 0), vec::GP, kSelA);      // the gate's TSS is busy
    e.m.Set<u64>(kGdt + kUserGate, TaskGate(kSelB | 4, 0xE5));
    RequireFault(FarTaskSwitch(e.s, e.m, kUserGate, false, 0), vec::GP, kSelB | 4);  // the gate's TSS in the LDT
    e.m.Set<u64>(kGdt + kUserGate, TaskGate(kSelB, 0x65));
    RequireFault(FarTaskSwitch(e.s, e.m, kUserGate, false, 0), vec::NP, kUserGate);  // gate not present
    CHECK(e.s.tr.selector == before.tr.selector);
    CHECK(e.s.rip == before.rip);
    CHECK(e.s.cr0 == before.cr0);
    CHECK(e.Type(kSelA) == 11);
    CHECK(e.Type(kSelB) == 9);
    e.m.Set<u16>(kTssA, kSelB);  // IRET to an available TSS: #TS(link)
    const auto iret = TaskReturn(e.s, e.m, 0);
    REQUIRE_FALSE(iret);
    CHECK(iret.error().vector == vec::TS);
    CHECK(iret.error().error_code == kSelB);
}

TEST_CASE("a bad CS in the new TSS is #TS(CS) in the new task", "[task]") {
    Env e;
    // #TS through a 32-bit interrupt gate at 0x6000.
    e.m.Set<u64>(kIdt + vec::TS * 8u, 0x6000 | (u64{kCode} << 16) | (u64{0x8E} << 40));
    CHECK(Switched(FarTaskSwitch(e.s, e.m, kBadCsTss, false, 0x5007)) == 0x6000);
    CHECK(e.s.tr.selector == kBadCsTss);
    CHECK(e.Type(kBadCsTss) == 11);
    CHECK(e.m.Get<u32>(kStack - 0x100 - 16) == kData);  // the error code, pushed on the new task's stack
}

TEST_CASE("IA-32e mode has no task switches", "[task]") {
    Env e;
    test::Enter64(e.s, 0x5000, kStack);
    e.s.gdtr = DescriptorTable{kGdt, 0x7F};
    CHECK_FALSE(FarTaskSwitch(e.s, e.m, kSelB, false, 0).has_value());
    const auto j = FarJump(e.s, e.m, kSelB, 0, 4);  // the far transfer's own check: #GP(selector)
    REQUIRE_FALSE(j);
    CHECK(j.error().vector == vec::GP);
    CHECK(j.error().error_code == kSelB);
    e.s.rflags |= rflags::NT;
    const auto iret = InterruptReturn(e.s, e.m, 8);
    REQUIRE_FALSE(iret);
    CHECK(iret.error().vector == vec::GP);
    CHECK(iret.error().error_code == 0);
}
