// The translator on its own: IR shape after the passes, the undefined-flags table, and robustness on
// random bytes (every block must verify; nothing may crash).
#include <random>

#include <catch2/catch.hpp>

#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/ir/passes/passes.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/translate/undefined_flags.h"
#include "flat_memory.h"

using namespace emu;
using namespace emu::cpu;

namespace {

// Decodes and translates `code` as one block in 64-bit mode and runs the standard passes.
ir::Block TranslateBlock(std::initializer_list<u8> code) {
    const std::vector<u8> bytes(code);
    ir::Block block(0x1000);
    translate::Translator t(block, translate::BlockMode{});
    u64 rip = 0x1000;
    size_t at = 0;
    while (at < bytes.size()) {
        auto insn = Decode(std::span<const u8>(bytes.data() + at, bytes.size() - at), DecodeMode::Bits64);
        REQUIRE(insn.ok());
        const bool more = t.Translate(*insn, rip);
        rip += insn->length;
        at += insn->length;
        if (!more) break;
    }
    t.EndBlock(rip);
    ir::Optimize(block);
    return block;
}

unsigned Count(const ir::Block& b, ir::Opcode op) {
    unsigned n = 0;
    for (const ir::Inst& i : b.insts()) n += i.op == op;
    return n;
}

DecodedInsn DecodeOne(std::initializer_list<u8> code, DecodeMode mode = DecodeMode::Bits64) {
    const std::vector<u8> bytes(code);
    auto insn = Decode(bytes, mode);
    REQUIRE(insn.ok());
    return *insn;
}

}  // namespace

TEST_CASE("flags of an ALU op overwritten by the next one are not computed", "[translate]") {
    // add rax, rbx ; sub rax, rcx ; jz: only SUB's flags are needed.
    const ir::Block b = TranslateBlock({0x48, 0x01, 0xD8, 0x48, 0x29, 0xC8, 0x74, 0x00});
    CHECK(Count(b, ir::Opcode::SetFlags) == 1);
    CHECK(Count(b, ir::Opcode::ExitCond) == 1);
    CHECK(b.guest_insns() == 3);
}

TEST_CASE("INC keeps the carry of an earlier ADD alive", "[translate]") {
    // add rax, rbx ; inc rcx: INC does not write CF, so ADD's flags stay.
    const ir::Block b = TranslateBlock({0x48, 0x01, 0xD8, 0x48, 0xFF, 0xC1});
    CHECK(Count(b, ir::Opcode::SetFlags) == 2);
}

TEST_CASE("an RMW memory operand computes its address once", "[translate]") {
    // add [rbx+rsi*8+0x10], rax
    const ir::Block b = TranslateBlock({0x48, 0x01, 0x44, 0xF3, 0x10});
    CHECK(Count(b, ir::Opcode::Load) == 1);
    CHECK(Count(b, ir::Opcode::Store) == 1);
    CHECK(Count(b, ir::Opcode::Shl) == 1);
}

TEST_CASE("undefined-flags table follows the SDM's Flags Affected sections", "[translate]") {
    using namespace rflags;
    const auto mask = [](std::initializer_list<u8> code) {
        const DecodedInsn insn = DecodeOne(code);
        return translate::UndefinedFlagsMask(insn.mnemonic, insn);
    };
    CHECK(mask({0x48, 0x01, 0xD8}) == 0);                      // add: all defined
    CHECK(mask({0x21, 0xD8}) == AF);                            // and
    CHECK(mask({0xF7, 0xE1}) == (SF | ZF | AF | PF));           // mul ecx
    CHECK(mask({0xF7, 0xF1}) == Arith);                         // div ecx
    CHECK(mask({0xC1, 0xE0, 0x01}) == AF);                      // shl eax, 1
    CHECK(mask({0xC1, 0xE0, 0x03}) == (AF | OF));               // shl eax, 3
    CHECK(mask({0xC1, 0xE0, 0x20}) == 0);                       // shl eax, 32: masked count 0
    CHECK(mask({0x0F, 0xBC, 0xC1}) == (CF | OF | SF | AF | PF));  // bsf eax, ecx
    CHECK(mask({0x0F, 0xA3, 0xC8}) == (OF | SF | AF | PF));     // bt eax, ecx
}

TEST_CASE("random bytes never crash the translator or the interpreter", "[translate]") {
    std::mt19937_64 rng(12345);
    for (int trial = 0; trial < 3000; ++trial) {
        test::FlatMemory memory(0x10000);
        for (size_t i = 0; i < memory.size(); i += 8) {
            const u64 v = rng();
            std::memcpy(memory.data() + i, &v, 8);
        }
        Vcpu vcpu(memory);
        CpuState& s = vcpu.state();
        switch (trial % 3) {
            case 0: test::Enter64(s, 0x1000, 0x8000, trial % 2 ? 3 : 0); break;
            case 1: test::Enter32(s, 0x1000, 0x8000); break;
            default: test::EnterReal(s, 0x1000, 0x8000); break;
        }
        for (unsigned r = 0; r < 16; ++r) {
            if (r != 4) s.gpr[r] = rng() & 0xFFFF;
        }
        const RunResult result = vcpu.Run(300);
        CHECK(result.instructions <= 300);
        CHECK(result.reason != StopReason::Stopped);
        if (result.reason == StopReason::Exception) CHECK(result.exception.has_value());
    }
}

TEST_CASE("a mnemonic without a translate function raises #UD and ends the block", "[translate]") {
    ir::Block block(0x1000);
    translate::Translator t(block, translate::BlockMode{});
    DecodedInsn insn;
    insn.mnemonic = Mnemonic::Invalid;  // never has a handler
    insn.length = 2;
    CHECK_FALSE(t.Translate(insn, 0x1000));
    t.EndBlock(0x1002);
    REQUIRE(block.terminated());
    const ir::Inst& last = block.insts().back();
    CHECK(last.op == ir::Opcode::RaiseException);
    CHECK(last.args[0].imm() == vec::UD);
}
