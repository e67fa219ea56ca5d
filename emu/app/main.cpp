// emu64: parse the command line, set up logging, refuse what the machine cannot do yet, run the machine.
// Exit status 2 for any command-line or setup error, each reported as one "emu64: ..." line on stderr.
#include <cstdio>
#include <span>

#include <fmt/format.h>

#include "emu/app/cli.h"
#include "emu/common/log.h"
#include "emu/common/trace.h"
#include "emu/machine/run.h"
#include "emu/machine/unimplemented.h"

namespace {

constexpr int kUsageError = 2;

int Error(const std::string& message) {
    fmt::print(stderr, "emu64: {}\n", message);
    return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
    const auto request = emu::app::ParseCommandLine(std::span<const char* const>(argv, static_cast<size_t>(argc)));
    if (!request) return Error(request.error().message);
    if (request->print_and_exit) {
        std::fputs(request->print_and_exit->c_str(), stdout);
        return 0;
    }
    const emu::machine::MachineConfig& config = request->config;

    if (!config.log_file.empty() && !emu::log::SetLogFile(config.log_file)) {
        return Error(fmt::format("-D: cannot open log file '{}'", config.log_file));
    }
    emu::log::SetEnabled(config.log_mask);
    for (const std::string& pattern : config.trace) emu::trace::EnablePattern(pattern);

    if (const auto feature = emu::machine::UnimplementedFeature(config)) {
        return Error(*feature + " is not implemented yet");
    }
    return emu::machine::RunMachine(config);
}
