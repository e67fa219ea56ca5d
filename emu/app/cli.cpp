// Command-line parsing in three steps:
//  1. DefineOptions registers every option with CLI11 (name, value name, help, group): the one list.
//  2. Normalize rewrites QEMU's single-dash long options into what CLI11 accepts. CLI11 only knows "-x" and
//     "--name", and it mis-takes a value that starts with '-' (-append "-v") or is empty for an option. So
//     each known option is looked up in the CLI11 app itself, and its value (always the next argument, as in
//     QEMU) is attached: "-kernel F" -> "--kernel=F", "-m 2G" -> "-m2G"; an empty value stays a separate "".
//     Unknown options and stray arguments are rejected here, with one clear message.
//  3. CLI11 collects raw strings, and Validate turns them into a MachineConfig, checking every value.
// Inside this file a bad value throws CliFailure (CLI11 reports by exception too); ParseCommandLine turns
// both into the returned CliError, so no exception leaves the file.
#include "emu/app/cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include <CLI/CLI.hpp>
#include <capstone/capstone.h>
#include <fmt/format.h>

#include "emu/app/device_options.h"
#include "emu/common/bits.h"
#include "emu/common/log.h"
#include "emu/common/trace.h"
#include "emu/debug/gdb_server.h"
#include "emu/debug/qmp_server.h"
#include "emu/machine/boot/start_state.h"
#include "emu/machine/gpr_names.h"
#include "mmu/walk/walk.h"
#include "emu64_config.h"

namespace emu::app {

namespace {

using emu::machine::DeviceKind;
using emu::machine::DeviceSpec;
using emu::machine::BareConfig;
using emu::machine::MachineConfig;
using emu::machine::MemMap;
using emu::machine::SerialKind;
using emu::machine::SerialSpec;
using emu::machine::StartMode;
using emu::machine::VcpuThreads;
using emu::machine::kRealModeTop;

constexpr u64 kKiB = u64{1} << 10;
constexpr u64 kMiB = u64{1} << 20;
constexpr u64 kMaxRamBytes = u64{1} << 40;             // 1 TiB: far beyond any host we run on, catches typos
// Guest-physical addresses the emulated CPU can form: CPUID reports 40 physical address bits (mmu/walk/walk.h). RAM
// above that could never be reached by paging, and the runner's identity map would alias it onto low memory.
constexpr u64 kMaxPhysAddr = u64{1} << mmu::kMaxPhysAddrBits;
constexpr unsigned kLinearBits = 48;                   // CPUID.80000008H: 48 linear address bits (4-level paging)
// -timeout: the watchdog waits on a nanosecond clock, which 9.2e9 seconds overflows; 1e9 seconds is 31 years.
constexpr double kMaxTimeoutSeconds = 1e9;
constexpr std::string_view kGdbDefault = "tcp::1234";  // what QEMU's -s means
// -accel tcg,tb-size= is in MiB, as in QEMU. 2 GiB keeps every branch inside the code cache within rel32 reach
// (QEMU caps x86-64 hosts there too).
constexpr u64 kMaxTbSizeMiB = 2048;

// Raw option values as CLI11 collects them; Validate() checks and converts them.
struct RawOptions {
    std::optional<std::string> m, smp, kernel, initrd, append, display, vga, screendump_on_exit, gdb, d, log_file, mmu,
        cpu, monitor, qmp, loadvm, snapshot_dir;
    std::vector<std::string> serial, drive, netdev, nic, device, chardev, accel, trace;
    bool nographic = false, s = false, start_stopped = false, no_reboot = false, perfmap = false;
    std::optional<std::string> bare, load_addr, start_mode, cpl, dump_state, max_insns, timeout;
    std::vector<std::string> reg, map;
    bool test_memslot_port = false;
    bool gpu_engine = false;
    bool help = false, version = false, print_config = false;
};

void DefineOptions(CLI::App& app, RawOptions& raw) {
    app.set_help_flag();  // our own -h/-help prints HelpText()
    std::string group;
    auto single = [&](const std::string& names, std::optional<std::string>& dest, const std::string& value,
                      const std::string& help) {
        // QEMU semantics: a repeated option's last value wins.
        app.add_option(names, dest, help)
            ->type_name(value)
            ->group(group)
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    };
    auto repeated = [&](const std::string& names, std::vector<std::string>& dest, const std::string& value,
                        const std::string& help) {
        app.add_option(names, dest, help)->type_name(value)->group(group)->allow_extra_args(false);
    };
    auto flag = [&](const std::string& names, bool& dest, const std::string& help) {
        app.add_flag(names, dest, help)->group(group);
    };

    group = "Machine";
    single("-m", raw.m, "SIZE", "RAM size: MiB, or with a K/M/G/T suffix (512M, 2G); also size=SIZE. Default 128M");
    single("--smp", raw.smp, "[cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=N]",
           "number of vCPUs and their topology (QEMU's syntax; maxcpus must equal cpus). Default 1");
    single("--kernel", raw.kernel, "FILE", "Linux kernel (bzImage) to boot");
    single("--initrd", raw.initrd, "FILE", "initial ramdisk for -kernel");
    single("--append", raw.append, "CMDLINE", "kernel command line for -kernel");
    single("--cpu", raw.cpu, "MODEL[,...]",
           "CPU model: max (default), host, qemu64, Opteron_G1..G5, EPYC, Skylake-Client; ,vendor=intel|amd, "
           ",+FEATURE, ,-FEATURE (-cpu help lists models and features)");
    single("--mmu", raw.mmu, "MODE", "shadow (default) or walk (reference: walk guest tables on every miss)");
    repeated("--accel", raw.accel, "tcg[,PROP=V]",
             "tcg: the JIT (default); tcg,jit=off: the IR interpreter; tcg,tb-size=MiB: JIT code cache (default 64); "
             "tcg,thread=single|multi: all vCPUs round-robin on one host thread, or a thread per vCPU (default)");
    flag("--no-reboot", raw.no_reboot, "exit instead of rebooting when the guest resets");

    group = "Devices and display";
    flag("--nographic", raw.nographic, "no display; the serial port goes to stdio");
    single("--display", raw.display, "TYPE", "display: none or sdl (a window showing the display device)");
    single("--vga", raw.vga, "TYPE", "none (the default) or std: a bochs-display (Bochs VBE, Linux's bochs DRM driver)");
    single("--screendump-on-exit", raw.screendump_on_exit, "FILE",
           "write the display device's picture as PNG to FILE when the run ends");
    flag("--gpu-engine", raw.gpu_engine,
         "-device emu64-gpu with 1 MiB of VRAM (the engine's test guests are written for it); PC machine only");
    repeated("--serial", raw.serial, "DEV", "next serial port's backend: stdio, null, none, file:PATH");
    repeated("--drive", raw.drive, "SPEC",
             "a raw disk image: file=PATH[,if=virtio|none][,id=ID][,readonly=on][,cache=writeback|writethrough|"
             "unsafe]; if=virtio (the default) adds its virtio-blk device, if=none waits for -device");
    repeated("--netdev", raw.netdev, "SPEC",
             "user networking (libslirp): user,id=ID[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...; the guest is 10.0.2.15 "
             "by DHCP, the host's loopback is 10.0.2.2");
    repeated("--nic", raw.nic, "SPEC", "shorthand for -netdev user,... plus its virtio-net-pci: user[,hostfwd=...]");
    repeated("--device", raw.device, "SPEC",
             "virtio-blk-pci,drive=ID | virtio-net-pci,netdev=ID | virtio-rng-pci | virtio-serial-pci | "
             "virtconsole,chardev=ID (hvc0 in Linux) | bochs-display | emu64-gpu (bochs-display and the copy engine)");
    repeated("--chardev", raw.chardev, "SPEC", "a named character backend: stdio|null|file,id=ID[,path=PATH]");

    group = "Debugging";
    flag("-s", raw.s, "shorthand for -gdb tcp::1234");
    single("--gdb", raw.gdb, "DEV", "wait for a GDB connection on DEV (tcp::PORT)");
    flag("-S", raw.start_stopped, "do not start the CPU until the debugger or the monitor continues it");
    single("--loadvm", raw.loadvm, "NAME|FILE",
           "start from a snapshot that savevm wrote (the same machine options; -kernel is not loaded)");
    single("--snapshot-dir", raw.snapshot_dir, "DIR",
           "where savevm/loadvm NAME keep NAME.emu64snap (default: the working directory)");
    single("--monitor", raw.monitor, "DEV", "the human monitor: stdio (on the terminal) or none");
    single("--qmp", raw.qmp, "DEV", "the JSON monitor (QMP) on a unix socket: unix:PATH,server,wait=off");
    single("-d", raw.d, "ITEMS", "log categories, comma-separated (-d help lists them)");
    single("-D", raw.log_file, "FILE", "write the log to FILE instead of stderr");
    repeated("--trace", raw.trace, "PATTERN",
             "enable the trace events matching [enable=]PATTERN (a glob: 'page_track_*'; -trace help lists them)");
    flag("--perfmap", raw.perfmap, "write /tmp/perf-PID.map so that perf names the JIT's translated blocks");
    single("--dump-state", raw.dump_state, "FILE", "write the CPU state as JSON to FILE when the run ends");
    single("--max-insns", raw.max_insns, "N", "stop after N guest instructions (0: no limit)");
    single("--timeout", raw.timeout, "SECONDS", "stop after SECONDS of wall-clock time (0: no limit)");

    group = "Bare-metal runner";
    single("--bare", raw.bare, "FILE", "load a flat binary and start it directly (no firmware, no kernel)");
    single("--load-addr", raw.load_addr, "ADDR", "where -bare loads the binary. Default 0x10000");
    single("--start-mode", raw.start_mode, "MODE", "CPU mode -bare starts in: real, prot32, long64 (default)");
    single("--cpl", raw.cpl, "N", "privilege level -bare starts at: 0 (default) or 3");
    repeated("--reg", raw.reg, "NAME=VALUE", "initial register for -bare: rax..r15, rip, rflags");
    repeated("--map", raw.map, "ADDR:SIZE",
             "extra RAM at ADDR (page-aligned; K/M/G suffixes), a memslot of its own; -bare, or -kernel for tests");
    flag("--test-memslot-port", raw.test_memslot_port,
         "tests: a port through which the guest moves/deletes memslots (-bare or -kernel)");

    group = "Information";
    flag("-h,--help", raw.help, "print this help and exit");
    flag("--version", raw.version, "print the version and exit");
    flag("--print-config", raw.print_config, "print the parsed configuration as JSON and exit");
}

// Echoes a user-supplied value inside a one-line message: quoted, control characters escaped.
std::string Quote(std::string_view text) {
    std::string out = "'";
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
            out += c;
        }
    }
    return out + "'";
}

struct CliFailure {
    CliError error;
};

[[noreturn]] void Fail(CliErrorCode code, std::string message) { throw CliFailure{{code, std::move(message)}}; }

// How an option appears to the user: QEMU style, one dash.
std::string DisplayName(const CLI::Option& option) {
    const auto& lnames = option.get_lnames();
    return "-" + (lnames.empty() ? option.get_snames().front() : lnames.front());
}

// Step 2 (see the top of the file). Returns the arguments for CLI11, in order, without the program name.
std::vector<std::string> Normalize(const CLI::App& app, std::span<const char* const> args) {
    std::map<std::string, const CLI::Option*, std::less<>> by_name;
    for (const CLI::Option* option : app.get_options()) {
        for (const auto& name : option->get_lnames()) by_name[name] = option;
        for (const auto& name : option->get_snames()) by_name[name] = option;
    }

    std::vector<std::string> out;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg.size() < 2 || arg[0] != '-') {
            Fail(CliErrorCode::UnexpectedArgument,
                 fmt::format("unexpected argument {} (options start with '-'; see -help)", Quote(arg)));
        }
        // "-name", "--name", and "-name=value" all name the same option.
        std::string_view name = arg.substr(arg[1] == '-' ? 2 : 1);
        std::optional<std::string_view> inline_value;
        if (const size_t eq = name.find('='); eq != std::string_view::npos) {
            inline_value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const auto it = by_name.find(name);
        if (name.empty() || it == by_name.end()) {
            Fail(CliErrorCode::UnknownOption, fmt::format("unknown option {} (see -help)", Quote(arg)));
        }
        const CLI::Option& option = *it->second;
        const bool is_short = name.size() == 1;
        const std::string cli_name = (is_short ? "-" : "--") + std::string(name);
        if (option.get_expected_max() == 0) {
            if (inline_value) {
                Fail(CliErrorCode::BadValue, fmt::format("{} takes no value", DisplayName(option)));
            }
            out.push_back(cli_name);
            continue;
        }
        std::string value;
        if (inline_value) {
            value = *inline_value;
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            Fail(CliErrorCode::MissingValue, fmt::format("{} needs a value", DisplayName(option)));
        }
        if (value.empty()) {
            out.push_back(cli_name);
            out.push_back(value);
        } else {
            out.push_back(cli_name + (is_short ? "" : "=") + value);
        }
    }
    return out;
}

// A number: decimal, or hexadecimal with 0x. No sign, no spaces.
std::optional<u64> ParseU64(std::string_view text) {
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        text.remove_prefix(2);
        base = 16;
    }
    u64 value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// A size: a number with an optional K/M/G/T suffix (powers of 1024, either case). A bare number is scaled
// by default_scale: QEMU reads "-m 512" as MiB; addresses and -map sizes are in bytes.
std::optional<u64> ParseSize(std::string_view text, u64 default_scale) {
    u64 scale = default_scale;
    if (!text.empty()) {
        static constexpr std::string_view kSuffixes = "KMGT";
        const char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
        if (const size_t index = kSuffixes.find(last); index != std::string_view::npos) {
            scale = kKiB << (10 * index);
            text.remove_suffix(1);
        }
    }
    const std::optional<u64> number = ParseU64(text);
    if (!number || (*number != 0 && *number > ~u64{0} / scale)) return std::nullopt;
    return *number * scale;
}

// "-m 512", "-m 2G", "-m size=2G". QEMU's slots= and maxmem= (memory hotplug) are not supported.
u64 ParseRamSize(std::string_view text) {
    std::string_view size = text.substr(0, text.find(','));
    if (size.size() != text.size()) {
        Fail(CliErrorCode::BadValue,
             fmt::format("-m {}: only a size is supported (no slots= or maxmem=)", Quote(text)));
    }
    if (size.starts_with("size=")) size.remove_prefix(5);
    const std::optional<u64> bytes = ParseSize(size, kMiB);
    if (!bytes || *bytes == 0 || *bytes > kMaxRamBytes) {
        Fail(CliErrorCode::BadValue, fmt::format("-m {}: invalid RAM size (expected MiB or a size such as 512M or 2G, "
                                                 "more than 0 and at most 1T)",
                                                 Quote(text)));
    }
    // QEMU rounds the RAM size up to its page granularity too.
    return (*bytes + kPageMask) & ~kPageMask;
}

struct SmpTopology {
    u32 cpus, sockets, cores, threads;
};

// -smp [cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=M] as QEMU (>= 6.2) derives it: omitted counts come from
// the others, preferring cores over sockets; the product must equal maxcpus, and maxcpus must equal cpus (no hotplug).
SmpTopology ParseSmp(std::string_view text) {
    auto bad = [text](std::string_view why) {
        Fail(CliErrorCode::BadValue,
             fmt::format("-smp {}: {} (expected [cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=M], N from 1 to "
                         "{})",
                         Quote(text), why, emu::machine::kMaxSmp));
    };
    u64 cpus = 0, sockets = 0, cores = 0, threads = 0, maxcpus = 0;
    std::vector<std::string_view> items;
    for (size_t start = 0;;) {
        const size_t comma = text.find(',', start);
        items.push_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string_view item = items[i];
        const size_t eq = item.find('=');
        // A bare number is the count, and only first (QEMU's implied "cpus" key).
        const std::string_view key = eq == std::string_view::npos ? (i == 0 ? "cpus" : item) : item.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? item : item.substr(eq + 1);
        u64* slot = key == "cpus"      ? &cpus
                    : key == "sockets" ? &sockets
                    : key == "cores"   ? &cores
                    : key == "threads" ? &threads
                    : key == "maxcpus" ? &maxcpus
                                       : nullptr;
        if (slot == nullptr) bad(fmt::format("unknown key {}", Quote(key)));
        const std::optional<u64> n = ParseU64(value);
        // Each count is at most kMaxSmp, so the products below cannot overflow.
        if (!n || *n == 0 || *n > emu::machine::kMaxSmp) bad(fmt::format("bad {} value {}", key, Quote(value)));
        *slot = n.value_or(1);
    }
    if (cpus == 0 && maxcpus == 0) {
        sockets = sockets ? sockets : 1;
        cores = cores ? cores : 1;
        threads = threads ? threads : 1;
    } else {
        const u64 max = maxcpus ? maxcpus : cpus;
        if (cores == 0) {
            sockets = sockets ? sockets : 1;
            threads = threads ? threads : 1;
            cores = max / (sockets * threads);
        } else if (sockets == 0) {
            threads = threads ? threads : 1;
            sockets = max / (cores * threads);
        }
        if (threads == 0) threads = max / (sockets * cores);
    }
    const u64 product = sockets * cores * threads;
    maxcpus = maxcpus ? maxcpus : product;
    cpus = cpus ? cpus : maxcpus;
    if (product != maxcpus) {
        bad(fmt::format("the topology's product sockets ({}) * cores ({}) * threads ({}) is not maxcpus ({})", sockets,
                        cores, threads, maxcpus));
    }
    if (maxcpus != cpus) bad("maxcpus must equal cpus (CPU hotplug is not supported)");
    if (cpus > emu::machine::kMaxSmp) bad("too many vCPUs");
    return SmpTopology{static_cast<u32>(cpus), static_cast<u32>(sockets), static_cast<u32>(cores),
                       static_cast<u32>(threads)};
}

// A file the machine will read: it must exist, be a regular file, and open for reading.
std::string ParseInputFile(std::string_view option, const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
        Fail(CliErrorCode::MissingFile, fmt::format("{}: {} does not exist", option, Quote(path)));
    }
    if (!std::filesystem::is_regular_file(status)) {
        Fail(CliErrorCode::MissingFile, fmt::format("{}: {} is not a regular file", option, Quote(path)));
    }
    if (!std::ifstream(path, std::ios::binary)) {
        Fail(CliErrorCode::MissingFile, fmt::format("{}: cannot read {}", option, Quote(path)));
    }
    return path;
}

// A file the machine will write at the end of the run: fail now, not after a long run. Only opening it for writing
// tells (permissions, read-only or pseudo file systems, root's exemptions from them); a file this check creates is
// removed again, so a refused run leaves nothing behind.
std::string ParseOutputFile(std::string_view option, const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    bool writable = !path.empty() && !std::filesystem::is_directory(path, ec) &&
                    std::filesystem::is_directory(parent.empty() ? "." : parent, ec);
    if (writable) {
        const bool existed = std::filesystem::exists(path, ec);
        const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        writable = fd >= 0;
        if (writable) close(fd);
        if (writable && !existed) std::filesystem::remove(path, ec);
    }
    if (!writable) Fail(CliErrorCode::BadValue, fmt::format("{}: cannot write a file at {}", option, Quote(path)));
    return path;
}

std::string ParseDisplay(const std::string& text) {
    // QEMU's display types: accepted here so that UnimplementedFeature() can name the missing one.
    static constexpr std::array<std::string_view, 9> kDisplays = {"none",         "sdl",  "gtk",   "curses",   "vnc",
                                                                  "egl-headless", "dbus", "cocoa", "spice-app"};
    const std::string_view type = std::string_view(text).substr(0, text.find_first_of(",="));
    if (std::find(kDisplays.begin(), kDisplays.end(), type) == kDisplays.end()) {
        Fail(CliErrorCode::BadValue, fmt::format("-display {}: unknown display (expected none or sdl)", Quote(text)));
    }
    return text;
}

SerialSpec ParseSerial(const std::string& text) {
    const std::string_view spec = text;
    if (spec == "stdio") return SerialSpec{SerialKind::Stdio, text, ""};
    if (spec == "null") return SerialSpec{SerialKind::Null, text, ""};
    if (spec == "none") return SerialSpec{SerialKind::None, text, ""};
    if (spec.starts_with("file:") && spec.size() > 5) return SerialSpec{SerialKind::File, text, text.substr(5)};
    // Other QEMU character devices: recognised, so that the message says "not implemented", not "invalid".
    static constexpr std::array<std::string_view, 16> kOther = {
        "vc",   "pty",   "msmouse", "braille",  "pipe:", "tcp:",    "telnet:",   "websocket:",
        "udp:", "unix:", "mon:",    "chardev:", "tty:",  "serial:", "parallel:", "vc:"};
    for (const std::string_view prefix : kOther) {
        if (prefix.back() == ':' ? spec.starts_with(prefix) && spec.size() > prefix.size() : spec == prefix) {
            return SerialSpec{SerialKind::Other, text, ""};
        }
    }
    Fail(CliErrorCode::BadValue,
         fmt::format("-serial {}: unknown backend (expected stdio, null, none or file:PATH)", Quote(text)));
}

// -accel: what one QEMU-style accelerator spec selects.
struct Accel {
    emu::cpu::Backend backend = emu::cpu::Backend::Jit;
    size_t code_cache_bytes = emu::cpu::JitOptions{}.code_cache_bytes;
    std::optional<VcpuThreads> threads;
};

// "tcg[,jit=on|off][,tb-size=MiB][,thread=single|multi]", the name also as QEMU's implied key (accel=tcg). emu64
// translates guest code: tcg is its only accelerator, and its jit=off (the IR interpreter) plays the part of QEMU's
// TCI. thread= is QEMU's choice between one host thread for every vCPU and one thread per vCPU (MTTCG).
Accel ParseAccel(const std::string& text) {
    std::vector<std::string_view> items;
    for (std::string_view rest = text;;) {
        const size_t comma = rest.find(',');
        items.push_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    std::string_view name = items.front();
    if (name.starts_with("accel=")) name.remove_prefix(6);
    if (name != "tcg") {
        Fail(CliErrorCode::BadValue, fmt::format("-accel {}: emu64 has only the tcg accelerator "
                                                 "(tcg[,jit=on|off][,tb-size=MiB][,thread=single|multi])",
                                                 Quote(text)));
    }
    Accel accel;
    for (const std::string_view item : std::span(items).subspan(1)) {
        const size_t eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        if (key == "jit") {
            if (value != "on" && value != "off") {
                Fail(CliErrorCode::BadValue, fmt::format("-accel {}: jit= expects on or off", Quote(text)));
            }
            accel.backend = value == "on" ? emu::cpu::Backend::Jit : emu::cpu::Backend::Interpreter;
        } else if (key == "tb-size") {
            const std::optional<u64> mib = ParseU64(value);
            if (!mib || *mib == 0 || *mib > kMaxTbSizeMiB) {
                Fail(CliErrorCode::BadValue,
                     fmt::format("-accel {}: tb-size= expects the JIT code-cache size in MiB, from 1 to {}",
                                 Quote(text), kMaxTbSizeMiB));
            }
            accel.code_cache_bytes = *mib * kMiB;
        } else if (key == "thread") {
            if (value != "single" && value != "multi") {
                Fail(CliErrorCode::BadValue, fmt::format("-accel {}: thread= expects single or multi", Quote(text)));
            }
            accel.threads = value == "multi" ? VcpuThreads::Multi : VcpuThreads::Single;
        } else {
            Fail(CliErrorCode::BadValue, fmt::format("-accel {}: unknown tcg property {} (expected jit=on|off, "
                                                     "tb-size=MiB or thread=single|multi)",
                                                     Quote(text), Quote(key)));
        }
    }
    return accel;
}

u32 ParseLogMask(const std::string& text) {
    std::string bad;
    const std::optional<u32> mask = emu::log::ParseCategories(text, &bad);
    if (!mask) {
        Fail(CliErrorCode::BadValue, fmt::format("-d: unknown log category {} (see -d help)", Quote(bad)));
    }
    return *mask;
}

std::string LogCategoriesHelp() {
    std::string out = "Log items for -d (comma separated; 'all' enables every one):\n";
    for (const auto& info : emu::log::Categories()) out += fmt::format("  {:<14} {}\n", info.keyword, info.help);
    return out;
}

std::string VersionText() {
    int major = 0;
    int minor = 0;
    cs_version(&major, &minor);
    return fmt::format("emu64 {}\ncapstone {}.{}\n", EMU64_VERSION, major, minor);
}

// -reg NAME=VALUE into the bare config.
void ParseReg(const std::string& text, BareConfig& bare) {
    const size_t eq = text.find('=');
    std::string name = text.substr(0, eq);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::optional<u64> value = eq == std::string::npos ? std::nullopt : ParseU64(text.substr(eq + 1));
    const std::optional<unsigned> gpr = emu::machine::GprIndex(name);
    if (!value || (!gpr && name != "rip" && name != "rflags")) {
        Fail(CliErrorCode::BadValue, fmt::format("-reg {}: expected NAME=VALUE with NAME one of rax..r15, "
                                                 "rip, rflags and VALUE a number (0x for hex)",
                                                 Quote(text)));
    }
    // value_or: *value is known good here, but GCC 12's -Wmaybe-uninitialized cannot see through Fail().
    const u64 v = value.value_or(0);
    if (gpr) {
        bare.gpr[*gpr] = v;
    } else {
        (name == "rip" ? bare.rip : bare.rflags) = v;
    }
}

MemMap ParseMap(const std::string& text) {
    const size_t colon = text.find(':');
    const std::string_view spec = text;
    const std::optional<u64> base = colon == std::string::npos ? std::nullopt : ParseSize(spec.substr(0, colon), 1);
    const std::optional<u64> size = colon == std::string::npos ? std::nullopt : ParseSize(spec.substr(colon + 1), 1);
    if (!base || !size || *size == 0 || ((*base | *size) & kPageMask) || *base >= kMaxPhysAddr ||
        *size > kMaxPhysAddr - *base) {
        Fail(CliErrorCode::BadValue,
             fmt::format("-map {}: expected ADDR:SIZE, both page-aligned (e.g. 0x200000:2M), size > 0, "
                         "below 2^40 (the CPU's 40 physical address bits)",
                         Quote(text)));
    }
    return MemMap{Gpa(*base), *size};
}

StartMode ParseStartMode(const std::string& text) {
    for (const StartMode mode : {StartMode::Real, StartMode::Prot32, StartMode::Long64}) {
        if (emu::machine::ToString(mode) == text) return mode;
    }
    Fail(CliErrorCode::BadValue, fmt::format("-start-mode {}: expected real, prot32 or long64", Quote(text)));
}

double ParseTimeout(const std::string& text) {
    double seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
        seconds < 0 || seconds > kMaxTimeoutSeconds) {
        Fail(CliErrorCode::BadValue,
             fmt::format("-timeout {}: expected seconds, from 0 (no limit) to 1e9", Quote(text)));
    }
    return seconds;
}

// Where -bare starts (-reg rip, else the load address) must be an address the start mode can execute: a canonical
// one in 64-bit mode, 32 bits in prot32, at most FFFF:FFFF in real mode. Anything else would run somewhere else.
void CheckEntry(const BareConfig& bare) {
    const u64 entry = bare.rip.value_or(bare.load_address);
    const char* what = bare.rip ? "-reg rip" : "-load-addr";
    switch (bare.start_mode) {
        case StartMode::Long64:
            if (!IsCanonical(entry, kLinearBits)) {
                Fail(CliErrorCode::BadValue,
                     fmt::format("{} {:#x}: not a canonical address (bits 63:47 must be equal)", what, entry));
            }
            break;
        case StartMode::Prot32:
            if (entry > 0xFFFFFFFF) {
                Fail(CliErrorCode::BadValue,
                     fmt::format("{} {:#x}: -start-mode prot32 starts below 4 GiB", what, entry));
            }
            break;
        case StartMode::Real:
            if (entry > kRealModeTop) {
                Fail(CliErrorCode::BadValue,
                     fmt::format("{} {:#x}: real mode can only start at or below {:#x} (FFFF:FFFF)", what, entry,
                                 kRealModeTop));
            }
            break;
    }
}

BareConfig ValidateBare(const RawOptions& raw) {
    BareConfig bare;
    bare.binary = ParseInputFile("-bare", *raw.bare);
    if (raw.load_addr) {
        const std::optional<u64> addr = ParseSize(*raw.load_addr, 1);
        if (!addr || *addr >= kMaxPhysAddr) {
            Fail(CliErrorCode::BadValue,
                 fmt::format("-load-addr {}: expected an address below 2^40 (the CPU's 40 physical address bits)",
                             Quote(*raw.load_addr)));
        }
        bare.load_address = *addr;
    }
    if (raw.start_mode) bare.start_mode = ParseStartMode(*raw.start_mode);
    if (raw.cpl) {
        if (*raw.cpl != "0" && *raw.cpl != "3") {
            Fail(CliErrorCode::BadValue, fmt::format("-cpl {}: expected 0 or 3", Quote(*raw.cpl)));
        }
        bare.cpl = static_cast<u8>((*raw.cpl)[0] - '0');
        if (bare.cpl != 0 && bare.start_mode == StartMode::Real) {
            Fail(CliErrorCode::Conflict, "-cpl 3 needs -start-mode prot32 or long64 (real mode has no CPL 3)");
        }
    }
    for (const std::string& reg : raw.reg) {
        ParseReg(reg, bare);
    }
    for (const std::string& map : raw.map) {
        bare.maps.push_back(ParseMap(map));
    }
    bare.test_memslot_port = raw.test_memslot_port;
    CheckEntry(bare);
    return bare;
}

// Options that only make sense with another one: refuse rather than ignore.
void CheckCombinations(const RawOptions& raw) {
    const std::pair<const char*, bool> kernel_only[] = {{"-initrd", raw.initrd.has_value()},
                                                        {"-append", raw.append.has_value()}};
    for (const auto& [name, given] : kernel_only) {
        if (given && !raw.kernel) Fail(CliErrorCode::Conflict, fmt::format("{} needs -kernel", name));
    }
    const std::pair<const char*, bool> bare_only[] = {{"-load-addr", raw.load_addr.has_value()},
                                                      {"-start-mode", raw.start_mode.has_value()},
                                                      {"-cpl", raw.cpl.has_value()},
                                                      {"-reg", !raw.reg.empty()}};
    for (const auto& [name, given] : bare_only) {
        if (given && !raw.bare) Fail(CliErrorCode::Conflict, fmt::format("{} needs -bare", name));
    }
    if (raw.gpu_engine && raw.bare) Fail(CliErrorCode::Conflict, "-gpu-engine needs the PC machine (-kernel)");
    if (raw.kernel && raw.bare) Fail(CliErrorCode::Conflict, "-kernel and -bare cannot be combined");
    if (!raw.kernel && !raw.bare) {
        Fail(CliErrorCode::Conflict, "nothing to run: give -kernel FILE or -bare FILE (see -help)");
    }
    if (raw.nographic && raw.display && *raw.display != "none") {
        Fail(CliErrorCode::Conflict, "-nographic cannot be combined with -display other than none");
    }
}

// -drive, -netdev, -nic, -device, -chardev (device_options.h) into config, references resolved.
void ValidateDevices(const RawOptions& raw, MachineConfig& config) {
    const std::pair<const char*, const std::vector<std::string>*> specs[] = {
        {"-drive", &raw.drive}, {"-netdev", &raw.netdev}, {"-nic", &raw.nic}, {"-device", &raw.device},
        {"-chardev", &raw.chardev}};
    for (const auto& [name, values] : specs) {
        for (const std::string& value : *values) {
            if (value.empty()) Fail(CliErrorCode::BadValue, fmt::format("{} needs a non-empty spec", name));
        }
    }
    auto take = [](auto result) {
        if (!result) Fail(CliErrorCode::BadValue, result.error());
        return std::move(*result);
    };
    for (const std::string& spec : raw.drive) config.drives.push_back(take(ParseDrive(spec)));
    for (const std::string& spec : raw.netdev) config.netdevs.push_back(take(ParseNetdev(spec)));
    for (const std::string& spec : raw.chardev) config.chardevs.push_back(take(ParseChardev(spec)));
    for (const std::string& spec : raw.device) config.devices.push_back(take(ParseDevice(spec)));
    for (size_t i = 0; i < raw.nic.size(); ++i) {
        auto [netdev, device] = take(ParseNic(raw.nic[i], static_cast<unsigned>(i)));
        config.netdevs.push_back(std::move(netdev));
        config.devices.push_back(std::move(device));
    }
    if (raw.vga && *raw.vga != "none") {
        // -vga std: QEMU's standard VGA; ours is its bochs-display part (no legacy VGA ports or text mode), first on
        // the bus as QEMU puts the VGA at 00:02.0.
        if (*raw.vga != "std") {
            Fail(CliErrorCode::BadValue, fmt::format("-vga {}: not implemented yet (none or std)", Quote(*raw.vga)));
        }
        config.devices.insert(config.devices.begin(), DeviceSpec{.text = "-vga std", .kind = DeviceKind::BochsDisplay});
    }
    if (raw.gpu_engine) {
        // An alias, kept for the engine's tests: the same device, with the smallest VRAM the GPU has.
        config.devices.push_back(
            DeviceSpec{.text = "-gpu-engine", .kind = DeviceKind::Emu64Gpu, .vram_bytes = u64{1} << 20});
    }
    if (auto error = ResolveDevices(config)) Fail(CliErrorCode::BadValue, *error);
}

// Step 3: raw strings -> MachineConfig.
MachineConfig Validate(const RawOptions& raw) {
    MachineConfig config;
    if (raw.m) config.ram_bytes = ParseRamSize(*raw.m);
    if (raw.smp) {
        const SmpTopology smp = ParseSmp(*raw.smp);
        config.smp = smp.cpus;
        config.sockets = smp.sockets;
        config.cores = smp.cores;
        config.threads = smp.threads;
    }
    if (raw.kernel) config.kernel = ParseInputFile("-kernel", *raw.kernel);
    if (raw.initrd) config.initrd = ParseInputFile("-initrd", *raw.initrd);
    config.append = raw.append.value_or("");
    config.nographic = raw.nographic;
    if (raw.display) config.display = ParseDisplay(*raw.display);
    for (const std::string& serial : raw.serial) {
        config.serials.push_back(ParseSerial(serial));
    }
    ValidateDevices(raw, config);
    if (raw.gdb && raw.gdb->empty()) Fail(CliErrorCode::BadValue, "-gdb needs a device such as tcp::1234");
    config.gdb = raw.gdb ? raw.gdb : (raw.s ? std::optional<std::string>(kGdbDefault) : std::nullopt);
    if (config.gdb) {
        if (auto address = debug::ParseGdbDevice(*config.gdb); !address) Fail(CliErrorCode::BadValue, address.error());
    }
    config.start_stopped = raw.start_stopped;
    if (raw.monitor && *raw.monitor != "stdio" && *raw.monitor != "none") {
        Fail(CliErrorCode::BadValue, "-monitor '" + *raw.monitor + "': expected stdio or none");
    }
    config.monitor = raw.monitor;
    if (raw.qmp) {
        auto path = debug::ParseQmpSpec(*raw.qmp);
        if (!path) Fail(CliErrorCode::BadValue, path.error());
        config.qmp = *path;
    }
    if (raw.d) config.log_mask = ParseLogMask(*raw.d);
    for (std::string pattern : raw.trace) {
        if (pattern.starts_with("enable=")) pattern.erase(0, 7);
        if (!trace::AnyMatches(pattern)) {
            Fail(CliErrorCode::BadValue, "-trace '" + pattern + "': no trace event matches (-trace help lists them)");
        }
        config.trace.push_back(pattern);
    }
    if (raw.log_file) config.log_file = ParseOutputFile("-D", *raw.log_file);
    config.no_reboot = raw.no_reboot;
    if (raw.loadvm) {
        if (raw.bare) Fail(CliErrorCode::Conflict, "-loadvm needs the PC machine (-kernel)");
        if (raw.loadvm->empty()) Fail(CliErrorCode::BadValue, "-loadvm needs a snapshot name or file");
        config.loadvm = *raw.loadvm;
    }
    if (raw.snapshot_dir) {
        if (raw.snapshot_dir->empty()) Fail(CliErrorCode::BadValue, "-snapshot-dir needs a directory");
        config.snapshot_dir = *raw.snapshot_dir;
    }
    config.test_memslot_port = raw.test_memslot_port && !raw.bare;  // -bare keeps its own (BareConfig)
    if (!raw.bare) {
        for (const std::string& map : raw.map) config.maps.push_back(ParseMap(map));
    }
    // Every -accel is checked; as in QEMU the first one that can run is used, and tcg always can.
    std::vector<Accel> accels;
    for (const std::string& spec : raw.accel) accels.push_back(ParseAccel(spec));
    if (!accels.empty()) {
        config.backend = accels.front().backend;
        config.jit.code_cache_bytes = accels.front().code_cache_bytes;
        if (accels.front().threads) config.vcpu_threads = *accels.front().threads;
    }
    config.jit.perf_map = raw.perfmap;
    if (raw.perfmap && config.backend != emu::cpu::Backend::Jit) {
        Fail(CliErrorCode::Conflict, "-perfmap names the JIT's code: it cannot be combined with -accel tcg,jit=off");
    }
    if (raw.cpu) {
        std::string error;
        config.cpu = emu::cpu::system::ParseCpuSpec(*raw.cpu, &error);
        if (!config.cpu) Fail(CliErrorCode::BadValue, fmt::format("-cpu {}: {}", Quote(*raw.cpu), error));
    }
    if (raw.mmu) {
        if (*raw.mmu != "shadow" && *raw.mmu != "walk") {
            Fail(CliErrorCode::BadValue, fmt::format("-mmu {}: expected shadow or walk", Quote(*raw.mmu)));
        }
        config.mmu = *raw.mmu == "walk" ? emu::machine::MmuMode::Walk : emu::machine::MmuMode::Shadow;
    }
    CheckCombinations(raw);
    if (raw.bare) config.bare = ValidateBare(raw);
    if (raw.dump_state) config.dump_state = ParseOutputFile("-dump-state", *raw.dump_state);
    if (raw.screendump_on_exit) {
        if (!raw.kernel) Fail(CliErrorCode::Conflict, "-screendump-on-exit needs -kernel");
        if (std::none_of(config.devices.begin(), config.devices.end(),
                         [](const DeviceSpec& d) { return emu::machine::IsDisplay(d.kind); })) {
            Fail(CliErrorCode::Conflict, "-screendump-on-exit needs a display device (-vga std, -device bochs-display or emu64-gpu)");
        }
        config.screendump_on_exit = ParseOutputFile("-screendump-on-exit", *raw.screendump_on_exit);
    }
    if (raw.max_insns) {
        const std::optional<u64> n = ParseU64(*raw.max_insns);
        if (!n) {
            Fail(CliErrorCode::BadValue,
                 fmt::format("-max-insns {}: expected a count (0: no limit)", Quote(*raw.max_insns)));
        }
        config.max_insns = *n;
    }
    if (raw.timeout) config.timeout_seconds = ParseTimeout(*raw.timeout);
    return config;
}

}  // namespace

std::string HelpText() {
    RawOptions raw;
    CLI::App app;
    DefineOptions(app, raw);

    // Groups in the order they were defined, options in each group likewise.
    std::vector<std::string> groups;
    for (const CLI::Option* option : app.get_options()) {
        if (std::find(groups.begin(), groups.end(), option->get_group()) == groups.end()) {
            groups.push_back(option->get_group());
        }
    }
    std::string out =
        "Usage: emu64 [options] (-kernel FILE | -bare FILE)\n"
        "QEMU-style options: one dash, the value in the next argument (-m 512M).\n";
    for (const std::string& group : groups) {
        out += fmt::format("\n{}:\n", group);
        for (const CLI::Option* option : app.get_options()) {
            if (option->get_group() != group) continue;
            std::string names;
            for (const auto& name : option->get_snames()) names += (names.empty() ? "-" : ", -") + name;
            for (const auto& name : option->get_lnames()) names += (names.empty() ? "-" : ", -") + name;
            if (option->get_expected_max() != 0) names += " " + option->get_type_name();
            if (option->get_expected_max() > 1) names += " (repeatable)";
            out += names.size() <= 28 ? fmt::format("  {:<28} {}\n", names, option->get_description())
                                      : fmt::format("  {}\n  {:<28} {}\n", names, "", option->get_description());
        }
    }
    return out;
}

namespace {

CliRequest Parse(std::span<const char* const> args) {
    RawOptions raw;
    CLI::App app{"emu64: an x86-64 full-system emulator", "emu64"};
    DefineOptions(app, raw);
    const std::vector<std::string> normalized = Normalize(app, args);
    std::vector<std::string> reversed(normalized.rbegin(), normalized.rend());  // CLI11 wants them reversed
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        Fail(CliErrorCode::ParseFailed, e.what());
    }

    CliRequest request;
    if (raw.help) {
        request.print_and_exit = HelpText();
    } else if (raw.version) {
        request.print_and_exit = VersionText();
    } else if (raw.d && *raw.d == "help") {
        request.print_and_exit = LogCategoriesHelp();
    } else if (raw.cpu && *raw.cpu == "help") {
        request.print_and_exit = emu::cpu::system::CpuModelsHelp();
    } else if (std::find(raw.trace.begin(), raw.trace.end(), "help") != raw.trace.end()) {
        request.print_and_exit = trace::Help();
    } else {
        request.config = Validate(raw);
        if (raw.print_config) request.print_and_exit = emu::machine::ConfigToJson(request.config) + "\n";
    }
    return request;
}

}  // namespace

Result<CliRequest, CliError> ParseCommandLine(std::span<const char* const> args) {
    try {
        return Parse(args);
    } catch (const CliFailure& failure) {
        return Err(failure.error);
    }
}

}  // namespace emu::app
