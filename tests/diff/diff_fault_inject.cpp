// diff-fault-inject: precise exceptions, the interpreter against the JIT. Each generated case (several
// instructions, most of them touching memory) runs once per backend to log its data accesses, then again with a
// #PF injected at the k-th data access, for every k up to --exhaustive and a sample beyond. For every run the two
// backends must stop in identical states (backend_compare.h: registers and flags with the undefined ones, RIP,
// the exception with its error code and CR2, x87/SSE state, memory, the accesses made), and an injected run must
// stop with exactly the injected fault, as its last access. Exit status 0 only if every run agrees.
//
// --self-check breaks the JIT column on purpose (an injected write still lands, like a JIT store committed ahead
// of its fault check) and succeeds only if the comparison catches it: the test of this tester.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "tests/diff/backend_compare.h"
#include "tests/diff/compare.h"
#include "tests/diff/emu_runner.h"
#include "tests/diff/enabled_classes.h"
#include "tests/diff/generator.h"
#include "tests/diff/rng.h"

namespace emu::diff {
namespace {

constexpr u32 kPfPresent = 1, kPfWrite = 2, kPfUser = 4, kPfReserved = 8;

struct Options {
    u64 seed = 1;
    u64 cases = 2000;
    u64 first = 0;
    std::vector<std::string> classes;
    unsigned min_length = 3;
    unsigned max_length = 8;
    u64 exhaustive = 32;  // inject at every one of the first this many data accesses...
    u64 samples = 8;      // ...and at this many drawn from the rest (the last access always among them)
    unsigned max_print = 3;
    bool verbose = false;
    bool self_check = false;
};

std::vector<InsnClass> ParseClasses(const std::vector<std::string>& names) {
    try {
        return ParseClassNames(names);
    } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--class", e.what());
    }
}

// The data accesses (1-based) that get a fault, given that the case makes `total` of them.
std::vector<u64> PickInjections(u64 total, const Options& opt, Rng& rng) {
    std::vector<u64> at;
    for (u64 k = 1; k <= std::min(total, opt.exhaustive); ++k) at.push_back(k);
    if (total > opt.exhaustive) {
        for (u64 i = 0; i + 1 < opt.samples; ++i) at.push_back(opt.exhaustive + 1 + rng.Below(total - opt.exhaustive));
        at.push_back(total);
    }
    return at;
}

// An error code the hardware could report for this access: W and U from the access, P at random (a protection
// fault or a missing page), sometimes RSVD (which comes with P). The CPU must pass it through untouched.
u32 ErrorCodeFor(const DataAccess& access, Rng& rng) {
    u32 code = (access.kind == cpu::MemAccess::Write ? kPfWrite : 0) | (access.user ? kPfUser : 0);
    if (rng.Chance(1, 2)) code |= kPfPresent;
    if (rng.Chance(1, 8)) code |= kPfPresent | kPfReserved;
    return code;
}

// Why `runner`'s injected run did not stop as it must: at the injected fault (vector 14, our error code, CR2 = the
// access's address), with that access its last. Empty if it did.
std::string CheckStop(const EmuRunner& runner, const FaultInjection& inj, const DataAccess& access) {
    const CaseResult& r = runner.result();
    if (!runner.injected())
        return fmt::format("the injected access was never made ({} data accesses)", runner.accesses().size());
    if (r.outcome != Outcome::Exception || r.vector != cpu::vec::PF || r.error_code != inj.error_code ||
        r.cr2 != access.linear) {
        return fmt::format("stopped with {} vector {} error {:#x} cr2 {:#x}, not the injected #PF",
                           r.outcome == Outcome::Exception ? "an exception" : "no exception", r.vector,
                           r.error_code, r.cr2);
    }
    if (runner.accesses().size() != inj.at)
        return fmt::format("went on after the injected fault: {} data accesses", runner.accesses().size());
    return {};
}

std::string DescribeStop(const EmuRunner& runner) {
    const CaseResult& r = runner.result();
    std::string d = fmt::format("{:<7} stop rip={:#x} retired={}", BackendName(runner.backend()), r.rip,
                                runner.instructions());
    switch (r.outcome) {
        case Outcome::Completed: return d + " completed";
        case Outcome::Exception:
            return d + fmt::format(" exception #{} error={:#x} cr2={:#x}", r.vector, r.error_code, r.cr2);
        case Outcome::Timeout: return d + " instruction limit";
        case Outcome::Crashed: return d + " unexpected stop";
    }
    return d;
}

// Both logs side by side, up to a few accesses past the first difference or the injected one.
std::string FormatAccesses(const EmuRunner& a, const EmuRunner& b, u64 injected_at) {
    const auto la = a.accesses(), lb = b.accesses();
    const size_t n = std::max(la.size(), lb.size());
    size_t first_diff = n;
    for (size_t i = 0; i < n && first_diff == n; ++i)
        if (i >= la.size() || i >= lb.size() || !(la[i] == lb[i])) first_diff = i;
    const size_t shown = std::min<size_t>(n, std::max<size_t>(std::min(first_diff, n) + 3, injected_at + 2));
    std::string s = fmt::format("  data accesses ({} {}, {} {}):\n", BackendName(a.backend()), la.size(),
                                BackendName(b.backend()), lb.size());
    for (size_t i = 0; i < std::min<size_t>(shown, 40); ++i) {
        s += fmt::format("    #{:<4} {:<36} {:<36}{}{}\n", i + 1, i < la.size() ? DescribeAccess(la[i]) : "-",
                         i < lb.size() ? DescribeAccess(lb[i]) : "-", i == first_diff ? "  <-- differs" : "",
                         i + 1 == injected_at ? "  <-- injected" : "");
    }
    if (n > shown) s += "    ...\n";
    return s;
}

std::string FormatFailure(const Options& opt, const GeneratedCase& c, const FaultInjection& inj, u64 total,
                          const EmuRunner& a, const EmuRunner& b, const std::vector<FieldDiff>& diffs,
                          const std::vector<std::string>& stop_problems) {
    std::string s = fmt::format("=== MISMATCH case {}, ", c.index);
    s += inj.at ? fmt::format("#PF (error code {:#x}) injected at data access #{} of {}", inj.error_code, inj.at,
                              total)
                : fmt::format("no fault injected ({} data accesses)", total);
    s += fmt::format("\n  (reproduce: diff-fault-inject --seed {} --first {} --cases 1 --length {} --min-length {} "
                     "--verbose{})\n",
                     opt.seed, c.index, opt.max_length, opt.min_length, opt.self_check ? " --self-check" : "");
    s += FormatCase(c);
    s += "  input:";
    for (unsigned i = 0; i < 16; ++i)
        s += fmt::format("{}{}={:x}", i % 4 ? " " : "\n    ", kGprNames[i], c.input.gpr[i]);
    s += fmt::format("\n    rflags={:x}\n", c.input.rflags);
    for (const std::string& p : stop_problems) s += "  " + p + "\n";
    s += "  " + DescribeStop(a) + "\n  " + DescribeStop(b) + "\n";
    if (!diffs.empty()) s += FormatBackendDiff(a, b, diffs);
    s += FormatAccesses(a, b, inj.at);
    return s;
}

int Run(const Options& opt) {
    const std::vector<InsnClass> classes = ParseClasses(opt.classes);
    std::vector<u8> pristine(kDataSize);
    FillPristine(opt.seed ^ 0x5EED5EED5EED5EEDull, pristine);
    const Generator gen(opt.seed, pristine, HostFeatures::Detect(), classes, opt.max_length, opt.min_length);
    EmuRunner interp(pristine, cpu::Backend::Interpreter), jit(pristine, cpu::Backend::Jit);

    u64 with_accesses = 0, most_accesses = 0, injections = 0, runs = 0, bad_runs = 0, bad_cases = 0, printed = 0;
    u64 disagreements = 0, write_injections = 0;
    std::array<u64, 2> not_stopped{};  // by backend: injected runs that did not stop at the injected fault
    std::map<std::string, u64> by_symptom;
    for (u64 index = opt.first; index < opt.first + opt.cases; ++index) {
        const GeneratedCase c = gen.Generate(index);
        Rng rng(opt.seed ^ (index * 0x9E3779B97F4A7C15ull) ^ 0xFA017ull);
        std::vector<DataAccess> reference;  // the uninjected run's accesses, from the interpreter
        bool case_bad = false;
        // Runs the case on both backends with `inj` and checks the pair; false on a failure (already reported).
        auto run_pair = [&](const FaultInjection& inj) {
            ++runs;
            interp.Run(c.input, inj);
            FaultInjection jit_inj = inj;
            jit_inj.torn_write = opt.self_check;
            jit.Run(c.input, jit_inj);
            const std::vector<FieldDiff> diffs = CompareBackends(interp, jit);
            std::vector<std::string> problems;
            // Implicit supervisor accesses (the TSS's I/O map base for IN/OUT at CPL 3) read structures the
            // sandbox does not map, and the CPU may turn their failure into another fault (#GP); both backends must
            // still agree.
            if (inj.at && reference[inj.at - 1].user) {
                for (const EmuRunner* r : {&interp, &jit}) {
                    const std::string why = CheckStop(*r, inj, reference[inj.at - 1]);
                    if (why.empty()) continue;
                    ++not_stopped[r == &jit];
                    problems.push_back(fmt::format("{}: {}", BackendName(r->backend()), why));
                }
            }
            if (diffs.empty() && problems.empty()) return true;
            ++bad_runs;
            case_bad = true;
            if (!diffs.empty()) {
                ++disagreements;
                ++by_symptom[fmt::format("{}: interp/jit: {}", MnemonicKey(c.input), FieldNames(diffs))];
            }
            for (const std::string& p : problems) ++by_symptom[fmt::format("{}: {}", MnemonicKey(c.input), p)];
            if (printed < opt.max_print || opt.verbose) {
                ++printed;
                fmt::print("{}", FormatFailure(opt, c, inj, reference.size(), interp, jit, diffs, problems));
            }
            return false;
        };

        if (run_pair(FaultInjection{})) {
            reference.assign(interp.accesses().begin(), interp.accesses().end());
            if (!reference.empty()) ++with_accesses;
            most_accesses = std::max<u64>(most_accesses, reference.size());
            for (u64 k : PickInjections(reference.size(), opt, rng)) {
                const FaultInjection inj{k, ErrorCodeFor(reference[k - 1], rng)};
                ++injections;
                if (reference[k - 1].write_call) ++write_injections;
                if (!run_pair(inj) && !opt.verbose) break;  // one report per case is enough
            }
        }
        if (case_bad) ++bad_cases;
        if (opt.verbose && !case_bad)
            fmt::print("case {}: ok, {} data accesses\n{}", index, reference.size(), Disassemble(c.input));
    }

    fmt::print("diff-fault-inject: seed {} cases {}..{} ({}-{} instructions): {} failing cases, {} failing runs\n",
               opt.seed, opt.first, opt.first + opt.cases, opt.min_length, opt.max_length, bad_cases, bad_runs);
    fmt::print("  {} cases with data accesses (at most {} in one), {} faults injected ({} at a write), {} runs "
               "per backend\n",
               with_accesses, most_accesses, injections, write_injections, runs);
    for (const EmuRunner* r : {&interp, &jit})
        fmt::print("  {:<10} {} injected runs that did not stop at the injected fault\n", BackendName(r->backend()),
                   not_stopped[r == &jit]);
    fmt::print("  {:<10} {} disagreements (all state, memory, data accesses, instructions retired)\n", "interp/jit",
               disagreements);
    if (!by_symptom.empty()) {
        std::vector<std::pair<std::string, u64>> sorted(by_symptom.begin(), by_symptom.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& x, auto& y) { return x.second > y.second; });
        fmt::print("failures by instructions: symptom:\n");
        for (const auto& [key, count] : sorted) fmt::print("  {:>7}  {}\n", count, key);
    }
    if (opt.self_check) {
        // Only the JIT column's torn writes can differ, and only where the write changes memory.
        const bool caught = bad_runs > 0 && not_stopped == std::array<u64, 2>{};
        fmt::print("self-check: the torn writes of the jit column were {}caught ({} failing runs)\n",
                   caught ? "" : "NOT ", bad_runs);
        return caught ? 0 : 1;
    }
    return bad_cases == 0 ? 0 : 1;
}

}  // namespace
}  // namespace emu::diff

int main(int argc, char** argv) {
    emu::diff::Options opt;
    CLI::App app{"diff-fault-inject: precise exceptions, the interpreter against the JIT, with a #PF injected at "
                 "each data access"};
    app.add_option("--seed", opt.seed, "generator seed");
    app.add_option("--cases", opt.cases, "number of cases");
    app.add_option("--first", opt.first, "index of the first case (to reproduce one)");
    app.add_option("--class", opt.classes, "instruction classes, comma separated, or all, fp (default: diff-cpu's enabled set)");
    app.add_option("--length", opt.max_length, "at most this many instructions per case")
        ->check(CLI::Range(1u, emu::diff::Generator::kMaxLength));
    app.add_option("--min-length", opt.min_length, "at least this many instructions per case (if they generate)")
        ->check(CLI::Range(1u, emu::diff::Generator::kMaxLength));
    app.add_option("--exhaustive", opt.exhaustive, "inject at each of the first N data accesses of a case");
    app.add_option("--samples", opt.samples, "and at this many of the later ones (the last one included)")
        ->check(CLI::Range(1, 1000));
    app.add_flag("--verbose", opt.verbose, "print every case, and every failing run");
    app.add_option("--max-print", opt.max_print, "failures printed in full");
    app.add_flag("--self-check", opt.self_check,
                 "break the jit column (injected writes land anyway) and succeed only if that is caught");
    try {
        app.parse(argc, argv);
        if (opt.min_length > opt.max_length) throw CLI::ValidationError("--min-length", "more than --length");
        return emu::diff::Run(opt);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
}
