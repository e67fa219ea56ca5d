#include "tests/diff/case.h"

#include <algorithm>
#include <cstring>

#include "tests/diff/rng.h"

namespace emu::diff {

void FillPristine(u64 seed, std::span<u8> data) {
    Rng rng(seed);
    for (size_t i = 0; i < data.size(); i += 8) {
        const u64 z = rng.Next();
        std::memcpy(data.data() + i, &z, std::min<size_t>(8, data.size() - i));
    }
}

void ApplyPatches(const CaseInput& input, std::span<u8> data) {
    for (unsigned i = 0; i < input.num_patches && i < kMaxPatches; ++i) {
        const MemPatch& p = input.patches[i];
        const size_t len = std::min<size_t>(p.length, kPatchBytes);
        if (p.offset + len <= data.size()) std::memcpy(data.data() + p.offset, p.bytes.data(), len);
    }
}

void CollectChangesAndRestore(std::span<u8> data, std::span<const u8> pristine, CaseResult& result) {
    constexpr size_t kChunk = 64;
    result.num_changes = 0;
    result.changes_overflow = false;
    u64 hash = 0xCBF29CE484222325ull;  // FNV-1a over (offset, value) of each changed byte
    auto mix = [&hash](u8 byte) { hash = (hash ^ byte) * 0x100000001B3ull; };
    for (size_t base = 0; base < data.size(); base += kChunk) {
        const size_t len = std::min(kChunk, data.size() - base);
        if (std::memcmp(data.data() + base, pristine.data() + base, len) == 0) continue;
        for (size_t i = base; i < base + len; ++i) {
            if (data[i] == pristine[i]) continue;
            mix(static_cast<u8>(i));
            mix(static_cast<u8>(i >> 8));
            mix(data[i]);
            if (result.num_changes < kMaxChanges) {
                result.changes[result.num_changes++] = MemChange{static_cast<u16>(i), data[i], 0};
            } else {
                result.changes_overflow = true;
            }
        }
        std::memcpy(data.data() + base, pristine.data() + base, len);
    }
    result.changes_hash = hash;
}

}  // namespace emu::diff
