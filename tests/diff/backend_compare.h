#pragma once
// The interpreter and the JIT against each other. Both implement the same IR semantics, so unlike the host
// comparison (compare.h) nothing is masked: the flags and registers the SDM leaves undefined must hold the values
// the interpreter chose, and the full error code, CR2, the x87 pointers and full tag word, all of memory, the
// retired instruction count and the order of data accesses must match too.
#include <string>
#include <vector>

#include "tests/diff/emu_runner.h"

namespace emu::diff {

struct FieldDiff {
    std::string name;  // "rax", "rflags", "stop.cr2", "memory", "accesses", ...
    std::string a, b;  // the two values as printed
};

// Where the last runs of `a` and `b` differ (empty: identical).
std::vector<FieldDiff> CompareBackends(const EmuRunner& a, const EmuRunner& b);

// "rax rflags" (for grouping failures).
std::string FieldNames(const std::vector<FieldDiff>& diffs);

// One line per differing field, the values under the runners' backend names.
std::string FormatBackendDiff(const EmuRunner& a, const EmuRunner& b, const std::vector<FieldDiff>& diffs);

// "write 8 @0x2000fff8 (user)".
std::string DescribeAccess(const DataAccess& access);

}  // namespace emu::diff
