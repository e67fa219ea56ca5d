#pragma once
// A PCI function: 256 bytes of type 0 configuration space with per-bit write masks, BARs with size probing
// (writing all ones reads back the size mask), a capabilities list and an INTx pin. Subclasses describe
// themselves in their constructor (IDs, AddBar, AddCapability, writable bytes) and may override
// ConfigRead/ConfigWrite for device-specific registers, calling the base versions for the rest.
//
// A PciDevice is attached to a PciHost, which maps its BARs on the port and MMIO buses when the command
// register enables decoding. MSI-X belongs to the function: it adds the capability and serves its table itself
// (devices/virtio/virtio_pci.h does).
//
// Threads: the host's lock serializes all configuration accesses (ConfigRead/ConfigWrite run with it held).
// SetIntx may be called from any thread.
#include <array>
#include <atomic>
#include <optional>
#include <span>

#include "devices/bus/io_device.h"
#include "devices/pci/pci_state.h"
#include "devices/pci/regs.h"
#include "emu/common/types.h"

namespace emu::devices {

class PciHost;

// A memory BAR that is guest RAM (a framebuffer) rather than MMIO: instead of putting the BAR's IoDevice on the bus,
// the host tells its owner where the BAR decodes now, or that it stopped decoding (nullopt), and the owner maps its
// memory there (a memslot). Called from the host's mapping step (PciHost::ApplyMappings: deferred by the machine to
// a point where no guest access is in flight), never from inside a configuration access.
class RamBar {
public:
    virtual ~RamBar() = default;
    virtual void MapAt(std::optional<u64> base) = 0;
};

struct PciIds {
    u16 vendor = 0;
    u16 device = 0;
    u32 class_code = 0;     // class << 16 | subclass << 8 | prog-if
    u8 revision = 0;
    u16 subsystem_vendor = 0;
    u16 subsystem = 0;
    u8 header_type = 0;     // pci::kHeaderMultiFunction on function 0 of a multi-function device
    u8 interrupt_pin = 0;   // 0 = none, 1-4 = INTA#-INTD#
};

enum class BarKind { Io, Mem32, Mem64 };

class PciDevice {
public:
    explicit PciDevice(const PciIds& ids);
    virtual ~PciDevice() = default;
    PciDevice(const PciDevice&) = delete;
    PciDevice& operator=(const PciDevice&) = delete;

    // A naturally aligned access of size 1, 2 or 4 bytes inside the 256-byte space (the host guarantees it).
    virtual u32 ConfigRead(u16 reg, unsigned size);
    virtual void ConfigWrite(u16 reg, unsigned size, u32 value);

    // Drives the function's INTx pin (its interrupt_pin); ignored while the command register's INTx Disable
    // bit is set. Level semantics, as PCI interrupts are.
    void SetIntx(bool asserted);

    u16 Command() const;
    u8 InterruptPin() const { return config_[pci::kInterruptPin]; }

    PciDeviceState SaveState() const;
    void RestoreState(const PciDeviceState& state);  // call through PciHost::RestoreDevice to remap BARs

protected:
    // Declares BAR `index` (a 64-bit BAR also uses index + 1). size is a power of two, at least 4 bytes for I/O
    // and 16 for memory. device receives accesses at offsets inside the BAR once it is mapped.
    void AddBar(unsigned index, BarKind kind, u64 size, IoDevice& device, bool prefetchable = false);
    // Makes memory BAR `index` (added with AddBar) guest RAM: `ram` is told where it decodes (see RamBar).
    void SetRamBar(unsigned index, RamBar& ram);
    // Appends a capability (id, next pointer, then body) to the list and returns its offset.
    u8 AddCapability(u8 id, std::span<const u8> body);
    // Marks config bytes [reg, reg + len) writable with `mask` per byte (device-specific registers).
    void SetWritable(u16 reg, unsigned len, u8 mask = 0xFF);
    std::array<u8, pci::kConfigSize>& config() { return config_; }

private:
    friend class PciHost;

    struct Bar {
        BarKind kind = BarKind::Mem32;
        u64 size = 0;             // 0: not implemented
        IoDevice* device = nullptr;
        RamBar* ram = nullptr;    // set: the BAR is RAM its owner maps, not an IoDevice on the bus
        bool upper_half = false;  // the high dword of the previous 64-bit BAR
        // What the host has actually put on a bus (guarded by the host's mapping lock).
        bool mapped = false;
        u64 mapped_base = 0;
    };
    // The address the BAR decodes now, or nothing (decoding off, unprogrammed or out of range).
    bool DecodedBase(unsigned index, u64* base) const;
    void WriteByte(u16 reg, u8 value);

    std::array<u8, pci::kConfigSize> config_{};
    std::array<u8, pci::kConfigSize> wmask_{};
    std::array<u8, pci::kConfigSize> w1cmask_{};
    std::array<Bar, pci::kNumBars> bars_{};
    u8 last_capability_ = 0;
    u8 next_capability_ = pci::kFirstCapability;
    PciHost* host_ = nullptr;
    u8 slot_ = 0;
    std::atomic<bool> intx_level_{false};     // the pin as the function drives it (written under the IRQ lock)
    std::atomic<bool> intx_disabled_{false};  // command bit 10, mirrored for the IRQ path
    bool intx_contributing_ = false;          // counted on its PIRQ wire (host's IRQ lock)
};

}  // namespace emu::devices
