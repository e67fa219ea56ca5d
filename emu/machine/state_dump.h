#pragma once
// The CPU state as JSON (emu64 -dump-state FILE), for tests that compare a run with an oracle.
//
// Format: one object. Integers are unsigned 64-bit JSON numbers (nlohmann keeps all 64 bits; parsers that
// read numbers as doubles do not, so Python's json module is the reference reader).
//   "rax".."r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "xcr0": numbers
//   "es","cs","ss","ds","fs","gs","ldtr","tr": {"selector", "base", "limit", "attr"} (attr as in Segment)
//   "gdtr", "idtr": {"base", "limit"}
//   "dr": [dr0..dr7], "msr": {"star", "lstar", ...}
//   "xmm0".."xmm15": [low qword, high qword]; "ymm0".."ymm15": [q0, q1, q2, q3] (q2, q3 are 0: no AVX)
//   "fpr": physical x87 registers R0..R7 as {"significand", "sign_exponent"}
//   "fcw", "fsw", "ftw" (full 16-bit tag word), "fop", "fip", "fdp", "fcs", "fds", "mxcsr"
//   "mode" ("long64", ...), "halted", "interrupt_shadow"
#include <string>

#include "emu/common/result.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::machine {

enum class StateDumpError {
    CannotOpen,  //!< cannot open the state dump file for writing
    WriteFailed, //!< writing the state dump file failed
};

std::string_view Message(StateDumpError error);

std::string DumpStateJson(const emu::cpu::CpuState& state);

// Writes DumpStateJson(state) and a newline to path, replacing the file.
Result<void, StateDumpError> WriteStateJson(const emu::cpu::CpuState& state, const std::string& path);

}  // namespace emu::machine
