#include "emu/app/device_options.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace emu::app {

namespace {

using machine::ChardevSpec;
using machine::DeviceKind;
using machine::DeviceSpec;
using machine::DriveCache;
using machine::DriveSpec;
using machine::HostForward;
using machine::NetdevSpec;

struct KeyValue {
    std::string key, value;
};

// "a=1,b=2" -> pairs; a first item without '=' is returned as the value of `implied` (the type or driver). QEMU's
// ",," stands for a comma inside a value.
std::vector<KeyValue> SplitOptions(const std::string& text, const char* implied) {
    std::vector<std::string> items(1);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ',' && i + 1 < text.size() && text[i + 1] == ',') {
            items.back() += ',';
            ++i;
        } else if (text[i] == ',') {
            items.emplace_back();
        } else {
            items.back() += text[i];
        }
    }
    std::vector<KeyValue> out;
    for (size_t i = 0; i < items.size(); ++i) {
        const size_t eq = items[i].find('=');
        if (eq == std::string::npos && i == 0 && implied) {
            out.push_back({implied, items[i]});
        } else if (eq == std::string::npos) {
            out.push_back({items[i], ""});  // a flag: reported as missing its value by the caller
        } else {
            out.push_back({items[i].substr(0, eq), items[i].substr(eq + 1)});
        }
    }
    return out;
}

std::string Describe(const char* option, const std::string& text) { return fmt::format("{} '{}'", option, text); }

std::optional<bool> ParseOnOff(const std::string& value) {
    if (value == "on" || value == "true" || value == "yes") return true;
    if (value == "off" || value == "false" || value == "no") return false;
    return std::nullopt;
}

std::optional<u16> ParsePort(std::string_view text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 0xFFFF) return std::nullopt;
    return static_cast<u16>(value);
}

// "[tcp|udp]:[ADDR]:PORT-[ADDR]:PORT" (QEMU's hostfwd syntax).
std::optional<HostForward> ParseHostForward(const std::string& text) {
    HostForward fwd;
    std::string_view rest = text;
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view proto = rest.substr(0, colon);
    if (proto == "udp") {
        fwd.udp = true;
    } else if (proto != "tcp" && !proto.empty()) {
        return std::nullopt;
    }
    rest.remove_prefix(colon + 1);
    const size_t dash = rest.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto endpoint = [](std::string_view side, std::string* addr, u16* port) {
        const size_t sep = side.rfind(':');
        if (sep == std::string_view::npos) return false;
        *addr = std::string(side.substr(0, sep));
        const auto parsed = ParsePort(side.substr(sep + 1));
        if (parsed) *port = *parsed;
        return parsed.has_value();
    };
    if (!endpoint(rest.substr(0, dash), &fwd.host_addr, &fwd.host_port) ||
        !endpoint(rest.substr(dash + 1), &fwd.guest_addr, &fwd.guest_port)) {
        return std::nullopt;
    }
    return fwd;
}

bool IsKnownNetdevType(const std::string& type) {
    static const std::set<std::string> known = {"tap", "bridge", "socket", "stream", "dgram", "vde", "l2tpv3",
                                                "vhost-user", "vhost-vdpa", "hubport", "passt"};
    return known.count(type) != 0;
}

}  // namespace

Result<DriveSpec, std::string> ParseDrive(const std::string& text) {
    DriveSpec drive;
    drive.text = text;
    const std::string what = Describe("-drive", text);
    for (const auto& [key, value] : SplitOptions(text, nullptr)) {
        if (key == "file") {
            drive.file = value;
        } else if (key == "id") {
            drive.id = value;
        } else if (key == "format") {
            if (value != "raw") return Err(fmt::format("{}: format={} is not implemented yet (raw only)", what, value));
        } else if (key == "if") {
            if (value == "virtio") {
                drive.own_device = true;
            } else if (value == "none") {
                drive.own_device = false;
            } else {
                return Err(fmt::format("{}: if={} is not implemented yet (virtio or none)", what, value));
            }
        } else if (key == "readonly") {
            const auto on = ParseOnOff(value);
            if (!on) return Err(fmt::format("{}: readonly= takes on or off", what));
            drive.read_only = *on;
        } else if (key == "cache") {
            // none and directsync bypass the host cache in QEMU; here they keep the same durability promise
            // (writeback: FLUSH is fdatasync; directsync: every write is synchronous) through the page cache.
            if (value == "writeback" || value == "none") {
                drive.cache = DriveCache::Writeback;
            } else if (value == "writethrough" || value == "directsync") {
                drive.cache = DriveCache::Writethrough;
            } else if (value == "unsafe") {
                drive.cache = DriveCache::Unsafe;
            } else {
                return Err(fmt::format("{}: cache={}: expected writeback, writethrough, none, directsync or unsafe",
                                       what, value));
            }
        } else if (key == "media") {
            if (value != "disk") {
                return Err(fmt::format("{}: media={} is not implemented yet (disk only)", what, value));
            }
        } else {
            return Err(fmt::format("{}: unknown option '{}'", what, key));
        }
    }
    if (drive.file.empty()) return Err(fmt::format("{}: needs file=IMAGE", what));
    if (!drive.own_device && drive.id.empty()) return Err(fmt::format("{}: if=none needs an id=", what));
    return drive;
}

Result<NetdevSpec, std::string> ParseNetdev(const std::string& text) {
    NetdevSpec netdev;
    netdev.text = text;
    const std::string what = Describe("-netdev", text);
    for (const auto& [key, value] : SplitOptions(text, "type")) {
        if (key == "type") {
            if (IsKnownNetdevType(value)) return Err(fmt::format("{}: -netdev {} is not implemented yet", what, value));
            if (value != "user") {
                return Err(fmt::format("{}: unknown network backend '{}' (expected user)", what, value));
            }
        } else if (key == "id") {
            netdev.id = value;
        } else if (key == "hostfwd") {
            auto fwd = ParseHostForward(value);
            if (!fwd) {
                return Err(fmt::format("{}: hostfwd={}: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT",
                                       what, value));
            }
            netdev.host_forwards.push_back(*fwd);
        } else {
            return Err(fmt::format("{}: unknown option '{}'", what, key));
        }
    }
    if (text.rfind("user", 0) != 0) return Err(fmt::format("{}: the first item must be the backend type (user)", what));
    if (netdev.id.empty()) return Err(fmt::format("{}: needs an id=", what));
    return netdev;
}

Result<std::pair<NetdevSpec, DeviceSpec>, std::string> ParseNic(const std::string& text, unsigned index) {
    const std::string what = Describe("-nic", text);
    std::string netdev_text;
    for (const auto& [key, value] : SplitOptions(text, "type")) {
        if (key == "model") {
            if (value != "virtio-net-pci" && value != "virtio") {
                return Err(fmt::format("{}: model={} is not implemented yet (virtio-net-pci)", what, value));
            }
        } else if (key == "id") {
            return Err(fmt::format("{}: -nic takes no id= (use -netdev and -device)", what));
        } else {
            netdev_text += (netdev_text.empty() ? "" : ",") + (key == "type" ? value : key + "=" + value);
        }
    }
    const std::string id = fmt::format("nic{}", index);
    auto netdev = ParseNetdev(netdev_text + ",id=" + id);
    if (!netdev) return Err(fmt::format("{}: {}", what, netdev.error().substr(netdev.error().find(": ") + 2)));
    netdev->text = text;
    DeviceSpec device;
    device.text = text;
    device.kind = DeviceKind::VirtioNet;
    device.netdev = id;
    return std::pair<NetdevSpec, DeviceSpec>(std::move(*netdev), std::move(device));
}

Result<DeviceSpec, std::string> ParseDevice(const std::string& text) {
    DeviceSpec device;
    device.text = text;
    const std::string what = Describe("-device", text);
    const std::vector<KeyValue> items = SplitOptions(text, "driver");
    static const std::map<std::string, DeviceKind> drivers = {
        {"virtio-blk-pci", DeviceKind::VirtioBlk},       {"virtio-net-pci", DeviceKind::VirtioNet},
        {"virtio-rng-pci", DeviceKind::VirtioRng},       {"virtio-serial-pci", DeviceKind::VirtioSerial},
        {"virtconsole", DeviceKind::VirtConsole},       {"bochs-display", DeviceKind::BochsDisplay},
        {"emu64-gpu", DeviceKind::Emu64Gpu}};
    if (items.empty() || items[0].key != "driver") return Err(fmt::format("{}: the first item must be a driver", what));
    const auto driver = drivers.find(items[0].value);
    if (driver == drivers.end()) return Err(fmt::format("{}: -device {} is not implemented yet", what, items[0].value));
    device.kind = driver->second;
    // The keys each driver takes; id= is accepted everywhere (nothing refers to devices by id yet).
    const std::map<DeviceKind, std::set<std::string>> keys = {
        {DeviceKind::VirtioBlk, {"drive", "serial"}}, {DeviceKind::VirtioNet, {"netdev"}},
        {DeviceKind::VirtioRng, {}},                  {DeviceKind::VirtioSerial, {}},
        {DeviceKind::VirtConsole, {"chardev"}},       {DeviceKind::BochsDisplay, {}},
        {DeviceKind::Emu64Gpu, {}}};
    for (size_t i = 1; i < items.size(); ++i) {
        const auto& [key, value] = items[i];
        if (key != "id" && keys.at(device.kind).count(key) == 0) {
            return Err(fmt::format("{}: unknown option '{}' for {}", what, key, items[0].value));
        }
        if (key == "drive") device.drive = value;
        if (key == "netdev") device.netdev = value;
        if (key == "chardev") device.chardev = value;
        if (key == "serial") device.serial = value;
    }
    // The one reference each driver needs.
    const char* missing = nullptr;
    if (device.kind == DeviceKind::VirtioBlk && device.drive.empty()) missing = "drive";
    if (device.kind == DeviceKind::VirtioNet && device.netdev.empty()) missing = "netdev";
    if (device.kind == DeviceKind::VirtConsole && device.chardev.empty()) missing = "chardev";
    if (missing) return Err(fmt::format("{}: needs {}=", what, missing));
    return device;
}

Result<ChardevSpec, std::string> ParseChardev(const std::string& text) {
    ChardevSpec chardev;
    chardev.text = text;
    const std::string what = Describe("-chardev", text);
    const std::vector<KeyValue> items = SplitOptions(text, "backend");
    static const std::map<std::string, machine::SerialKind> backends = {
        {"stdio", machine::SerialKind::Stdio},
        {"null", machine::SerialKind::Null},
        {"file", machine::SerialKind::File}};
    const auto backend = items[0].key == "backend" ? backends.find(items[0].value) : backends.end();
    if (backend == backends.end()) {
        return Err(fmt::format("{}: backend '{}' is not implemented yet (stdio, null or file)", what, items[0].value));
    }
    chardev.backend.kind = backend->second;
    chardev.backend.text = text;
    for (size_t i = 1; i < items.size(); ++i) {
        const auto& [key, value] = items[i];
        if (key == "id") {
            chardev.id = value;
        } else if (key == "path" && chardev.backend.kind == machine::SerialKind::File) {
            chardev.backend.path = value;
        } else {
            return Err(fmt::format("{}: unknown option '{}'", what, key));
        }
    }
    if (chardev.backend.kind == machine::SerialKind::File && chardev.backend.path.empty()) {
        return Err(fmt::format("{}: file needs path=", what));
    }
    if (chardev.id.empty()) return Err(fmt::format("{}: needs an id=", what));
    return chardev;
}

std::optional<std::string> ResolveDevices(machine::MachineConfig& config) {
    std::map<std::string, int> drive_uses, netdev_uses, chardev_uses;
    for (size_t i = 0; i < config.drives.size(); ++i) {
        if (config.drives[i].id.empty()) config.drives[i].id = fmt::format("virtio{}", i);  // QEMU's naming
    }
    for (const DriveSpec& d : config.drives) {
        if (!d.id.empty() && !drive_uses.emplace(d.id, 0).second) return fmt::format("-drive: duplicate id '{}'", d.id);
    }
    for (const NetdevSpec& n : config.netdevs) {
        if (!netdev_uses.emplace(n.id, 0).second) return fmt::format("-netdev: duplicate id '{}'", n.id);
    }
    for (const ChardevSpec& c : config.chardevs) {
        if (!chardev_uses.emplace(c.id, 0).second) return fmt::format("-chardev: duplicate id '{}'", c.id);
    }
    // if=virtio drives come first on the PCI bus, as their own virtio-blk devices.
    std::vector<DeviceSpec> devices;
    for (const DriveSpec& d : config.drives) {
        if (d.own_device) devices.push_back(DeviceSpec{.text = d.text, .kind = DeviceKind::VirtioBlk, .drive = d.id});
    }
    bool have_serial_bus = false, have_console = false, have_display = false;
    for (DeviceSpec& device : config.devices) {
        auto use = [&](std::map<std::string, int>& uses, const std::string& id,
                       const char* kind) -> std::optional<std::string> {
            const auto it = uses.find(id);
            if (it == uses.end()) return fmt::format("-device '{}': no {} with id '{}'", device.text, kind, id);
            if (it->second++ != 0) return fmt::format("-device '{}': {} '{}' is already in use", device.text, kind, id);
            return std::nullopt;
        };
        std::optional<std::string> error;
        if (device.kind == DeviceKind::VirtioBlk) {
            error = use(drive_uses, device.drive, "-drive");
            const auto drive = std::find_if(config.drives.begin(), config.drives.end(),
                                            [&](const DriveSpec& d) { return d.id == device.drive; });
            if (!error && drive->own_device) {
                error = fmt::format("-device '{}': drive '{}' has if=virtio already (use if=none)", device.text,
                                    device.drive);
            }
        }
        if (device.kind == DeviceKind::VirtioNet) error = use(netdev_uses, device.netdev, "-netdev");
        if (device.kind == DeviceKind::VirtConsole) {
            error = use(chardev_uses, device.chardev, "-chardev");
            if (!error && !have_serial_bus) {
                error = fmt::format("-device '{}': needs a -device virtio-serial-pci before it", device.text);
            }
            // The virtio-serial device has one port (no multiport feature).
            if (!error && have_console) error = fmt::format("-device '{}': only one virtconsole", device.text);
            have_console = true;
        }
        if (machine::IsDisplay(device.kind)) {
            // One display: the window and the screendump show one scanout.
            if (have_display) return fmt::format("-device '{}': only one display device (-vga std counts)", device.text);
            have_display = true;
        }
        if (device.kind == DeviceKind::VirtioSerial) {
            if (have_serial_bus) return fmt::format("-device '{}': only one virtio-serial-pci", device.text);
            have_serial_bus = true;
        }
        if (error) return error;
        devices.push_back(device);
    }
    // As in QEMU, a drive or netdev no device uses is allowed (it does nothing).
    config.devices = std::move(devices);
    return std::nullopt;
}

}  // namespace emu::app
