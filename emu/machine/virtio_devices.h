#pragma once
// The machine's virtio devices, built from the command line's -drive/-netdev/-device/-chardev (MachineConfig):
// each device model with its host backend (image file, slirp, entropy, character backend) on its own virtio PCI
// transport, plugged into the board in config order, interrupts through the board's MSI path or INTx.
//
// Lifetime: create after the board and page-track, before the vCPU runs; call Shutdown() once the vCPU has stopped
// and before it is destroyed (device threads may wake it); destroy before page-track and the board.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/backends/block_backend.h"
#include "devices/backends/char_backend.h"
#include "devices/backends/entropy_source.h"
#include "devices/backends/net_backend.h"
#include "devices/backends/stdio_backend.h"
#include "devices/virtio/dma_memory.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_pci.h"
#include "emu/common/result.h"
#include "emu/machine/machine_config.h"
#include "emu/machine/pc_board.h"
#include "emu/snapshot/codec.h"

namespace emu::machine {

class VirtioDevices {
public:
    // Opens every backend (a missing or locked image is an error message naming its -drive) and plugs the devices.
    static Result<std::unique_ptr<VirtioDevices>, std::string> Create(const MachineConfig& config, PcBoard& board,
                                                                     mmu::Memslots& slots, mmu::PageTrack* page_track);
    ~VirtioDevices();
    VirtioDevices(const VirtioDevices&) = delete;
    VirtioDevices& operator=(const VirtioDevices&) = delete;

    // Stops device threads (block workers, the network thread); no device touches the guest afterwards.
    void Shutdown();

    // Snapshots (virtio_devices_snapshot.cpp): each transport's registers and queue positions, in plug order. A device
    // model's requests in flight are not saved (virtio_state.h). Decode changes nothing: it returns the function that
    // restores what it read (empty on a malformed encoding or a different number of devices).
    void SaveSnapshot(snapshot::Encoder& out) const;
    std::function<void()> DecodeSnapshot(snapshot::Decoder& in);

    // The terminal, when a -chardev stdio feeds a device (the machine's event loop reads its input), else null.
    devices::StdioBackend* console() const { return console_; }

private:
    VirtioDevices(mmu::Memslots& slots, mmu::PageTrack* page_track) : memory_(slots, page_track) {}
    std::optional<std::string> Add(const MachineConfig& config, const DeviceSpec& spec, PcBoard& board);
    std::optional<std::string> AddBlock(const MachineConfig& config, const DeviceSpec& spec, PcBoard& board);
    std::optional<std::string> AddNetwork(const MachineConfig& config, const DeviceSpec& spec, PcBoard& board);
    std::optional<std::string> AddConsole(const MachineConfig& config, PcBoard& board);
    std::optional<std::string> Plug(std::unique_ptr<devices::virtio::VirtioDevice> model, PcBoard& board);

    devices::virtio::DmaMemory memory_;
    std::vector<std::unique_ptr<devices::BlockBackend>> images_;
    std::unique_ptr<devices::EntropySource> entropy_;
    std::vector<std::unique_ptr<devices::NetBackend>> networks_;
    std::vector<std::unique_ptr<devices::CharBackend>> chardevs_;
    devices::StdioBackend* console_ = nullptr;
    // Models before transports in destruction order: a transport must outlive its model's threads.
    std::vector<std::unique_ptr<devices::virtio::VirtioPciTransport>> transports_;
    std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> models_;
};

}  // namespace emu::machine
