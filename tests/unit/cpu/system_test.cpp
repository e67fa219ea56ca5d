// emu/cpu/system helpers on a flat test memory. Expected values are the SDM's (Vol. 3 chapters 3, 5, 6; Vol. 2
// instruction pages), worked out in the comments; descriptors are encoded here from SDM Figure 3-8 / 6-8.
#include <catch2/catch.hpp>

#include "emu/cpu/system/control.h"
#include "emu/cpu/system/cpu_model.h"
#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/system/debug.h"
#include "emu/cpu/system/exceptions.h"
#include "emu/cpu/system/msr.h"
#include "emu/cpu/system/segments.h"
#include "emu/cpu/system/syscall.h"
#include "emu/cpu/system/topology.h"
#include "emu/cpu/vcpu.h"
#include "flat_memory.h"

using namespace emu;
using namespace emu::cpu;
using namespace emu::cpu::system;

namespace {

constexpr u64 kGdt = 0x1000, kIdt = 0x2000, kTss = 0x3000, kLdt = 0x3800;
constexpr u64 kKernelStack = 0x9000, kUserStack = 0x7000, kIstStack = 0xA000;

// Selectors of the test GDT.
constexpr u16 kCode64 = 0x08, kData = 0x10, kUserCode64 = 0x1B, kUserData = 0x23, kCode32 = 0x28, kTssSel = 0x30;
constexpr u16 kConforming = 0x40, kNotPresent = 0x48, kExecOnly = 0x50, kLdtSel = 0x58, kUserCode32 = 0x6B;

// Segment descriptor: access byte (P DPL S type) and flags nibble (G D/B L AVL).
u64 Desc(u32 base, u32 limit, u8 access, u8 flags) {
    return (limit & 0xFFFF) | (u64{base & 0xFFFFFF} << 16) | (u64{access} << 40) | (u64{(limit >> 16) & 0xF} << 48) |
           (u64{flags} << 52) | (u64{base >> 24} << 56);
}

struct FlushRecorder : test::FlatMemory {
    FlushRecorder() : FlatMemory(1 << 20) {}
    void FlushTlb(u64 linear, bool global) override {
        flushes.push_back({linear, global});
    }
    std::vector<std::pair<u64, bool>> flushes;
};

struct Env {
    FlushRecorder m;
    CpuState s;

    Env() {
        m.Set<u64>(kGdt + kCode64, Desc(0, 0xFFFFF, 0x9A, 0xA));       // 64-bit code, DPL 0 (not accessed)
        m.Set<u64>(kGdt + kData, Desc(0, 0xFFFFF, 0x92, 0xC));         // data, DPL 0
        m.Set<u64>(kGdt + (kUserCode64 & ~3), Desc(0, 0xFFFFF, 0xFA, 0xA));
        m.Set<u64>(kGdt + (kUserData & ~3), Desc(0, 0xFFFFF, 0xF2, 0xC));
        m.Set<u64>(kGdt + kCode32, Desc(0, 0xFFFFF, 0x9A, 0xC));       // 32-bit code, DPL 0
        m.Set<u64>(kGdt + kTssSel, Desc(kTss, 0x67, 0x89, 0));          // available 32/64-bit TSS
        m.Set<u64>(kGdt + kTssSel + 8, 0);
        m.Set<u64>(kGdt + kConforming, Desc(0, 0xFFFFF, 0x9E, 0xC));   // conforming readable code, DPL 0
        m.Set<u64>(kGdt + kNotPresent, Desc(0, 0xFFFFF, 0x12, 0xC));   // data, not present
        m.Set<u64>(kGdt + kExecOnly, Desc(0, 0xFFFFF, 0x98, 0xC));     // execute-only code
        m.Set<u64>(kGdt + kLdtSel, Desc(kLdt, 0xFF, 0x82, 0));          // LDT
        m.Set<u64>(kGdt + kLdtSel + 8, 0);
        m.Set<u64>(kGdt + (kUserCode32 & ~3), Desc(0, 0xFFFFF, 0xFA, 0xC));
        test::Enter64(s, 0x5000, kKernelStack);
        test::UseTables(s, {kCode64, kData, {kGdt, 0x7F}, {kIdt, 0xFFF}, {kTssSel, kTss, 0x67, 0x8B}});
        m.Set<u64>(kTss + 4, kKernelStack);        // RSP0
        m.Set<u64>(kTss + 0x24, kIstStack);        // IST1
    }

    // A 64-bit interrupt (0xE) or trap (0xF) gate.
    void Gate64(u8 vector, u64 handler, u8 type = 0xE, unsigned dpl = 0, unsigned ist = 0, bool present = true) {
        const u64 lo = (handler & 0xFFFF) | (u64{kCode64} << 16) | (u64{ist} << 32) | (u64{type} << 40) |
                       (u64{dpl} << 45) | (u64{present} << 47) | ((handler >> 16 & 0xFFFF) << 48);
        m.Set<u64>(kIdt + vector * 16u, lo);
        m.Set<u64>(kIdt + vector * 16u + 8, handler >> 32);
    }

    void EnterUser64() {
        s.segment(SegReg::Cs) = Segment{kUserCode64, 0, 0xFFFFFFFF, 0xA0FB};
        s.segment(SegReg::Ss) = Segment{kUserData, 0, 0xFFFFFFFF, 0xC0F3};
        s.reg(Gpr::Rsp) = kUserStack;
    }

    // 32-bit protected mode at CPL 0 with the flat 32-bit code segment.
    void Enter32() {
        test::Enter32(s, 0x5000, kKernelStack);
        test::UseTables(s, {kCode32, kData, {kGdt, 0x7F}, {kIdt, 0x7FF}, {kTssSel, kTss, 0x67, 0x8B}});
    }

    u64 Q(u64 at) const { return m.Get<u64>(at); }
    u32 D(u64 at) const { return m.Get<u32>(at); }
};

Event Fault(u8 vector, u32 code) { return Event{vector, EventKind::Exception, true, code, 0}; }
Event Trap(u8 vector) { return Event{vector, EventKind::Exception, false, 0, 0}; }
Event SoftInt(u8 vector) { return Event{vector, EventKind::SoftwareInt, false, 0, 0}; }

}  // namespace

// --- Delivery, 64-bit

TEST_CASE("a #GP from CPL 3 switches to RSP0, pushes SS RSP RFLAGS CS RIP and the error code", "[system]") {
    Env e;
    e.Gate64(13, 0x6000);
    e.EnterUser64();
    e.s.rip = 0x401234;
    e.s.rflags = rflags::Reserved1 | rflags::IF | rflags::TF;
    REQUIRE(DeliverEvent(e.s, e.m, Fault(vec::GP, 0x18)) == DeliveryResult::Delivered);
    // SDM 6.14.2: RSP0 aligned to 16, then 6 qwords.
    const u64 sp = kKernelStack - 48;
    CHECK(e.s.reg(Gpr::Rsp) == sp);
    CHECK(e.Q(sp) == 0x18);
    CHECK(e.Q(sp + 8) == 0x401234);
    CHECK(e.Q(sp + 16) == kUserCode64);
    CHECK(e.Q(sp + 24) == (rflags::Reserved1 | rflags::IF | rflags::TF));
    CHECK(e.Q(sp + 32) == kUserStack);
    CHECK(e.Q(sp + 40) == kUserData);
    CHECK(e.s.rip == 0x6000);
    CHECK(e.s.cpl() == 0);
    CHECK(e.s.segment(SegReg::Cs).selector == kCode64);
    // SS becomes a null selector with RPL = new CPL (SDM 6.14.4).
    CHECK(e.s.segment(SegReg::Ss).selector == 0);
    CHECK((e.s.rflags & (rflags::IF | rflags::TF)) == 0);  // interrupt gate clears IF; TF always
    CHECK((e.m.Get<u8>(kGdt + kCode64 + 5) & 1) == 1);       // CS descriptor marked accessed
}

TEST_CASE("a trap gate keeps IF and IST selects its own stack even without a privilege change", "[system]") {
    Env e;
    e.Gate64(3, 0x6000, 0xF, 3, 1);
    e.s.reg(Gpr::Rsp) = 0x8008;
    e.s.rflags = rflags::Reserved1 | rflags::IF;
    e.s.rip = 0x5001;
    REQUIRE(DeliverEvent(e.s, e.m, SoftInt(3)) == DeliveryResult::Delivered);
    CHECK(e.s.reg(Gpr::Rsp) == kIstStack - 40);  // 5 qwords, no error code
    CHECK(e.Q(kIstStack - 40) == 0x5001);
    CHECK(e.Q(kIstStack - 8) == kData);           // old SS kept at the same privilege
    CHECK(e.Q(kIstStack - 16) == 0x8008);
    CHECK(e.s.rflags & rflags::IF);
}

TEST_CASE("without IST the same-privilege frame starts at RSP aligned down to 16", "[system]") {
    Env e;
    e.Gate64(6, 0x6000);
    e.s.reg(Gpr::Rsp) = 0x8008;
    REQUIRE(DeliverEvent(e.s, e.m, Trap(vec::UD)) == DeliveryResult::Delivered);
    CHECK(e.s.reg(Gpr::Rsp) == 0x8000 - 40);
    CHECK(e.Q(0x8000 - 8) == kData);
    CHECK(e.Q(0x8000 - 16) == 0x8008);
}

TEST_CASE("INT n through a DPL 0 gate from CPL 3 is #GP(vector*8+2) with EXT clear", "[system]") {
    Env e;
    e.Gate64(0x80, 0x6000);
    e.EnterUser64();
    const Status r = DeliverOnce(e.s, e.m, SoftInt(0x80));
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::GP);
    CHECK(r.error().error_code == 0x80 * 8 + 2);
    CHECK(e.s.cpl() == 3);  // nothing changed
}

TEST_CASE("a not-present gate for an exception is #NP(vector*8+2+EXT)", "[system]") {
    Env e;
    e.Gate64(6, 0x6000, 0xE, 0, 0, false);
    const Status r = DeliverOnce(e.s, e.m, Trap(vec::UD));
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::NP);
    CHECK(r.error().error_code == 6 * 8 + 2 + 1);
}

TEST_CASE("a benign exception whose gate is missing delivers the #NP serially", "[system]") {
    Env e;
    e.Gate64(6, 0x6000, 0xE, 0, 0, false);
    e.Gate64(11, 0x6100);
    REQUIRE(DeliverEvent(e.s, e.m, Trap(vec::UD)) == DeliveryResult::Delivered);
    CHECK(e.s.rip == 0x6100);
    CHECK(e.Q(e.s.reg(Gpr::Rsp)) == 6 * 8 + 2 + 1);
}

TEST_CASE("a contributory fault during #GP delivery becomes #DF with error code 0", "[system]") {
    Env e;
    e.Gate64(13, 0x6000, 0xE, 0, 0, false);  // #GP gate not present -> #NP, contributory
    e.Gate64(8, 0x6800, 0xE, 0, 1);
    REQUIRE(DeliverEvent(e.s, e.m, Fault(vec::GP, 0)) == DeliveryResult::Delivered);
    CHECK(e.s.rip == 0x6800);
    CHECK(e.s.reg(Gpr::Rsp) == kIstStack - 48);
    CHECK(e.Q(kIstStack - 48) == 0);
}

TEST_CASE("a #PF while delivering #PF is #DF; a fault while delivering #DF is a triple fault", "[system]") {
    Env e;
    e.Gate64(14, 0x6000);
    e.Gate64(8, 0x6800);
    e.s.reg(Gpr::Rsp) = 0x200000;  // beyond the 1 MiB flat memory: the pushes fault with #PF
    const Event pf{vec::PF, EventKind::Exception, true, 2, 0x1234};
    CHECK(DeliverEvent(e.s, e.m, pf) == DeliveryResult::TripleFault);  // #PF -> #DF (same stack) -> shutdown
    CHECK(e.s.cr2 == 0x200000 - 8);  // CR2 of the last #PF detected: the first push of the #DF frame

    Env f;
    f.Gate64(14, 0x6000);
    f.Gate64(8, 0x6800, 0xE, 0, 1);  // #DF on IST1: a good stack
    f.s.reg(Gpr::Rsp) = 0x200000;
    REQUIRE(DeliverEvent(f.s, f.m, pf) == DeliveryResult::Delivered);
    CHECK(f.s.rip == 0x6800);
}

TEST_CASE("a benign exception never escalates: #UD then #GP is delivered as #GP", "[system]") {
    CHECK(ClassOf(vec::UD) == ExceptionClass::Benign);
    CHECK(ClassOf(vec::DE) == ExceptionClass::Contributory);
    CHECK(ClassOf(vec::TS) == ExceptionClass::Contributory);
    CHECK(ClassOf(vec::PF) == ExceptionClass::PageFault);
    CHECK(ClassOf(vec::BP) == ExceptionClass::Benign);
}

TEST_CASE("IRETQ to CPL 3 restores SS:RSP and RFLAGS and nulls DS with DPL 0", "[system]") {
    Env e;
    e.s.segment(SegReg::Ds) = Segment{kData, 0, 0xFFFFFFFF, 0xC093};
    const u64 sp = 0x8000;
    e.s.reg(Gpr::Rsp) = sp;
    e.m.Set<u64>(sp, 0x401000);
    e.m.Set<u64>(sp + 8, kUserCode64);
    e.m.Set<u64>(sp + 16, rflags::Reserved1 | rflags::IF | rflags::IOPL);
    e.m.Set<u64>(sp + 24, kUserStack);
    e.m.Set<u64>(sp + 32, kUserData);
    const auto r = InterruptReturn(e.s, e.m, 8);
    REQUIRE(r);
    CHECK(*r == 0x401000);
    CHECK(e.s.cpl() == 3);
    CHECK(e.s.segment(SegReg::Ss).selector == kUserData);
    CHECK(e.s.reg(Gpr::Rsp) == kUserStack);
    CHECK(e.s.rflags == (rflags::Reserved1 | rflags::IF | rflags::IOPL));  // CPL 0 may change IOPL
    CHECK(e.s.segment(SegReg::Ds).selector == 0);
}

TEST_CASE("IRET to a CS with RPL below CPL is #GP(selector)", "[system]") {
    Env e;
    e.EnterUser64();
    e.m.Set<u64>(kUserStack, 0x5000);
    e.m.Set<u64>(kUserStack + 8, kCode64);
    e.m.Set<u64>(kUserStack + 16, 2);
    const auto r = InterruptReturn(e.s, e.m, 8);
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::GP);
    CHECK(r.error().error_code == kCode64);
    CHECK(e.s.reg(Gpr::Rsp) == kUserStack);
}

TEST_CASE("IRETQ at CPL 3 cannot change IOPL or IF when CPL > IOPL", "[system]") {
    Env e;
    e.EnterUser64();
    e.s.rflags = rflags::Reserved1;
    e.m.Set<u64>(kUserStack, 0x401000);
    e.m.Set<u64>(kUserStack + 8, kUserCode64);
    e.m.Set<u64>(kUserStack + 16, rflags::Reserved1 | rflags::IF | rflags::IOPL | rflags::CF);
    e.m.Set<u64>(kUserStack + 24, kUserStack + 0x100);
    e.m.Set<u64>(kUserStack + 32, kUserData);
    REQUIRE(InterruptReturn(e.s, e.m, 8));
    CHECK(e.s.rflags == (rflags::Reserved1 | rflags::CF));
}

// --- Delivery, 32-bit protected and real mode

TEST_CASE("a 32-bit interrupt gate from CPL 3 switches to SS0:ESP0 from the TSS", "[system]") {
    Env e;
    e.Enter32();
    e.m.Set<u32>(kTss + 4, 0x9000);  // ESP0
    e.m.Set<u16>(kTss + 8, kData);   // SS0
    const u64 gate = 0x6000 | (u64{kCode32} << 16) | (u64{0x8E} << 40);
    e.m.Set<u64>(kIdt + 13 * 8, gate);
    e.s.segment(SegReg::Cs) = Segment{kUserCode32, 0, 0xFFFFFFFF, 0xC0FB};
    e.s.segment(SegReg::Ss) = Segment{kUserData, 0, 0xFFFFFFFF, 0xC0F3};
    e.s.reg(Gpr::Rsp) = 0x7000;
    e.s.rip = 0x1234;
    REQUIRE(DeliverEvent(e.s, e.m, Fault(vec::GP, 0x28)) == DeliveryResult::Delivered);
    // SDM Figure 6-4: SS, ESP, EFLAGS, CS, EIP, error code as dwords.
    CHECK(e.s.reg(Gpr::Rsp) == 0x9000 - 24);
    CHECK(e.D(0x9000 - 24) == 0x28);
    CHECK(e.D(0x9000 - 20) == 0x1234);
    CHECK(e.D(0x9000 - 16) == kUserCode32);
    CHECK(e.D(0x9000 - 8) == 0x7000);
    CHECK(e.D(0x9000 - 4) == kUserData);
    CHECK(e.s.segment(SegReg::Ss).selector == kData);
    CHECK(e.s.cpl() == 0);
    CHECK(e.s.rip == 0x6000);
}

TEST_CASE("a TSS whose SS0 is null raises #TS(EXT) and escalates with the #GP", "[system]") {
    Env e;
    e.Enter32();
    const u64 gate = 0x6000 | (u64{kCode32} << 16) | (u64{0x8E} << 40);
    e.m.Set<u64>(kIdt + 13 * 8, gate);
    e.s.segment(SegReg::Cs) = Segment{kUserCode32, 0, 0xFFFFFFFF, 0xC0FB};
    const Status r = DeliverOnce(e.s, e.m, Fault(vec::GP, 0));
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::TS);
    CHECK(r.error().error_code == 1);
}

TEST_CASE("real mode pushes FLAGS CS IP and jumps through the IVT", "[system]") {
    test::FlatMemory m;
    CpuState s;
    test::EnterReal(s, 0x100, 0x800);
    s.idtr = DescriptorTable{0, 0x3FF};
    s.segment(SegReg::Cs) = Segment{0x10, 0x100, 0xFFFF, 0x9B};
    s.rip = 0x22;
    s.rflags = rflags::Reserved1 | rflags::IF;
    m.Set<u32>(0x21 * 4, 0x12345678);
    REQUIRE(DeliverEvent(s, m, SoftInt(0x21)) == DeliveryResult::Delivered);
    CHECK(s.segment(SegReg::Cs).selector == 0x1234);
    CHECK(s.segment(SegReg::Cs).base == 0x12340);
    CHECK(s.rip == 0x5678);
    CHECK(s.reg(Gpr::Rsp) == 0x7FA);
    CHECK(m.Get<u16>(0x7FA) == 0x22);
    CHECK(m.Get<u16>(0x7FC) == 0x10);
    CHECK(m.Get<u16>(0x7FE) == (rflags::Reserved1 | rflags::IF));
    CHECK_FALSE(s.rflags & rflags::IF);
}

// --- Segment loads

TEST_CASE("segment loads check null, RPL, DPL, type and presence", "[system]") {
    Env e;
    e.Enter32();
    auto load = [&](SegReg r, u16 sel) { return LoadSegment(e.s, e.m, r, sel); };
    CHECK(load(SegReg::Ds, kData));
    CHECK(e.s.segment(SegReg::Ds).limit == 0xFFFFFFFF);  // G scales the limit
    CHECK((e.m.Get<u8>(kGdt + kData + 5) & 1) == 1);     // accessed
    CHECK(load(SegReg::Ds, 0));                          // null is fine for DS...
    CHECK(e.s.segment(SegReg::Ds).attr & (1u << 16));
    auto r = load(SegReg::Ss, 0);                        // ...not for SS outside 64-bit mode
    REQUIRE_FALSE(r);
    CHECK((r.error().vector == vec::GP && r.error().error_code == 0));
    r = load(SegReg::Ss, kData | 3);  // RPL != CPL
    REQUIRE_FALSE(r);
    CHECK((r.error().vector == vec::GP && r.error().error_code == kData));
    r = load(SegReg::Ds, kNotPresent);
    REQUIRE_FALSE(r);
    CHECK((r.error().vector == vec::NP && r.error().error_code == kNotPresent));
    r = load(SegReg::Ss, kNotPresent);  // not-present stack segment: #SS
    REQUIRE_FALSE(r);
    CHECK((r.error().vector == vec::SS && r.error().error_code == kNotPresent));
    r = load(SegReg::Es, kExecOnly);
    REQUIRE_FALSE(r);
    CHECK((r.error().vector == vec::GP && r.error().error_code == kExecOnly));
    CHECK(load(SegReg::Es, kConforming));  // readable code is loadable into data registers
    r = load(SegReg::Fs, 0x7F8);           // beyond the GDT limit
    REQUIRE_FALSE(r);
    CHECK((r.error().vector == vec::GP && r.error().error_code == 0x7F8));
    r = load(SegReg::Gs, 0x4);  // an LDT selector with no LDT
    REQUIRE_FALSE(r);
    CHECK(r.error().error_code == 0x4);
}

TEST_CASE("CPL 3 cannot load a DPL 0 data segment; 64-bit mode allows a null SS at CPL 0", "[system]") {
    Env e;
    e.s.segment(SegReg::Cs) = Segment{kUserCode64, 0, 0xFFFFFFFF, 0xA0FB};
    auto r = LoadSegment(e.s, e.m, SegReg::Ds, kData | 3);
    REQUIRE_FALSE(r);
    CHECK(r.error().error_code == kData);
    Env f;
    CHECK(LoadSegment(f.s, f.m, SegReg::Ss, 0));
}

TEST_CASE("far JMP, CALL and RET in 32-bit mode check the target and move CS", "[system]") {
    Env e;
    e.Enter32();
    auto r = FarCall(e.s, e.m, kCode32, 0x7000, 4, 0x5007);
    REQUIRE(r);
    CHECK(*r == 0x7000);
    CHECK(e.D(kKernelStack - 4) == kCode32);
    CHECK(e.D(kKernelStack - 8) == 0x5007);
    const auto back = FarReturn(e.s, e.m, 4, 8);
    REQUIRE(back);
    CHECK(*back == 0x5007);
    CHECK(e.s.reg(Gpr::Rsp) == kKernelStack + 8);
    auto j = FarJump(e.s, e.m, kUserCode32, 0x100, 4);  // DPL 3 non-conforming from CPL 0
    REQUIRE_FALSE(j);
    CHECK(j.error().error_code == (kUserCode32 & ~3));
    j = FarJump(e.s, e.m, kData, 0x100, 4);  // not code
    REQUIRE_FALSE(j);
    CHECK(j.error().error_code == kData);
}

TEST_CASE("LTR marks the TSS busy and refuses a busy one; LLDT loads the LDT", "[system]") {
    Env e;
    REQUIRE(LoadTaskRegister(e.s, e.m, kTssSel));
    CHECK((e.m.Get<u8>(kGdt + kTssSel + 5) & 0xF) == 0xB);
    CHECK(e.s.tr.base == kTss);
    const auto again = LoadTaskRegister(e.s, e.m, kTssSel);
    REQUIRE_FALSE(again);
    CHECK(again.error().error_code == kTssSel);
    REQUIRE(LoadLdt(e.s, e.m, kLdtSel));
    CHECK(e.s.ldtr.base == kLdt);
    CHECK(e.s.ldtr.limit == 0xFF);
    const auto bad = LoadLdt(e.s, e.m, kData);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().error_code == kData);
}

TEST_CASE("LAR and LSL report access rights and limits; VERW rejects code", "[system]") {
    Env e;
    e.Enter32();
    auto lar = QuerySegment(e.s, e.m, SegmentQuery::Lar, kData);
    REQUIRE(lar);
    CHECK(lar->valid);
    CHECK(lar->value == 0x00C09200);  // G D/B, P DPL0 S type 2 (bits 23:8 of the high dword)
    auto lsl = QuerySegment(e.s, e.m, SegmentQuery::Lsl, kTssSel);
    REQUIRE(lsl);
    CHECK(lsl->value == 0x67);
    auto verw = QuerySegment(e.s, e.m, SegmentQuery::Verw, kCode32);
    REQUIRE(verw);
    CHECK_FALSE(verw->valid);
    auto null = QuerySegment(e.s, e.m, SegmentQuery::Lar, 0);
    REQUIRE(null);
    CHECK_FALSE(null->valid);
    auto beyond = QuerySegment(e.s, e.m, SegmentQuery::Verr, 0x7F8);  // no fault, ZF = 0
    REQUIRE(beyond);
    CHECK_FALSE(beyond->valid);
}

TEST_CASE("LGDT in 64-bit mode takes a 64-bit base and faults on a non-canonical one", "[system]") {
    Env e;
    e.m.Set<u16>(0x4000, 0x1FF);
    e.m.Set<u64>(0x4002, 0xFFFF800000001000);
    REQUIRE(LoadDescriptorTable(e.s, e.m, Table::Gdt, 0x4000, 8));
    CHECK(e.s.gdtr.base == 0xFFFF800000001000);
    CHECK(e.s.gdtr.limit == 0x1FF);
    e.m.Set<u64>(0x4002, 0x0000800000001000);
    const auto r = LoadDescriptorTable(e.s, e.m, Table::Idt, 0x4000, 8);
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::GP);
    REQUIRE(StoreDescriptorTable(e.s, e.m, Table::Gdt, 0x4100));
    CHECK(e.m.Get<u16>(0x4100) == 0x1FF);
    CHECK(e.m.Get<u64>(0x4102) == 0xFFFF800000001000);
}

TEST_CASE("expand-down data segments accept offsets above the limit only", "[system]") {
    CpuState s;
    test::Enter32(s, 0, 0);
    s.segment(SegReg::Ds) = Segment{0x10, 0, 0xFFF, 0x4097};  // expand-down, B = 1
    CHECK_FALSE(CheckDataAccess(s, SegReg::Ds, 0xFFF, 1, false));
    CHECK(CheckDataAccess(s, SegReg::Ds, 0x1000, 4, true));
    s.segment(SegReg::Ss) = Segment{0x10, 0, 0xFFF, 0xC093};
    const auto r = CheckDataAccess(s, SegReg::Ss, 0xFFE, 4, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::SS);
}

// --- Control registers

TEST_CASE("CR0 writes: PG without PE and NW without CD are #GP; paging with LME sets LMA", "[system]") {
    Env e;
    CpuState& s = e.s;
    s = CpuState{};
    s.cr0 = cr0::ET;
    CHECK_FALSE(WriteControlRegister(s, e.m, 0, cr0::PG | cr0::ET));
    CHECK_FALSE(WriteControlRegister(s, e.m, 0, cr0::PE | cr0::NW));
    s.efer = efer::LME;
    CHECK_FALSE(WriteControlRegister(s, e.m, 0, cr0::PE | cr0::PG));  // PAE clear
    s.cr4 = cr4::PAE;
    e.m.flushes.clear();
    REQUIRE(WriteControlRegister(s, e.m, 0, cr0::PE | cr0::PG));
    CHECK(s.efer & efer::LMA);
    CHECK(e.m.flushes == std::vector<std::pair<u64, bool>>{{~u64{0}, true}});
    CHECK_FALSE(WriteControlRegister(s, e.m, 4, 0));  // clearing PAE with LMA = 1
    CHECK_FALSE(WriteControlRegister(s, e.m, 0, u64{1} << 32));
}

TEST_CASE("CR0.PG cannot be cleared in 64-bit mode; from compatibility mode it clears LMA", "[system]") {
    Env e;
    CHECK_FALSE(WriteControlRegister(e.s, e.m, 0, cr0::PE | cr0::ET));
    e.s.segment(SegReg::Cs) = Segment{kCode32, 0, 0xFFFFFFFF, 0xC09B};
    REQUIRE(WriteControlRegister(e.s, e.m, 0, cr0::PE | cr0::ET));
    CHECK_FALSE(e.s.efer & efer::LMA);
}

TEST_CASE("CR3, CR4, CR8 and DR writes check reserved bits and flush as documented", "[system]") {
    Env e;
    e.m.flushes.clear();
    REQUIRE(WriteControlRegister(e.s, e.m, 3, 0x123000));
    CHECK(e.m.flushes == std::vector<std::pair<u64, bool>>{{~u64{0}, false}});
    CHECK_FALSE(WriteControlRegister(e.s, e.m, 3, u64{1} << 45));  // above MAXPHYADDR (40)
    // CR4.PCIDE (max advertises PCID) needs CR3[11:0] = 0; then CR3 keeps the PCID and drops bit 63.
    REQUIRE(WriteControlRegister(e.s, e.m, 3, 0x123008));
    CHECK_FALSE(WriteControlRegister(e.s, e.m, 4, cr4::PAE | cr4::PCIDE));
    REQUIRE(WriteControlRegister(e.s, e.m, 3, 0x123000));
    REQUIRE(WriteControlRegister(e.s, e.m, 4, cr4::PAE | cr4::PCIDE));
    REQUIRE(WriteControlRegister(e.s, e.m, 3, 0x123005 | (u64{1} << 63)));
    CHECK(e.s.cr3 == 0x123005);
    CHECK_FALSE(WriteControlRegister(e.s, e.m, 0, e.s.cr0 & ~cr0::PG));  // paging stays on under PCIDE
    REQUIRE(WriteControlRegister(e.s, e.m, 3, 0x123000));
    REQUIRE(WriteControlRegister(e.s, e.m, 4, cr4::PAE));
    CHECK_FALSE(WriteControlRegister(e.s, e.m, 3, 0x123000 | (u64{1} << 63)));  // bit 63 without PCIDE: reserved
    {
        // CR4.SMEP exists only where CPUID advertises SMEP (max does).
        const CpuModel saved = SelectedCpuModel();
        std::string error;
        SelectCpuModel(*ParseCpuSpec("max,-smep", &error));
        CHECK_FALSE(WriteControlRegister(e.s, e.m, 4, cr4::PAE | cr4::SMEP));
        SelectCpuModel(saved);
        CHECK(WriteControlRegister(e.s, e.m, 4, cr4::PAE | cr4::SMEP));
    }
    CHECK(WriteControlRegister(e.s, e.m, 4, cr4::PAE | cr4::PGE));
    CHECK_FALSE(WriteControlRegister(e.s, e.m, 8, 16));
    CHECK(WriteControlRegister(e.s, e.m, 8, 15));
    const auto cr1 = WriteControlRegister(e.s, e.m, 1, 0);
    REQUIRE_FALSE(cr1);
    CHECK(cr1.error().vector == vec::UD);
    e.m.flushes.clear();
    REQUIRE(Invlpg(e.s, e.m, 0x12345));
    CHECK(e.m.flushes == std::vector<std::pair<u64, bool>>{{0x12000, true}});
    REQUIRE(WriteDebugRegister(e.s, 7, 0x1));
    CHECK(e.s.dr[7] == 0x401);
    CHECK_FALSE(WriteDebugRegister(e.s, 6, u64{1} << 32));
    CHECK(*ReadDebugRegister(e.s, 4) == e.s.dr[6]);  // DR4 aliases DR6 with CR4.DE = 0
    e.EnterUser64();
    const auto user = ReadControlRegister(e.s, 0);
    REQUIRE_FALSE(user);
    CHECK(user.error().vector == vec::GP);
}

// A memory that records the PAE PDPTE loads the CPU asks for and accepts them unless told to refuse.
struct PdpteRecorder : test::FlatMemory {
    bool LoadPdptes(u64 cr3) override {
        loads.push_back(cr3);
        return accept;
    }
    std::vector<u64> loads;
    bool accept = true;
};

// The loads a control-register write made (cleared), and whether it succeeded.
std::vector<u64> LoadsOf(CpuState& s, PdpteRecorder& m, unsigned n, u64 value, bool* ok) {
    m.loads.clear();
    *ok = static_cast<bool>(WriteControlRegister(s, m, n, value));
    return std::exchange(m.loads, {});
}

TEST_CASE("MOV CR loads the PAE PDPTEs exactly when SDM Vol. 3 4.4.1 lists it", "[system]") {
    PdpteRecorder m;
    CpuState s;
    test::Enter32(s, 0x5000, 0x9000);
    using Loads = std::vector<u64>;
    bool ok = false;
    const u64 base = cr0::PE | cr0::ET;
    CHECK(LoadsOf(s, m, 3, 0x1020, &ok).empty());  // paging off
    CHECK(LoadsOf(s, m, 4, cr4::PAE, &ok).empty());
    CHECK(LoadsOf(s, m, 0, base | cr0::PG, &ok) == Loads{0x1020});  // turning PAE paging on
    CHECK(LoadsOf(s, m, 3, 0xFFFFFFFF00002040, &ok) == Loads{0x2040});  // the 32-bit CR3 outside long mode
    CHECK(s.cr3 == 0x2040);
    CHECK(LoadsOf(s, m, 3, 0x2040, &ok) == Loads{0x2040});  // the same value loads again
    // CR0: CD, NW and PG reload; WP, TS, MP do not.
    CHECK(LoadsOf(s, m, 0, base | cr0::PG | cr0::WP | cr0::TS | cr0::MP, &ok).empty());
    CHECK(LoadsOf(s, m, 0, base | cr0::PG | cr0::CD, &ok) == Loads{0x2040});
    CHECK(LoadsOf(s, m, 0, base | cr0::PG | cr0::CD | cr0::NW, &ok) == Loads{0x2040});
    CHECK(LoadsOf(s, m, 0, base, &ok).empty());  // paging off: no PAE paging afterwards
    // CR4: PAE, PGE, PSE (and SMEP) reload; OSFXSR, TSD do not.
    CHECK(LoadsOf(s, m, 0, base | cr0::PG, &ok) == Loads{0x2040});
    CHECK(LoadsOf(s, m, 4, cr4::PAE | cr4::PGE, &ok) == Loads{0x2040});
    CHECK(LoadsOf(s, m, 4, cr4::PAE | cr4::PGE | cr4::PSE, &ok) == Loads{0x2040});
    CHECK(LoadsOf(s, m, 4, cr4::PAE | cr4::PGE | cr4::PSE | cr4::OSFXSR | cr4::TSD, &ok).empty());
    CHECK(LoadsOf(s, m, 4, 0, &ok).empty());  // 32-bit paging afterwards
    CHECK(LoadsOf(s, m, 4, cr4::PAE, &ok) == Loads{0x2040});
    CHECK(ok);
    // 4-level paging has no PDPTE registers: neither the switch into IA-32e mode nor a CR3 load there loads them.
    CHECK(LoadsOf(s, m, 0, base, &ok).empty());
    s.efer = efer::LME;
    CHECK(LoadsOf(s, m, 0, base | cr0::PG, &ok).empty());
    CHECK((ok && (s.efer & efer::LMA)));
    CHECK(LoadsOf(s, m, 3, 0x3000, &ok).empty());
}

TEST_CASE("a refused PDPTE load is #GP(0) and leaves CR0, CR3, CR4 and the TLB unchanged", "[system]") {
    PdpteRecorder m;
    CpuState s;
    test::Enter32(s, 0x5000, 0x9000);
    s.cr0 = cr0::PE | cr0::ET | cr0::PG;
    s.cr4 = cr4::PAE;
    s.cr3 = 0x1000;
    m.accept = false;
    const CpuState before = s;
    auto expect_gp = [&](unsigned n, u64 value) {
        INFO("CR" << n << " = " << value);
        const Status r = WriteControlRegister(s, m, n, value);
        REQUIRE_FALSE(r);
        CHECK(r.error().vector == vec::GP);
        CHECK(r.error().error_code == 0);
        CHECK(m.loads.size() == 1);
        CHECK(s.cr0 == before.cr0);
        CHECK(s.cr3 == before.cr3);
        CHECK(s.cr4 == before.cr4);
        CHECK(s.efer == before.efer);
        m.loads.clear();
    };
    expect_gp(3, 0x2000);
    expect_gp(4, cr4::PAE | cr4::PGE);
    expect_gp(0, cr0::PE | cr0::ET | cr0::PG | cr0::CD);
    s.cr0 = before.cr0 & ~cr0::PG;
    const u64 off = s.cr0;
    const Status on = WriteControlRegister(s, m, 0, off | cr0::PG);
    REQUIRE_FALSE(on);
    CHECK(on.error().vector == vec::GP);
    CHECK(s.cr0 == off);  // paging stays off
    // A write that does not load the PDPTEs is not affected.
    m.loads.clear();
    CHECK(WriteControlRegister(s, m, 3, 0x2000));
    CHECK(m.loads.empty());
}

// --- MSRs

TEST_CASE("IA32_ARCH_CAPABILITIES is advertised, read-only, and says not vulnerable to Meltdown or MDS", "[system]") {
    Env e;
    // CPUID.(EAX=7,ECX=0):EDX[29] enumerates the MSR (SDM Vol. 2 CPUID; Vol. 4 table 2-2, MSR 0x10A).
    CHECK((Cpuid(7, 0, e.s).edx >> 29) & 1);
    const auto caps = ReadMsr(e.s, e.m, msr::ArchCapabilities);
    REQUIRE(caps);
    CHECK((*caps & 1) == 1);          // RDCL_NO: Linux skips page-table isolation
    CHECK(((*caps >> 5) & 1) == 1);   // MDS_NO
    CHECK(((*caps >> 1) & 1) == 0);   // IBRS_ALL would promise enhanced IBRS, which is not implemented
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::ArchCapabilities, *caps));
}

TEST_CASE("MSR reads and writes: canonical checks, read-only and unknown MSRs are #GP(0)", "[system]") {
    Env e;
    REQUIRE(WriteMsr(e.s, e.m, msr::Lstar, 0xFFFFFFFF81000000));
    CHECK(*ReadMsr(e.s, e.m, msr::Lstar) == 0xFFFFFFFF81000000);
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::Lstar, 0x0000800000000000));
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::KernelGsBase, 0x8000000000000000));
    REQUIRE(WriteMsr(e.s, e.m, msr::FsBase, 0x7000));
    CHECK(e.s.segment(SegReg::Fs).base == 0x7000);
    CHECK_FALSE(ReadMsr(e.s, e.m, 0x12345678));
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::MtrrCap, 0));
    CHECK(*ReadMsr(e.s, e.m, msr::MtrrCap) == 0x508);
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::Pat, 0x0007040600070402));  // type 2 is reserved
    CHECK(WriteMsr(e.s, e.m, msr::Pat, 0x0007010600070406));
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::TscAux, u64{1} << 32));
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::MtrrDefType, 0x2));
    CHECK(WriteMsr(e.s, e.m, msr::MtrrDefType, 0xC06));
    CHECK(WriteMsr(e.s, e.m, msr::MtrrPhysBase0 + 1, 0xFFF0000800));
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::MtrrPhysBase0 + 1, 0x400));
    e.EnterUser64();
    CHECK_FALSE(ReadMsr(e.s, e.m, msr::Efer));
}

TEST_CASE("EFER: LMA is read-only and LME cannot change while paging is on", "[system]") {
    Env e;
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::Efer, efer::SCE));  // clears LME with PG = 1
    REQUIRE(WriteMsr(e.s, e.m, msr::Efer, efer::SCE | efer::LME));
    CHECK(e.s.efer == (efer::SCE | efer::LME | efer::LMA));
    CHECK_FALSE(WriteMsr(e.s, e.m, msr::Efer, efer::LME | (1u << 3)));
}

TEST_CASE("WRMSR TSC moves the counter RDMSR reads", "[system]") {
    Env e;
    REQUIRE(WriteMsr(e.s, e.m, msr::Tsc, u64{1} << 50));
    const u64 t = *ReadMsr(e.s, e.m, msr::Tsc);
    CHECK(t >= u64{1} << 50);
    CHECK(t < (u64{1} << 50) + 10'000'000'000ull);
}

// --- Fast system calls

TEST_CASE("SYSCALL and SYSRET follow STAR, LSTAR and SFMASK", "[system]") {
    Env e;
    e.s.efer |= efer::SCE;
    e.s.star = (u64{0x23} << 48) | (u64{0x10} << 32);  // as Linux: kernel CS 0x10, __USER32_CS 0x23
    e.s.lstar = 0xFFFFFFFF81000000;
    e.s.sfmask = rflags::IF | rflags::TF | rflags::DF;
    e.EnterUser64();
    e.s.rflags = rflags::Reserved1 | rflags::IF | rflags::DF | rflags::CF;
    const auto in = Syscall(e.s, 0x401002);
    REQUIRE(in);
    CHECK(*in == 0xFFFFFFFF81000000);
    CHECK(e.s.reg(Gpr::Rcx) == 0x401002);
    CHECK(e.s.reg(Gpr::R11) == (rflags::Reserved1 | rflags::IF | rflags::DF | rflags::CF));
    CHECK(e.s.rflags == (rflags::Reserved1 | rflags::CF));
    CHECK(e.s.segment(SegReg::Cs).selector == 0x10);
    CHECK(e.s.segment(SegReg::Ss).selector == 0x18);  // STAR[47:32] + 8
    CHECK(e.s.mode() == CpuMode::Long64);
    CHECK(e.s.cpl() == 0);
    const auto out = Sysret(e.s, 8);
    REQUIRE(out);
    CHECK(*out == 0x401002);
    CHECK(e.s.segment(SegReg::Cs).selector == 0x33);  // STAR[63:48] + 16, RPL 3
    CHECK(e.s.segment(SegReg::Ss).selector == 0x2B);  // STAR[63:48] + 8, RPL 3
    CHECK(e.s.cpl() == 3);
    CHECK(e.s.rflags == (rflags::Reserved1 | rflags::IF | rflags::DF | rflags::CF));
    // Back at CPL 0: SYSRET to a compatibility-mode caller and to a non-canonical RCX.
    e.s.segment(SegReg::Cs) = Segment{0x08, 0, 0xFFFFFFFF, 0xA09B};
    e.s.reg(Gpr::Rcx) = 0x0000800000000000;
    const auto bad = Sysret(e.s, 8);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().vector == vec::GP);
    const auto compat = Sysret(e.s, 4);
    REQUIRE(compat);
    CHECK(*compat == 0);
    CHECK(e.s.segment(SegReg::Cs).selector == 0x23);  // STAR[63:48], RPL 3
    CHECK(e.s.mode() == CpuMode::Compat32);
}

TEST_CASE("SYSCALL is #UD with EFER.SCE clear; SWAPGS is #UD outside 64-bit mode", "[system]") {
    Env e;
    const auto r = Syscall(e.s, 0);
    REQUIRE_FALSE(r);
    CHECK(r.error().vector == vec::UD);
    e.s.kernel_gs_base = 0x1111;
    e.s.segment(SegReg::Gs).base = 0x2222;
    REQUIRE(Swapgs(e.s));
    CHECK(e.s.segment(SegReg::Gs).base == 0x1111);
    CHECK(e.s.kernel_gs_base == 0x2222);
    e.Enter32();
    const auto s = Swapgs(e.s);
    REQUIRE_FALSE(s);
    CHECK(s.error().vector == vec::UD);
}

TEST_CASE("SYSENTER and SYSEXIT use SYSENTER_CS and its fixed offsets", "[system]") {
    Env e;
    e.Enter32();
    e.s.sysenter_cs = 0x60;
    e.s.sysenter_esp = 0x9000;
    e.s.sysenter_eip = 0xC0001000;
    e.s.rflags |= rflags::IF;
    const auto in = Sysenter(e.s);
    REQUIRE(in);
    CHECK(*in == 0xC0001000);
    CHECK(e.s.segment(SegReg::Cs).selector == 0x60);
    CHECK(e.s.segment(SegReg::Ss).selector == 0x68);
    CHECK_FALSE(e.s.rflags & rflags::IF);
    e.s.reg(Gpr::Rdx) = 0x8048000;
    e.s.reg(Gpr::Rcx) = 0xBFFF0000;
    const auto out = Sysexit(e.s, 4);
    REQUIRE(out);
    CHECK(*out == 0x8048000);
    CHECK(e.s.segment(SegReg::Cs).selector == 0x73);  // +16, RPL 3
    CHECK(e.s.segment(SegReg::Ss).selector == 0x7B);  // +24, RPL 3
    CHECK(e.s.reg(Gpr::Rsp) == 0xBFFF0000);
}

// --- Through the Vcpu: IRET, interrupts from an InterruptSource

namespace {
struct OneInterrupt : InterruptSource {
    bool pending = true;
    bool HasInterrupt() override { return pending; }
    u8 Acknowledge() override {
        pending = false;
        return 0x20;
    }
};
}  // namespace

TEST_CASE("an external interrupt wakes HLT, runs the handler, and IRETQ returns after the HLT", "[system]") {
    FlushRecorder m;
    Vcpu vcpu(m);
    CpuState& s = vcpu.state();
    Env e;  // borrow its GDT/IDT layout
    std::copy(e.m.data(), e.m.data() + 0x10000, m.data());
    s = e.s;
    // Handler at 0x6000: mov eax, 0x77 ; iretq.  Main at 0x5000: sti ; hlt ; hlt.
    m.Put(0x6000, {0xB8, 0x77, 0x00, 0x00, 0x00, 0x48, 0xCF});
    m.Put(0x5000, {0xFB, 0xF4, 0xF4});
    const u64 lo = 0x6000 | (u64{kCode64} << 16) | (u64{0x8E} << 40);
    m.Set<u64>(kIdt + 0x20 * 16, lo);
    m.Set<u64>(kIdt + 0x20 * 16 + 8, 0);
    RunResult r = vcpu.Run(100);
    CHECK(r.reason == StopReason::Halted);
    CHECK(s.rip == 0x5002);  // no source yet: the first HLT stops the run
    OneInterrupt source;
    vcpu.SetInterruptSource(&source);
    r = vcpu.Run(100);
    CHECK(r.reason == StopReason::Halted);
    CHECK(s.reg(Gpr::Rax) == 0x77);
    CHECK(s.rip == 0x5003);  // the handler returned to the second HLT
    CHECK(s.reg(Gpr::Rsp) == kKernelStack);
    CHECK(s.rflags & rflags::IF);
}

// --- Call gates

namespace {
// A call gate (SDM Figure 5-8 / 5-9): type 0xC, DPL 3, present; 64-bit gates add offset 63:32 in the next qword.
u64 CallGate(u64 offset, u16 selector, unsigned params = 0) {
    return (offset & 0xFFFF) | (u64{selector} << 16) | (u64{params} << 32) | (u64{0xEC} << 40) |
           (((offset >> 16) & 0xFFFF) << 48);
}
}  // namespace

TEST_CASE("a 32-bit call gate from CPL 3 switches to the TSS stack and copies its parameters", "[system]") {
    Env e;
    e.Enter32();
    constexpr u16 kGate = 0x78;
    e.s.gdtr.limit = 0xFF;
    e.m.Set<u64>(kGdt + kGate, CallGate(0x6000, kCode32, 2));
    e.m.Set<u32>(kTss + 4, 0x9000);  // ESP0
    e.m.Set<u16>(kTss + 8, kData);   // SS0
    e.s.segment(SegReg::Cs) = Segment{kUserCode32, 0, 0xFFFFFFFF, 0xC0FB};
    e.s.segment(SegReg::Ss) = Segment{kUserData, 0, 0xFFFFFFFF, 0xC0F3};
    e.s.reg(Gpr::Rsp) = 0x7000;
    e.m.Set<u32>(0x7000, 0x1111);  // parameter 0 (pushed last by the caller)
    e.m.Set<u32>(0x7004, 0x2222);  // parameter 1
    const auto r = FarCall(e.s, e.m, kGate | 3, 0, 4, 0x4321);
    REQUIRE(r);
    CHECK(*r == 0x6000);  // the gate's offset; the instruction's offset is ignored
    CHECK(e.s.cpl() == 0);
    CHECK(e.s.segment(SegReg::Ss).selector == kData);
    // SDM Figure 5-13: SS, ESP, parameters in their original order, CS, EIP.
    CHECK(e.s.reg(Gpr::Rsp) == 0x9000 - 24);
    CHECK(e.D(0x9000 - 4) == kUserData);
    CHECK(e.D(0x9000 - 8) == 0x7000);
    CHECK(e.D(0x9000 - 12) == 0x2222);
    CHECK(e.D(0x9000 - 16) == 0x1111);
    CHECK(e.D(0x9000 - 20) == kUserCode32);
    CHECK(e.D(0x9000 - 24) == 0x4321);
    // RET 8 returns to CPL 3 and releases the parameters on both stacks.
    const auto back = FarReturn(e.s, e.m, 4, 8);
    REQUIRE(back);
    CHECK(*back == 0x4321);
    CHECK(e.s.cpl() == 3);
    CHECK(e.s.reg(Gpr::Rsp) == 0x7008);
    CHECK(e.s.segment(SegReg::Ss).selector == kUserData);
}

TEST_CASE("a 64-bit call gate pushes SS RSP CS RIP as qwords on RSP0 with a null SS", "[system]") {
    Env e;
    constexpr u16 kGate = 0x78;
    e.s.gdtr.limit = 0xFF;
    e.m.Set<u64>(kGdt + kGate, CallGate(0x6000, kCode64));
    e.m.Set<u64>(kGdt + kGate + 8, 0);
    e.EnterUser64();
    const auto r = FarCall(e.s, e.m, kGate | 3, 0, 4, 0x401000);
    REQUIRE(r);
    CHECK(*r == 0x6000);
    CHECK(e.s.reg(Gpr::Rsp) == kKernelStack - 32);
    CHECK(e.Q(kKernelStack - 8) == kUserData);
    CHECK(e.Q(kKernelStack - 16) == kUserStack);
    CHECK(e.Q(kKernelStack - 24) == kUserCode64);
    CHECK(e.Q(kKernelStack - 32) == 0x401000);
    CHECK(e.s.segment(SegReg::Ss).selector == 0);
    CHECK(e.s.cpl() == 0);
}

TEST_CASE("JMP through a call gate cannot raise privilege; a gate with DPL < CPL is #GP(gate)", "[system]") {
    Env e;
    e.Enter32();
    constexpr u16 kGate = 0x78, kLowGate = 0x80;
    e.s.gdtr.limit = 0xFF;
    e.m.Set<u64>(kGdt + kGate, CallGate(0x6000, kCode32));
    e.m.Set<u64>(kGdt + kLowGate, CallGate(0x6000, kCode32) & ~(u64{3} << 45));  // gate DPL 0
    e.s.segment(SegReg::Cs) = Segment{kUserCode32, 0, 0xFFFFFFFF, 0xC0FB};
    const auto j = FarJump(e.s, e.m, kGate | 3, 0, 4);
    REQUIRE_FALSE(j);
    CHECK(j.error().error_code == kCode32);
    const auto c = FarCall(e.s, e.m, kLowGate | 3, 0, 4, 0);
    REQUIRE_FALSE(c);
    CHECK(c.error().error_code == kLowGate);
}

// --- Through the translator (translate/system.cpp): the handlers reach the helpers with the right operands.

namespace {
struct VcpuEnv {
    Env e;
    FlushRecorder& m = e.m;
    Vcpu vcpu{e.m};
    CpuState& s = vcpu.state();

    VcpuEnv(bool bits32, std::initializer_list<u8> code) {
        if (bits32) e.Enter32();
        s = e.s;
        m.Put(0x5000, code);
    }
    RunResult Run() { return vcpu.Run(100); }
};
}  // namespace

TEST_CASE("LAR LSL STR SLDT SMSW SGDT MOV DR and VERW decode and run in 64-bit mode", "[system]") {
    VcpuEnv v(false, {0x66, 0xB8, 0x10, 0x00,              // mov ax, 0x10
                      0x0F, 0x02, 0xD8,                    // lar ebx, eax
                      0x66, 0xB8, 0x30, 0x00,              // mov ax, 0x30
                      0x0F, 0x03, 0xC8,                    // lsl ecx, eax
                      0x0F, 0x00, 0xCD,                    // str ebp
                      0x0F, 0x00, 0xC2,                    // sldt edx
                      0x0F, 0x01, 0xE6,                    // smsw esi
                      0x0F, 0x01, 0x04, 0x25, 0x00, 0x40, 0x00, 0x00,  // sgdt [0x4000]
                      0xB8, 0x01, 0x00, 0x00, 0x00,        // mov eax, 1
                      0x0F, 0x23, 0xF8,                    // mov dr7, rax
                      0x0F, 0x21, 0xFF,                    // mov rdi, dr7
                      0x66, 0xB8, 0x10, 0x00,              // mov ax, 0x10
                      0x0F, 0x00, 0xE8,                    // verw ax
                      0xF4});
    v.s.ldtr = Segment{kLdtSel, kLdt, 0xFF, 0x82};
    REQUIRE(v.Run().reason == StopReason::Halted);
    CHECK(v.s.reg(Gpr::Rbx) == 0x00C09200);  // LAR: G D/B | P DPL 0 S type 2
    CHECK(v.s.reg(Gpr::Rcx) == 0x67);        // LSL of the TSS
    CHECK(v.s.reg(Gpr::Rbp) == kTssSel);
    CHECK(v.s.reg(Gpr::Rdx) == kLdtSel);
    CHECK(v.s.reg(Gpr::Rsi) == (v.s.cr0 & 0xFFFFFFFF));
    CHECK(v.m.Get<u16>(0x4000) == 0x7F);
    CHECK(v.m.Get<u64>(0x4002) == kGdt);
    CHECK(v.s.reg(Gpr::Rdi) == 0x401);
    CHECK(v.s.rflags & rflags::ZF);  // VERW of a writable data segment
}

TEST_CASE("ARPL, LSS and a far CALL/RETF pair run in 32-bit protected mode", "[system]") {
    VcpuEnv v(true, {0x66, 0xB8, 0x28, 0x00,                    // mov ax, 0x28
                     0x66, 0xBB, 0x03, 0x00,                    // mov bx, 3
                     0x63, 0xD8,                                // arpl ax, bx
                     0x0F, 0xB2, 0x25, 0x10, 0x40, 0x00, 0x00,  // lss esp, [0x4010]
                     0xFF, 0x1D, 0x00, 0x40, 0x00, 0x00,        // call far [0x4000]
                     0xF4});                                    // 0x5017: hlt
    v.m.Set<u32>(0x4000, 0x6000);
    v.m.Set<u16>(0x4004, kCode32);
    v.m.Set<u32>(0x4010, 0x8800);
    v.m.Set<u16>(0x4014, kData);
    v.m.Put(0x6000, {0xCB});  // retf
    REQUIRE(v.Run().reason == StopReason::Halted);
    CHECK((v.s.reg(Gpr::Rax) & 0xFFFF) == 0x2B);  // RPL raised to 3
    CHECK(v.s.rflags & rflags::ZF);
    CHECK(v.s.reg(Gpr::Rsp) == 0x8800);
    CHECK(v.m.Get<u32>(0x8800 - 4) == kCode32);
    CHECK(v.m.Get<u32>(0x8800 - 8) == 0x5017);
    CHECK(v.s.rip == 0x5018);
}

TEST_CASE("IRETD with VM set enters virtual-8086 mode and an interrupt leaves it through the TSS stack", "[system]") {
    Env e;
    e.Enter32();
    e.m.Set<u32>(kTss + 4, 0x9000);  // ESP0
    e.m.Set<u16>(kTss + 8, kData);   // SS0
    const u64 sp = 0x8000;
    e.s.reg(Gpr::Rsp) = sp;
    const u32 frame[9] = {0x0100, 0x2000, static_cast<u32>(rflags::VM | rflags::IOPL | rflags::Reserved1), 0x0FFE,
                          0x3000, 0x4000, 0x5000, 0x6000, 0x7000};  // EIP CS EFLAGS ESP SS ES DS FS GS
    for (unsigned i = 0; i < 9; ++i) e.m.Set<u32>(sp + 4 * i, frame[i]);
    const auto r = InterruptReturn(e.s, e.m, 4);
    REQUIRE(r);
    CHECK(*r == 0x100);
    CHECK(e.s.mode() == CpuMode::Virtual8086);
    CHECK(e.s.cpl() == 3);
    CHECK(e.s.segment(SegReg::Cs).base == 0x20000);
    CHECK(e.s.segment(SegReg::Gs).selector == 0x7000);
    CHECK(e.s.reg(Gpr::Rsp) == 0x0FFE);
    // INT3 with IOPL 3 goes through the protected-mode IDT to CPL 0 (SDM 20.3.1.1): GS FS DS ES SS ESP EFLAGS
    // CS EIP on the ring-0 stack, data segments nulled, VM cleared.
    e.m.Set<u64>(kIdt + 3 * 8, 0x6000 | (u64{kCode32} << 16) | (u64{0xEE} << 40));
    e.s.rip = 0x101;
    REQUIRE(DeliverEvent(e.s, e.m, SoftInt(3)) == DeliveryResult::Delivered);
    CHECK(e.s.mode() == CpuMode::Protected32);
    CHECK(e.s.reg(Gpr::Rsp) == 0x9000 - 36);
    CHECK(e.D(0x9000 - 4) == 0x7000);   // GS
    CHECK(e.D(0x9000 - 16) == 0x4000);  // ES
    CHECK(e.D(0x9000 - 20) == 0x3000);  // SS
    CHECK(e.D(0x9000 - 24) == 0x0FFE);  // ESP
    CHECK(e.D(0x9000 - 28) & rflags::VM);
    CHECK(e.D(0x9000 - 32) == 0x2000);  // CS
    CHECK(e.D(0x9000 - 36) == 0x101);   // EIP
    CHECK(e.s.segment(SegReg::Ds).selector == 0);
}

TEST_CASE("LMSW CLTS INVLPG WBINVD and SYSENTER run through the translator", "[system]") {
    VcpuEnv v(true, {0x66, 0xB8, 0x0F, 0x00,                    // mov ax, 0xF
                     0x0F, 0x01, 0xF0,                          // lmsw ax: PE MP EM TS
                     0x0F, 0x06,                                // clts
                     0x0F, 0x01, 0x3D, 0x34, 0x72, 0x00, 0x00,  // invlpg [0x7234]
                     0x0F, 0x09,                                // wbinvd
                     0x0F, 0x34});                              // sysenter
    v.s.sysenter_cs = 0x60;
    v.s.sysenter_eip = 0x6000;
    v.s.sysenter_esp = 0x8000;
    v.m.Put(0x6000, {0xF4});
    v.m.flushes.clear();
    REQUIRE(v.Run().reason == StopReason::Halted);
    CHECK((v.s.cr0 & 0xF) == (cr0::PE | cr0::MP | cr0::EM));
    CHECK(v.m.flushes == std::vector<std::pair<u64, bool>>{{0x7000, true}});
    CHECK(v.s.rip == 0x6001);
    CHECK(v.s.segment(SegReg::Cs).selector == 0x60);
    CHECK(v.s.reg(Gpr::Rsp) == 0x8000);
}

namespace {
struct NmiSource : InterruptSource {
    bool nmi = true;
    bool HasInterrupt() override { return false; }
    u8 Acknowledge() override { return 0; }
    bool HasNmi() override { return nmi; }
    void AcknowledgeNmi() override { nmi = false; }
};
}  // namespace

TEST_CASE("an NMI is delivered through vector 2 even with IF clear and blocks further NMIs", "[system]") {
    VcpuEnv v(false, {0xF4});
    v.s.rflags = rflags::Reserved1;  // IF = 0: maskable interrupts would wait, an NMI does not
    const u64 lo = 0x6000 | (u64{kCode64} << 16) | (u64{0x8E} << 40);
    v.m.Set<u64>(kIdt + 2 * 16, lo);
    v.m.Set<u64>(kIdt + 2 * 16 + 8, 0);
    v.m.Put(0x6000, {0xB8, 0x55, 0x00, 0x00, 0x00, 0xF4});  // mov eax, 0x55 ; hlt (no IRET yet)
    NmiSource source;
    v.vcpu.SetInterruptSource(&source);
    REQUIRE(v.Run().reason == StopReason::Halted);
    CHECK(v.s.reg(Gpr::Rax) == 0x55);
    CHECK(v.s.nmi_blocked);
    CHECK(v.m.Get<u64>(v.s.reg(Gpr::Rsp)) == 0x5000);  // the NMI interrupted the first HLT before it ran
    source.nmi = true;  // a second NMI stays pending until IRET
    const u64 rip = v.s.rip;
    REQUIRE(v.Run().reason == StopReason::Halted);
    CHECK(v.s.rip == rip);
    CHECK(source.nmi);
}

// --- Debug registers and breakpoint matching (SDM Vol. 3 18.2)

TEST_CASE("data breakpoints cover LEN bytes at the address with its low bits ignored", "[system][debug]") {
    Env e;
    e.s.dr[0] = 0x1005;                                          // LEN = 11: 4 bytes, 0x1004..0x1007
    e.s.dr[2] = 0x2003;                                          // LEN = 10: 8 bytes, 0x2000..0x2007
    e.s.dr[7] = 0x400 | 1 | (3u << 16) | (3u << 18) | (1u << 4) | (1u << 24) | (2u << 26);
    CHECK(DataBreakpoints(e.s) == 0b101);
    CHECK(DataBreakpointHits(e.s, 0x1004, 1, false) == 1);      // R/W = 11: reads match
    CHECK(DataBreakpointHits(e.s, 0x1000, 8, true) == 1);
    CHECK(DataBreakpointHits(e.s, 0x1008, 4, true) == 0);
    CHECK(DataBreakpointHits(e.s, 0x1003, 1, true) == 0);
    CHECK(DataBreakpointHits(e.s, 0x2007, 1, true) == 0b100);   // R/W = 01: writes only
    CHECK(DataBreakpointHits(e.s, 0x2007, 1, false) == 0);
    CHECK(DataBreakpointHits(e.s, 0x2008, 1, true) == 0);
    CHECK(InstructionBreakpointHits(e.s, 0x1005) == 0);          // data breakpoints never match execution
    e.s.dr[7] &= ~u64{0xFF};                                     // disabled: nothing matches
    CHECK(DataBreakpointHits(e.s, 0x1004, 1, true) == 0);
}

TEST_CASE("MOV DR with DR7.GD is a #DB with DR6.BD; #UD and #GP come first", "[system][debug]") {
    Env e;
    REQUIRE(WriteDebugRegister(e.s, 7, 0x2000));
    const auto read = ReadDebugRegister(e.s, 0);
    REQUIRE_FALSE(read);
    CHECK(read.error().vector == vec::DB);
    CHECK(e.s.dr[6] == (0xFFFF0FF0 | 0x2000));
    e.s.cr4 |= cr4::DE;
    const auto dr5 = ReadDebugRegister(e.s, 5);
    REQUIRE_FALSE(dr5);
    CHECK(dr5.error().vector == vec::UD);
    e.EnterUser64();
    const auto user = WriteDebugRegister(e.s, 0, 0);
    REQUIRE_FALSE(user);
    CHECK(user.error().vector == vec::GP);
}

// --- SMP topology (issue #12)

// Selects a topology (and optionally a CPU model) for one test, restoring the single-CPU defaults after.
struct TopologyScope {
    TopologyScope(CpuTopology t, const char* model = nullptr) : saved_model(SelectedCpuModel()) {
        SelectCpuTopology(t);
        if (model) {
            std::string error;
            SelectCpuModel(*ParseCpuSpec(model, &error));
        }
    }
    ~TopologyScope() {
        SelectCpuTopology({});
        SelectCpuModel(saved_model);
    }
    CpuModel saved_model;
};

TEST_CASE("APIC IDs give each topology level a power-of-two field, as QEMU and the SDM's enumeration", "[system][smp]") {
    // Powers of two: IDs are the CPU indexes.
    for (u32 i = 0; i < 8; ++i) CHECK(ApicIdOf({2, 2, 2}, i) == i);
    // 3 cores of 1 thread per socket: the core field is 2 bits wide, so socket 1 starts at ID 4.
    const CpuTopology t{2, 3, 1};
    const u32 want[] = {0, 1, 2, 4, 5, 6};
    for (u32 i = 0; i < 6; ++i) CHECK(ApicIdOf(t, i) == want[i]);
    // 3 threads per core: thread field 2 bits; core 1's first thread is ID 4.
    CHECK(ApicIdOf({1, 2, 3}, 3) == 4);
    CHECK(TopologyFieldWidth(1) == 0);
    CHECK(TopologyFieldWidth(2) == 1);
    CHECK(TopologyFieldWidth(3) == 2);
    CHECK(TopologyFieldWidth(64) == 6);
}

TEST_CASE("CPUID reports each vCPU's APIC ID and the topology: leaf 1, 0xB, 0x1F", "[system][smp]") {
    TopologyScope scope({1, 2, 2});  // one socket, 2 cores of 2 threads
    CpuState s;
    s.initial_apic_id = 3;
    const CpuidResult l1 = Cpuid(1, 0, s);
    CHECK(l1.ebx >> 24 == 3);                 // initial APIC ID
    CHECK(((l1.ebx >> 16) & 0xFF) == 4);      // logical processors per package
    CHECK(((l1.edx >> 28) & 1) == 1);         // HTT
    for (const u32 leaf : {0xBu, 0x1Fu}) {
        const CpuidResult smt = Cpuid(leaf, 0, s);
        CHECK(smt.eax == 1);                  // shift to the core ID
        CHECK(smt.ebx == 2);                  // threads per core
        CHECK(smt.ecx == (1u << 8));          // level 0 is SMT
        CHECK(smt.edx == 3);                  // x2APIC ID
        const CpuidResult core = Cpuid(leaf, 1, s);
        CHECK(core.eax == 2);
        CHECK(core.ebx == 4);
        CHECK(core.ecx == ((2u << 8) | 1));   // level 1 is Core
        const CpuidResult end = Cpuid(leaf, 2, s);
        CHECK(end.ebx == 0);
        CHECK(((end.ecx >> 8) & 0xFF) == 0);  // invalid level: the end of the list
        CHECK(end.edx == 3);
    }
}

TEST_CASE("one CPU: no HTT, one logical processor, as before SMP", "[system][smp]") {
    CpuState s;
    const CpuidResult l1 = Cpuid(1, 0, s);
    CHECK(l1.ebx >> 24 == 0);
    CHECK(((l1.ebx >> 16) & 0xFF) == 1);
    CHECK(((l1.edx >> 28) & 1) == 0);
}

TEST_CASE("AMD CPUID 0x80000008 ECX: NC and the APIC-ID size; Intel reserves it", "[system][smp]") {
    CpuState s;
    {
        TopologyScope scope({1, 4, 1}, "EPYC");
        const CpuidResult r = Cpuid(0x80000008, 0, s);
        CHECK((r.ecx & 0xFF) == 3);           // NC: 4 logical processors - 1
        CHECK(((r.ecx >> 12) & 0xF) == 2);    // 2 APIC-ID bits
        CHECK(r.eax == 0x3028);
    }
    TopologyScope scope({1, 4, 1}, "Skylake-Client");
    CHECK(Cpuid(0x80000008, 0, s).ecx == 0);
}
