// Two tables of the SDM's undefined flags checked against each other: the generator's (value-aware: it
// knows shift counts) and the translator's UndefinedFlagsMask (static: worst case for counts in CL).
#include <catch2/catch.hpp>

#include <vector>

#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/translate/undefined_flags.h"
#include "tests/diff/generator.h"

namespace emu::diff {
namespace {

// True for SHL/SHR/.../SHLD/SHRD with the count in CL (D2, D3, 0F A5, 0F AD).
bool CountInCl(const cpu::DecodedInsn& insn) {
    if (insn.opcode_map == 0) return insn.opcode == 0xD2 || insn.opcode == 0xD3;
    return insn.opcode_map == 1 && (insn.opcode == 0xA5 || insn.opcode == 0xAD);
}

TEST_CASE("the generator's undefined flags match UndefinedFlagsMask for single instructions", "[diff][flags]") {
    std::vector<u8> pristine(kDataSize);
    FillPristine(3, pristine);
    const std::vector<InsnClass> classes{InsnClass::Alu,   InsnClass::Unary,  InsnClass::MulDiv,
                                         InsnClass::Shift, InsnClass::ShiftDouble, InsnClass::Imul,
                                         InsnClass::BitTest, InsnClass::BitScan};
    unsigned compared = 0;
    for (InsnClass cls : classes) {
        const Generator gen(11, pristine, HostFeatures::Detect(), {cls});
        for (u64 i = 0; i < 3000; ++i) {
            const GeneratedCase c = gen.Generate(i);
            if (c.classes.size() != 1) continue;
            const auto insn = cpu::Decode(c.input.Code(), cpu::DecodeMode::Bits64);
            REQUIRE(insn.ok());
            if (insn->length != c.input.code_length) continue;
            const u64 theirs = cpu::translate::UndefinedFlagsMask(insn->mnemonic, *insn);
            INFO("class " << ClassName(cls) << " case " << i << ": " << cpu::FormatInsn(*insn) << " generator "
                          << c.undefined_flags << " translator " << theirs);
            if (CountInCl(*insn)) CHECK((c.undefined_flags & ~theirs) == 0);  // theirs is the worst case
            else CHECK(c.undefined_flags == theirs);
            ++compared;
        }
    }
    CHECK(compared > 8000);  // about 40% of the cases are single instructions
}

}  // namespace
}  // namespace emu::diff
