// Precise exceptions on both backends: when an instruction faults part way through a translated block, the state
// is exactly the one after the previous instruction (its register writes, flags and stores done, nothing of the
// faulting one), RIP names the faulting instruction and the retired count stops before it. A JIT that keeps
// registers or lazily computed flags in host registers, or runs the block's stores ahead, fails these.
#include <catch2/catch.hpp>

#include "emu/cpu/vcpu.h"
#include "flat_memory.h"

using namespace emu;
using namespace emu::cpu;

namespace {

constexpr u64 kCode = 0x1000;
constexpr u64 kStack = 0x8000;
constexpr u64 kData = 0x9000;
constexpr u64 kUnmapped = 0x200000;  // past the end of the 1 MiB FlatMemory
constexpr u32 kPfWrite = 0x2;

struct Env {
    test::FlatMemory memory;
    Vcpu vcpu;
    CpuState& s = vcpu.state();

    Env(Backend backend, std::initializer_list<u8> code) : vcpu(memory, backend) {
        memory.Put(kCode, code);
        Reset();
    }
    void Reset() { test::Enter64(s, kCode, kStack); }
    u64& reg(Gpr r) { return s.reg(r); }
};

const char* Name(Backend b) { return b == Backend::Jit ? "jit" : "interpreter"; }

// add rax, rbx; mov [rdi], rax; add rcx, 1; mov rdx, [rsi]; hlt
constexpr std::initializer_list<u8> kLoadAfterStore = {
    0x48, 0x01, 0xD8,        // 1000: add rax, rbx
    0x48, 0x89, 0x07,        // 1003: mov [rdi], rax
    0x48, 0x83, 0xC1, 0x01,  // 1006: add rcx, 1
    0x48, 0x8B, 0x16,        // 100a: mov rdx, [rsi]
    0xF4,                    // 100d: hlt
};

void SetUpLoadAfterStore(Env& e, u64 rsi) {
    e.reg(Gpr::Rax) = 0x1111;
    e.reg(Gpr::Rbx) = 0x2222;
    e.reg(Gpr::Rcx) = ~u64{0};  // + 1 = 0: CF ZF PF AF, which only the ADD computes
    e.reg(Gpr::Rdx) = 0xDEAD;
    e.reg(Gpr::Rdi) = kData;
    e.reg(Gpr::Rsi) = rsi;
}

// The state after `add rcx, 1`, stopped at the load from kUnmapped.
void CheckStoppedAtLoad(Env& e, const RunResult& r) {
    REQUIRE(r.reason == StopReason::Exception);
    REQUIRE(r.exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->has_error_code);
    CHECK(r.exception->error_code == 0);  // a supervisor read of a page not present
    CHECK(r.exception->cr2 == kUnmapped);
    CHECK(r.exception->rip == kCode + 0xA);
    CHECK(e.s.rip == kCode + 0xA);
    CHECK(r.instructions == 3);
    CHECK(e.reg(Gpr::Rax) == 0x3333);
    CHECK(e.memory.Get<u64>(kData) == 0x3333);
    CHECK(e.reg(Gpr::Rcx) == 0);
    CHECK(e.reg(Gpr::Rdx) == 0xDEAD);
    CHECK((e.s.rflags & rflags::Arith) == (rflags::CF | rflags::ZF | rflags::PF | rflags::AF));
}

}  // namespace

TEST_CASE("a load that faults leaves the state after the previous instruction", "[vcpu][precise]") {
    const Backend backend = GENERATE(Backend::Interpreter, Backend::Jit);
    INFO(Name(backend));
    Env e(backend, kLoadAfterStore);
    SetUpLoadAfterStore(e, kUnmapped);
    CheckStoppedAtLoad(e, e.vcpu.Run());
}

TEST_CASE("a block that ran to its end once faults precisely the next time", "[vcpu][precise]") {
    const Backend backend = GENERATE(Backend::Interpreter, Backend::Jit);
    INFO(Name(backend));
    Env e(backend, kLoadAfterStore);
    e.memory.Set<u64>(kData + 8, 0x5A5A);
    SetUpLoadAfterStore(e, kData + 8);
    REQUIRE(e.vcpu.Run().reason == StopReason::Halted);
    CHECK(e.reg(Gpr::Rdx) == 0x5A5A);

    // Same code, now translated (and compiled, for the JIT): only the load's address changes.
    e.Reset();
    e.memory.Set<u64>(kData, 0);
    SetUpLoadAfterStore(e, kUnmapped);
    CheckStoppedAtLoad(e, e.vcpu.Run());
}

TEST_CASE("a faulting instruction changes neither its destination nor the flags", "[vcpu][precise]") {
    const Backend backend = GENERATE(Backend::Interpreter, Backend::Jit);
    INFO(Name(backend));
    Env e(backend, {
                       0x48, 0x83, 0xC1, 0x01,  // 1000: add rcx, 1
                       0x48, 0x03, 0x06,        // 1004: add rax, [rsi]
                       0xF4,                    // 1007: hlt
                   });
    e.reg(Gpr::Rax) = 0x7FFFFFFFFFFFFFFF;
    e.reg(Gpr::Rcx) = 0x7F;  // + 1 = 0x80: AF only
    e.reg(Gpr::Rsi) = kUnmapped;
    const RunResult r = e.vcpu.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->rip == kCode + 4);
    CHECK(r.instructions == 1);
    CHECK(e.reg(Gpr::Rcx) == 0x80);
    CHECK(e.reg(Gpr::Rax) == 0x7FFFFFFFFFFFFFFF);
    CHECK((e.s.rflags & rflags::Arith) == rflags::AF);
}

TEST_CASE("a store that faults keeps the earlier store and drops its own", "[vcpu][precise]") {
    const Backend backend = GENERATE(Backend::Interpreter, Backend::Jit);
    INFO(Name(backend));
    Env e(backend, {
                       0x48, 0x89, 0x07,  // 1000: mov [rdi], rax
                       0x48, 0xFF, 0xC1,  // 1003: inc rcx
                       0x48, 0x89, 0x1E,  // 1006: mov [rsi], rbx
                       0x48, 0xFF, 0xC1,  // 1009: inc rcx
                       0xF4,              // 100c: hlt
                   });
    e.reg(Gpr::Rax) = 0x0102030405060708;
    e.reg(Gpr::Rbx) = 0x1122334455667788;
    e.reg(Gpr::Rcx) = 10;
    e.reg(Gpr::Rdi) = kData;
    e.reg(Gpr::Rsi) = kUnmapped;
    const RunResult r = e.vcpu.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->error_code == kPfWrite);
    CHECK(r.exception->cr2 == kUnmapped);
    CHECK(r.exception->rip == kCode + 6);
    CHECK(e.memory.Get<u64>(kData) == 0x0102030405060708);
    CHECK(e.reg(Gpr::Rcx) == 11);
    CHECK(e.memory.writes == 1);
}

TEST_CASE("a PUSH that faults leaves RSP unchanged", "[vcpu][precise]") {
    const Backend backend = GENERATE(Backend::Interpreter, Backend::Jit);
    INFO(Name(backend));
    Env e(backend, {
                       0x48, 0x89, 0xC3,  // 1000: mov rbx, rax
                       0x50,              // 1003: push rax
                       0xF4,              // 1004: hlt
                   });
    e.reg(Gpr::Rax) = 42;
    e.reg(Gpr::Rsp) = kUnmapped + 8;
    const RunResult r = e.vcpu.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->error_code == kPfWrite);
    CHECK(r.exception->cr2 == kUnmapped);
    CHECK(r.exception->rip == kCode + 3);
    CHECK(e.reg(Gpr::Rsp) == kUnmapped + 8);
    CHECK(e.reg(Gpr::Rbx) == 42);
}

TEST_CASE("REP MOVSB that faults part way leaves the registers of the iterations done", "[vcpu][precise]") {
    const Backend backend = GENERATE(Backend::Interpreter, Backend::Jit);
    INFO(Name(backend));
    Env e(backend, {
                       0xB8, 0x07, 0x00, 0x00, 0x00,  // 1000: mov eax, 7
                       0xF3, 0xA4,                    // 1005: rep movsb
                       0xBB, 0x01, 0x00, 0x00, 0x00,  // 1007: mov ebx, 1
                       0xF4,                          // 100c: hlt
                   });
    const u64 end = e.memory.size();  // the destination runs off the end of memory after 4 bytes
    e.memory.Set<u64>(kData, 0x8877665544332211);
    e.reg(Gpr::Rsi) = kData;
    e.reg(Gpr::Rdi) = end - 4;
    e.reg(Gpr::Rcx) = 16;
    const RunResult r = e.vcpu.Run();
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::PF);
    CHECK(r.exception->error_code == kPfWrite);
    CHECK(r.exception->cr2 == end);
    CHECK(r.exception->rip == kCode + 5);
    CHECK(e.reg(Gpr::Rcx) == 12);
    CHECK(e.reg(Gpr::Rsi) == kData + 4);
    CHECK(e.reg(Gpr::Rdi) == end);
    CHECK(e.reg(Gpr::Rax) == 7);
    CHECK(e.reg(Gpr::Rbx) == 0);
    CHECK(e.memory.Get<u32>(end - 4) == 0x44332211);
}
