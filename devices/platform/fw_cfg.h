#pragma once
// QEMU's firmware configuration device, traditional port interface (docs/specs/fw_cfg.rst): a 16-bit write
// to the selector port (0x510) picks an item and rewinds it; each read of the data port (0x511) returns the
// item's next byte, and 0 past its end. Items: the "QEMU" signature, the interface ID (1: no DMA interface),
// UUID, RAM size, CPU counts, the kernel command line, and named files listed in the file directory (0x19).
//
// Threads: one mutex guards the items and the read position; the machine fills items before the guest runs.
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "devices/bus/io_device.h"
#include "emu/common/result.h"
#include "devices/platform/fw_cfg_state.h"
#include "emu/common/types.h"

namespace emu::devices {

enum class FwCfgError {
    NameTooLong,    /*!< fw_cfg file names are at most 55 bytes */
    EmptyName,      /*!< fw_cfg file names must not be empty */
    DuplicateName,  /*!< a fw_cfg file with that name already exists */
    TooManyFiles,   /*!< no fw_cfg selector key is left for another file */
};

const char* FwCfgErrorMessage(FwCfgError error);

class FwCfg final : public IoDevice {
public:
    // Creates the signature, ID and (empty) file directory items. Insert at platform::fw_cfg::kBase (2 ports).
    FwCfg();

    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    void SetItem(u16 key, std::vector<u8> data);
    void SetRamSize(u64 bytes);                          // key 0x0003, 64-bit little-endian
    void SetCpuCounts(u16 boot_cpus, u16 max_cpus);      // keys 0x0005 and 0x000F, 16-bit little-endian
    void SetUuid(std::span<const u8, 16> uuid);          // key 0x0002
    void SetCmdline(std::string_view cmdline);           // keys 0x0014 (length incl. NUL) and 0x0015 (with NUL)
    // Adds a named file (e.g. "etc/e820") and lists it in the directory; returns its selector key.
    Result<u16, FwCfgError> AddFile(std::string_view name, std::vector<u8> data);

    FwCfgState SaveState();
    void RestoreState(const FwCfgState& state);

private:
    void RebuildDirectoryLocked();

    struct File {
        std::string name;
        u16 key;
    };

    std::mutex mutex_;
    std::map<u16, std::vector<u8>> items_;
    std::vector<File> files_;
    u16 selector_ = 0;
    size_t position_ = 0;
};

}  // namespace emu::devices
