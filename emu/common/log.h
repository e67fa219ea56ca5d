#pragma once
// Logging through spdlog with QEMU-like categories (-d in_asm,int,mmu,...). A disabled category costs one
// load and a branch: callers test Enabled() before formatting anything expensive.
#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "emu/common/types.h"

namespace emu::log {

// X(enum name, -d keyword, help text). The one place categories are defined.
#define EMU64_LOG_CATEGORIES(X)                                              \
    X(InAsm, "in_asm", "guest instructions of each translated block")       \
    X(OutAsm, "out_asm", "host code emitted by the JIT")                     \
    X(Op, "op", "IR of each translated block")                               \
    X(Exec, "exec", "each executed block")                                   \
    X(Cpu, "cpu", "CPU state before each block")                             \
    X(Int, "int", "interrupts and exceptions")                               \
    X(Mmu, "mmu", "MMU activity and statistics")                             \
    X(PageTrack, "page_track", "page-track counts and notifications")        \
    X(Gpu, "gpu", "GPU engine: binds, batches, faults, shadow statistics")   \
    X(Memslot, "memslot", "memslot changes")                                 \
    X(Ioport, "ioport", "port I/O")                                          \
    X(Mmio, "mmio", "memory-mapped I/O")                                     \
    X(GuestErrors, "guest_errors", "guest misuse of devices or the CPU")     \
    X(Unimp, "unimp", "unimplemented device or CPU features the guest touched")

enum class Category : u32 {
#define EMU64_LOG_ENUM(name, keyword, help) name,
    EMU64_LOG_CATEGORIES(EMU64_LOG_ENUM)
#undef EMU64_LOG_ENUM
    Count
};

struct CategoryInfo {
    Category category;
    std::string_view keyword;
    std::string_view help;
};

// All categories, in definition order.
const std::vector<CategoryInfo>& Categories();

// Parses "in_asm,int" (or "all"). On an unknown keyword returns nullopt and stores it in *bad.
std::optional<u32> ParseCategories(std::string_view list, std::string* bad);

namespace detail {
extern std::atomic<u32> enabled_mask;
}

inline bool Enabled(Category c) {
    return (detail::enabled_mask.load(std::memory_order_relaxed) >> static_cast<u32>(c)) & 1;
}
void SetEnabled(u32 mask);

// Sends log output to a file instead of stderr (QEMU's -D). Returns false if the file cannot be opened.
bool SetLogFile(const std::string& path);

spdlog::logger& Logger();

// Logs in a category if it is enabled.
template <typename... Args>
void Log(Category c, spdlog::format_string_t<Args...> fmt, Args&&... args) {
    if (Enabled(c)) Logger().info(fmt, std::forward<Args>(args)...);
}

}  // namespace emu::log
