#pragma once
// Snapshots of the PC machine (savevm, loadvm, -loadvm) in the file format of emu/snapshot/snapshot_file.h. Sections:
//   machine  what must match to restore: RAM slots, PCI functions, virtio devices, the display's VRAM size
//   clock    the machine clock (devices' timeline) and the guest TSC at the save
//   cpu      CpuState: GPRs, RIP, RFLAGS, segments with their hidden parts, CRs, EFER, MSRs, x87/SSE, interrupt
//            shadow, halt and NMI blocking
//   board    PIC, I/O APIC, local APIC and its timer, PIT, RTC/CMOS, HPET, both UARTs, ACPI PM, i8042, fw_cfg,
//            the PCI host's latch, a pending NMI
//   pci      every PCI function's configuration space (BARs remapped on load)
//   virtio   each virtio transport's features, status and queue positions
//   display  the Bochs display's registers and VRAM
//   ram      every RAM slot; only pages holding a non-zero byte are stored
//   aps      with -smp > 1, each AP (CPU 1 onward): its CpuState and guest TSC, whether it waits for a SIPI, its local
//            APIC and a pending NMI (cpu, clock and board hold CPU 0's)
// Not saved: disk contents (savevm refuses while a writable -drive is attached), a network's host-side connections,
// requests a device model has in flight, and the GPU copy engine (savevm refuses while there is one).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "devices/timer/clock.h"
#include "emu/cpu/vcpu.h"
#include "emu/machine/display_devices.h"
#include "emu/machine/machine_config.h"
#include "emu/machine/pc_board.h"
#include "emu/machine/vcpu_memory.h"
#include "emu/machine/virtio_devices.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::machine {

// An AP as a snapshot sees it. An AP after power-on or INIT runs nothing until a SIPI: that flag is the machine's.
struct PcSnapshotAp {
    cpu::Vcpu* vcpu = nullptr;
    VcpuMemory* memory = nullptr;
    std::function<bool()> waiting_for_sipi;
    std::function<void(bool)> set_waiting_for_sipi;  // also drops INIT/SIPI messages not applied yet
};

// Everything a snapshot reads or replaces; every vCPU is parked (or not started) while it is used.
struct PcSnapshotTarget {
    const MachineConfig* config = nullptr;
    mmu::Memslots* slots = nullptr;
    mmu::PageTrack* page_track = nullptr;
    PcBoard* board = nullptr;
    cpu::Vcpu* vcpu = nullptr;
    VcpuMemory* vcpu_memory = nullptr;
    devices::HostClock* clock = nullptr;
    VirtioDevices* virtio = nullptr;
    DisplayDevices* display = nullptr;
    std::vector<PcSnapshotAp> aps;  // CPU 1 onward (vcpu above is CPU 0)
};

// The file a savevm/loadvm NAME means: NAME itself when it contains a '/' or ends in .emu64snap, else
// -snapshot-dir (default: the working directory) / NAME.emu64snap.
std::string SnapshotPath(const MachineConfig& config, const std::string& name);

// Both return an error message (nothing is written on a refused save; nothing changes on a refused load).
std::optional<std::string> SavePcSnapshot(const PcSnapshotTarget& target, const std::string& path);
std::optional<std::string> LoadPcSnapshot(const PcSnapshotTarget& target, const std::string& path);

}  // namespace emu::machine
