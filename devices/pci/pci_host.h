#pragma once
// The PCI host bridge's configuration mechanism #1 (PCI Local Bus 3.0, section 3.2.2.3.2) at 0xCF8-0xCFF,
// bus 0 with 32 slots of 8 functions, BAR mapping onto the port and MMIO buses, INTx collection and the PIIX3
// reset control register at 0xCF9 (a byte access inside the CONFIG_ADDRESS dword, as on the real chipset).
//
// CONFIG_ADDRESS is only latched by 32-bit writes to 0xCF8; CONFIG_DATA takes 8/16/32-bit accesses at
// 0xCFC-0xCFF, the low address bits selecting the bytes. With the enable bit clear, on buses other than 0, or
// for an empty slot, reads return all ones and writes are dropped.
//
// BARs: after a configuration write that touches the command register or a BAR, the host maps each BAR whose
// decoding is enabled at its programmed address (and unmaps the rest). The Bus cannot be modified from inside
// one of its own dispatches (bus.h), and configuration writes arrive through the port bus, so the remapping
// runs through `defer`: the machine passes a function that queues the work and runs it once the current
// port access has returned (e.g. right after the vCPU's I/O exit). Without `defer`, remapping runs at once,
// which is right only when ConfigWrite is called directly (firmware set-up, tests).
//
// INTx: a function's pin goes through the PIIX swizzle (PciSwizzle) to one of four PIRQ wires; the host ORs
// the functions on each wire and hands the wire level to the router (Piix3::SetPirq).
//
// Threads: mutex_ guards configuration space and CONFIG_ADDRESS; irq_mutex_ guards INTx state (lock order
// mutex_ -> irq_mutex_ -> router); map_mutex_ serializes remapping. PciDevice::SetIntx takes only irq_mutex_.
#include <array>
#include <functional>
#include <mutex>

#include "devices/bus/bus.h"
#include "devices/pci/pci_device.h"
#include "devices/pci/pci_state.h"
#include "emu/common/result.h"

namespace emu::devices {

enum class PciError {
    BadAddress,     /*!< PCI slot must be 0-31 and function 0-7 */
    SlotBusy,       /*!< that PCI slot/function already has a device */
    AlreadyAttached /*!< the device is already attached to a PCI host */
};

const char* PciErrorMessage(PciError error);

// The PIRQ wire (0-3 = PIRQA-D) that slot's INTx pin (0-3 = INTA#-INTD#) drives: QEMU's PIIX routing
// (slot + pin - 1) mod 4, which dsdt.asl's _PRT mirrors.
constexpr unsigned PciSwizzle(unsigned slot, unsigned intx) { return (slot + intx + 3) & 3; }

class PciHost {
public:
    using Defer = std::function<void(std::function<void()>)>;

    PciHost(Bus& io, Bus& mmio, Defer defer = {});
    PciHost(const PciHost&) = delete;
    PciHost& operator=(const PciHost&) = delete;

    Result<void, PciError> Attach(unsigned slot, unsigned function, PciDevice& device);

    // Insert at pci::kConfigAddressPort, pci::kConfigPorts ports.
    IoDevice& Ports() { return ports_; }

    // Direct configuration access on bus 0 (firmware-style set-up and tests); same semantics as the ports.
    u32 ConfigRead(unsigned bus, unsigned slot, unsigned function, u16 reg, unsigned size);
    void ConfigWrite(unsigned bus, unsigned slot, unsigned function, u16 reg, unsigned size, u32 value);

    // Brings the buses in line with every BAR's programmed state (what `defer` runs).
    void ApplyMappings();

    // Writing RST_CPU (bit 2) to 0xCF9 resets the machine; hard = SYS_RST (bit 1) was set too.
    void SetResetCallback(std::function<void(bool hard)> callback);
    // Receives (PIRQ 0-3, level) whenever a PIRQ wire changes.
    void SetIntxRouter(std::function<void(unsigned pirq, bool level)> router);

    // Called by PciDevice::SetIntx.
    void DeviceIntx(PciDevice& device, bool asserted);

    PciHostState SaveState() const;
    void RestoreState(const PciHostState& state);
    // The function at bus 0 slot.function, or null (snapshots walk the bus with it).
    PciDevice* Function(unsigned slot, unsigned function) const;
    // Restores a function's configuration space and remaps its BARs.
    void RestoreDevice(PciDevice& device, const PciDeviceState& state);

private:
    // Call with mutex_ held.
    PciDevice* FindLocked(unsigned bus, unsigned slot, unsigned function) const;
    u32 ReadLocked(u32 address, unsigned byte, unsigned size);
    bool WriteLocked(u32 address, unsigned byte, unsigned size, u32 value);  // true if BARs may have moved
    // Call with irq_mutex_ held.
    void UpdateIntxLocked(PciDevice& device);
    void AfterWrite(bool remap);

    Bus& io_;
    Bus& mmio_;
    Defer defer_;
    mutable std::mutex mutex_;
    PciHostState state_;
    std::array<PciDevice*, pci::kDevicesPerBus * pci::kFunctionsPerDevice> functions_{};
    std::function<void(bool)> reset_callback_;

    std::mutex irq_mutex_;
    std::array<unsigned, pci::kNumPirqs> pirq_count_{};  // asserted functions per PIRQ wire
    std::function<void(unsigned, bool)> intx_router_;

    std::mutex map_mutex_;
    IoDeviceThunk ports_;
};

}  // namespace emu::devices
