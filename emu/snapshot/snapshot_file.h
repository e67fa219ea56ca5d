#pragma once
// The snapshot file (`savevm`, `loadvm`, `-loadvm`): a 32-byte header, then named sections.
//
//   offset 0   "EMU64SNP"           magic
//          8   u32 format version   kFormatVersion; any other is refused
//         12   u32 section count
//         16   u64 body bytes       everything after the header
//         24   u32 CRC-32 of the body (zlib's polynomial)
//         28   u32 CRC-32 of bytes 0-27
//   body: per section: u32 name length, name, u64 data length, data (codec.h encodings)
//
// Integers are little-endian. A file is read whole and checked (size, both checksums, section bounds) before any
// section is handed out, so a truncated or corrupted file changes nothing in the machine.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::snapshot {

inline constexpr char kMagic[8] = {'E', 'M', 'U', '6', '4', 'S', 'N', 'P'};
inline constexpr u32 kFormatVersion = 1;
inline constexpr u64 kHeaderBytes = 32;
inline constexpr const char* kFileSuffix = ".emu64snap";

struct Section {
    std::string name;
    std::vector<u8> data;
};

enum class FileError {
    Open,              /*!< cannot be opened */
    Read,              /*!< cannot be read */
    NotSnapshot,       /*!< is not an emu64 snapshot (bad magic) */
    Version,           /*!< was written in another snapshot format version */
    HeaderChecksum,    /*!< is corrupt: the header checksum does not match */
    Truncated,         /*!< is truncated: shorter than its header says */
    TrailingBytes,     /*!< is corrupt: longer than its header says */
    BodyChecksum,      /*!< is corrupt: the checksum of its contents does not match */
    Malformed,         /*!< is corrupt: a section runs past the end of the file */
};
std::string_view Message(FileError error);

// Writes `sections` to `path` (through a temporary file renamed into place: an interrupted save never leaves a
// half-written snapshot under the name). Returns an error message.
Result<void, std::string> WriteSnapshotFile(const std::string& path, const std::vector<Section>& sections);

// A checked snapshot file held in memory; sections point into it.
struct SnapshotImage {
    std::vector<u8> bytes;
    struct View {
        std::string name;
        std::span<const u8> data;
    };
    std::vector<View> sections;

    // The section named `name`, or null.
    const View* Find(std::string_view name) const;
};

Result<SnapshotImage, FileError> ReadSnapshotFile(const std::string& path);

}  // namespace emu::snapshot
