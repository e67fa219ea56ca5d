// Decoder tests: hand-assembled encodings checked against the Intel SDM (Vol. 2, chapter 2 and the opcode maps
// of appendix A). Expected values come from the SDM, never from the decoder's tables.
#include <catch2/catch.hpp>

#include <initializer_list>
#include <set>
#include <vector>

#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/decoder/opcode_table.h"

using namespace emu;
using namespace emu::cpu;

namespace {

constexpr auto k16 = DecodeMode::Bits16;
constexpr auto k32 = DecodeMode::Bits32;
constexpr auto k64 = DecodeMode::Bits64;

Result<DecodedInsn, DecodeError> Dec(std::initializer_list<u8> bytes, DecodeMode mode = k64) {
    const std::vector<u8> v(bytes);
    return Decode(v, mode);
}

// Decodes and requires success, printing the failure reason otherwise.
DecodedInsn Ok(std::initializer_list<u8> bytes, DecodeMode mode = k64) {
    auto r = Dec(bytes, mode);
    if (!r.ok()) FAIL("decode failed: " << DecodeErrorName(r.error()));
    INFO(FormatInsn(*r));
    return *r;
}

DecodeError Error(std::initializer_list<u8> bytes, DecodeMode mode = k64) {
    auto r = Dec(bytes, mode);
    if (r.ok()) FAIL("decoded unexpectedly: " << FormatInsn(*r));
    return r.error();
}

void RequireReg(const Operand& o, RegClass cls, unsigned reg, unsigned size, bool high8 = false) {
    CHECK(o.kind == OperandKind::Reg);
    CHECK(o.reg_class == cls);
    CHECK(unsigned{o.reg} == reg);
    CHECK(unsigned{o.size} == size);
    CHECK(o.high8 == high8);
}

void RequireMem(const Operand& o, unsigned seg, unsigned base, unsigned index, unsigned scale, i64 disp) {
    REQUIRE(o.kind == OperandKind::Mem);
    CHECK(unsigned{o.mem.seg} == seg);
    CHECK(unsigned{o.mem.base} == base);
    CHECK(unsigned{o.mem.index} == index);
    CHECK(unsigned{o.mem.scale} == scale);
    CHECK(o.mem.disp == disp);
}

constexpr unsigned kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4;
constexpr unsigned kNone = kNoReg;

}  // namespace

TEST_CASE("register-register ALU forms follow ModRM and the operand-size rules", "[decoder]") {
    // 01 /r ADD r/m32, r32; ModRM D8 = mod 11, reg 011 (ebx), rm 000 (eax).
    auto i = Ok({0x01, 0xD8});
    CHECK(i.mnemonic == Mnemonic::ADD);
    CHECK(i.length == 2);
    CHECK(i.op_size == 4);
    CHECK(i.addr_size == 8);
    REQUIRE(i.num_operands == 2);
    RequireReg(i.operands[0], RegClass::Gpr, 0, 4);
    RequireReg(i.operands[1], RegClass::Gpr, 3, 4);
    CHECK(Ok({0x48, 0x01, 0xD8}).op_size == 8);           // REX.W
    CHECK(Ok({0x66, 0x01, 0xD8}).op_size == 2);           // 66
    CHECK(Ok({0x66, 0x48, 0x01, 0xD8}).op_size == 8);     // REX.W wins over 66
    CHECK(Ok({0x01, 0xD8}, k32).op_size == 4);
    CHECK(Ok({0x66, 0x01, 0xD8}, k32).op_size == 2);
    CHECK(Ok({0x01, 0xD8}, k16).op_size == 2);
    CHECK(Ok({0x66, 0x01, 0xD8}, k16).op_size == 4);
    // REX.R and REX.B extend reg and rm: 4D 01 C8 = ADD r8, r9.
    auto x = Ok({0x4D, 0x01, 0xC8});
    RequireReg(x.operands[0], RegClass::Gpr, 8, 8);
    RequireReg(x.operands[1], RegClass::Gpr, 9, 8);
}

TEST_CASE("a REX prefix counts only immediately before the opcode", "[decoder]") {
    auto i = Ok({0x48, 0x66, 0x01, 0xD8});  // REX then 66: REX ignored
    CHECK(i.op_size == 2);
    CHECK(i.rex == 0);
    CHECK((i.prefixes & prefix::Rex) == 0);
    CHECK(i.length == 4);
    // The last of two REX prefixes counts.
    auto j = Ok({0x41, 0x48, 0x01, 0xD8});
    CHECK(j.rex == 0x48);
    RequireReg(j.operands[0], RegClass::Gpr, 0, 8);
    // 40-4F are INC/DEC outside 64-bit mode.
    CHECK(Ok({0x40}, k32).mnemonic == Mnemonic::INC);
    CHECK(Ok({0x4F}, k32).mnemonic == Mnemonic::DEC);
    CHECK(Error({0x48}) == DecodeError::Truncated);  // a lone REX needs an opcode
}

TEST_CASE("byte registers are AH-BH without REX and SPL-DIL with any REX", "[decoder]") {
    // 88 /r MOV r/m8, r8; ModRM E0: reg 100, rm 000.
    auto i = Ok({0x88, 0xE0});
    RequireReg(i.operands[0], RegClass::Gpr, 0, 1);
    RequireReg(i.operands[1], RegClass::Gpr, 0, 1, true);  // AH
    auto j = Ok({0x40, 0x88, 0xE0});
    RequireReg(j.operands[1], RegClass::Gpr, 4, 1);  // SPL
    auto k = Ok({0x44, 0x88, 0xE0});
    RequireReg(k.operands[1], RegClass::Gpr, 12, 1);  // R12B
    auto m = Ok({0xB7, 0x01});                         // B0+r MOV r8, imm8: B7 = MOV BH, 1
    RequireReg(m.operands[0], RegClass::Gpr, 3, 1, true);
    auto n = Ok({0x41, 0xB7, 0x01});  // MOV R15B, 1
    RequireReg(n.operands[0], RegClass::Gpr, 15, 1);
}

TEST_CASE("90 is NOP, F3 90 is PAUSE and REX.B 90 exchanges r8", "[decoder]") {
    CHECK(Ok({0x90}).mnemonic == Mnemonic::NOP);
    CHECK(Ok({0x66, 0x90}).mnemonic == Mnemonic::NOP);
    CHECK(Ok({0xF3, 0x90}).mnemonic == Mnemonic::PAUSE);
    auto x = Ok({0x41, 0x90});
    CHECK(x.mnemonic == Mnemonic::XCHG);
    RequireReg(x.operands[0], RegClass::Gpr, 8, 4);
    RequireReg(x.operands[1], RegClass::Gpr, 0, 4);
    CHECK(Ok({0x91}).mnemonic == Mnemonic::XCHG);
    auto nop = Ok({0x0F, 0x1F, 0x44, 0x00, 0x00});  // the 5-byte recommended NOP
    CHECK(nop.mnemonic == Mnemonic::NOP);
    CHECK(nop.length == 5);
    CHECK(Ok({0x66, 0x2E, 0x0F, 0x1F, 0x84, 0, 0, 0, 0, 0}).length == 10);
    CHECK(Ok({0xF3, 0x0F, 0x1E, 0xFA}).length == 4);  // ENDBR64 is a hint NOP here
}

TEST_CASE("immediates have the SDM widths and extensions", "[decoder]") {
    // B8+r with REX.W: imm64.
    auto a = Ok({0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11});
    CHECK(a.length == 10);
    CHECK(a.operands[1].imm == 0x1122334455667788ull);
    CHECK(a.operands[1].size == 8);
    CHECK(Ok({0xB8, 0x78, 0x56, 0x34, 0x12}).length == 5);
    CHECK(Ok({0x66, 0xB8, 0x34, 0x12}).length == 4);
    // C7 /0 with REX.W: Iz is 4 bytes sign-extended to 64.
    auto b = Ok({0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF});
    CHECK(b.length == 7);
    CHECK(b.operands[1].imm == ~u64{0});
    CHECK(b.operands[1].size == 8);
    // 83 /0 ib: sign-extended to the operand size.
    auto c = Ok({0x83, 0xC0, 0xFF});
    CHECK(c.operands[1].imm == 0xFFFFFFFFu);
    CHECK(c.operands[1].size == 4);
    auto c16 = Ok({0x66, 0x83, 0xC0, 0x80});
    CHECK(c16.operands[1].imm == 0xFF80u);
    // 81 /0 with 66: Iz is 2 bytes.
    CHECK(Ok({0x66, 0x81, 0xC0, 0x34, 0x12}).length == 5);
    // C0 /4 ib: a byte count, not extended.
    auto d = Ok({0xC1, 0xE0, 0x85});
    CHECK(d.mnemonic == Mnemonic::SHL);
    CHECK(d.operands[1].imm == 0x85);
    CHECK(d.operands[1].size == 1);
    // D1 /7: SAR by the implicit 1.
    auto e = Ok({0xD1, 0xF8});
    CHECK(e.mnemonic == Mnemonic::SAR);
    CHECK(e.operands[1].kind == OperandKind::Imm);
    CHECK(e.operands[1].imm == 1);
    // ENTER Iw, Ib.
    auto f = Ok({0xC8, 0x10, 0x00, 0x01});
    CHECK(f.length == 4);
    CHECK(f.operands[0].imm == 0x10);
    CHECK(f.operands[1].imm == 1);
    CHECK(f.op_size == 8);
    // PUSH imm8 sign-extended to the 64-bit stack width; PUSH imm32.
    auto g = Ok({0x6A, 0xFF});
    CHECK(g.op_size == 8);
    CHECK(g.operands[0].imm == ~u64{0});
    CHECK(Ok({0x68, 1, 2, 3, 4}).length == 5);
    CHECK(Ok({0x66, 0x68, 1, 2}).length == 4);
    // F6 /0 TEST has an immediate, F6 /2 NOT has none.
    CHECK(Ok({0xF6, 0xC0, 0x01}).length == 3);
    CHECK(Ok({0xF6, 0xD0}).length == 2);
    CHECK(Ok({0xF7, 0xC0, 1, 2, 3, 4}).length == 6);
}

TEST_CASE("64-bit mode RIP-relative, SIB and segment defaults", "[decoder]") {
    // 8B 05 disp32: RIP-relative in 64-bit mode.
    auto a = Ok({0x8B, 0x05, 0x10, 0, 0, 0});
    CHECK(a.length == 6);
    CHECK(a.operands[1].mem.rip_relative);
    RequireMem(a.operands[1], kDs, kNone, kNone, 1, 0x10);
    // The same bytes in 32-bit mode: absolute disp32.
    auto b = Ok({0x8B, 0x05, 0x10, 0, 0, 0}, k32);
    CHECK_FALSE(b.operands[1].mem.rip_relative);
    RequireMem(b.operands[1], kDs, kNone, kNone, 1, 0x10);
    // [rsp]: SIB with index 100 = none, SS default.
    RequireMem(Ok({0x8B, 0x04, 0x24}).operands[1], kSs, 4, kNone, 1, 0);
    // SIB base 101 with mod 00: disp32, no base; not RIP-relative.
    auto c = Ok({0x8B, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12});
    CHECK(c.length == 7);
    CHECK_FALSE(c.operands[1].mem.rip_relative);
    RequireMem(c.operands[1], kDs, kNone, kNone, 1, 0x12345678);
    // REX.X makes index 100 mean r12.
    RequireMem(Ok({0x42, 0x8B, 0x04, 0x24}).operands[1], kSs, 4, 12, 1, 0);
    // [rbp+rcx*4+8]: SIB base 101 with mod 01 is rBP + disp8, SS default.
    RequireMem(Ok({0x8B, 0x44, 0x8D, 0x08}).operands[1], kSs, 5, 1, 4, 8);
    // [r13+0] uses DS: only rSP/rBP default to SS.
    RequireMem(Ok({0x41, 0x8B, 0x45, 0x00}).operands[1], kDs, 13, kNone, 1, 0);
    RequireMem(Ok({0x8B, 0x45, 0xF8}).operands[1], kSs, 5, kNone, 1, -8);
    // disp32 sign-extension, mod 10.
    RequireMem(Ok({0x8B, 0x80, 0x00, 0x00, 0x00, 0x80}).operands[1], kDs, 0, kNone, 1, -0x80000000ll);
    // SIB with base r13 and mod 00 is still "no base + disp32" (base field 101 regardless of REX.B).
    auto d = Ok({0x41, 0x8B, 0x04, 0x25, 1, 0, 0, 0});
    RequireMem(d.operands[1], kDs, kNone, kNone, 1, 1);
    // 67 in 64-bit mode: 32-bit addressing.
    auto e = Ok({0x67, 0x8B, 0x00});
    CHECK(e.addr_size == 4);
    RequireMem(e.operands[1], kDs, 0, kNone, 1, 0);
}

TEST_CASE("segment overrides: the last one wins and replaces the SS default", "[decoder]") {
    auto a = Ok({0x64, 0x8B, 0x00});
    CHECK(a.seg_override == kFs);
    CHECK((a.prefixes & prefix::Seg) != 0);
    RequireMem(a.operands[1], kFs, 0, kNone, 1, 0);
    CHECK(Ok({0x26, 0x64, 0x8B, 0x00}).operands[1].mem.seg == kFs);
    CHECK(Ok({0x64, 0x26, 0x8B, 0x45, 0x00}, k32).operands[1].mem.seg == kEs);
    CHECK(Ok({0x2E, 0x8B, 0x45, 0x00}, k32).operands[1].mem.seg == kCs);
    // 64-bit mode ignores ES/CS/SS/DS overrides: the default segment stays, seg_override reports the prefix.
    auto n = Ok({0x2E, 0x8B, 0x45, 0x00});
    CHECK(n.operands[1].mem.seg == kSs);
    CHECK(n.seg_override == kCs);
    CHECK(Ok({0x26, 0x8B, 0x00}).operands[1].mem.seg == kDs);
    CHECK(Ok({0x64, 0x26, 0x8B, 0x45, 0x00}).operands[1].mem.seg == kSs);  // the last prefix (ES) wins, ignored
    CHECK(Ok({0x65, 0xA1, 1, 2, 3, 4, 5, 6, 7, 8}).operands[1].mem.seg == 5);
    CHECK(Ok({0x8B, 0x00}).seg_override == kNoReg);
}

TEST_CASE("16-bit addressing forms", "[decoder]") {
    auto a = Ok({0x8B, 0x00}, k16);  // MOV AX, [BX+SI]
    CHECK(a.op_size == 2);
    CHECK(a.addr_size == 2);
    RequireMem(a.operands[1], kDs, 3, 6, 1, 0);
    RequireMem(Ok({0x8B, 0x46, 0xFE}, k16).operands[1], kSs, 5, kNone, 1, -2);        // [BP-2]
    RequireMem(Ok({0x8B, 0x02}, k16).operands[1], kSs, 5, 6, 1, 0);                   // [BP+SI]
    RequireMem(Ok({0x8B, 0x06, 0x34, 0x12}, k16).operands[1], kDs, kNone, kNone, 1, 0x1234);  // [disp16]
    RequireMem(Ok({0x8B, 0x87, 0x00, 0x80}, k16).operands[1], kDs, 3, kNone, 1, -0x8000);   // [BX+disp16]
    CHECK(Ok({0x8B, 0x06, 0x34, 0x12}, k16).length == 4);
    // 67 in 16-bit mode selects 32-bit addressing (with SIB).
    auto b = Ok({0x67, 0x8B, 0x04, 0x24}, k16);
    CHECK(b.addr_size == 4);
    RequireMem(b.operands[1], kSs, 4, kNone, 1, 0);
    // 67 in 32-bit mode selects 16-bit addressing.
    RequireMem(Ok({0x67, 0x8B, 0x00}, k32).operands[1], kDs, 3, 6, 1, 0);
}

TEST_CASE("moffs are as wide as the address size", "[decoder]") {
    auto a = Ok({0xA1, 1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(a.length == 9);
    RequireMem(a.operands[1], kDs, kNone, kNone, 1, 0x0807060504030201ll);
    CHECK(a.operands[1].size == 4);
    CHECK(Ok({0x67, 0xA1, 1, 2, 3, 4}).length == 6);
    CHECK(Ok({0xA1, 1, 2, 3, 4}, k32).length == 5);
    CHECK(Ok({0xA0, 1, 2}, k16).length == 3);
    auto b = Ok({0x64, 0xA2, 1, 2, 3, 4}, k32);  // MOV fs:[moffs], AL
    CHECK(b.operands[0].mem.seg == kFs);
    CHECK(b.operands[0].size == 1);
}

TEST_CASE("near branches: rel8/rel32, conditions and Intel's 64-bit operand size", "[decoder]") {
    auto a = Ok({0x74, 0xFE});
    CHECK(a.mnemonic == Mnemonic::JCC);
    CHECK(a.cond == 4);
    CHECK(a.operands[0].kind == OperandKind::Rel);
    CHECK(a.operands[0].imm == ~u64{1});  // -2
    CHECK(a.op_size == 8);
    auto b = Ok({0x0F, 0x85, 0x00, 0x01, 0x00, 0x00});
    CHECK(b.cond == 5);
    CHECK(b.length == 6);
    CHECK(b.operands[0].imm == 0x100);
    // Intel ignores 66 on near branches in 64-bit mode: still rel32.
    auto c = Ok({0x66, 0xE8, 1, 0, 0, 0});
    CHECK(c.length == 6);
    CHECK(c.op_size == 8);
    CHECK(Ok({0x66, 0xE8, 1, 0}, k32).length == 4);  // rel16 in 32-bit mode
    CHECK(Ok({0xE9, 1, 0}, k16).length == 3);
    CHECK(Ok({0xFF, 0xD0}).op_size == 8);  // CALL rax
    CHECK(Ok({0x0F, 0x9F, 0xC0}).cond == 15);  // SETG al
    auto cm = Ok({0x48, 0x0F, 0x42, 0xC1});  // CMOVB rax, rcx
    CHECK(cm.mnemonic == Mnemonic::CMOVCC);
    CHECK(cm.cond == 2);
    CHECK(Ok({0xC2, 0x08, 0x00}).length == 3);
    CHECK(Ok({0xE3, 0x10}).mnemonic == Mnemonic::JRCXZ);
}

TEST_CASE("default-64 stack operations take 64 or 16 bits", "[decoder]") {
    CHECK(Ok({0x50}).op_size == 8);
    CHECK(Ok({0x66, 0x50}).op_size == 2);
    RequireReg(Ok({0x41, 0x50}).operands[0], RegClass::Gpr, 8, 8);
    CHECK(Ok({0x8F, 0xC0}).op_size == 8);
    CHECK(Ok({0x9C}).data_size == 8);
    CHECK(Ok({0x66, 0x9C}).data_size == 2);
    CHECK(Ok({0x9C}, k32).data_size == 4);
    CHECK(Ok({0xC9}).op_size == 8);
    RequireReg(Ok({0x0F, 0xA0}).operands[0], RegClass::Seg, kFs, 2);
    CHECK(Ok({0x50}, k32).op_size == 4);
}

TEST_CASE("instructions invalid in 64-bit mode are undefined there and valid elsewhere", "[decoder]") {
    for (u8 op : {0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60, 0x61, 0xCE, 0xD6}) {
        INFO("opcode " << unsigned{op});
        CHECK(Error({op}) == DecodeError::Undefined);
        CHECK(Dec({op}, k32).ok());
    }
    CHECK(Error({0xD4, 0x0A}) == DecodeError::Undefined);     // AAM
    CHECK(Error({0x82, 0xC0, 0x01}) == DecodeError::Undefined);
    CHECK(Ok({0x82, 0xC0, 0x01}, k32).mnemonic == Mnemonic::ADD);
    CHECK(Error({0x9A, 1, 2, 3, 4, 5, 6}) == DecodeError::Undefined);
    CHECK(Error({0x62, 0xF1, 0x7D, 0x48, 0x6F, 0x00}) == DecodeError::Undefined);  // EVEX in 64-bit mode
    CHECK(Ok({0x62, 0x00}, k32).mnemonic == Mnemonic::BOUND);
    CHECK(Ok({0x63, 0xC1}, k32).mnemonic == Mnemonic::ARPL);
    auto m = Ok({0x48, 0x63, 0xC1});  // MOVSXD rax, ecx
    CHECK(m.mnemonic == Mnemonic::MOVSXD);
    RequireReg(m.operands[0], RegClass::Gpr, 0, 8);
    RequireReg(m.operands[1], RegClass::Gpr, 1, 4);
    // Far pointers outside 64-bit mode.
    auto f = Ok({0xEA, 0x78, 0x56, 0x34, 0x12, 0x08, 0x00}, k32);
    CHECK(f.mnemonic == Mnemonic::JMPF);
    CHECK(f.length == 7);
    CHECK(f.operands[0].kind == OperandKind::FarPtr);
    CHECK(f.operands[0].imm == 0x12345678);
    CHECK(f.operands[0].far_selector == 8);
    CHECK(Ok({0xEA, 0x34, 0x12, 0x08, 0x00}, k16).length == 5);
}

TEST_CASE("C4/C5/62/8F are VEX/EVEX/XOP when the mode or the next byte says so", "[decoder]") {
    // LES/LDS with a memory operand in 32-bit mode; mod = 11 makes them VEX (and #UD here).
    auto les = Ok({0xC4, 0x00}, k32);
    CHECK(les.mnemonic == Mnemonic::LES);
    CHECK(les.operands[1].size == 6);
    CHECK(Ok({0xC5, 0x00}, k32).mnemonic == Mnemonic::LDS);
    CHECK(Error({0xC5, 0xF8, 0x77}, k32) == DecodeError::Undefined);
    CHECK(Error({0xC4, 0xE2, 0x78, 0xF2, 0x00}) == DecodeError::Undefined);  // ANDN (VEX) in 64-bit mode
    CHECK(Error({0xC4, 0x00}) == DecodeError::Truncated);  // VEX needs its payload before anything else
    // DecodeLength still measures them: VZEROUPPER (C5 F8 77), VPXOR xmm0,xmm0,xmm0 (C5 F9 EF C0),
    // VPSHUFD xmm0, [rax], 1 (C5 F9 70 00 01), VPERMQ ymm0, ymm1, 0x1b (C4 E3 FD 00 C1 1B).
    const std::vector<std::pair<std::vector<u8>, unsigned>> cases = {
        {{0xC5, 0xF8, 0x77}, 3},
        {{0xC5, 0xF9, 0xEF, 0xC0}, 4},
        {{0xC5, 0xF9, 0x70, 0x00, 0x01}, 5},
        {{0xC4, 0xE3, 0xFD, 0x00, 0xC1, 0x1B}, 6},
        {{0x62, 0xF1, 0x7D, 0x48, 0x6F, 0x40, 0x01}, 7},  // VMOVDQA32 zmm0, [rax+0x40] (disp8*N)
    };
    for (const auto& [bytes, len] : cases) {
        auto r = DecodeLength(bytes, k64);
        REQUIRE(r.ok());
        CHECK(unsigned{r->length} == len);
        CHECK(r->vex_family);
        CHECK_FALSE(Decode(bytes, k64).ok());
    }
    // 8F /0 is POP; 8F with map_select >= 8 is XOP.
    CHECK(Ok({0x8F, 0x00}).mnemonic == Mnemonic::POP);
    CHECK(Error({0x8F, 0xE8, 0x78, 0xC2, 0xC1, 0x01}) == DecodeError::Undefined);
}

TEST_CASE("LOCK is allowed only on lockable instructions with a memory destination", "[decoder]") {
    CHECK(Ok({0xF0, 0x01, 0x18}).mnemonic == Mnemonic::ADD);  // LOCK ADD [rax], ebx
    CHECK((Ok({0xF0, 0x01, 0x18}).prefixes & prefix::Lock) != 0);
    CHECK(Error({0xF0, 0x01, 0xD8}) == DecodeError::LockNotAllowed);  // LOCK ADD eax, ebx
    CHECK(Error({0xF0, 0x8B, 0x00}) == DecodeError::LockNotAllowed);  // LOCK MOV
    CHECK(Error({0xF0, 0x89, 0x00}) == DecodeError::LockNotAllowed);  // LOCK MOV [rax], eax
    CHECK(Error({0xF0, 0x39, 0x00}) == DecodeError::LockNotAllowed);  // CMP is not lockable
    CHECK(Error({0xF0, 0x03, 0x00}) == DecodeError::LockNotAllowed);  // ADD r, [m]: register destination
    CHECK(Ok({0xF0, 0x0F, 0xC7, 0x08}).mnemonic == Mnemonic::CMPXCHG8B);
    CHECK(Ok({0xF0, 0x48, 0x0F, 0xC7, 0x08}).mnemonic == Mnemonic::CMPXCHG16B);
    CHECK(Ok({0xF0, 0x0F, 0xAB, 0x00}).mnemonic == Mnemonic::BTS);
    CHECK(Error({0xF0, 0x0F, 0xA3, 0x00}) == DecodeError::LockNotAllowed);  // BT
    CHECK(Ok({0xF0, 0x0F, 0xBA, 0x38, 0x01}).mnemonic == Mnemonic::BTC);
    CHECK(Error({0xF0, 0x0F, 0xBA, 0x20, 0x01}) == DecodeError::LockNotAllowed);  // BT imm
    CHECK(Ok({0xF0, 0x87, 0x00}).mnemonic == Mnemonic::XCHG);
    CHECK(Error({0xF0, 0x87, 0xC0}) == DecodeError::LockNotAllowed);
    CHECK(Ok({0xF0, 0xFF, 0x00}).mnemonic == Mnemonic::INC);
    CHECK(Ok({0xF0, 0xF7, 0x18}).mnemonic == Mnemonic::NEG);
    CHECK(Ok({0xF0, 0x0F, 0xC1, 0x00}).mnemonic == Mnemonic::XADD);
    CHECK(Ok({0xF0, 0x0F, 0xB1, 0x0A}).mnemonic == Mnemonic::CMPXCHG);
    CHECK(Ok({0xF0, 0x80, 0x30, 0x01}).mnemonic == Mnemonic::XOR);
    CHECK(Error({0xF0, 0x80, 0x38, 0x01}) == DecodeError::LockNotAllowed);  // CMP imm
    CHECK(Error({0xF0, 0x90}) == DecodeError::LockNotAllowed);
    // DecodeLength still measures a LOCK misuse.
    const std::vector<u8> bad = {0xF0, 0x01, 0xD8};
    REQUIRE(DecodeLength(bad, k64).ok());
    CHECK(DecodeLength(bad, k64)->length == 3);
}

TEST_CASE("the 15-byte limit and truncated input", "[decoder]") {
    // 14 prefixes + 01 D8 = 16 bytes: #GP.
    std::vector<u8> v(14, 0x66);
    v.push_back(0x01);
    v.push_back(0xD8);
    auto r = Decode(v, k64);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == DecodeError::TooLong);
    // 15 prefixes, no opcode within 15 bytes.
    std::vector<u8> w(15, 0x2E);
    w.push_back(0x90);
    CHECK(Decode(w, k64).error() == DecodeError::TooLong);
    // 14 prefixes + 90 = exactly 15 bytes: fine.
    std::vector<u8> ok(14, 0x66);
    ok.push_back(0x90);
    auto o = Decode(ok, k64);
    REQUIRE(o.ok());
    CHECK(o->length == 15);
    // Truncation.
    CHECK(Error({}) == DecodeError::Truncated);
    CHECK(Error({0x0F}) == DecodeError::Truncated);
    CHECK(Error({0xB8, 0x01, 0x02}) == DecodeError::Truncated);
    CHECK(Error({0x8B, 0x04}) == DecodeError::Truncated);
    CHECK(Error({0x8B, 0x80, 0, 0}) == DecodeError::Truncated);
    CHECK(Error({0x66}) == DecodeError::Truncated);
}

TEST_CASE("invalid encodings are undefined", "[decoder]") {
    CHECK(Error({0x8D, 0xC0}) == DecodeError::Undefined);  // LEA with a register operand
    auto lea = Ok({0x8D, 0x04, 0x88});
    CHECK(lea.operands[1].size == 0);
    CHECK(Error({0x8E, 0xC8}) == DecodeError::Undefined);  // MOV CS, ax
    CHECK(Ok({0x8E, 0xD8}).mnemonic == Mnemonic::MOV);     // MOV DS, ax
    CHECK(Error({0x8C, 0xF0}) == DecodeError::Undefined);  // segment register 6
    CHECK(Error({0xFF, 0xF8}) == DecodeError::Undefined);  // FF /7
    CHECK(Error({0xFF, 0xD8}) == DecodeError::Undefined);  // CALLF with a register
    CHECK(Error({0xFE, 0x10}) == DecodeError::Undefined);  // FE /2
    CHECK(Error({0x0F, 0x01, 0xC0}) == DecodeError::Undefined);  // VMX, not supported
    CHECK(Error({0x0F, 0xAE, 0xC0}) == DecodeError::Undefined);  // FXSAVE with a register
    CHECK(Error({0x0F, 0xC7, 0xC8}) == DecodeError::Undefined);  // CMPXCHG8B with a register
    CHECK(Error({0x0F, 0x04}) == DecodeError::Undefined);
    CHECK(Error({0x0F, 0x0F, 0xC0, 0x9E}) == DecodeError::Undefined);  // 3DNow!
    auto ud2 = Ok({0x0F, 0x0B});
    CHECK(ud2.mnemonic == Mnemonic::UD2);
    CHECK(ud2.length == 2);
    CHECK(Ok({0x0F, 0xB9, 0xC0}).mnemonic == Mnemonic::UD1);
}

TEST_CASE("system instructions and the 0F 01 group", "[decoder]") {
    CHECK(Ok({0x0F, 0x01, 0xF8}).mnemonic == Mnemonic::SWAPGS);
    CHECK(Error({0x0F, 0x01, 0xF8}, k32) == DecodeError::Undefined);
    CHECK(Ok({0x0F, 0x01, 0xF9}).mnemonic == Mnemonic::RDTSCP);
    CHECK(Ok({0x0F, 0x01, 0xD0}).mnemonic == Mnemonic::XGETBV);
    CHECK(Ok({0x0F, 0x01, 0xD1}).mnemonic == Mnemonic::XSETBV);
    CHECK(Ok({0x0F, 0x01, 0xC8}).mnemonic == Mnemonic::MONITOR);
    CHECK(Ok({0x0F, 0x01, 0xC9}).mnemonic == Mnemonic::MWAIT);
    CHECK(Ok({0x0F, 0x01, 0xCA}).mnemonic == Mnemonic::CLAC);
    CHECK(Ok({0x0F, 0x01, 0xCB}).mnemonic == Mnemonic::STAC);
    auto lgdt = Ok({0x0F, 0x01, 0x10});
    CHECK(lgdt.mnemonic == Mnemonic::LGDT);
    CHECK(lgdt.operands[0].size == 10);
    CHECK(Ok({0x0F, 0x01, 0x10}, k32).operands[0].size == 6);
    CHECK(Ok({0x0F, 0x01, 0x38}).mnemonic == Mnemonic::INVLPG);
    auto smsw = Ok({0x0F, 0x01, 0xE0});
    CHECK(smsw.mnemonic == Mnemonic::SMSW);
    RequireReg(smsw.operands[0], RegClass::Gpr, 0, 4);
    CHECK(Ok({0x0F, 0x01, 0x20}).operands[0].size == 2);  // SMSW m16
    CHECK(Ok({0x0F, 0x01, 0xF0}).mnemonic == Mnemonic::LMSW);
    CHECK(Ok({0x0F, 0x00, 0xD8}).mnemonic == Mnemonic::LTR);
    CHECK(Ok({0x0F, 0x05}).mnemonic == Mnemonic::SYSCALL);
    CHECK(Ok({0x48, 0x0F, 0x07}).op_size == 8);  // SYSRETQ
    CHECK(Ok({0x0F, 0xA2}).mnemonic == Mnemonic::CPUID);
    CHECK(Ok({0x0F, 0x30}).mnemonic == Mnemonic::WRMSR);
    CHECK(Ok({0xF4}).mnemonic == Mnemonic::HLT);
    CHECK(Ok({0xCD, 0x80}).operands[0].imm == 0x80);
    CHECK(Ok({0x48, 0xCF}).op_size == 8);  // IRETQ
}

TEST_CASE("MOV to and from control and debug registers", "[decoder]") {
    auto a = Ok({0x0F, 0x20, 0xC0});  // MOV rax, cr0
    CHECK(a.mnemonic == Mnemonic::MOV_CR);
    RequireReg(a.operands[0], RegClass::Gpr, 0, 8);
    RequireReg(a.operands[1], RegClass::Cr, 0, 8);
    auto b = Ok({0x44, 0x0F, 0x22, 0xC0});  // MOV cr8, rax
    RequireReg(b.operands[0], RegClass::Cr, 8, 8);
    auto c = Ok({0x0F, 0x22, 0xD8}, k32);  // MOV cr3, eax
    RequireReg(c.operands[0], RegClass::Cr, 3, 4);
    RequireReg(c.operands[1], RegClass::Gpr, 0, 4);
    CHECK(Error({0x0F, 0x22, 0xC8}) == DecodeError::Undefined);  // CR1
    CHECK(Error({0x0F, 0x22, 0xE8}) == DecodeError::Undefined);  // CR5
    // mod is ignored: 0F 20 00 is MOV rax, cr0 with no memory operand.
    auto d = Ok({0x0F, 0x20, 0x00});
    CHECK(d.length == 3);
    RequireReg(d.operands[0], RegClass::Gpr, 0, 8);
    auto e = Ok({0x0F, 0x23, 0xF9});  // MOV dr7, rcx
    CHECK(e.mnemonic == Mnemonic::MOV_DR);
    RequireReg(e.operands[0], RegClass::Dr, 7, 8);
    CHECK(Error({0x44, 0x0F, 0x23, 0xF9}) == DecodeError::Undefined);  // DR15
}

TEST_CASE("string instructions carry their width in data_size", "[decoder]") {
    auto a = Ok({0xF3, 0xA4});
    CHECK(a.mnemonic == Mnemonic::MOVS);
    CHECK(a.data_size == 1);
    CHECK(a.num_operands == 0);
    CHECK((a.prefixes & prefix::Rep) != 0);
    CHECK(Ok({0x48, 0xA5}).data_size == 8);
    CHECK(Ok({0xA5}).data_size == 4);
    CHECK(Ok({0x66, 0xAD}).data_size == 2);
    CHECK(Ok({0xF2, 0xAE}).prefixes & prefix::Repne);
    auto last = Ok({0xF2, 0xF3, 0xA6});  // the last of F2/F3 counts
    CHECK((last.prefixes & prefix::Rep) != 0);
    CHECK((last.prefixes & prefix::Repne) == 0);
    CHECK(Ok({0x48, 0x6D}).data_size == 4);  // INS is at most 32 bits
    CHECK(Ok({0x6C}).data_size == 1);
    CHECK(Ok({0x67, 0xAA}).addr_size == 4);
    CHECK(Ok({0x48, 0x98}).data_size == 8);  // CDQE
    CHECK(Ok({0x66, 0x99}).data_size == 2);  // CWD
    CHECK(Ok({0xED}).data_size == 4);        // IN eax, dx
    CHECK(Ok({0xEC}).data_size == 1);
    CHECK(Ok({0xD7}).data_size == 1);        // XLAT
}

TEST_CASE("mandatory prefixes select F3/F2 integer variants", "[decoder]") {
    CHECK(Ok({0xF3, 0x0F, 0xB8, 0xC1}).mnemonic == Mnemonic::POPCNT);
    CHECK(Error({0x0F, 0xB8, 0xC1}) == DecodeError::Undefined);
    CHECK(Ok({0x0F, 0xBC, 0xC1}).mnemonic == Mnemonic::BSF);
    CHECK(Ok({0xF3, 0x0F, 0xBC, 0xC1}).mnemonic == Mnemonic::TZCNT);
    CHECK(Ok({0xF3, 0x48, 0x0F, 0xBD, 0xC1}).mnemonic == Mnemonic::LZCNT);
    CHECK(Ok({0xF3, 0x48, 0x0F, 0xBD, 0xC1}).op_size == 8);
    CHECK(Ok({0xF2, 0x0F, 0xBC, 0xC1}).mnemonic == Mnemonic::BSF);  // F2 is no variant here
    // CRC32: F2 selects it, 66 still gives the 16-bit source.
    auto c = Ok({0x66, 0xF2, 0x0F, 0x38, 0xF1, 0xC1});
    CHECK(c.mnemonic == Mnemonic::CRC32);
    RequireReg(c.operands[0], RegClass::Gpr, 0, 4);
    RequireReg(c.operands[1], RegClass::Gpr, 1, 2);
    auto c8 = Ok({0xF2, 0x48, 0x0F, 0x38, 0xF0, 0xC1});
    RequireReg(c8.operands[0], RegClass::Gpr, 0, 8);
    RequireReg(c8.operands[1], RegClass::Gpr, 1, 1);
    CHECK(Ok({0x0F, 0x38, 0xF0, 0x00}).mnemonic == Mnemonic::MOVBE);
    CHECK(Error({0x0F, 0x38, 0xF0, 0xC0}) == DecodeError::Undefined);  // MOVBE needs memory
    CHECK(Ok({0x66, 0x0F, 0x38, 0xF6, 0xC1}).mnemonic == Mnemonic::ADCX);
    CHECK(Ok({0x66, 0x0F, 0x38, 0xF6, 0xC1}).op_size == 4);  // the mandatory 66 is not an operand size
    CHECK(Ok({0xF3, 0x0F, 0x38, 0xF6, 0xC1}).mnemonic == Mnemonic::ADOX);
    CHECK(Ok({0xF3, 0x0F, 0xAE, 0xC0}).mnemonic == Mnemonic::RDFSBASE);
    CHECK(Ok({0x0F, 0xAE, 0xE8}).mnemonic == Mnemonic::LFENCE);
    CHECK(Ok({0x0F, 0xAE, 0xF0}).mnemonic == Mnemonic::MFENCE);
    CHECK(Ok({0x0F, 0xAE, 0xF8}).mnemonic == Mnemonic::SFENCE);
    CHECK(Ok({0x0F, 0xAE, 0x38}).mnemonic == Mnemonic::CLFLUSH);
    CHECK(Ok({0x66, 0x0F, 0xAE, 0x38}).mnemonic == Mnemonic::CLFLUSHOPT);
    CHECK(Ok({0x0F, 0xC7, 0xF0}).mnemonic == Mnemonic::RDRAND);
    CHECK(Ok({0xF3, 0x0F, 0xC7, 0xF8}).mnemonic == Mnemonic::RDPID);
    CHECK(Ok({0x0F, 0xC7, 0xF8}).mnemonic == Mnemonic::RDSEED);
}

TEST_CASE("no two rows of one opcode can match the same encoding at the same specificity", "[decoder]") {
    using namespace emu::cpu::tables;
    std::set<std::pair<u8, u8>> opcodes;
    for (const Row& r : AllRows()) opcodes.insert({r.map, r.opcode});
    for (auto [map, opc] : opcodes) {
        const OpcodeEntry& e = Lookup(map, opc);
        if (e.rows.size() < 2) continue;
        for (unsigned modrm = 0; modrm < (e.has_modrm ? 256u : 1u); ++modrm)
            for (u8 pc = 0; pc < 4; ++pc)
                for (int w = 0; w < 2; ++w)
                    for (int b = 0; b < 2; ++b)
                        for (auto mode : {k16, k32, k64}) {
                            const MatchKey key{e.has_modrm, static_cast<u8>(modrm), pc, w != 0, b != 0, mode};
                            const Row* first = nullptr;
                            for (const Row* r : e.rows) {
                                if (!RowMatches(*r, key)) continue;
                                if (first == nullptr) {
                                    first = r;
                                    continue;
                                }
                                INFO("map " << unsigned{map} << " opcode " << unsigned{opc} << " modrm " << modrm);
                                CHECK(Specificity(r->attrs) < Specificity(first->attrs));
                                break;
                            }
                        }
    }
}

TEST_CASE("mnemonic names and the printer", "[decoder]") {
    CHECK(MnemonicName(Mnemonic::ADD) == "ADD");
    CHECK(MnemonicName(Mnemonic::MOV_CR) == "MOV_CR");
    CHECK(FormatInsn(Ok({0x48, 0x01, 0x5C, 0x8E, 0x10})) == "ADD qword ds:[rsi+rcx*4+0x10], rbx");
    CHECK(FormatInsn(Ok({0x74, 0x05})) == "JE $+0x5");
}

TEST_CASE("66/F2/F3 select the SSE variant: last of F2/F3 wins, 66 only without them", "[decoder]") {
    auto ps = Ok({0x0F, 0x58, 0xC1});
    CHECK(ps.mnemonic == Mnemonic::ADDPS);
    CHECK(ps.mandatory_prefix == 0);
    RequireReg(ps.operands[0], RegClass::Xmm, 0, 16);
    RequireReg(ps.operands[1], RegClass::Xmm, 1, 16);
    auto pd = Ok({0x66, 0x0F, 0x58, 0xC1});
    CHECK(pd.mnemonic == Mnemonic::ADDPD);
    CHECK(pd.mandatory_prefix == 0x66);
    auto ss = Ok({0xF3, 0x0F, 0x58, 0xC1});
    CHECK(ss.mnemonic == Mnemonic::ADDSS);
    RequireReg(ss.operands[0], RegClass::Xmm, 0, 4);
    CHECK(Ok({0xF2, 0x0F, 0x58, 0xC1}).mnemonic == Mnemonic::ADDSD);
    CHECK(Ok({0x66, 0xF3, 0x0F, 0x58, 0xC1}).mnemonic == Mnemonic::ADDSS);
    CHECK(Ok({0xF3, 0x66, 0x0F, 0x58, 0xC1}).mnemonic == Mnemonic::ADDSS);
    CHECK(Ok({0xF3, 0xF2, 0x0F, 0x58, 0xC1}).mnemonic == Mnemonic::ADDSD);
    CHECK(Ok({0xF2, 0xF3, 0x0F, 0x58, 0xC1}).mnemonic == Mnemonic::ADDSS);
    CHECK(Error({0xF3, 0x0F, 0x28, 0xC1}) == DecodeError::Undefined);  // MOVAPS has no F3 form
    // REX.R/REX.B reach XMM8-15; MMX registers ignore REX.
    auto x = Ok({0x45, 0x0F, 0x58, 0xC1});
    RequireReg(x.operands[0], RegClass::Xmm, 8, 16);
    RequireReg(x.operands[1], RegClass::Xmm, 9, 16);
    auto mm = Ok({0x41, 0x0F, 0xFC, 0xC1});
    CHECK(mm.mnemonic == Mnemonic::PADDB);
    RequireReg(mm.operands[0], RegClass::Mmx, 0, 8);
    RequireReg(mm.operands[1], RegClass::Mmx, 1, 8);
    RequireReg(Ok({0x66, 0x0F, 0xFC, 0xC1}).operands[0], RegClass::Xmm, 0, 16);
    // MOVD/MOVQ by REX.W.
    auto d = Ok({0x66, 0x0F, 0x6E, 0xC0});
    CHECK(d.mnemonic == Mnemonic::MOVD);
    RequireReg(d.operands[1], RegClass::Gpr, 0, 4);
    auto q = Ok({0x66, 0x48, 0x0F, 0x6E, 0xC0});
    CHECK(q.mnemonic == Mnemonic::MOVQ);
    RequireReg(q.operands[1], RegClass::Gpr, 0, 8);
    CHECK(Ok({0xF3, 0x0F, 0x7E, 0xC1}).mnemonic == Mnemonic::MOVQ);
    CHECK(Ok({0x66, 0x0F, 0xD6, 0x00}).mnemonic == Mnemonic::MOVQ);
    // Register vs memory forms of 0F 12 / 0F 16.
    CHECK(Ok({0x0F, 0x12, 0xC1}).mnemonic == Mnemonic::MOVHLPS);
    CHECK(Ok({0x0F, 0x12, 0x00}).mnemonic == Mnemonic::MOVLPS);
    CHECK(Ok({0x0F, 0x16, 0xC1}).mnemonic == Mnemonic::MOVLHPS);
    CHECK(Error({0x66, 0x0F, 0x12, 0xC1}) == DecodeError::Undefined);  // MOVLPD needs memory
    CHECK(Error({0x0F, 0x2B, 0xC1}) == DecodeError::Undefined);        // MOVNTPS needs memory
    // Shift-by-immediate groups.
    auto s = Ok({0x66, 0x0F, 0x73, 0xD8, 0x05});
    CHECK(s.mnemonic == Mnemonic::PSRLDQ);
    CHECK(s.length == 5);
    CHECK(Ok({0x0F, 0x71, 0xE0, 0x03}).mnemonic == Mnemonic::PSRAW);
    CHECK(Error({0x0F, 0x73, 0xD8, 0x05}) == DecodeError::Undefined);  // PSRLDQ has no MMX form
    CHECK(Ok({0x66, 0x0F, 0x70, 0xC1, 0x1B}).mnemonic == Mnemonic::PSHUFD);
    CHECK(Ok({0xF2, 0x0F, 0x70, 0xC1, 0x1B}).mnemonic == Mnemonic::PSHUFLW);
    auto cvt = Ok({0xF2, 0x48, 0x0F, 0x2C, 0xC1});  // CVTTSD2SI rax, xmm1
    CHECK(cvt.mnemonic == Mnemonic::CVTTSD2SI);
    RequireReg(cvt.operands[0], RegClass::Gpr, 0, 8);
    RequireReg(cvt.operands[1], RegClass::Xmm, 1, 8);
    CHECK(Ok({0x0F, 0x77}).mnemonic == Mnemonic::EMMS);
}

TEST_CASE("0F 38 and 0F 3A maps", "[decoder]") {
    CHECK(Ok({0x66, 0x0F, 0x38, 0x00, 0xC1}).mnemonic == Mnemonic::PSHUFB);
    RequireReg(Ok({0x0F, 0x38, 0x00, 0xC1}).operands[0], RegClass::Mmx, 0, 8);
    auto pal = Ok({0x66, 0x0F, 0x3A, 0x0F, 0xC1, 0x08});
    CHECK(pal.mnemonic == Mnemonic::PALIGNR);
    CHECK(pal.length == 6);
    CHECK(pal.opcode_map == 3);
    CHECK(pal.operands[2].imm == 8);
    auto ed = Ok({0x66, 0x0F, 0x3A, 0x16, 0xC0, 0x01});
    CHECK(ed.mnemonic == Mnemonic::PEXTRD);
    RequireReg(ed.operands[0], RegClass::Gpr, 0, 4);
    auto eq = Ok({0x66, 0x48, 0x0F, 0x3A, 0x16, 0xC0, 0x01});
    CHECK(eq.mnemonic == Mnemonic::PEXTRQ);
    RequireReg(eq.operands[0], RegClass::Gpr, 0, 8);
    CHECK(Ok({0x66, 0x0F, 0x3A, 0x63, 0xC1, 0x0C}).mnemonic == Mnemonic::PCMPISTRI);
    CHECK(Ok({0x66, 0x0F, 0x38, 0x37, 0xC1}).mnemonic == Mnemonic::PCMPGTQ);
    CHECK(Ok({0x66, 0x0F, 0x38, 0x21, 0x00}).operands[1].size == 4);  // PMOVSXBD reads 4 bytes
    CHECK(Error({0x66, 0x0F, 0x38, 0x2A, 0xC1}) == DecodeError::Undefined);  // MOVNTDQA needs memory
    CHECK(Error({0x0F, 0x3A, 0x08, 0xC1, 0x00}) == DecodeError::Undefined);  // ROUNDPS needs 66
    CHECK(Error({0x0F, 0x38, 0x50, 0xC1}) == DecodeError::Undefined);
}

TEST_CASE("x87 escapes decode both ModRM forms", "[decoder]") {
    CHECK(Ok({0xD9, 0xE8}).mnemonic == Mnemonic::FLD1);
    auto a = Ok({0xD8, 0xC1});  // FADD st(0), st(1)
    CHECK(a.mnemonic == Mnemonic::FADD);
    RequireReg(a.operands[0], RegClass::X87, 0, 10);
    RequireReg(a.operands[1], RegClass::X87, 1, 10);
    auto b = Ok({0xDC, 0xC1});  // FADD st(1), st(0)
    RequireReg(b.operands[0], RegClass::X87, 1, 10);
    CHECK(Ok({0xDC, 0xE1}).mnemonic == Mnemonic::FSUBR);  // DC E0+i is FSUBR st(i), st(0)
    CHECK(Ok({0xDC, 0xE9}).mnemonic == Mnemonic::FSUB);
    CHECK(Ok({0xDE, 0xF9}).mnemonic == Mnemonic::FDIVP);
    CHECK(Ok({0xDE, 0xD9}).mnemonic == Mnemonic::FCOMPP);
    CHECK(Error({0xDE, 0xD8}) == DecodeError::Undefined);
    CHECK(Error({0xD9, 0xD1}) == DecodeError::Undefined);
    auto m32 = Ok({0xD9, 0x05, 0, 0, 0, 0});
    CHECK(m32.mnemonic == Mnemonic::FLD);
    CHECK(m32.operands[0].size == 4);
    CHECK(m32.operands[0].mem.rip_relative);
    CHECK(Ok({0xDD, 0x00}).operands[0].size == 8);
    CHECK(Ok({0xDB, 0x28}).operands[0].size == 10);
    CHECK(Ok({0xDF, 0x28}).mnemonic == Mnemonic::FILD);
    CHECK(Ok({0xDF, 0x28}).operands[0].size == 8);
    auto sw = Ok({0xDF, 0xE0});
    CHECK(sw.mnemonic == Mnemonic::FNSTSW);
    RequireReg(sw.operands[0], RegClass::Gpr, 0, 2);
    auto cm = Ok({0xDA, 0xC1});  // FCMOVB
    CHECK(cm.mnemonic == Mnemonic::FCMOVCC);
    CHECK(cm.cond == 2);
    CHECK(Ok({0xDB, 0xD1}).cond == 7);   // FCMOVNBE
    CHECK(Ok({0xDA, 0xD9}).cond == 10);  // FCMOVU
    CHECK(Ok({0xDB, 0xE3}).mnemonic == Mnemonic::FNINIT);
    CHECK(Ok({0xDF, 0xE9}).mnemonic == Mnemonic::FUCOMIP);
    CHECK(Ok({0x9B}).mnemonic == Mnemonic::FWAIT);
    CHECK(Ok({0xD9, 0x38}).mnemonic == Mnemonic::FNSTCW);
    CHECK(Ok({0xDD, 0x30}).mnemonic == Mnemonic::FNSAVE);
}

TEST_CASE("rows of one opcode agree on whether a ModRM byte follows", "[decoder]") {
    using namespace emu::cpu::tables;
    for (const Row& r : AllRows()) {
        bool uses = (r.attrs & (attr::kRegMask | attr::kModMask | attr::kRmMask)) != 0;
        for (OpSpec s : r.ops) {
            const OperandSource src = SpecInfo(s).source;
            uses |= src == OperandSource::Rm || src == OperandSource::RmMem || src == OperandSource::RmReg ||
                    src == OperandSource::Reg;
        }
        // An opcode whose entry has a ModRM byte must only hold rows that read it (or ignore it on purpose:
        // none do), and vice versa.
        INFO("map " << unsigned{r.map} << " opcode " << unsigned{r.opcode} << " " << MnemonicName(r.mnemonic));
        CHECK(Lookup(r.map, r.opcode).has_modrm == uses);
    }
}

TEST_CASE("random bytes never crash and lengths are self-consistent", "[decoder]") {
    // A fixed-seed xorshift generator: reproducible, no test flakiness.
    u64 state = 0x9E3779B97F4A7C15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    unsigned decoded = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        std::array<u8, 16> buf;
        for (u8& b : buf) b = static_cast<u8>(next());
        // Bias towards interesting prefixes and escapes.
        if (iter % 3 == 0) buf[0] = 0x0F;
        if (iter % 5 == 0) buf[0] = 0x66, buf[1] = 0x0F;
        const DecodeMode mode = std::array{k16, k32, k64}[iter % 3];
        auto r = Decode(buf, mode);
        auto len = DecodeLength(buf, mode);
        if (!r.ok()) continue;
        ++decoded;
        REQUIRE(r->length >= 1);
        REQUIRE(r->length <= kMaxInsnLength);
        REQUIRE(len.ok());
        REQUIRE(len->length == r->length);
        REQUIRE(r->num_operands <= 3);
        // One byte fewer is always Truncated.
        auto shorter = Decode(std::span<const u8>(buf.data(), r->length - 1u), mode);
        REQUIRE_FALSE(shorter.ok());
        REQUIRE(shorter.error() == DecodeError::Truncated);
        (void)FormatInsn(*r);
    }
    CHECK(decoded > 50000);
}

TEST_CASE("encodings where the SDM and Capstone 4 differ follow the SDM", "[decoder]") {
    // UD0 and UD1 take a ModRM byte (SDM Vol. 2 UD: "UD0 r32, r/m32", "UD1 r32, r/m32").
    CHECK(Ok({0x0F, 0xFF, 0xC0}).length == 3);
    CHECK(Ok({0x0F, 0xB9, 0x40, 0x10}).length == 4);
    // MOVSXD without REX.W is r32, r/m32; with 66 it is r16, r/m16.
    RequireReg(Ok({0x63, 0xC1}).operands[0], RegClass::Gpr, 0, 4);
    RequireReg(Ok({0x66, 0x63, 0xC1}).operands[1], RegClass::Gpr, 1, 2);
    // x87 register-form aliases execute on every FPU since the 387.
    CHECK(Ok({0xDF, 0xC1}).mnemonic == Mnemonic::FFREEP);
    CHECK(Ok({0xD9, 0xD9}).mnemonic == Mnemonic::FSTP);
    CHECK(Ok({0xDC, 0xD2}).mnemonic == Mnemonic::FCOM);
    CHECK(Ok({0xDB, 0xE4}).mnemonic == Mnemonic::FNOP);  // FSETPM
    // Intel: 66 does not shorten a near JMP in 64-bit mode.
    CHECK(Ok({0x66, 0xE9, 0, 0, 0, 0}).length == 6);
}

TEST_CASE("far JMP/CALL through memory in 64-bit mode take m16:32 unless REX.W gives m16:64", "[decoder]") {
    // SDM Vol. 2 JMP/CALL: FF /5 and FF /3 are "jmp m16:32" / "call m16:32" in 64-bit mode; REX.W selects m16:64
    // and 66 selects m16:16. (Unlike near JMP/CALL, far forms do not default to 64-bit operands.)
    const auto jmp = Ok({0xFF, 0x2D, 0, 0, 0, 0});
    CHECK(jmp.mnemonic == Mnemonic::JMPF);
    CHECK(jmp.op_size == 4);
    CHECK(jmp.operands[0].size == 6);
    const auto call = Ok({0xFF, 0x1D, 0, 0, 0, 0});
    CHECK(call.mnemonic == Mnemonic::CALLF);
    CHECK(call.operands[0].size == 6);
    CHECK(Ok({0x48, 0xFF, 0x2D, 0, 0, 0, 0}).operands[0].size == 10);
    CHECK(Ok({0x66, 0xFF, 0x2D, 0, 0, 0, 0}).operands[0].size == 4);
}
