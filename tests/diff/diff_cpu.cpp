// diff-cpu: generates instruction sequences, runs each on the host CPU and on the emulator's two backends (the
// interpreter and the JIT), and compares each backend with the host: registers, flags (minus the SDM's undefined
// ones), the data area, and exceptions. The backends are also compared with each other, on everything
// (backend_compare.h). Exit status 0 only if every case agrees.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <map>

#include "emu/cpu/system/cpu_model.h"
#include "tests/diff/backend_compare.h"
#include "tests/diff/compare.h"
#include "tests/diff/emu_runner.h"
#include "tests/diff/enabled_classes.h"
#include "tests/diff/generator.h"
#include "tests/diff/native_runner.h"

namespace emu::diff {
namespace {

struct Options {
    u64 seed = 1;
    u64 cases = 20000;
    u64 first = 0;
    std::vector<std::string> classes;
    bool verbose = false;
    bool native_only = false;
    unsigned max_print = 5;
    unsigned max_length = 4;
    std::string backend = "both";
    std::string failures_file;
    std::string cpu;  // -cpu spec of the emulated CPU (empty: max)
};

struct Category {
    u64 count = 0;
    u64 first_index = 0;
};

std::vector<InsnClass> ParseClasses(const std::vector<std::string>& names) {
    try {
        return ParseClassNames(names);
    } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--class", e.what());
    }
}

std::vector<cpu::Backend> ParseBackends(const std::string& name) {
    if (name == "interp") return {cpu::Backend::Interpreter};
    if (name == "jit") return {cpu::Backend::Jit};
    return {cpu::Backend::Interpreter, cpu::Backend::Jit};
}

// One emulator column: its runner and what it got wrong against the host.
struct Column {
    std::unique_ptr<EmuRunner> runner;
    u64 mismatches = 0;
};

int Run(const Options& opt) {
    const std::vector<InsnClass> classes = ParseClasses(opt.classes);
    std::vector<u8> pristine(kDataSize);
    FillPristine(opt.seed ^ 0x5EED5EED5EED5EEDull, pristine);
    if (!opt.cpu.empty()) {
        std::string error;
        const auto model = cpu::system::ParseCpuSpec(opt.cpu, &error);
        if (!model) {
            fmt::print(stderr, "diff-cpu: --cpu {}: {}\n", opt.cpu, error);
            return 2;
        }
        cpu::system::SelectCpuModel(*model);  // before the generator reads the features both CPUs have
    }
    const HostFeatures host = HostFeatures::Detect();
    const Generator gen(opt.seed, pristine, host, classes, opt.max_length);
    auto native = NativeRunner::Start(pristine);
    if (!native) {
        fmt::print(stderr, "diff-cpu: {}\n", NativeErrorMessage(native.error()));
        return 2;
    }
    std::vector<Column> columns;
    if (!opt.native_only)
        for (cpu::Backend b : ParseBackends(opt.backend))
            columns.push_back(Column{std::make_unique<EmuRunner>(pristine, b)});
    FILE* failures = opt.failures_file.empty() ? nullptr : std::fopen(opt.failures_file.c_str(), "w");

    std::string reproduce = fmt::format("--seed {}", opt.seed);
    for (const auto& c : opt.classes) reproduce += " --class " + c;
    if (opt.max_length != 4) reproduce += fmt::format(" --length {}", opt.max_length);
    if (opt.backend != "both") reproduce += " --backend " + opt.backend;

    std::array<u64, kNumClasses> class_cases{}, class_bad{};
    std::map<std::string, Category> categories;
    std::map<std::string, u64> by_symptom;
    u64 bad_cases = 0, trouble = 0, faults = 0, printed = 0, disagreements = 0;
    constexpr u64 kBatch = 1024;
    std::vector<GeneratedCase> batch;
    std::vector<CaseInput> inputs;
    std::vector<CaseResult> results;
    std::vector<Verdict> verdicts(columns.size());
    std::vector<EmuColumn> report(columns.size());
    for (u64 done = 0; done < opt.cases;) {
        const u64 n = std::min(kBatch, opt.cases - done);
        batch.clear();
        inputs.clear();
        for (u64 i = 0; i < n; ++i) {
            batch.push_back(gen.Generate(opt.first + done + i));
            inputs.push_back(batch.back().input);
        }
        results.assign(n, CaseResult{});
        if (auto r = (*native)->Run(inputs, results); !r) {
            fmt::print(stderr, "diff-cpu: {}\n", NativeErrorMessage(r.error()));
            return 2;
        }
        for (u64 i = 0; i < n; ++i) {
            const GeneratedCase& c = batch[i];
            const CaseResult& nat = results[i];
            if (nat.outcome == Outcome::Exception) ++faults;
            bool ok = true;
            std::vector<std::pair<std::string, std::string>> keys;  // (symptom, category) of each finding
            for (size_t k = 0; k < columns.size(); ++k) {
                const CaseResult& em = columns[k].runner->Run(c.input);
                verdicts[k] = Compare(c, nat, em, host, pristine);
                report[k] = EmuColumn{BackendName(columns[k].runner->backend()), &em, &verdicts[k]};
                if (verdicts[k].ok()) continue;
                ok = false;
                if (verdicts[k].native_trouble) continue;
                ++columns[k].mismatches;
                const std::string symptom = fmt::format("{}: {}", report[k].name, Symptom(nat, em, verdicts[k]));
                keys.emplace_back(symptom, Culprit(c.input, nat, verdicts[k]) + ": " + symptom);
            }
            if (nat.outcome == Outcome::Timeout || nat.outcome == Outcome::Crashed) {
                ok = false;
                ++trouble;
                const std::string symptom = Symptom(nat, nat, Verdict{.native_trouble = true});
                keys.emplace_back(symptom, MnemonicKey(c.input) + ": " + symptom);
            }
            // Interpreter and JIT must agree on everything, even where the host comparison looks away.
            std::vector<FieldDiff> backend_diff;
            if (columns.size() == 2) backend_diff = CompareBackends(*columns[0].runner, *columns[1].runner);
            if (!backend_diff.empty()) {
                ok = false;
                ++disagreements;
                const std::string symptom = "interp/jit: " + FieldNames(backend_diff);
                keys.emplace_back(symptom, MnemonicKey(c.input) + ": " + symptom);
            }
            for (InsnClass k : c.classes) {
                ++class_cases[static_cast<unsigned>(k)];
                if (!ok) ++class_bad[static_cast<unsigned>(k)];
            }
            if (ok) {
                if (opt.verbose) fmt::print("case {}: ok\n{}", c.index, Disassemble(c.input));
                continue;
            }
            ++bad_cases;
            bool fresh = false;
            for (const auto& [symptom, key] : keys) {
                ++by_symptom[symptom];
                auto [it, inserted] = categories.try_emplace(key, Category{0, c.index});
                ++it->second.count;
                fresh |= inserted;
            }
            std::string text = FormatFailure(reproduce, c, nat, report);
            if (!backend_diff.empty()) text += FormatBackendDiff(*columns[0].runner, *columns[1].runner, backend_diff);
            if (fresh && failures) std::fputs(text.c_str(), failures);
            if (printed < opt.max_print || opt.verbose) {
                ++printed;
                fmt::print("{}", text);
            }
        }
        done += n;
    }
    if (failures) std::fclose(failures);

    fmt::print("diff-cpu: seed {} cases {}..{}: {} failing cases{}\n", opt.seed, opt.first, opt.first + opt.cases,
               bad_cases, columns.empty() ? " (native only: the emulator was not run)" : "");
    fmt::print("  {:<10} {} cases, {} ended in an exception, {} troubles (hung or crashed)\n", "host", opt.cases,
               faults, trouble);
    for (const Column& col : columns)
        fmt::print("  {:<10} {} mismatches with the host\n", BackendName(col.runner->backend()), col.mismatches);
    if (columns.size() == 2)
        fmt::print("  {:<10} {} disagreements (all state, undefined flags and registers included, memory, data "
                   "accesses, instructions retired)\n", "interp/jit", disagreements);
    for (unsigned k = 0; k < kNumClasses; ++k) {
        if (class_cases[k] == 0) continue;
        fmt::print("  {:<8} {:>8} instructions in cases, {:>6} in failing cases\n",
                   ClassName(static_cast<InsnClass>(k)), class_cases[k], class_bad[k]);
    }
    if (!by_symptom.empty()) {
        std::vector<std::pair<std::string, u64>> sorted(by_symptom.begin(), by_symptom.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second; });
        fmt::print("failures by symptom:\n");
        for (const auto& [key, count] : sorted) fmt::print("  {:>7}  {}\n", count, key);
    }
    if (!categories.empty()) {
        std::vector<std::pair<std::string, Category>> sorted(categories.begin(), categories.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second.count > b.second.count; });
        fmt::print("failures by instruction (the faulting one, or the snippet's): symptom (first case):\n");
        for (const auto& [key, cat] : sorted) fmt::print("  {:>7}  {}  (case {})\n", cat.count, key, cat.first_index);
    }
    return bad_cases == 0 ? 0 : 1;
}

}  // namespace
}  // namespace emu::diff

int main(int argc, char** argv) {
    emu::diff::Options opt;
    CLI::App app{"diff-cpu: the emulator's CPU against the host CPU, case by case"};
    app.add_option("--seed", opt.seed, "generator seed");
    app.add_option("--cases", opt.cases, "number of cases");
    app.add_option("--first", opt.first, "index of the first case (to reproduce one)");
    std::string class_names;
    for (emu::diff::InsnClass c : emu::diff::AllClasses()) class_names += " " + std::string(emu::diff::ClassName(c));
    app.add_option("--class", opt.classes,
                   "instruction classes, comma separated (default: the enabled set); all, fp (x87 and SIMD)," +
                       class_names);
    app.add_option("--length", opt.max_length, "at most this many instructions per case (1-4)")
        ->check(CLI::Range(1, 4));
    app.add_flag("--verbose", opt.verbose, "print every case");
    app.add_option("--backend", opt.backend, "emulator columns: both (interp and jit, also compared with each other), "
                   "interp or jit")
        ->check(CLI::IsMember({"both", "interp", "jit"}));
    app.add_flag("--native-only", opt.native_only, "run only the host side (checks the generator)");
    app.add_option("--max-print", opt.max_print, "failures printed in full");
    app.add_option("--cpu", opt.cpu, "the emulated CPU model, as emu64 -cpu (host: this CPU's vendor, so the "
                   "vendor-specific values of undefined results are compared too)");
    app.add_option("--failures-file", opt.failures_file, "write the first failure of each category here");
    try {
        app.parse(argc, argv);
        return emu::diff::Run(opt);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
}
