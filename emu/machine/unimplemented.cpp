#include "emu/machine/unimplemented.h"

#include "emu64_config.h"

namespace emu::machine {

std::optional<std::string> UnimplementedFeature(const MachineConfig& config) {
    // TODO(lead): drop each line as the feature lands.
    if (config.bare && config.gdb) return "-s/-gdb with -bare";
    if (config.bare && config.start_stopped) return "-S with -bare";
    if (config.bare && (config.monitor || config.qmp)) return "-monitor/-qmp with -bare";
    // Nothing could start a machine stopped without a debugger or a monitor to continue it.
    if (config.start_stopped && !config.gdb && !config.qmp && config.monitor.value_or("none") == "none") {
        return "-S without -gdb, -qmp or -monitor";
    }
    if (const std::string display = EffectiveDisplay(config); display != "none" && (display != "sdl" || !EMU64_HAVE_SDL)) {
        return "-display " + display;
    }
    if (config.bare && config.smp > 1) return "-smp with -bare";
    for (const SerialSpec& serial : config.serials) {
        if (serial.kind == SerialKind::Other) return "-serial " + serial.text;
    }
    // COM1 and COM2 exist; a third -serial would be a port the guest cannot find.
    if (config.serials.size() > 2) return "a third -serial port";
    return std::nullopt;
}

}  // namespace emu::machine
