// diff-cpu: generates instruction sequences, runs each on the host CPU and on the emulator, and compares
// registers, flags (minus the SDM's undefined ones), the data area, and exceptions. Exit status 0 only if
// every case agrees.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <sstream>

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
    std::string backend = "interp";
    std::string failures_file;
};

struct Category {
    u64 count = 0;
    u64 first_index = 0;
};

std::vector<InsnClass> ParseClasses(const std::vector<std::string>& names) {
    if (names.empty()) return DefaultEnabledClasses();
    std::vector<InsnClass> out;
    for (const auto& list : names) {
        std::stringstream ss(list);
        std::string name;
        while (std::getline(ss, name, ',')) {
            if (name == "all" || name == "fp") {
                for (InsnClass c : name == "all" ? AllClasses() : FpClasses()) out.push_back(c);
                continue;
            }
            auto c = ClassFromName(name);
            if (!c) {
                std::string known;
                for (InsnClass k : AllClasses()) known += " " + std::string(ClassName(k));
                throw CLI::ValidationError("--class", fmt::format("unknown class '{}'; known:{} all fp", name, known));
            }
            out.push_back(*c);
        }
    }
    return out;
}

int Run(const Options& opt) {
    const std::vector<InsnClass> classes = ParseClasses(opt.classes);
    std::vector<u8> pristine(kDataSize);
    FillPristine(opt.seed ^ 0x5EED5EED5EED5EEDull, pristine);
    const Generator gen(opt.seed, pristine, HostFeatures::Detect(), classes, opt.max_length);
    auto native = NativeRunner::Start(pristine);
    if (!native) {
        fmt::print(stderr, "diff-cpu: {}\n", NativeErrorMessage(native.error()));
        return 2;
    }
    std::unique_ptr<EmuRunner> emu;
    const cpu::Backend backend = opt.backend == "jit" ? cpu::Backend::Jit : cpu::Backend::Interpreter;
    if (!opt.native_only) emu = std::make_unique<EmuRunner>(pristine, backend);
    FILE* failures = opt.failures_file.empty() ? nullptr : std::fopen(opt.failures_file.c_str(), "w");

    std::string reproduce = fmt::format("--seed {}", opt.seed);
    for (const auto& c : opt.classes) reproduce += " --class " + c;
    if (opt.max_length != 4) reproduce += fmt::format(" --length {}", opt.max_length);

    std::array<u64, kNumClasses> class_cases{}, class_bad{};
    std::map<std::string, Category> categories;
    std::map<std::string, u64> by_symptom;
    u64 mismatches = 0, trouble = 0, faults = 0, printed = 0;
    constexpr u64 kBatch = 1024;
    std::vector<GeneratedCase> batch;
    std::vector<CaseInput> inputs;
    std::vector<CaseResult> results;
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
            CaseResult em = nat;
            if (emu) em = emu->Run(c.input);
            const Verdict v = Compare(c, nat, em);
            for (InsnClass k : c.classes) {
                ++class_cases[static_cast<unsigned>(k)];
                if (!v.ok()) ++class_bad[static_cast<unsigned>(k)];
            }
            if (!v.ok()) {
                (v.native_trouble ? trouble : mismatches)++;
                const std::string symptom = Symptom(nat, em, v);
                ++by_symptom[symptom];
                const std::string key = Culprit(c.input, nat, v) + ": " + symptom;
                auto [it, fresh] = categories.try_emplace(key, Category{0, c.index});
                ++it->second.count;
                const std::string text = FormatFailure(reproduce, c, nat, em, v);
                if (fresh && failures) std::fputs(text.c_str(), failures);
                if (printed < opt.max_print || opt.verbose) {
                    ++printed;
                    fmt::print("{}", text);
                }
            } else if (opt.verbose) {
                fmt::print("case {}: ok\n{}", c.index, Disassemble(c.input));
            }
        }
        done += n;
    }
    if (failures) std::fclose(failures);

    fmt::print("diff-cpu: seed {} cases {}..{}: {} mismatches, {} native troubles, {} cases ended in an "
               "exception natively{}\n", opt.seed, opt.first, opt.first + opt.cases, mismatches, trouble, faults,
               emu ? "" : " (native only: the emulator was not run)");
    for (unsigned k = 0; k < kNumClasses; ++k) {
        if (class_cases[k] == 0) continue;
        fmt::print("  {:<8} {:>8} instructions in cases, {:>6} in failing cases\n",
                   ClassName(static_cast<InsnClass>(k)), class_cases[k], class_bad[k]);
    }
    if (!by_symptom.empty()) {
        std::vector<std::pair<std::string, u64>> sorted(by_symptom.begin(), by_symptom.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second; });
        fmt::print("mismatches by symptom:\n");
        for (const auto& [key, count] : sorted) fmt::print("  {:>7}  {}\n", count, key);
    }
    if (!categories.empty()) {
        std::vector<std::pair<std::string, Category>> sorted(categories.begin(), categories.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second.count > b.second.count; });
        fmt::print("mismatches by instruction (the faulting one, or the snippet's): symptom (first case):\n");
        for (const auto& [key, cat] : sorted) fmt::print("  {:>7}  {}  (case {})\n", cat.count, key, cat.first_index);
    }
    return mismatches == 0 && trouble == 0 ? 0 : 1;
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
    app.add_option("--backend", opt.backend, "emulator backend")->check(CLI::IsMember({"interp", "jit"}));
    app.add_flag("--native-only", opt.native_only, "run only the host side (checks the generator)");
    app.add_option("--max-print", opt.max_print, "failures printed in full");
    app.add_option("--failures-file", opt.failures_file, "write the first failure of each category here");
    try {
        app.parse(argc, argv);
        return emu::diff::Run(opt);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
}
