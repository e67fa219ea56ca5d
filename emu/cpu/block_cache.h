#pragma once
// Translated blocks keyed by (linear RIP, RIP, BlockMode key). RIP is part of the key because the IR holds
// RIP values: real-mode 0000:7C00 and 07C0:0000 share a linear address but not their code. No code-page
// tracking yet: whoever changes guest code must call Clear() (Vcpu::InvalidateAllCode).
// TODO(vcpu): page-granular invalidation via page-track.
#include <memory>
#include <unordered_map>

#include "emu/common/types.h"
#include "emu/cpu/ir/block.h"

namespace emu::cpu {

class BlockCache {
public:
    const ir::Block* Find(u64 linear_rip, u64 rip, u32 mode_key) const {
        const auto it = blocks_.find(Key{linear_rip, rip, mode_key});
        return it == blocks_.end() ? nullptr : it->second.get();
    }
    const ir::Block* Insert(u64 linear_rip, u64 rip, u32 mode_key, std::unique_ptr<ir::Block> block) {
        auto& slot = blocks_[Key{linear_rip, rip, mode_key}];
        slot = std::move(block);
        return slot.get();
    }
    void Clear() { blocks_.clear(); }
    size_t size() const { return blocks_.size(); }

private:
    struct Key {
        u64 linear;
        u64 rip;
        u32 mode;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const {
            return std::hash<u64>{}((k.linear * 0x9E3779B97F4A7C15ull) ^ (k.rip << 20) ^ k.mode);
        }
    };
    std::unordered_map<Key, std::unique_ptr<ir::Block>, KeyHash> blocks_;
};

}  // namespace emu::cpu
