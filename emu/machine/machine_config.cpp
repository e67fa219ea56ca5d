#include "emu/machine/machine_config.h"

#include <nlohmann/json.hpp>

#include "emu/machine/gpr_names.h"
#include "emu64_config.h"

namespace emu::machine {

namespace {

nlohmann::json OptionalToJson(const std::optional<std::string>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json MapsToJson(const std::vector<MemMap>& maps) {
    nlohmann::json out = nlohmann::json::array();
    for (const MemMap& map : maps) out.push_back({{"base", map.base.value()}, {"size", map.size}});
    return out;
}

nlohmann::json BareToJson(const BareConfig& bare) {
    nlohmann::json regs = nlohmann::json::object();
    for (size_t i = 0; i < bare.gpr.size(); ++i) {
        if (bare.gpr[i]) regs[std::string(kGprNames[i])] = *bare.gpr[i];
    }
    if (bare.rip) regs["rip"] = *bare.rip;
    if (bare.rflags) regs["rflags"] = *bare.rflags;
    const nlohmann::json maps = MapsToJson(bare.maps);
    return {
        {"binary", bare.binary},
        {"load_address", bare.load_address},
        {"start_mode", ToString(bare.start_mode)},
        {"cpl", bare.cpl},
        {"regs", regs},
        {"maps", maps},
        {"test_memslot_port", bare.test_memslot_port},
    };
}

}  // namespace

std::string_view ToString(MmuMode mode) {
    switch (mode) {
    case MmuMode::Shadow: return "shadow";
    case MmuMode::Walk: return "walk";
    }
    return "?";
}

std::string_view ToString(cpu::Backend backend) {
    switch (backend) {
    case cpu::Backend::Interpreter: return "interpreter";
    case cpu::Backend::Jit: return "jit";
    }
    return "?";
}

std::string_view ToString(StartMode mode) {
    switch (mode) {
    case StartMode::Real: return "real";
    case StartMode::Prot32: return "prot32";
    case StartMode::Long64: return "long64";
    }
    return "?";
}

std::string_view ToString(SerialKind kind) {
    switch (kind) {
    case SerialKind::Stdio: return "stdio";
    case SerialKind::Null: return "null";
    case SerialKind::None: return "none";
    case SerialKind::File: return "file";
    case SerialKind::Other: return "other";
    }
    return "?";
}

std::string_view ToString(DeviceKind kind) {
    switch (kind) {
    case DeviceKind::VirtioBlk: return "virtio-blk-pci";
    case DeviceKind::VirtioNet: return "virtio-net-pci";
    case DeviceKind::VirtioRng: return "virtio-rng-pci";
    case DeviceKind::VirtioSerial: return "virtio-serial-pci";
    case DeviceKind::VirtConsole: return "virtconsole";
    case DeviceKind::BochsDisplay: return "bochs-display";
    case DeviceKind::Emu64Gpu: return "emu64-gpu";
    }
    return "?";
}

std::string_view ToString(DriveCache cache) {
    switch (cache) {
    case DriveCache::Writeback: return "writeback";
    case DriveCache::Writethrough: return "writethrough";
    case DriveCache::Unsafe: return "unsafe";
    }
    return "?";
}

std::string EffectiveDisplay(const MachineConfig& config) {
    if (config.display) return *config.display;
    if (config.nographic || config.bare) return "none";
    return EMU64_HAVE_SDL ? "sdl" : "none";
}

std::string ConfigToJson(const MachineConfig& config) {
    nlohmann::json serials = nlohmann::json::array();
    for (const SerialSpec& serial : config.serials) {
        serials.push_back({{"kind", ToString(serial.kind)}, {"text", serial.text}, {"path", serial.path}});
    }
    nlohmann::json drives = nlohmann::json::array();
    for (const DriveSpec& d : config.drives) {
        drives.push_back({{"text", d.text}, {"id", d.id}, {"file", d.file}, {"if", d.own_device ? "virtio" : "none"},
                          {"read_only", d.read_only}, {"cache", ToString(d.cache)}});
    }
    nlohmann::json netdevs = nlohmann::json::array();
    for (const NetdevSpec& n : config.netdevs) {
        nlohmann::json forwards = nlohmann::json::array();
        for (const HostForward& f : n.host_forwards) {
            forwards.push_back({{"udp", f.udp}, {"host_addr", f.host_addr}, {"host_port", f.host_port},
                                {"guest_addr", f.guest_addr}, {"guest_port", f.guest_port}});
        }
        netdevs.push_back({{"text", n.text}, {"id", n.id}, {"hostfwd", forwards}});
    }
    nlohmann::json devices = nlohmann::json::array();
    for (const DeviceSpec& d : config.devices) {
        devices.push_back({{"text", d.text}, {"driver", ToString(d.kind)}, {"drive", d.drive}, {"netdev", d.netdev},
                           {"chardev", d.chardev}, {"serial", d.serial}, {"vram_bytes", d.vram_bytes}});
    }
    nlohmann::json chardevs = nlohmann::json::array();
    for (const ChardevSpec& c : config.chardevs) {
        chardevs.push_back({{"text", c.text}, {"id", c.id}, {"kind", ToString(c.backend.kind)},
                            {"path", c.backend.path}});
    }
    const nlohmann::json json = {
        {"ram_bytes", config.ram_bytes},
        {"smp", config.smp},
        {"sockets", config.sockets},
        {"cores", config.cores},
        {"threads", config.threads},
        {"kernel", config.kernel},
        {"initrd", config.initrd},
        {"append", config.append},
        {"nographic", config.nographic},
        {"display", OptionalToJson(config.display)},
        {"effective_display", EffectiveDisplay(config)},
        {"serials", serials},
        {"drives", drives},
        {"netdevs", netdevs},
        {"devices", devices},
        {"chardevs", chardevs},
        {"gdb", OptionalToJson(config.gdb)},
        {"monitor", OptionalToJson(config.monitor)},
        {"qmp", OptionalToJson(config.qmp)},
        {"trace", config.trace},
        {"start_stopped", config.start_stopped},
        {"log_mask", config.log_mask},
        {"log_file", config.log_file},
        {"no_reboot", config.no_reboot},
        {"loadvm", config.loadvm},
        {"snapshot_dir", config.snapshot_dir},
        {"test_memslot_port", config.test_memslot_port},
        {"maps", MapsToJson(config.maps)},
        {"mmu", ToString(config.mmu)},
        {"cpu", config.cpu ? config.cpu->name : std::string("max")},
        {"backend", ToString(config.backend)},
        {"vcpu_threads", config.vcpu_threads == VcpuThreads::Multi ? "multi" : "single"},
        {"jit", {{"code_cache_bytes", config.jit.code_cache_bytes}, {"perf_map", config.jit.perf_map}}},
        {"bare", config.bare ? BareToJson(*config.bare) : nlohmann::json(nullptr)},
        {"dump_state", config.dump_state},
        {"screendump_on_exit", config.screendump_on_exit},
        {"max_insns", config.max_insns},
        {"timeout_seconds", config.timeout_seconds},
    };
    return json.dump(2);
}

}  // namespace emu::machine
