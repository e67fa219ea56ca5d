#pragma once
// Compares the native and emulated outcomes of one case, and formats a failure report: the bytes, the
// Capstone disassembly, the inputs, the host's and each backend's results and the fields that differ.
#include <span>
#include <string>
#include <vector>

#include "tests/diff/case.h"
#include "tests/diff/generator.h"

namespace emu::diff {

// RFLAGS bits both sides can observe and must agree on (RF is left out: hardware sets it in the image
// pushed for faults).
inline constexpr u64 kCompareFlags = 0x8D5 /*arith*/ | 0x100 /*TF*/ | 0x200 /*IF*/ | 0x400 /*DF*/ |
                                     0x3000 /*IOPL*/ | 0x4000 /*NT*/ | 0x40000 /*AC*/ | 0x200000 /*ID*/;

struct Verdict {
    bool native_trouble = false;      // the native run hung or crashed: a tester problem, not an emulator one
    std::vector<std::string> fields;  // what differs: "outcome", "vector", "rip", "rflags", "rax", "memory"...
    bool ok() const { return !native_trouble && fields.empty(); }
};

// `host` names the host CPU's model-specific behaviours that differ from the emulated CPU's (HostFeatures::Detect;
// the default, none, compares everything); `pristine` is the data area's initial pattern (it tells what an image
// byte the snippet left unchanged holds).
Verdict Compare(const GeneratedCase& c, const CaseResult& native, const CaseResult& emu, const HostFeatures& host = {},
                std::span<const u8> pristine = {});

// "completed", "exception", "timeout", "crashed".
std::string_view OutcomeName(Outcome o);

// The instructions of a snippet as Capstone prints them, one per line ("10000000: add eax, ebx").
std::string Disassemble(const CaseInput& input);
// Distinct Capstone mnemonics of the snippet ("add,shl").
std::string MnemonicKey(const CaseInput& input);

// A short description of how the outcomes differ ("vector: native #13 emulator #14 rax"), for grouping.
std::string Symptom(const CaseResult& native, const CaseResult& emu, const Verdict& verdict);
// The instructions to blame: the faulting one when only the exception differs, else the snippet's mnemonics.
std::string Culprit(const CaseInput& input, const CaseResult& native, const Verdict& verdict);

// One emulator column of a failure report: a backend's outcome and its verdict against the host.
struct EmuColumn {
    std::string_view name;  // "interp", "jit"
    const CaseResult* result = nullptr;
    const Verdict* verdict = nullptr;
};

// The x87/SSE state lines of a failure report: input, native, then each emulator column.
std::string FormatFx(const GeneratedCase& c, const CaseResult& native, std::span<const EmuColumn> emus);

// The case's classes, bytes and disassembly.
std::string FormatCase(const GeneratedCase& c);

// `reproduce` holds the diff-cpu options that regenerate the case besides --first/--cases ("--seed 3 ...").
std::string FormatFailure(std::string_view reproduce, const GeneratedCase& c, const CaseResult& native,
                          std::span<const EmuColumn> emus);

}  // namespace emu::diff
