// End-to-end: machine-code snippets run through decode -> translate -> interpret. Expected values come from
// the SDM's description of each instruction (worked by hand in the comments).
#include <catch2/catch.hpp>

#include "emu/cpu/vcpu.h"
#include "flat_memory.h"

using namespace emu;
using namespace emu::cpu;

namespace {

constexpr u64 kCode = 0x1000;
constexpr u64 kStack = 0x8000;

struct Env {
    test::FlatMemory memory;
    Vcpu vcpu{memory};
    CpuState& s = vcpu.state();

    explicit Env(std::initializer_list<u8> code, unsigned cpl = 0) {
        memory.Put(kCode, code);
        test::Enter64(s, kCode, kStack, cpl);
    }
    u64 reg(Gpr r) const { return s.reg(r); }
    RunResult Run(u64 max = 100000) { return vcpu.Run(max); }
};

constexpr u64 Flags(u64 f) { return f & rflags::Arith; }

}  // namespace

TEST_CASE("ADD overflowing into the sign bit sets OF SF AF PF", "[vcpu]") {
    Env e({0x48, 0xB8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,  // mov rax, 0x7fffffffffffffff
           0x48, 0x83, 0xC0, 0x01,                                      // add rax, 1
           0xF4});                                                      // hlt
    const RunResult r = e.Run();
    CHECK(r.reason == StopReason::Halted);
    CHECK(r.instructions == 3);
    CHECK(e.reg(Gpr::Rax) == 0x8000000000000000);
    CHECK(Flags(e.s.rflags) == (rflags::OF | rflags::SF | rflags::AF | rflags::PF));
    CHECK(e.s.rip == kCode + 15);
}

TEST_CASE("LOOP sums 10..1", "[vcpu]") {
    Env e({0xB9, 0x0A, 0x00, 0x00, 0x00,  // mov ecx, 10
           0x31, 0xC0,                    // xor eax, eax
           0x01, 0xC8,                    // add eax, ecx
           0xE2, 0xFC,                    // loop -4
           0xF4});
    CHECK(e.Run().reason == StopReason::Halted);
    CHECK(e.reg(Gpr::Rax) == 55);
    CHECK(e.reg(Gpr::Rcx) == 0);
}

TEST_CASE("CALL pushes the return address and RET pops it", "[vcpu]") {
    Env e({0xE8, 0x01, 0x00, 0x00, 0x00,  // 1000: call 1006
           0xF4,                          // 1005: hlt
           0xB8, 0x2A, 0x00, 0x00, 0x00,  // 1006: mov eax, 42
           0xC3});                        // 100b: ret
    CHECK(e.Run().reason == StopReason::Halted);
    CHECK(e.reg(Gpr::Rax) == 42);
    CHECK(e.reg(Gpr::Rsp) == kStack);
    CHECK(e.memory.Get<u64>(kStack - 8) == kCode + 5);
    CHECK(e.s.rip == kCode + 6);
}

TEST_CASE("PUSH imm8 sign-extends to 64 bits and POP reads it back", "[vcpu]") {
    Env e({0x6A, 0xFF, 0x5B, 0xF4});  // push -1 ; pop rbx ; hlt
    e.Run();
    CHECK(e.reg(Gpr::Rbx) == ~u64{0});
    CHECK(e.reg(Gpr::Rsp) == kStack);
}

TEST_CASE("UD2 stops with #UD at its address", "[vcpu]") {
    Env e({0x90, 0x0F, 0x0B});  // nop ; ud2
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::UD);
    CHECK(r.exception->rip == kCode + 1);
    CHECK(e.s.rip == kCode + 1);
    CHECK(r.instructions == 1);
}

TEST_CASE("an undefined encoding raises #UD at its address", "[vcpu]") {
    Env e({0x90, 0x0F, 0xFF, 0xC0});  // nop ; ud0 eax, eax
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::UD);
    CHECK(r.exception->rip == kCode + 1);
}

TEST_CASE("a page fault on a load is precise", "[vcpu]") {
    Env e({0x48, 0xFF, 0xC1,         // inc rcx
           0x48, 0x8B, 0x03});       // mov rax, [rbx]
    e.s.reg(Gpr::Rbx) = 0x7000000;   // outside the 1 MiB of memory
    e.s.reg(Gpr::Rax) = 0x55;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->cr2 == 0x7000000);
    CHECK(r.exception->has_error_code);
    CHECK(r.exception->rip == kCode + 3);
    CHECK(e.reg(Gpr::Rax) == 0x55);
    CHECK(e.reg(Gpr::Rcx) == 1);  // the INC before it completed
}

TEST_CASE("a faulting store in PUSH leaves RSP unchanged", "[vcpu]") {
    Env e({0x50});                         // push rax
    e.s.reg(Gpr::Rsp) = 0x7000000;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(e.reg(Gpr::Rsp) == 0x7000000);
}

TEST_CASE("DIV by zero raises #DE and changes nothing", "[vcpu]") {
    Env e({0x31, 0xC9,         // xor ecx, ecx
           0x48, 0xF7, 0xF1}); // div rcx
    e.s.reg(Gpr::Rax) = 7;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::DE);
    CHECK(r.exception->rip == kCode + 2);
    CHECK(e.reg(Gpr::Rax) == 7);
}

TEST_CASE("DIV and IDIV produce quotient and remainder; IDIV overflow is #DE", "[vcpu]") {
    Env e({0x48, 0xF7, 0xF1,   // div rcx  : (rdx:rax = 1:5) / 16
           0xF4});
    e.s.reg(Gpr::Rdx) = 1;
    e.s.reg(Gpr::Rax) = 5;
    e.s.reg(Gpr::Rcx) = 16;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0x1000000000000000);  // 2^64 / 16
    CHECK(e.reg(Gpr::Rdx) == 5);

    Env o({0xF7, 0xF9});       // idiv ecx : 0x80000000 / -1 does not fit
    o.s.reg(Gpr::Rdx) = 0xFFFFFFFF;
    o.s.reg(Gpr::Rax) = 0x80000000;
    o.s.reg(Gpr::Rcx) = 0xFFFFFFFF;
    const RunResult r = o.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::DE);

    Env n({0xF6, 0xF9, 0xF4});  // idiv cl : -7 / 2 = -3 rem -1
    n.s.reg(Gpr::Rax) = 0xFFF9;
    n.s.reg(Gpr::Rcx) = 2;
    n.Run();
    CHECK((n.reg(Gpr::Rax) & 0xFFFF) == 0xFFFD);  // AH = -1, AL = -3
}

TEST_CASE("MUL and IMUL set CF and OF when the high half is significant", "[vcpu]") {
    Env m({0xB8, 0x00, 0x00, 0x00, 0x80,  // mov eax, 0x80000000
           0xB9, 0x04, 0x00, 0x00, 0x00,  // mov ecx, 4
           0xF7, 0xE1,                    // mul ecx
           0xF4});
    m.Run();
    CHECK(m.reg(Gpr::Rax) == 0);
    CHECK(m.reg(Gpr::Rdx) == 2);
    CHECK((m.s.rflags & (rflags::CF | rflags::OF)) == (rflags::CF | rflags::OF));

    Env i({0x48, 0xC7, 0xC0, 0xFE, 0xFF, 0xFF, 0xFF,  // mov rax, -2
           0x48, 0xC7, 0xC1, 0x03, 0x00, 0x00, 0x00,  // mov rcx, 3
           0x48, 0xF7, 0xE9,                          // imul rcx
           0xF4});
    i.s.rflags |= rflags::CF | rflags::OF;
    i.Run();
    CHECK(i.reg(Gpr::Rax) == static_cast<u64>(-6));
    CHECK(i.reg(Gpr::Rdx) == ~u64{0});
    CHECK((i.s.rflags & (rflags::CF | rflags::OF)) == 0);

    Env t({0x6B, 0xC1, 0x07, 0xF4});  // imul eax, ecx, 7
    t.s.reg(Gpr::Rcx) = 6;
    t.Run();
    CHECK(t.reg(Gpr::Rax) == 42);
}

TEST_CASE("REP MOVSB copies and leaves RCX RSI RDI past the string", "[vcpu]") {
    Env e({0xF3, 0xA4, 0xF4});  // rep movsb ; hlt
    e.memory.Put(0x2000, {1, 2, 3, 4, 5, 6});
    e.s.reg(Gpr::Rsi) = 0x2000;
    e.s.reg(Gpr::Rdi) = 0x3000;
    e.s.reg(Gpr::Rcx) = 5;
    CHECK(e.Run().reason == StopReason::Halted);
    CHECK(e.memory.Get<u32>(0x3000) == 0x04030201);
    CHECK(e.memory.Get<u8>(0x3004) == 5);
    CHECK(e.memory.Get<u8>(0x3005) == 0);
    CHECK(e.reg(Gpr::Rcx) == 0);
    CHECK(e.reg(Gpr::Rsi) == 0x2005);
    CHECK(e.reg(Gpr::Rdi) == 0x3005);
}

TEST_CASE("a long REP STOSQ completes across restarts", "[vcpu]") {
    Env e({0xF3, 0x48, 0xAB, 0xF4});  // rep stosq ; hlt
    e.s.reg(Gpr::Rdi) = 0x10000;
    e.s.reg(Gpr::Rcx) = 10000;
    e.s.reg(Gpr::Rax) = 0x1122334455667788;
    CHECK(e.Run().reason == StopReason::Halted);
    CHECK(e.memory.Get<u64>(0x10000) == 0x1122334455667788);
    CHECK(e.memory.Get<u64>(0x10000 + 8 * 9999) == 0x1122334455667788);
    CHECK(e.memory.Get<u64>(0x10000 + 8 * 10000) == 0);
    CHECK(e.reg(Gpr::Rcx) == 0);
}

TEST_CASE("a REP string fault leaves a restartable state", "[vcpu]") {
    Env e({0xF3, 0xAA});  // rep stosb running off the end of memory
    e.s.reg(Gpr::Rdi) = e.memory.size() - 3;
    e.s.reg(Gpr::Rcx) = 10;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(e.reg(Gpr::Rcx) == 7);
    CHECK(e.reg(Gpr::Rdi) == e.memory.size());
    CHECK(e.s.rip == kCode);
}

TEST_CASE("REPNE SCASB finds a byte", "[vcpu]") {
    Env e({0xF2, 0xAE, 0xF4});  // repne scasb
    e.memory.Put(0x2000, {'a', 'b', 'c', 0, 'x'});
    e.s.reg(Gpr::Rdi) = 0x2000;
    e.s.reg(Gpr::Rcx) = 100;
    e.s.reg(Gpr::Rax) = 0;
    e.Run();
    CHECK(e.reg(Gpr::Rdi) == 0x2004);
    CHECK(e.reg(Gpr::Rcx) == 96);
    CHECK(e.s.rflags & rflags::ZF);
}

TEST_CASE("shifts: count 0 keeps flags, SHL by 1 sets CF and OF, RCL goes through CF", "[vcpu]") {
    Env z({0xF9, 0xB1, 0x00, 0xD3, 0xE0, 0xF4});  // stc ; mov cl, 0 ; shl eax, cl
    z.Run();
    CHECK(z.s.rflags & rflags::CF);

    Env one({0xB0, 0x81, 0xD0, 0xE0, 0xF4});  // mov al, 0x81 ; shl al, 1
    one.Run();
    CHECK((one.reg(Gpr::Rax) & 0xFF) == 0x02);
    CHECK((one.s.rflags & (rflags::CF | rflags::OF)) == (rflags::CF | rflags::OF));

    Env rcl({0xF9, 0xB0, 0x80, 0xD0, 0xD0, 0xF4});  // stc ; mov al, 0x80 ; rcl al, 1
    rcl.Run();
    CHECK((rcl.reg(Gpr::Rax) & 0xFF) == 0x01);
    CHECK((rcl.s.rflags & (rflags::CF | rflags::OF)) == (rflags::CF | rflags::OF));

    Env shld({0xB8, 0x78, 0x56, 0x34, 0x12,  // mov eax, 0x12345678
              0xBA, 0xF0, 0xDE, 0xBC, 0x9A,  // mov edx, 0x9abcdef0
              0x0F, 0xA4, 0xD0, 0x08,        // shld eax, edx, 8
              0xF4});
    shld.Run();
    CHECK(shld.reg(Gpr::Rax) == 0x3456789A);

    Env sar({0x48, 0xC1, 0xF8, 0x44, 0xF4});  // sar rax, 0x44 (masked to 4)
    sar.s.reg(Gpr::Rax) = 0x8000000000000010;
    sar.Run();
    CHECK(sar.reg(Gpr::Rax) == 0xF800000000000001);
    CHECK_FALSE(sar.s.rflags & rflags::CF);
}

TEST_CASE("Jcc follows the signed comparison", "[vcpu]") {
    Env e({0x83, 0xF8, 0x05,  // cmp eax, 5
           0x7C, 0x02,        // jl +2
           0xB3, 0x01,        // mov bl, 1
           0xF4});
    e.s.reg(Gpr::Rax) = static_cast<u64>(-3);
    e.Run();
    CHECK(e.reg(Gpr::Rbx) == 0);
    Env f({0x83, 0xF8, 0x05, 0x7C, 0x02, 0xB3, 0x01, 0xF4});
    f.s.reg(Gpr::Rax) = 9;
    f.Run();
    CHECK(f.reg(Gpr::Rbx) == 1);
}

TEST_CASE("a jump to a non-canonical address raises #GP at the jump", "[vcpu]") {
    Env e({0xFF, 0xE0});  // jmp rax
    e.s.reg(Gpr::Rax) = 0x0000800000000000;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::GP);
    CHECK(r.exception->rip == kCode);
}

TEST_CASE("HLT at CPL 3 is #GP(0)", "[vcpu]") {
    Env e({0xF4}, 3);
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::GP);
    CHECK(r.exception->error_code == 0);
}

TEST_CASE("CMPXCHG16B on a misaligned operand is #GP(0)", "[vcpu]") {
    Env e({0xF0, 0x48, 0x0F, 0xC7, 0x0E});  // lock cmpxchg16b [rsi]
    e.s.reg(Gpr::Rsi) = 0x2008;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::GP);
}

TEST_CASE("CMPXCHG writes the destination on a match and the accumulator otherwise", "[vcpu]") {
    Env e({0x0F, 0xB1, 0x0E, 0xF4});  // cmpxchg [rsi], ecx
    e.s.reg(Gpr::Rsi) = 0x2000;
    e.memory.Set<u32>(0x2000, 5);
    e.s.reg(Gpr::Rax) = 0xFFFFFFFF00000005;
    e.s.reg(Gpr::Rcx) = 9;
    e.Run();
    CHECK(e.memory.Get<u32>(0x2000) == 9);
    CHECK(e.reg(Gpr::Rax) == 0xFFFFFFFF00000005);  // untouched on a match
    CHECK(e.s.rflags & rflags::ZF);

    Env m({0x0F, 0xB1, 0x0E, 0xF4});
    m.s.reg(Gpr::Rsi) = 0x2000;
    m.memory.Set<u32>(0x2000, 7);
    m.s.reg(Gpr::Rax) = 0xFFFFFFFF00000005;
    m.Run();
    CHECK(m.reg(Gpr::Rax) == 7);  // loaded and zero-extended
    CHECK_FALSE(m.s.rflags & rflags::ZF);
}

TEST_CASE("CPUID leaf 0 reports the vendor string", "[vcpu]") {
    Env e({0x31, 0xC0, 0x0F, 0xA2, 0xF4});  // xor eax, eax ; cpuid
    e.Run();
    char vendor[13] = {};
    const u32 parts[3] = {static_cast<u32>(e.reg(Gpr::Rbx)), static_cast<u32>(e.reg(Gpr::Rdx)),
                          static_cast<u32>(e.reg(Gpr::Rcx))};
    std::memcpy(vendor, parts, 12);
    CHECK(std::string(vendor) == "GenuineIntel");
}

TEST_CASE("BSF on zero sets ZF and keeps the destination; BT copies the bit to CF", "[vcpu]") {
    Env e({0x48, 0x0F, 0xBC, 0xC1,  // bsf rax, rcx (rcx = 0)
           0x0F, 0xA3, 0xD3,        // bt ebx, edx
           0xF4});
    e.s.reg(Gpr::Rax) = 0x1234;
    e.s.reg(Gpr::Rbx) = 0x10;
    e.s.reg(Gpr::Rdx) = 36;  // 36 mod 32 = bit 4
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0x1234);
    CHECK(e.s.rflags & rflags::ZF);
    CHECK(e.s.rflags & rflags::CF);
}

TEST_CASE("the instruction limit stops between instructions", "[vcpu]") {
    Env e({0xB9, 0x0A, 0x00, 0x00, 0x00, 0x31, 0xC0, 0x01, 0xC8, 0xE2, 0xFC, 0xF4});
    const RunResult r = e.Run(4);
    CHECK(r.reason == StopReason::InstructionLimit);
    CHECK(r.instructions == 4);
    CHECK(e.s.rip == kCode + 7);  // mov, xor, add, loop retired: back at the ADD
    const RunResult rest = e.Run();
    CHECK(rest.reason == StopReason::Halted);
    CHECK(e.reg(Gpr::Rax) == 55);
}

TEST_CASE("32-bit protected mode pushes 4 bytes", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    test::Enter32(vcpu.state(), kCode, kStack);
    memory.Put(kCode, {0x68, 0x78, 0x56, 0x34, 0x12, 0x59, 0xF4});  // push 0x12345678 ; pop ecx ; hlt
    vcpu.Run();
    CHECK(vcpu.state().reg(Gpr::Rcx) == 0x12345678);
    CHECK(memory.Get<u32>(kStack - 4) == 0x12345678);
    CHECK(vcpu.state().reg(Gpr::Rsp) == kStack);
}

TEST_CASE("DAA adjusts a packed BCD sum in 32-bit mode", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    test::Enter32(vcpu.state(), kCode, kStack);
    memory.Put(kCode, {0xB0, 0x79, 0x04, 0x35, 0x27, 0xF4});  // mov al, 0x79 ; add al, 0x35 ; daa
    vcpu.Run();
    CHECK((vcpu.state().reg(Gpr::Rax) & 0xFF) == 0x14);  // 79 + 35 = 114 decimal
    CHECK(vcpu.state().rflags & rflags::CF);
}

TEST_CASE("real mode uses 16-bit stack and segment bases", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    test::EnterReal(vcpu.state(), 0x100, 0x800);
    vcpu.state().segment(SegReg::Cs) = Segment{0x10, 0x100, 0xFFFF, 0x9B};  // code at linear 0x200
    memory.Put(0x200, {0xB8, 0x34, 0x12,  // mov ax, 0x1234
                       0x50, 0x5B,        // push ax ; pop bx
                       0xF4});
    const RunResult r = vcpu.Run();
    CHECK(r.reason == StopReason::Halted);
    CHECK(vcpu.state().reg(Gpr::Rbx) == 0x1234);
    CHECK(memory.Get<u16>(0x7FE) == 0x1234);
    CHECK(vcpu.state().rip == 0x106);
}

TEST_CASE("ResetState gives the SDM power-on state", "[vcpu]") {
    CpuState s;
    ResetState(s);
    CHECK(s.rip == 0xFFF0);
    CHECK(s.segment(SegReg::Cs).selector == 0xF000);
    CHECK(s.segment(SegReg::Cs).base == 0xFFFF0000);
    CHECK(s.rflags == 2);
    CHECK(s.mode() == CpuMode::Real);
}

TEST_CASE("64-bit mode delivers an exception through an interrupt gate", "[vcpu]") {
    Env e({0x48, 0x8B, 0x03});         // mov rax, [rbx] -> #PF
    e.s.reg(Gpr::Rbx) = 0x7000000;
    e.s.rflags |= rflags::IF;
    constexpr u64 kGdt = 0x3000, kIdt = 0x4000, kHandler = 0x5000;
    e.memory.Set<u64>(kGdt + 8, 0x00AF9B000000FFFF);  // 64-bit ring-0 code segment, selector 8
    const u64 gate_lo = (kHandler & 0xFFFF) | (u64{8} << 16) | (u64{0x8E} << 40) | ((kHandler >> 16) << 48);
    e.memory.Set<u64>(kIdt + 14 * 16, gate_lo);
    e.memory.Set<u64>(kIdt + 14 * 16 + 8, 0);
    e.memory.Put(kHandler, {0xF4});     // hlt
    e.s.gdtr = DescriptorTable{kGdt, 0xFF};
    e.s.idtr = DescriptorTable{kIdt, 0xFFF};
    const u16 old_cs = e.s.segment(SegReg::Cs).selector;
    const RunResult r = e.Run();
    CHECK(r.reason == StopReason::Halted);
    CHECK(e.s.rip == kHandler + 1);
    CHECK(e.s.cr2 == 0x7000000);
    CHECK_FALSE(e.s.rflags & rflags::IF);  // an interrupt gate clears IF
    const u64 sp = e.reg(Gpr::Rsp);
    CHECK(sp == kStack - 48);                           // error code + 5 qwords, 16-aligned start
    CHECK(e.memory.Get<u64>(sp) == 0);                  // error code: not present, read, supervisor
    CHECK(e.memory.Get<u64>(sp + 8) == kCode);          // the faulting RIP
    CHECK(e.memory.Get<u64>(sp + 16) == old_cs);
    CHECK(e.memory.Get<u64>(sp + 24) & rflags::IF);     // RFLAGS before delivery
    CHECK(e.memory.Get<u64>(sp + 32) == kStack);        // old RSP
    CHECK(e.s.segment(SegReg::Cs).selector == 8);
}

TEST_CASE("real mode INT n goes through the IVT and IRET returns", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    CpuState& s = vcpu.state();
    test::EnterReal(s, 0x100, 0x800);
    s.idtr = DescriptorTable{0, 0x3FF};
    memory.Set<u32>(0x10 * 4, 0x00200000);             // INT 10h -> 0020:0000 (linear 0x200)
    memory.Put(0x200, {0xB3, 0x07, 0xCF});             // mov bl, 7 ; iret
    memory.Put(0x100, {0xCD, 0x10, 0xF4});             // int 10h ; hlt
    const RunResult r = vcpu.Run();
    CHECK(r.reason == StopReason::Halted);
    CHECK((s.reg(Gpr::Rbx) & 0xFF) == 7);
    CHECK(s.rip == 0x103);
    CHECK(s.segment(SegReg::Cs).selector == 0);
    CHECK(s.reg(Gpr::Rsp) == 0x800);
}

TEST_CASE("a handler that faults before retiring anything ends in a triple fault, not a hang", "[vcpu]") {
    test::FlatMemory memory(0x10000);
    Vcpu vcpu(memory);
    CpuState& s = vcpu.state();
    test::EnterReal(s, 0x100, 0x800);
    s.idtr = DescriptorTable{0, 0x3FF};
    for (unsigned v = 0; v < 256; ++v) memory.Set<u32>(v * 4, 0xF000FFF0);  // every vector -> F000:FFF0, unmapped
    memory.Put(0x100, {0x0F, 0x0B});                                        // ud2
    const RunResult r = vcpu.Run();
    CHECK(r.reason == StopReason::TripleFault);
}

TEST_CASE("ENTER builds a nested frame and LEAVE unwinds it", "[vcpu]") {
    Env e({0xC8, 0x10, 0x00, 0x02,  // enter 16, 2
           0xC9,                    // leave
           0xF4});
    e.s.reg(Gpr::Rbp) = 0x7000;
    e.memory.Set<u64>(0x7000 - 8, 0xABCD);  // the enclosing frame's saved pointer
    e.Run(1);                                // stop after ENTER
    CHECK(e.memory.Get<u64>(kStack - 8) == 0x7000);    // pushed RBP
    CHECK(e.memory.Get<u64>(kStack - 16) == 0xABCD);   // copied display entry
    CHECK(e.memory.Get<u64>(kStack - 24) == kStack - 8);  // the new frame pointer
    CHECK(e.reg(Gpr::Rbp) == kStack - 8);
    CHECK(e.reg(Gpr::Rsp) == kStack - 24 - 16);
    e.Run();
    CHECK(e.reg(Gpr::Rbp) == 0x7000);
    CHECK(e.reg(Gpr::Rsp) == kStack);
}

TEST_CASE("XADD and XCHG exchange through memory", "[vcpu]") {
    Env e({0x48, 0x0F, 0xC1, 0x06,  // xadd [rsi], rax
           0x87, 0x1E,              // xchg [rsi], ebx
           0xF4});
    e.s.reg(Gpr::Rsi) = 0x2000;
    e.memory.Set<u64>(0x2000, 10);
    e.s.reg(Gpr::Rax) = 5;
    e.s.reg(Gpr::Rbx) = 0xFFFFFFFF'00000077;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 10);
    CHECK(e.reg(Gpr::Rbx) == 15);  // the 32-bit load zero-extends
    CHECK(e.memory.Get<u64>(0x2000) == 0x77);
}

TEST_CASE("CMOV with a false condition still clears bits 63:32 of a 32-bit destination", "[vcpu]") {
    Env e({0x85, 0xC0,        // test eax, eax (nonzero: ZF = 0)
           0x0F, 0x44, 0xD9,  // cmovz ebx, ecx (not taken)
           0x0F, 0x95, 0xC2,  // setnz dl
           0xF4});
    e.s.reg(Gpr::Rax) = 1;
    e.s.reg(Gpr::Rbx) = 0xAAAAAAAA'BBBBBBBB;
    e.s.reg(Gpr::Rdx) = 0x1200;
    e.Run();
    CHECK(e.reg(Gpr::Rbx) == 0xBBBBBBBB);
    CHECK(e.reg(Gpr::Rdx) == 0x1201);
}

TEST_CASE("sign and zero extensions: MOVSX MOVZX MOVSXD CBW CWDE CDQE CQO", "[vcpu]") {
    Env e({0x48, 0x0F, 0xBE, 0xC3,  // movsx rax, bl
           0x0F, 0xB7, 0xCB,        // movzx ecx, bx
           0x48, 0x63, 0xD3,        // movsxd rdx, ebx
           0xF4});
    e.s.reg(Gpr::Rbx) = 0x8000F080;
    e.s.reg(Gpr::Rcx) = ~u64{0};
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0xFFFFFFFFFFFFFF80);
    CHECK(e.reg(Gpr::Rcx) == 0xF080);
    CHECK(e.reg(Gpr::Rdx) == 0xFFFFFFFF8000F080);

    Env c({0x66, 0x98,  // cbw
           0x98,        // cwde
           0x48, 0x98,  // cdqe
           0x48, 0x99,  // cqo
           0xF4});
    c.s.reg(Gpr::Rax) = 0x12345680;
    c.Run();
    CHECK(c.reg(Gpr::Rax) == 0xFFFFFFFFFFFFFF80);
    CHECK(c.reg(Gpr::Rdx) == ~u64{0});
}

TEST_CASE("byte registers: AH..BH without REX, SPL..DIL with it", "[vcpu]") {
    Env e({0x88, 0xDC,        // mov ah, bl
           0x40, 0x88, 0xDE,  // mov sil, bl
           0xF4});
    e.s.reg(Gpr::Rbx) = 0x5A;
    e.s.reg(Gpr::Rsi) = 0x1111;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0x5A00);
    CHECK(e.reg(Gpr::Rsi) == 0x115A);
}

TEST_CASE("16-bit operand size merges into the register", "[vcpu]") {
    Env e({0x66, 0x05, 0xFF, 0x7F, 0xF4});  // add ax, 0x7fff
    e.s.reg(Gpr::Rax) = 0x12340001;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0x12348000);
    CHECK(e.s.rflags & rflags::OF);
}

TEST_CASE("RIP-relative LEA and an FS-based load", "[vcpu]") {
    Env e({0x48, 0x8D, 0x05, 0x10, 0x00, 0x00, 0x00,  // lea rax, [rip+0x10]
           0x64, 0x48, 0x8B, 0x0C, 0x25, 0x08, 0x00, 0x00, 0x00,  // mov rcx, fs:[8]
           0xF4});
    e.s.segment(SegReg::Fs).base = 0x6000;
    e.memory.Set<u64>(0x6008, 0xFEEDFACE);
    e.Run();
    CHECK(e.reg(Gpr::Rax) == kCode + 7 + 0x10);
    CHECK(e.reg(Gpr::Rcx) == 0xFEEDFACE);
}

TEST_CASE("BSWAP, LZCNT, TZCNT and POPCNT", "[vcpu]") {
    Env e({0x0F, 0xC8,              // bswap eax
           0xF3, 0x48, 0x0F, 0xBD, 0xCB,  // lzcnt rcx, rbx
           0xF3, 0x0F, 0xBC, 0xD3,        // tzcnt edx, ebx
           0xF3, 0x0F, 0xB8, 0xFB,        // popcnt edi, ebx
           0xF4});
    e.s.reg(Gpr::Rax) = 0x11223344;
    e.s.reg(Gpr::Rbx) = 0x00F0;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0x44332211);
    CHECK(e.reg(Gpr::Rcx) == 56);
    CHECK(e.reg(Gpr::Rdx) == 4);
    CHECK(e.reg(Gpr::Rdi) == 4);
    CHECK_FALSE(e.s.rflags & rflags::ZF);
    CHECK_FALSE(e.s.rflags & rflags::CF);
}

TEST_CASE("BTS with a negative register offset addresses bits below the operand", "[vcpu]") {
    Env e({0x0F, 0xAB, 0x06, 0xF4});  // bts [rsi], eax
    e.s.reg(Gpr::Rsi) = 0x2010;
    e.s.reg(Gpr::Rax) = static_cast<u32>(-1);  // bit -1: the top bit of the dword at 0x200C
    e.Run();
    CHECK(e.memory.Get<u32>(0x200C) == 0x80000000);
    CHECK_FALSE(e.s.rflags & rflags::CF);
}

TEST_CASE("RCR and SHRD", "[vcpu]") {
    Env e({0xF8,                    // clc
           0xB0, 0x01, 0xD0, 0xD8,  // mov al, 1 ; rcr al, 1
           0x0F, 0xAC, 0xD3, 0x04,  // shrd ebx, edx, 4
           0xF4});
    e.s.reg(Gpr::Rbx) = 0x12345678;
    e.s.reg(Gpr::Rdx) = 0xF;
    e.Run();
    CHECK((e.reg(Gpr::Rax) & 0xFF) == 0);
    CHECK(e.reg(Gpr::Rbx) == 0xF1234567);
    CHECK(e.s.rflags & rflags::CF);  // SHRD's CF is the last bit shifted out: bit 3 of 0x12345678
}

TEST_CASE("CMPXCHG8B swaps on a match", "[vcpu]") {
    Env e({0x0F, 0xC7, 0x0E, 0xF4});  // cmpxchg8b [rsi]
    e.s.reg(Gpr::Rsi) = 0x2000;
    e.memory.Set<u64>(0x2000, 0x0000000200000001);
    e.s.reg(Gpr::Rdx) = 2;
    e.s.reg(Gpr::Rax) = 1;
    e.s.reg(Gpr::Rcx) = 4;
    e.s.reg(Gpr::Rbx) = 3;
    e.Run();
    CHECK(e.memory.Get<u64>(0x2000) == 0x0000000400000003);
    CHECK(e.s.rflags & rflags::ZF);
}

TEST_CASE("LAHF, SAHF, PUSHF and POPF", "[vcpu]") {
    Env e({0xB4, 0xD5,  // mov ah, 0xd5 (SF ZF AF PF CF)
           0x9E,        // sahf
           0x9C,        // pushf
           0x48, 0x83, 0x24, 0x24, 0x00,  // and qword [rsp], 0
           0x9D,        // popf
           0x9F,        // lahf
           0xF4});
    e.Run();
    CHECK(((e.reg(Gpr::Rax) >> 8) & 0xFF) == 0x02);  // all cleared; bit 1 reads as 1
    CHECK(e.s.rflags == rflags::Reserved1);
    CHECK(e.memory.Get<u64>(kStack - 8) == 0);
}

TEST_CASE("XLAT indexes a table with AL", "[vcpu]") {
    Env e({0xD7, 0xF4});  // xlat
    e.memory.Put(0x2000, {10, 20, 30, 40});
    e.s.reg(Gpr::Rbx) = 0x2000;
    e.s.reg(Gpr::Rax) = 0x1103;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0x1128);
}

TEST_CASE("single-stepping sees each instruction's flags and registers", "[vcpu]") {
    // add eax, ebx ; sub eax, ecx ; mov eax, 5: in one block the first two flag writes and the first two
    // register writes are dead, but a one-instruction budget must still see them.
    Env e({0x01, 0xD8, 0x29, 0xC8, 0xB8, 0x05, 0x00, 0x00, 0x00, 0xF4});
    e.s.reg(Gpr::Rax) = 0xFFFFFFFF;
    e.s.reg(Gpr::Rbx) = 1;
    e.s.reg(Gpr::Rcx) = 1;
    CHECK(e.Run(1).instructions == 1);
    CHECK(e.reg(Gpr::Rax) == 0);
    CHECK(Flags(e.s.rflags) == (rflags::CF | rflags::ZF | rflags::AF | rflags::PF));
    CHECK(e.Run(1).instructions == 1);
    CHECK(e.reg(Gpr::Rax) == 0xFFFFFFFF);
    CHECK(Flags(e.s.rflags) == (rflags::CF | rflags::SF | rflags::AF | rflags::PF));
    CHECK(e.Run().reason == StopReason::Halted);
    CHECK(e.reg(Gpr::Rax) == 5);
}

TEST_CASE("AAA, AAS, AAM and AAD follow the SDM's Operation sections", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    CpuState& s = vcpu.state();
    test::Enter32(s, kCode, kStack);
    memory.Put(kCode, {0x37,        // aaa: AL = 0x0B -> AX = 0x0101... (AH + 1, AL = (0x0B + 6) & 0xF)
                       0xD4, 0x0A,  // aam: AL = 1 -> AH = 0, AL = 1
                       0xF4});
    s.reg(Gpr::Rax) = 0x000B;
    vcpu.Run(1);
    CHECK((s.reg(Gpr::Rax) & 0xFFFF) == 0x0101);
    CHECK(s.rflags & rflags::CF);
    CHECK(s.rflags & rflags::AF);
    vcpu.Run();
    CHECK((s.reg(Gpr::Rax) & 0xFFFF) == 0x0001);

    test::Enter32(s, kCode, kStack);
    memory.Put(kCode, {0x3F, 0xD5, 0x0A, 0xF4});  // aas ; aad
    s.reg(Gpr::Rax) = 0x0205;                     // AL = 5, AF = 0: no adjust, AL = 5; AAD: AL = 5 + 2 * 10
    vcpu.InvalidateAllCode();
    vcpu.Run();
    CHECK((s.reg(Gpr::Rax) & 0xFFFF) == 25);
    CHECK_FALSE(s.rflags & rflags::ZF);

    test::Enter32(s, kCode, kStack);
    memory.Put(kCode, {0xD4, 0x00});  // aam 0 -> #DE
    vcpu.InvalidateAllCode();
    const RunResult r = vcpu.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::DE);
}

TEST_CASE("IN and OUT reach the port interface; CPL 3 without IOPL is #GP", "[vcpu]") {
    struct Ports : test::FlatMemory {
        u16 last_port = 0;
        u32 last_value = 0;
        u32 PortIn(u16 port, unsigned) override { return port == 0x71 ? 0x42 : ~u32{0}; }
        void PortOut(u16 port, unsigned, u32 value) override {
            last_port = port;
            last_value = value;
        }
    } ports;
    Vcpu vcpu(ports);
    test::Enter64(vcpu.state(), kCode, kStack);
    ports.Put(kCode, {0xE4, 0x71,  // in al, 0x71
                      0x66, 0xBA, 0xF8, 0x03,  // mov dx, 0x3f8
                      0xEE,        // out dx, al
                      0xF4});
    vcpu.Run();
    CHECK((vcpu.state().reg(Gpr::Rax) & 0xFF) == 0x42);
    CHECK(ports.last_port == 0x3F8);
    CHECK(ports.last_value == 0x42);

    Vcpu user(ports);
    test::Enter64(user.state(), kCode, kStack, 3);
    const RunResult r = user.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::GP);
}

TEST_CASE("a read-modify-write fault reports a write access", "[vcpu]") {
    Env e({0x48, 0x01, 0x03});  // add [rbx], rax
    e.s.reg(Gpr::Rbx) = 0x7000000;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->error_code == 0x2);  // W set: the load is done with write intent
}

TEST_CASE("non-canonical addresses raise #GP(0), or #SS(0) through SS", "[vcpu]") {
    Env gp({0x48, 0x8B, 0x03});  // mov rax, [rbx]
    gp.s.reg(Gpr::Rbx) = 0x0000800000000000;
    RunResult r = gp.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::GP);
    CHECK(r.exception->error_code == 0);

    Env ss({0x48, 0x8B, 0x45, 0x00});  // mov rax, [rbp]
    ss.s.reg(Gpr::Rbp) = 0x0000800000000000;
    r = ss.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::SS);

    Env push({0x50});  // push rax with a non-canonical RSP
    push.s.reg(Gpr::Rsp) = 0x0000800000000008;
    r = push.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::SS);
    CHECK(push.reg(Gpr::Rsp) == 0x0000800000000008);
}

TEST_CASE("CMPXCHG with the accumulator as destination, and a register destination on a mismatch", "[vcpu]") {
    Env acc({0x4C, 0x0F, 0xB1, 0xF0, 0xF4});  // cmpxchg rax, r14: always equal, RAX <- R14
    acc.s.reg(Gpr::Rax) = 0x1234;
    acc.s.reg(Gpr::R14) = 0x5678;
    acc.Run();
    CHECK(acc.reg(Gpr::Rax) == 0x5678);

    Env miss({0x0F, 0xB1, 0xCB, 0xF4});  // cmpxchg ebx, ecx with EAX != EBX
    miss.s.reg(Gpr::Rax) = 1;
    miss.s.reg(Gpr::Rbx) = 0xFFFFFFFF'00000002;
    miss.Run();
    CHECK(miss.reg(Gpr::Rax) == 2);
    CHECK(miss.reg(Gpr::Rbx) == 0xFFFFFFFF'00000002);  // unchanged, bits 63:32 included (Intel)
}

TEST_CASE("16-bit addressing wraps at 64 KiB; CALL, RET and LOOP use 16-bit IP and CX", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    CpuState& s = vcpu.state();
    test::EnterReal(s, 0x100, 0x800);
    memory.Put(0x1, {0x77});
    memory.Put(0x100, {0xBB, 0xFF, 0xFF,  // 100: mov bx, 0xffff
                       0xBE, 0x02, 0x00,  // 103: mov si, 2
                       0x8A, 0x00,        // 106: mov al, [bx+si]   -> DS:0001
                       0xB9, 0x03, 0x00,  // 108: mov cx, 3
                       0xE8, 0x03, 0x00,  // 10b: call 111
                       0xF4,              // 10e: hlt
                       0x90, 0x90,        // 10f: (padding)
                       0x42,              // 111: inc dx
                       0xE2, 0xFD,        // 112: loop 111
                       0xC3});            // 114: ret
    s.reg(Gpr::Rcx) = 0xABCD0000;  // LOOP must only use CX
    s.reg(Gpr::Rdx) = 0;
    const RunResult r = vcpu.Run();
    CHECK(r.reason == StopReason::Halted);
    CHECK((s.reg(Gpr::Rax) & 0xFF) == 0x77);
    CHECK((s.reg(Gpr::Rdx) & 0xFFFF) == 3);
    CHECK(s.reg(Gpr::Rcx) == 0xABCD0000);
    CHECK(s.rip == 0x10F);
    CHECK(memory.Get<u16>(0x7FE) == 0x10E);  // the 16-bit return address
    CHECK(s.reg(Gpr::Rsp) == 0x800);
}

TEST_CASE("the same linear code reached through two CS:IP pairs keeps each one's IP", "[vcpu]") {
    test::FlatMemory memory;
    Vcpu vcpu(memory);
    CpuState& s = vcpu.state();
    test::EnterReal(s, 0x7C00, 0x800);
    memory.Put(0x7C00, {0xE8, 0x00, 0x00,  // call next (pushes the IP after it)
                        0xF4});
    vcpu.Run();
    CHECK(memory.Get<u16>(0x7FE) == 0x7C03);
    test::EnterReal(s, 0, 0x800);
    s.segment(SegReg::Cs) = Segment{0x07C0, 0x7C00, 0xFFFF, 0x9B};
    vcpu.Run();
    CHECK(memory.Get<u16>(0x7FE) == 0x0003);
    CHECK(s.rip == 0x4);
}

TEST_CASE("ADCX and ADOX carry through CF and OF only", "[vcpu]") {
    Env e({0x66, 0x48, 0x0F, 0x38, 0xF6, 0xC3,  // adcx rax, rbx
           0xF3, 0x48, 0x0F, 0x38, 0xF6, 0xCA,  // adox rcx, rdx
           0xF4});
    e.s.rflags |= rflags::CF | rflags::ZF;
    e.s.reg(Gpr::Rax) = ~u64{0};
    e.s.reg(Gpr::Rbx) = 0;
    e.s.reg(Gpr::Rcx) = 5;
    e.s.reg(Gpr::Rdx) = 6;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0);    // ~0 + 0 + CF = 0, carry out
    CHECK(e.reg(Gpr::Rcx) == 11);   // OF was clear
    CHECK(e.s.rflags & rflags::CF);
    CHECK_FALSE(e.s.rflags & rflags::OF);
    CHECK(e.s.rflags & rflags::ZF);  // untouched
}

TEST_CASE("CRC32 computes CRC-32C (check value of \"123456789\" is 0xE3069283)", "[vcpu]") {
    Env e({0xF2, 0x48, 0x0F, 0x38, 0xF1, 0x06,        // crc32 rax, qword [rsi]
           0xF2, 0x0F, 0x38, 0xF0, 0x46, 0x08,        // crc32 eax, byte [rsi+8]
           0xF7, 0xD0,                                // not eax
           0xF4});
    e.memory.Put(0x2000, {'1', '2', '3', '4', '5', '6', '7', '8', '9'});
    e.s.reg(Gpr::Rsi) = 0x2000;
    e.s.reg(Gpr::Rax) = 0xFFFFFFFF;
    e.Run();
    CHECK(e.reg(Gpr::Rax) == 0xE3069283);
}

TEST_CASE("RDPID and RDTSCP read TSC_AUX", "[vcpu]") {
    Env e({0xF3, 0x0F, 0xC7, 0xFB,  // rdpid rbx
           0x0F, 0x01, 0xF9,        // rdtscp
           0xF4});
    e.s.tsc_aux = 0x1234'00000005;
    e.Run();
    CHECK(e.reg(Gpr::Rbx) == 5);
    CHECK(e.reg(Gpr::Rcx) == 5);
}

// --- Debug exceptions (SDM Vol. 3 chapter 18). Without an IDT the vCPU stops at the #DB, so the tests see the
// RIP it would push and DR6.

TEST_CASE("TF raises a single-step #DB trap after one instruction with DR6.BS", "[vcpu][debug]") {
    Env e({0x90, 0x90, 0xF4});  // nop; nop; hlt
    e.s.rflags |= rflags::TF;
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::DB);
    CHECK(r.instructions == 1);
    CHECK(e.s.rip == kCode + 1);             // a trap: after the instruction
    CHECK(e.s.dr[6] == 0xFFFF4FF0);          // BS; reserved bits 1
}

TEST_CASE("an instruction breakpoint is a fault before the instruction; RF lets it run once", "[vcpu][debug]") {
    Env e({0x90, 0xFF, 0xC0, 0xF4});  // nop; inc eax; hlt
    e.s.dr[0] = kCode + 1;
    e.s.dr[7] = 0x401;                // L0, R/W = 00 (execute), LEN = 00
    RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::DB);
    CHECK(r.instructions == 1);
    CHECK(e.s.rip == kCode + 1);
    CHECK(e.s.dr[6] == 0xFFFF0FF1);   // B0
    CHECK(e.reg(Gpr::Rax) == 0);
    e.s.rflags |= rflags::RF;         // what IRET restores when the handler sets RF in the frame
    r = e.Run();
    CHECK(r.reason == StopReason::Halted);
    CHECK(e.reg(Gpr::Rax) == 1);
    CHECK_FALSE(e.s.rflags & rflags::RF);  // cleared once the instruction ran
}

TEST_CASE("a write data breakpoint traps after a store that overlaps its LEN bytes, not after a read",
          "[vcpu][debug]") {
    Env e({0x8B, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00,   // mov eax, [0x2000]
           0x89, 0x04, 0x25, 0x06, 0x20, 0x00, 0x00,   // mov [0x2006], eax: bytes 0x2006..0x2009
           0x90, 0xF4});
    e.s.dr[1] = 0x2009;                               // LEN = 11 (4 bytes): 0x2008..0x200B
    e.s.dr[7] = 0x400 | (1u << 2) | (1u << 20) | (3u << 22);
    const RunResult r = e.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::DB);
    CHECK(r.instructions == 2);
    CHECK(e.s.rip == kCode + 14);
    CHECK(e.s.dr[6] == 0xFFFF0FF2);                   // B1
}

TEST_CASE("SYSCALL takes no single-step trap when SFMASK clears TF; otherwise the trap is at the entry point",
          "[vcpu][debug]") {
    for (const bool mask_tf : {true, false}) {
        Env e({0x0F, 0x05});                           // syscall
        e.memory.Put(kCode + 0x100, {0xF4});           // the entry point: hlt
        e.s.efer |= efer::SCE;
        e.s.star = u64{0x10} << 32;
        e.s.lstar = kCode + 0x100;
        e.s.sfmask = mask_tf ? rflags::TF : 0;
        e.s.rflags |= rflags::TF;
        const RunResult r = e.Run(10);
        if (mask_tf) {
            CHECK(r.reason == StopReason::Halted);
        } else {
            REQUIRE(r.reason == StopReason::Exception);
            CHECK(r.exception->vector == vec::DB);
            CHECK(e.s.rip == kCode + 0x100);
        }
    }
}

TEST_CASE("translated blocks are bounded by bytes, not only by count", "[vcpu][cache]") {
    // 256 KiB of zeroed memory is 128 Ki instructions of `add [rax], al`: 4,000 blocks of 32 instructions, tens of
    // KiB of IR each, which the interpreter keeps. The run ends at the #PF past the end of memory.
    constexpr size_t kMemory = 256 << 10;
    constexpr size_t kBound = 4 << 20;
    auto run = [&](size_t bound, size_t* peak) {
        test::FlatMemory memory(kMemory);
        JitOptions options;
        options.block_cache_bytes = bound;
        Vcpu vcpu(memory, Backend::Interpreter, options);
        test::Enter64(vcpu.state(), kCode, kStack, 0);
        *peak = 0;
        RunResult r;
        do {
            r = vcpu.Run(4096);
            *peak = std::max(*peak, vcpu.BlockCacheBytes());
        } while (r.reason == StopReason::InstructionLimit);
        CHECK(r.reason == StopReason::Exception);
        CHECK(vcpu.state().rip == kMemory);
    };
    size_t unbounded = 0, bounded = 0;
    run(size_t{1} << 40, &unbounded);
    run(kBound, &bounded);
    CHECK(unbounded > 4 * kBound);  // the workload does need more than the bound
    CHECK(bounded <= kBound);
}
