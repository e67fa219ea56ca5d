#pragma once
// Trace events (QEMU's -trace): named points in the MMU that print one line each when enabled, with the guest frame
// number and the page-track client involved: "page_track_add gfn=0x1234 client=shadow". Enabled by glob patterns
// (-trace 'page_track_*', repeatable; -trace help lists the events). A disabled event costs one load and a branch.
// Lines go where the log goes (-D FILE or stderr).
#include <atomic>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "emu/common/log.h"
#include "emu/common/types.h"

namespace emu::trace {

// X(enum name, event name, what it reports). The one place events are defined.
#define EMU64_TRACE_EVENTS(X)                                                                           \
    X(PageTrackAdd, "page_track_add", "a client starts write-tracking a gfn (one count added)")         \
    X(PageTrackRemove, "page_track_remove", "a client stops write-tracking a gfn (one count removed)")  \
    X(PageTrackWrite, "page_track_write", "a write to a tracked gfn reached a client")                  \
    X(PageTrackRemoveRegion, "page_track_remove_region", "a memslot DELETE/MOVE removed gfns a client saw") \
    X(ShadowPageCreate, "shadow_page_create", "the shadow MMU made a shadow page for a guest table gfn") \
    X(ShadowPageZap, "shadow_page_zap", "the shadow MMU zapped a shadow page")                          \
    X(MemslotChange, "memslot_change", "a memslot change committed (or aborted)")

enum class Event : u32 {
#define EMU64_TRACE_ENUM(name, text, help) name,
    EMU64_TRACE_EVENTS(EMU64_TRACE_ENUM)
#undef EMU64_TRACE_ENUM
    Count
};
static_assert(static_cast<u32>(Event::Count) <= 32, "the enabled mask is one word");

namespace detail {
extern std::atomic<u32> enabled_mask;
}

inline bool Enabled(Event e) {
    return (detail::enabled_mask.load(std::memory_order_relaxed) >> static_cast<u32>(e)) & 1;
}

// Enables the events whose names match the glob `pattern`; false if none does.
bool EnablePattern(std::string_view pattern);
// Whether some event's name matches the glob `pattern` (nothing is enabled).
bool AnyMatches(std::string_view pattern);
// "name: help" lines of every event.
std::string Help();
std::string_view Name(Event e);

// Prints "<event> <fields>" if the event is enabled.
template <typename... Args>
void Trace(Event e, fmt::format_string<Args...> fields, Args&&... args) {
    if (!Enabled(e)) return;
    log::Logger().info("{} {}", Name(e), fmt::format(fields, std::forward<Args>(args)...));
}

}  // namespace emu::trace
