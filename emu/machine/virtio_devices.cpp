#include "emu/machine/virtio_devices.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "devices/backends/slirp_backend.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "devices/virtio/console/virtio_console.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "emu/machine/serial_backend.h"

namespace emu::machine {

namespace {

devices::CacheMode CacheModeOf(DriveCache cache) {
    switch (cache) {
        case DriveCache::Writeback: return devices::CacheMode::Writeback;
        case DriveCache::Writethrough: return devices::CacheMode::Writethrough;
        case DriveCache::Unsafe: return devices::CacheMode::Unsafe;
    }
    return devices::CacheMode::Writeback;
}

}  // namespace

Result<std::unique_ptr<VirtioDevices>, std::string> VirtioDevices::Create(const MachineConfig& config, PcBoard& board,
                                                                         mmu::Memslots& slots,
                                                                         mmu::PageTrack* page_track) {
    std::unique_ptr<VirtioDevices> set(new VirtioDevices(slots, page_track));
    for (const DeviceSpec& spec : config.devices) {
        if (auto error = set->Add(config, spec, board)) return Err(*error);
    }
    return set;
}

VirtioDevices::~VirtioDevices() { Shutdown(); }

void VirtioDevices::Shutdown() {
    // Destroying a model joins its threads; the transports stay (the PCI host still points at them). Network stacks
    // stop after the devices they feed.
    models_.clear();
    networks_.clear();
}

std::optional<std::string> VirtioDevices::Add(const MachineConfig& config, const DeviceSpec& spec, PcBoard& board) {
    switch (spec.kind) {
        case DeviceKind::VirtioBlk: return AddBlock(config, spec, board);
        case DeviceKind::VirtioNet: return AddNetwork(config, spec, board);
        case DeviceKind::VirtioRng:
            if (!entropy_) entropy_ = std::make_unique<devices::HostEntropy>();
            return Plug(std::make_unique<devices::virtio::VirtioRng>(*entropy_), board);
        case DeviceKind::VirtioSerial: return AddConsole(config, board);
        case DeviceKind::VirtConsole: return std::nullopt;  // the port of the virtio-serial-pci device
        case DeviceKind::BochsDisplay:
        case DeviceKind::Emu64Gpu: return std::nullopt;  // display_devices.h plugs the GPU
    }
    return std::nullopt;
}

std::optional<std::string> VirtioDevices::AddBlock(const MachineConfig& config, const DeviceSpec& spec,
                                                   PcBoard& board) {
    const auto drive = std::find_if(config.drives.begin(), config.drives.end(),
                                    [&](const DriveSpec& d) { return d.id == spec.drive; });
    if (drive == config.drives.end()) return "-device " + spec.text + ": no drive " + spec.drive;
    auto image = devices::RawImage::Open(drive->file, drive->read_only, CacheModeOf(drive->cache));
    if (!image) {
        const int error = errno;
        std::string message = "-drive " + drive->text + ": " + devices::DiskErrorMessage(image.error());
        if (image.error() == devices::DiskError::OpenFailed) message += " (" + std::string(std::strerror(error)) + ")";
        return message;
    }
    images_.push_back(std::move(*image));
    const std::string serial = spec.serial.empty() ? drive->id : spec.serial;
    return Plug(std::make_unique<devices::virtio::VirtioBlk>(*images_.back(), serial), board);
}

std::optional<std::string> VirtioDevices::AddNetwork(const MachineConfig& config, const DeviceSpec& spec,
                                                     PcBoard& board) {
    const auto netdev = std::find_if(config.netdevs.begin(), config.netdevs.end(),
                                     [&](const NetdevSpec& n) { return n.id == spec.netdev; });
    if (netdev == config.netdevs.end()) return "-device " + spec.text + ": no netdev " + spec.netdev;
    std::vector<devices::SlirpForward> forwards;
    for (const HostForward& f : netdev->host_forwards) {
        forwards.push_back({f.udp, f.host_addr, f.host_port, f.guest_addr, f.guest_port});
    }
    auto slirp = devices::SlirpBackend::Create(forwards);
    if (!slirp) return "-netdev " + netdev->text + ": " + slirp.error();
    devices::SlirpBackend& backend = **slirp;
    networks_.push_back(std::move(*slirp));
    // QEMU's default MAC, 52:54:00:12:34:56, counting up for further NICs.
    const devices::virtio::VirtioNet::Mac mac = {0x52, 0x54, 0x00, 0x12, 0x34,
                                                 static_cast<u8>(0x56 + networks_.size() - 1)};
    auto error = Plug(std::make_unique<devices::virtio::VirtioNet>(backend, mac), board);
    backend.Start();
    return error;
}

std::optional<std::string> VirtioDevices::AddConsole(const MachineConfig& config, PcBoard& board) {
    // The virtio-serial device's one port is the virtconsole's chardev (nothing attached without one).
    const auto port = std::find_if(config.devices.begin(), config.devices.end(),
                                   [](const DeviceSpec& d) { return d.kind == DeviceKind::VirtConsole; });
    SerialSpec backend{SerialKind::Null, "", ""};
    if (port != config.devices.end()) {
        const auto chardev = std::find_if(config.chardevs.begin(), config.chardevs.end(),
                                          [&](const ChardevSpec& c) { return c.id == port->chardev; });
        if (chardev == config.chardevs.end()) return "-device " + port->text + ": no chardev " + port->chardev;
        backend = chardev->backend;
    }
    SerialBackend made = MakeCharBackend(backend);
    if (!made.backend) return "-chardev " + backend.text + ": cannot open " + backend.path;
    if (made.console) console_ = made.console;
    chardevs_.push_back(std::move(made.backend));
    return Plug(std::make_unique<devices::virtio::VirtioConsole>(*chardevs_.back()), board);
}

std::optional<std::string> VirtioDevices::Plug(std::unique_ptr<devices::virtio::VirtioDevice> model, PcBoard& board) {
    auto transport = std::make_unique<devices::virtio::VirtioPciTransport>(
        *model, memory_, [&board](u64 address, u32 data) { board.DeliverMsi(address, data); });
    if (auto error = board.AddPciDevice(*transport)) return error;
    transports_.push_back(std::move(transport));
    models_.push_back(std::move(model));
    return std::nullopt;
}

}  // namespace emu::machine
