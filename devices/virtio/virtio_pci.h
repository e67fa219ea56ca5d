#pragma once
// The virtio 1.x PCI transport (virtio 1.2 section 4.1), modern only: one memory BAR holding the common
// configuration, ISR, device-specific configuration and notification structures, each described by a vendor-specific
// PCI capability, plus an MSI-X table and PBA; INTx (with the ISR) when the driver leaves MSI-X off. One transport
// class carries every device model (VirtioDevice) and owns its split virtqueues.
//
// Errors the driver makes (a malformed chain, a bad queue size, rings outside RAM) set DEVICE_NEEDS_RESET
// (2.1.1) and send a configuration change interrupt; the queues then stay idle until the driver resets the device.
//
// Threads: the BAR is accessed from the vCPU thread, completions come from device threads (the blk worker, the
// network thread). mutex_ guards all transport and queue state; it is not held while calling the device model's
// QueueNotify, Activate and Reset, so a device may hold its own lock while calling PopChain/Complete (lock order:
// device -> transport -> interrupt controller); ReadConfig/WriteConfig run with it held and must not call back.
// Interrupts are sent with mutex_ held.
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/dma_memory.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_state.h"
#include "devices/virtio/virtqueue.h"

namespace emu::devices::virtio {

// Delivers one MSI write (address, data) to the interrupt controllers (the machine's APIC bus).
using MsiSender = std::function<void(u64 address, u32 data)>;

class VirtioPciTransport final : public PciDevice, public VirtioQueues {
public:
    VirtioPciTransport(VirtioDevice& device, DmaMemory& memory, MsiSender msi);
    ~VirtioPciTransport() override;

    // Watches the MSI-X enable and function-mask bits (messages held while masked go out when unmasked).
    void ConfigWrite(u16 reg, unsigned size, u32 value) override;

    // VirtioQueues (device threads).
    std::optional<Request> PopChain(unsigned index) override;
    void Complete(unsigned index, const Request& request, u32 written) override;
    DmaMemory& memory() override { return memory_; }

    u8 DeviceStatus() const;

    // Snapshot (virtio_state.h). RestoreState expects a state saved from a transport of the same device type; a
    // queue whose rings are no longer RAM marks the device DEVICE_NEEDS_RESET. It does not re-activate the device
    // model: call it before the device's Activate, and Activate again if the restored status has DRIVER_OK.
    VirtioPciState SaveState() const;
    void RestoreState(const VirtioPciState& state);

private:
    class Bar final : public IoDevice {
    public:
        explicit Bar(VirtioPciTransport& owner) : owner_(owner) {}
        void Read(u64 offset, std::span<u8> data) override { owner_.BarRead(offset, data); }
        void Write(u64 offset, std::span<const u8> data) override { owner_.BarWrite(offset, data); }

    private:
        VirtioPciTransport& owner_;
    };

    struct QueueRegs {
        QueueLayout layout;
        u16 msix_vector = kNoVector;
        bool enabled = false;
    };

    struct MsixEntry {
        u32 address_low = 0, address_high = 0, data = 0;
        u32 control = msix::kEntryMasked;  // PCI 3.0 6.8.2.9: entries start masked
        bool pending = false;
    };

    // What a register write asks for after the lock is dropped.
    enum class After { Nothing, Reset, Activate, Notify };

    void AddCapabilities();
    void BarRead(u64 offset, std::span<u8> data);
    void BarWrite(u64 offset, std::span<const u8> data);
    void ReadCommonLocked(u64 offset, std::span<u8> data);
    After WriteCommonLocked(u64 offset, unsigned size, u64 value);
    After WriteStatusLocked(u8 value);
    void EnableQueueLocked(unsigned index);
    void ReadMsixLocked(u64 offset, std::span<u8> data);
    void WriteMsixLocked(u64 offset, std::span<const u8> data);
    void ResetDevice();
    void NeedsResetLocked(const char* why);
    // Raises the interrupt for `vector` (MSI-X on) or `isr_bit` (INTx). Call with mutex_ held.
    void InterruptLocked(u16 vector, u8 isr_bit);
    void SendMsixLocked(unsigned vector);
    u64 OfferedFeatures() const;
    bool Live() const;  // DRIVER_OK set and DEVICE_NEEDS_RESET clear; mutex_ held

    VirtioDevice& device_;
    DmaMemory& memory_;
    MsiSender msi_;
    Bar bar_{*this};
    u8 msix_cap_ = 0;
    std::atomic<u16> msix_control_{0};  // the capability's message control, mirrored from config space

    mutable std::mutex mutex_;
    u32 device_feature_select_ = 0;
    u32 driver_feature_select_ = 0;
    u64 driver_features_ = 0;
    u8 status_ = 0;
    u8 isr_ = 0;
    u16 config_msix_vector_ = kNoVector;
    u16 queue_select_ = 0;
    u64 generation_ = 0;  // bumped at each reset: completions of older requests are dropped
    std::vector<QueueRegs> queue_regs_;
    std::vector<SplitQueue> queues_;
    std::vector<MsixEntry> msix_;
};

}  // namespace emu::devices::virtio
