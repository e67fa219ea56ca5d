#include "emu/common/trace.h"

#include <fnmatch.h>

namespace emu::trace {

namespace detail {
std::atomic<u32> enabled_mask{0};
}

namespace {

struct Info {
    std::string_view name, help;
};

constexpr Info kEvents[] = {
#define EMU64_TRACE_INFO(name, text, help) {text, help},
    EMU64_TRACE_EVENTS(EMU64_TRACE_INFO)
#undef EMU64_TRACE_INFO
};

}  // namespace

std::string_view Name(Event e) { return kEvents[static_cast<u32>(e)].name; }

namespace {

// The events `pattern` matches, as a mask.
u32 Matching(std::string_view pattern) {
    const std::string p(pattern);
    u32 mask = 0;
    for (u32 i = 0; i < static_cast<u32>(Event::Count); ++i) {
        if (fnmatch(p.c_str(), std::string(kEvents[i].name).c_str(), 0) == 0) mask |= 1u << i;
    }
    return mask;
}

}  // namespace

bool EnablePattern(std::string_view pattern) {
    const u32 mask = Matching(pattern);
    detail::enabled_mask.fetch_or(mask, std::memory_order_relaxed);
    return mask != 0;
}

bool AnyMatches(std::string_view pattern) { return Matching(pattern) != 0; }

std::string Help() {
    std::string out;
    for (const Info& e : kEvents) out += std::string(e.name) + ": " + std::string(e.help) + "\n";
    return out;
}

}  // namespace emu::trace
