#pragma once
// QEMU-style device options: -drive, -netdev, -nic, -device and -chardev specs ("key=value,key=value", the first
// item possibly an implied key such as the backend type or driver name) parsed into MachineConfig entries, and the
// references between them (drive=, netdev=, chardev=) checked once all are parsed.
//
// Each function returns the parsed spec or a one-line message naming the option, the spec and what is wrong. Types
// QEMU has and emu64 does not (-netdev tap, -device e1000, if=ide) say "is not implemented yet"; keys neither knows
// are "unknown option".
#include <optional>
#include <string>
#include <utility>

#include "emu/common/result.h"
#include "emu/machine/machine_config.h"

namespace emu::app {

Result<machine::DriveSpec, std::string> ParseDrive(const std::string& text);
Result<machine::NetdevSpec, std::string> ParseNetdev(const std::string& text);
Result<machine::DeviceSpec, std::string> ParseDevice(const std::string& text);
Result<machine::ChardevSpec, std::string> ParseChardev(const std::string& text);
// -nic user[,hostfwd=...][,model=virtio-net-pci]: a netdev (id "nic<index>") and the virtio-net device using it.
Result<std::pair<machine::NetdevSpec, machine::DeviceSpec>, std::string> ParseNic(const std::string& text,
                                                                                    unsigned index);

// Adds the virtio-blk devices that if=virtio drives imply and checks the references: ids unique, every drive=,
// netdev= and chardev= names one that exists and is used by one device, virtconsole needs a virtio-serial-pci.
// Returns a message on the first problem.
std::optional<std::string> ResolveDevices(machine::MachineConfig& config);

}  // namespace emu::app
