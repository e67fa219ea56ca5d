#pragma once
// The emu64 command line: QEMU-style single-dash options (-m 512M, -kernel FILE, -nographic) parsed with
// CLI11 into a validated MachineConfig. The only code that knows argv.
#include <optional>
#include <span>
#include <string>

#include "emu/common/result.h"
#include "emu/machine/machine_config.h"

namespace emu::app {

enum class CliErrorCode {
    UnknownOption,       //!< unknown option
    MissingValue,        //!< an option needs a value
    UnexpectedArgument,  //!< an argument that is not an option
    BadValue,            //!< an option has an invalid value
    MissingFile,         //!< a file named on the command line cannot be read
    Conflict,            //!< options that need or exclude each other
    ParseFailed,         //!< the command line could not be parsed
};

struct CliError {
    CliErrorCode code;
    std::string message;  // one line naming the option and the value, without the "emu64: " prefix
};

// What the command line asks for: run config, or (print_and_exit set) print that text on stdout and exit 0
// (-help, -version, -d help, -print-config).
struct CliRequest {
    emu::machine::MachineConfig config;
    std::optional<std::string> print_and_exit;
};

// args[0] is the program name, as in main's argv.
Result<CliRequest, CliError> ParseCommandLine(std::span<const char* const> args);

// The -help text: every option with its value and description.
std::string HelpText();

}  // namespace emu::app
