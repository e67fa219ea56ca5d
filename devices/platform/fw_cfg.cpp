#include "devices/platform/fw_cfg.h"

#include <algorithm>

#include "devices/platform/regs.h"

namespace emu::devices {
namespace {

namespace fc = platform::fw_cfg;

std::vector<u8> Le(u64 value, size_t bytes) {
    std::vector<u8> out(bytes);
    StoreLe(out, value);
    return out;
}

void PutBe(std::vector<u8>& out, u64 value, size_t bytes) {
    for (size_t i = bytes; i-- > 0;) out.push_back(static_cast<u8>(value >> (8 * i)));
}

}  // namespace

const char* FwCfgErrorMessage(FwCfgError error) {
    switch (error) {
    case FwCfgError::NameTooLong: return "fw_cfg file names are at most 55 bytes";
    case FwCfgError::EmptyName: return "fw_cfg file names must not be empty";
    case FwCfgError::DuplicateName: return "a fw_cfg file with that name already exists";
    case FwCfgError::TooManyFiles: return "no fw_cfg selector key is left for another file";
    }
    return "unknown fw_cfg error";
}

FwCfg::FwCfg() {
    items_[fc::kSignature] = std::vector<u8>(std::begin(fc::kSignatureBytes), std::end(fc::kSignatureBytes));
    items_[fc::kId] = Le(fc::kIdTraditional, 4);
    RebuildDirectoryLocked();
}

void FwCfg::Read(u64 offset, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        if (offset + i != fc::kDataOffset) {
            data[i] = 0;  // the selector register is write-only
            continue;
        }
        // A wide read of the data port returns consecutive bytes of the item.
        for (size_t j = i; j < data.size(); ++j) {
            const auto it = items_.find(selector_);
            const bool in_range = it != items_.end() && position_ < it->second.size();
            data[j] = in_range ? it->second[position_] : 0;
            if (in_range) ++position_;
        }
        break;
    }
}

void FwCfg::Write(u64 offset, std::span<const u8> data) {
    // Writes to the data port are ignored (deprecated since QEMU 2.4); the selector takes a 16-bit value, and
    // a byte write is accepted zero-extended.
    if (offset != fc::kSelectorOffset || data.empty()) return;
    std::lock_guard lock(mutex_);
    selector_ = static_cast<u16>(LoadLe(data.first(std::min<size_t>(data.size(), 2))) & ~fc::kWriteChannel);
    position_ = 0;
}

void FwCfg::SetItem(u16 key, std::vector<u8> data) {
    std::lock_guard lock(mutex_);
    items_[key] = std::move(data);
}

void FwCfg::SetRamSize(u64 bytes) { SetItem(fc::kRamSize, Le(bytes, 8)); }

void FwCfg::SetCpuCounts(u16 boot_cpus, u16 max_cpus) {
    SetItem(fc::kNbCpus, Le(boot_cpus, 2));
    SetItem(fc::kMaxCpus, Le(max_cpus, 2));
}

void FwCfg::SetUuid(std::span<const u8, 16> uuid) { SetItem(fc::kUuid, std::vector<u8>(uuid.begin(), uuid.end())); }

void FwCfg::SetCmdline(std::string_view cmdline) {
    std::vector<u8> bytes(cmdline.begin(), cmdline.end());
    bytes.push_back(0);
    SetItem(fc::kCmdlineSize, Le(bytes.size(), 4));
    SetItem(fc::kCmdlineData, std::move(bytes));
}

Result<u16, FwCfgError> FwCfg::AddFile(std::string_view name, std::vector<u8> data) {
    if (name.empty()) return Err(FwCfgError::EmptyName);
    if (name.size() >= fc::kFileNameSize) return Err(FwCfgError::NameTooLong);
    std::lock_guard lock(mutex_);
    if (std::any_of(files_.begin(), files_.end(), [&](const File& f) { return f.name == name; }))
        return Err(FwCfgError::DuplicateName);
    const u64 key = fc::kFileFirst + files_.size();
    if (key > fc::kFileLast) return Err(FwCfgError::TooManyFiles);
    files_.push_back({std::string(name), static_cast<u16>(key)});
    items_[static_cast<u16>(key)] = std::move(data);
    RebuildDirectoryLocked();
    return static_cast<u16>(key);
}

void FwCfg::RebuildDirectoryLocked() {
    // Big-endian: be32 count, then per file be32 size, be16 select, be16 reserved, char name[56]; sorted by
    // name as QEMU does, so firmware sees a stable order.
    std::vector<const File*> sorted;
    for (const File& f : files_) sorted.push_back(&f);
    std::sort(sorted.begin(), sorted.end(), [](const File* a, const File* b) { return a->name < b->name; });
    std::vector<u8> dir;
    dir.reserve(4 + sorted.size() * fc::kFileEntrySize);
    PutBe(dir, sorted.size(), 4);
    for (const File* f : sorted) {
        PutBe(dir, items_[f->key].size(), 4);
        PutBe(dir, f->key, 2);
        PutBe(dir, 0, 2);
        std::vector<u8> name(fc::kFileNameSize, 0);
        std::copy(f->name.begin(), f->name.end(), name.begin());
        dir.insert(dir.end(), name.begin(), name.end());
    }
    items_[fc::kFileDir] = std::move(dir);
}

FwCfgState FwCfg::SaveState() {
    std::lock_guard lock(mutex_);
    return FwCfgState{selector_, position_};
}

void FwCfg::RestoreState(const FwCfgState& state) {
    std::lock_guard lock(mutex_);
    selector_ = state.selector;
    position_ = static_cast<size_t>(state.position);
}

}  // namespace emu::devices
