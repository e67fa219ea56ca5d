#include "emu/common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace emu::log {

namespace detail {
std::atomic<u32> enabled_mask{0};
}

namespace {
std::shared_ptr<spdlog::logger>& LoggerSlot() {
    static std::shared_ptr<spdlog::logger> logger = [] {
        auto l = std::make_shared<spdlog::logger>("emu64", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        l->set_pattern("%v");
        return l;
    }();
    return logger;
}
}  // namespace

const std::vector<CategoryInfo>& Categories() {
    static const std::vector<CategoryInfo> categories = {
#define EMU64_LOG_INFO(name, keyword, help) {Category::name, keyword, help},
        EMU64_LOG_CATEGORIES(EMU64_LOG_INFO)
#undef EMU64_LOG_INFO
    };
    return categories;
}

std::optional<u32> ParseCategories(std::string_view list, std::string* bad) {
    u32 mask = 0;
    while (!list.empty()) {
        const size_t comma = list.find(',');
        const std::string_view word = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (word.empty()) continue;
        if (word == "all") {
            mask |= (u32{1} << static_cast<u32>(Category::Count)) - 1;
            continue;
        }
        bool found = false;
        for (const auto& info : Categories()) {
            if (info.keyword == word) {
                mask |= u32{1} << static_cast<u32>(info.category);
                found = true;
            }
        }
        if (!found) {
            if (bad) *bad = std::string(word);
            return std::nullopt;
        }
    }
    return mask;
}

void SetEnabled(u32 mask) { detail::enabled_mask.store(mask, std::memory_order_relaxed); }

bool SetLogFile(const std::string& path) {
    try {
        auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, true);
        auto logger = std::make_shared<spdlog::logger>("emu64", sink);
        logger->set_pattern("%v");
        logger->flush_on(spdlog::level::info);
        LoggerSlot() = logger;
        return true;
    } catch (const spdlog::spdlog_ex&) {
        return false;
    }
}

spdlog::logger& Logger() { return *LoggerSlot(); }

}  // namespace emu::log
