#pragma once
// The PC board as the machine wires it (PIC, PIT, RTC, HPET, APICs, UARTs, i8042, ACPI, the PCI host bridge) on
// 16 MiB of RAM with the PCI devices a fuzz target names, for the targets that drive devices (devices_fuzz) or
// restore their state (snapshot_fuzz). Time is a manual clock the target advances.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/backends/char_backend.h"
#include "devices/timer/clock.h"
#include "devices/timer/timer_queue.h"
#include "emu/machine/display_devices.h"
#include "emu/machine/pc_board.h"
#include "emu/machine/virtio_devices.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"
#include "mmu/page_track/page_track.h"

namespace emu::fuzz {

inline constexpr u64 kMachineRamBytes = 16 << 20;

// A scratch disk image for a virtio-blk (the fuzzer's writes land there, never in a file that matters).
inline std::string ScratchImage() {
    const auto path = std::filesystem::temp_directory_path() / ("emu64-fuzz-disk-" + std::to_string(getpid()));
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fseek(f, (1 << 20) - 1, SEEK_SET) != 0 || std::fputc(0, f) == EOF) std::abort();
    std::fclose(f);
    return path;
}

struct FuzzMachine {
    // `devices`: the PCI devices; a virtio-blk among them gets the scratch image as drive "d0". `cpus`: local APICs
    // (APIC IDs 0..cpus-1), each reached through its PcCpuPort as that vCPU's memory path would.
    FuzzMachine(std::vector<machine::DeviceSpec> devices, bool read_only_disk, unsigned cpus = 1) : cpus_(cpus) {
        ram = std::move(*mmu::GuestRam::Create(kMachineRamBytes));
        (void)slots.SetMemoryRegion(0, Gpa(0), kMachineRamBytes, mmu::SlotFlags::None, ram.host());
        config.ram_bytes = kMachineRamBytes;
        config.display = "none";
        config.drives.push_back(machine::DriveSpec{"fuzz", "d0", image, false, read_only_disk});
        config.devices = std::move(devices);
        auto v = machine::VirtioDevices::Create(config, board, slots, &track);
        auto d = machine::DisplayDevices::Create(config, board, slots, &track, [] {});
        if (!v || !d) {
            std::fprintf(stderr, "fuzz machine: %s\n", !v ? v.error().c_str() : d.error().c_str());
            std::abort();
        }
        virtio = std::move(*v);
        display = std::move(*d);
    }
    ~FuzzMachine() {
        virtio->Shutdown();
        std::filesystem::remove(image);
    }
    FuzzMachine(const FuzzMachine&) = delete;
    FuzzMachine& operator=(const FuzzMachine&) = delete;

    static machine::PcBoardConfig BoardConfig(devices::CharBackend& com1, unsigned cpus) {
        machine::PcBoardConfig c;
        c.apic_ids.clear();
        for (u32 id = 0; id < cpus; ++id) c.apic_ids.push_back(id);
        c.ram_bytes = c.below_4g = kMachineRamBytes;
        c.com1 = &com1;
        c.on_exit = [](int) {};
        c.on_reset = [] {};
        return c;
    }

    unsigned cpus_;  // before board, which is built from it
    std::string image = ScratchImage();
    mmu::GuestRam ram;
    mmu::Memslots slots;
    mmu::PageTrack track{slots};
    devices::ManualClock clock;
    devices::TimerQueue timers{clock};
    devices::NullBackend com1;
    machine::PcBoard board{timers, BoardConfig(com1, cpus_)};
    machine::MachineConfig config;
    std::unique_ptr<machine::VirtioDevices> virtio;
    std::unique_ptr<machine::DisplayDevices> display;
};

}  // namespace emu::fuzz
