#include "emu/debug/monitor.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <sstream>

#include "emu/common/log.h"
#include "emu/debug/gdb_registers.h"
#include "emu/debug/hex.h"
#include "emu/debug/page_tables.h"

namespace emu::debug {

// The monitor's own page-track client: it counts what it is told, as the GPU device's tracker would.
struct Monitor::Client {
    mmu::PageTrackNotifier node;
    std::atomic<u64> writes{0}, regions{0}, last_region_gfn{0}, last_region_pages{0};
    bool registered = false;
};

enum class ArgType : u8 { Integer, String, Boolean };

struct Arg {
    const char* name;
    ArgType type;
    bool optional = false;
};

// One command: its QMP name, its HMP words (empty: QMP only), its arguments (HMP gives them in order) and what it
// does; `text` turns the result into HMP output (null: the JSON itself).
struct Monitor::Command {
    const char* qmp;
    const char* hmp;
    std::vector<Arg> args;
    std::function<Json(const Json& args)> run;
    std::function<std::string(const Json& result)> text;
};

namespace {

const char* TypeName(ArgType t) {
    switch (t) {
        case ArgType::Integer: return "integer";
        case ArgType::String: return "string";
        case ArgType::Boolean: return "boolean";
    }
    return "?";
}

bool HasType(const Json& v, ArgType t) {
    switch (t) {
        case ArgType::Integer: return v.is_number_integer();
        case ArgType::String: return v.is_string();
        case ArgType::Boolean: return v.is_boolean();
    }
    return false;
}

std::string Hex(u64 v) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "%#" PRIx64, v);
    return buffer;
}

// A command's failure, thrown by its body and turned into a QMP error.
struct CommandFailed {
    std::string desc;
};

// An HMP number: decimal, or hex with 0x.
std::optional<u64> ParseNumber(const std::string& word) {
    if (word.empty()) return std::nullopt;
    try {
        size_t used = 0;
        const u64 v = std::stoull(word, &used, 0);
        if (used != word.size()) return std::nullopt;
        return v;
    } catch (...) {
        return std::nullopt;
    }
}

// Bytes as QEMU's `x` prints them: the address, then up to 16 bytes per line.
std::string DumpText(const Json& r) {
    const u64 addr = r["addr"];
    const std::string hex = r["bytes"];
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        const size_t n = i / 2;
        if (n % 16 == 0) out += (n ? "\n" : "") + Hex(addr + n) + ":";
        out += " " + hex.substr(i, 2);
    }
    if (r.contains("error")) out += (out.empty() ? "" : "\n") + std::string(r["error"]);
    return out + "\n";
}

// `info page-track`'s table: one line per client.
std::string ClientsText(const Json& clients) {
    std::string out = "client   tracked-gfns        adds     removes writes-seen regions-removed\n";
    for (const Json& c : clients) {
        char line[128];
        std::snprintf(line, sizeof line, "%-8s %12" PRIu64 " %11" PRIu64 " %11" PRIu64 " %11" PRIu64 " %15" PRIu64 "\n",
                      std::string(c["name"]).c_str(), u64{c["tracked-gfns"]}, u64{c["adds"]}, u64{c["removes"]},
                      u64{c["writes-seen"]}, u64{c["regions-removed"]});
        out += line;
    }
    return out;
}

constexpr u64 kMaxDump = 4096;
constexpr size_t kMaxMappings = 65536;  // leaves listed at most: a guest decides how many it maps
constexpr const char* kCommandList =
    "info status|registers|memslots|page-track|tlb|mem, stop, cont, quit, system_reset, system_powerdown, "
    "savevm NAME, loadvm NAME, x[/N[bhwg]] ADDR, xp[/N[bhwg]] ADDR, memslot move ID BASE|delete ID|create ID BASE|"
    "set-flags ID on|off, screendump FILE";

}  // namespace

Monitor::Monitor(MonitorTarget target) : target_(std::move(target)), client_(std::make_unique<Client>()) {
    Client* c = client_.get();
    c->node.name = "monitor";
    c->node.track_write = [c](Gpa, std::span<const u8>) { c->writes.fetch_add(1, std::memory_order_relaxed); };
    c->node.track_remove_region = [c](Gfn first, u64 npages) {
        c->last_region_gfn = first;
        c->last_region_pages = npages;
        c->regions.fetch_add(1, std::memory_order_relaxed);
    };
    c->registered = target_.page_track && target_.page_track->Register(&c->node).ok();
    target_.control->AddListener([this](const StopEvent* stop) {
        if (internal_pause_) return;
        Emit(Json{{"event", stop ? "STOP" : "RESUME"}});
    });
    table_ = BuildTable();
}

Monitor::~Monitor() {
    if (client_->registered) (void)target_.page_track->Unregister(&client_->node);
}

void Monitor::SetEventSink(std::function<void(const Json&)> sink) {
    std::lock_guard lock(sink_mutex_);
    sink_ = std::move(sink);
}

void Monitor::Emit(const Json& event) {
    std::lock_guard lock(sink_mutex_);
    if (sink_) sink_(event);
}

void Monitor::Shutdown(const std::string& reason, bool guest) {
    Emit(Json{{"event", "SHUTDOWN"}, {"data", {{"guest", guest}, {"reason", reason}}}});
}

Json Monitor::Paused(const std::function<Json()>& body) {
    RunControl& control = *target_.control;
    const bool was_running = !control.Paused();
    if (was_running) {
        internal_pause_ = true;
        control.RequestPause();
        while (!control.WaitPaused(50)) {
            if (control.ShuttingDown()) {
                internal_pause_ = false;
                throw CommandFailed{"the machine is shutting down"};
            }
        }
    }
    struct Restart {  // resumes on every way out, a failed command too
        RunControl& control;
        std::atomic<bool>& internal;
        bool was_running;
        ~Restart() {
            if (was_running) control.Resume();
            internal = false;
        }
    } restart{control, internal_pause_, was_running};
    return body();
}

std::vector<Monitor::Command> Monitor::BuildTable() {
    auto& t = target_;
    auto status = [&t](const Json&) {
        // A requested pause (-S before the first instruction, a stop on its way) already counts as paused.
        const bool paused = t.control->Paused() || t.control->PauseRequested();
        return Json{{"running", !paused}, {"singlestep", false}, {"status", paused ? "paused" : "running"}};
    };
    auto registers = [this, &t](const Json&) {
        return Paused([&t] {
            Json regs = Json::object();
            for (unsigned n = 0; n < GdbRegisterCount(); ++n) {
                if (const auto v = GdbRegisterValue(t.vcpu->state(), n)) regs[GdbRegisterName(n)] = *v;
            }
            return regs;
        });
    };
    auto registers_text = [](const Json& r) {
        std::string out;
        int column = 0;
        for (unsigned n = 0; n < GdbRegisterCount(); ++n) {
            if (!r.contains(GdbRegisterName(n))) continue;
            char line[48];
            std::snprintf(line, sizeof line, "%-9s=%016" PRIx64, GdbRegisterName(n), u64{r[GdbRegisterName(n)]});
            out += line;
            out += ++column % 4 == 0 ? "\n" : " ";
        }
        return out + (column % 4 ? "\n" : "");
    };
    auto dump = [this, &t](bool physical) {
        return [this, &t, physical](const Json& a) {
            const u64 addr = a["addr"];
            const u64 size = a.value("size", u64{64});
            if (size > kMaxDump) throw CommandFailed{"size above " + std::to_string(kMaxDump)};
            return Paused([&] {
                std::vector<u8> bytes(size);
                size_t got = size;
                if (physical) {
                    if (!t.view->ReadPhysical(addr, bytes)) got = 0;
                } else {
                    got = t.view->ReadVirtual(t.vcpu->state(), addr, bytes);
                }
                Json r{{"addr", addr}, {"bytes", ToHex(std::span<const u8>(bytes.data(), got))}};
                if (got < size) {
                    r["error"] = "cannot access " + Hex(addr + got) + (physical ? " (not RAM)" : " (not mapped RAM)");
                }
                return r;
            });
        };
    };
    // The page tables as `info tlb` (every leaf) or `info mem` (merged ranges) lists them.
    auto mappings = [this, &t](bool merged) {
        return [this, &t, merged](const Json&) {
            return Paused([&] {
                std::vector<Mapping> list = ListMappings(t.vcpu->state(), *t.view, kMaxMappings);
                if (merged) list = MergeMappings(list);
                Json out = Json::array();
                for (const Mapping& m : list) {
                    out.push_back({{"linear", m.linear}, {"physical", m.physical}, {"size", m.size}, {"user", m.user},
                                   {"writable", m.writable}, {"executable", m.executable}});
                }
                return out;
            });
        };
    };
    auto mappings_text = [](bool merged) {
        return [merged](const Json& r) {
            std::string out = r.empty() ? "paging is off or nothing is mapped\n" : "";
            for (const Json& m : r) {
                char line[96];
                const u64 linear = m["linear"], size = m["size"], physical = m["physical"];
                const std::string rights = std::string(m["user"] ? "u" : "-") + (m["writable"] ? "w" : "r") +
                                           (m["executable"] ? "x" : "-");
                if (merged) {
                    std::snprintf(line, sizeof line, "%016" PRIx64 "-%016" PRIx64 " %016" PRIx64 " %s\n", linear,
                                  linear + size, size, rights.c_str());
                } else {
                    std::snprintf(line, sizeof line, "%016" PRIx64 ": %016" PRIx64 " %8" PRIx64 " %s\n", linear,
                                  physical, size, rights.c_str());
                }
                out += line;
            }
            return out;
        };
    };
    auto memslots = [&t](const Json&) {
        Json list = Json::array();
        for (const mmu::SlotView& s : t.slots->Slots()) {
            list.push_back({{"id", s.id}, {"base", s.base.value()}, {"size", s.size},
                            {"readonly", s.read_only()},
                            {"dirty-log", mmu::HasFlag(s.flags, mmu::SlotFlags::LogDirtyPages)}});
        }
        return list;
    };
    auto memslots_text = [](const Json& r) {
        std::string out;
        for (const Json& s : r) {
            out += "slot " + std::to_string(u64{s["id"]}) + ": " + Hex(s["base"]) + "-" +
                   Hex(u64{s["base"]} + u64{s["size"]} - 1) + (s["readonly"] ? " readonly" : "") +
                   (s["dirty-log"] ? " dirty-log" : "") + "\n";
        }
        return out;
    };
    // The real two-phase change (mmu/memslots): the vCPU is parked across it, as KVM's vCPUs are kicked out.
    auto change = [this, &t](const char* kind) {
        return [this, &t, kind](const Json& a) {
            const std::string k = kind;
            const mmu::SlotId id = a["id"];
            return Paused([&] {
                std::optional<mmu::SlotView> view = k == "create" ? std::nullopt : t.slots->GetSlot(id);
                if (k == "create") {
                    const auto it = deleted_.find(id);
                    if (it != deleted_.end()) view = it->second;
                }
                if (!view) {
                    throw CommandFailed{k == "create" ? "slot " + std::to_string(id) + " was not deleted by the monitor"
                                                      : "no memslot " + std::to_string(id)};
                }
                Gpa base = view->base;
                u64 size = view->size;
                mmu::SlotFlags flags = view->flags;
                if (k == "move" || k == "create") base = Gpa(a["base"].get<u64>());
                if (k == "delete") size = 0;
                if (k == "set-flags") {
                    flags = a["dirty-log"].get<bool>() ? flags | mmu::SlotFlags::LogDirtyPages
                                                       : mmu::SlotFlags(u32(flags) & ~u32(mmu::SlotFlags::LogDirtyPages));
                }
                const auto r = t.slots->SetMemoryRegion(id, base, size, flags, view->host);
                if (!r) throw CommandFailed{"memslot change refused (error " + std::to_string(int(r.error())) + ")"};
                if (k == "delete") deleted_[id] = *view;
                if (k == "create") deleted_.erase(id);
                return Json::object();
            });
        };
    };
    auto page_track = [this, &t](const Json&) {
        Json r{{"tracking-enabled", t.page_track && t.page_track->TrackingEnabled()},
               {"monitor", {{"writes", client_->writes.load()},
                            {"regions-removed", client_->regions.load()},
                            {"last-region-gfn", client_->last_region_gfn.load()},
                            {"last-region-pages", client_->last_region_pages.load()}}}};
        r["vcpu"] = t.mmu_stats ? Paused([&t] { return Json(t.mmu_stats()); }) : Json("");
        Json clients = Json::array();
        if (t.page_track) {
            for (const mmu::PageTrackClientStats& s : t.page_track->ClientStats()) {
                clients.push_back({{"name", s.name}, {"tracked-gfns", s.adds - s.removes}, {"adds", s.adds},
                                   {"removes", s.removes}, {"writes-seen", s.writes_seen},
                                   {"regions-removed", s.regions_seen}});
            }
        }
        r["clients"] = clients;
        return r;
    };
    auto page_track_text = [](const Json& r) {
        const Json& m = r["monitor"];
        return std::string("tracking ") + (r["tracking-enabled"] ? "enabled" : "disabled") +
               "\nclient monitor: writes seen " + std::to_string(u64{m["writes"]}) + ", regions removed " +
               std::to_string(u64{m["regions-removed"]}) + " (last gfn " + Hex(m["last-region-gfn"]) + " +" +
               Hex(m["last-region-pages"]) + ")\nclients code pages and shadow MMU: " + std::string(r["vcpu"]) + "\n" +
               ClientsText(r["clients"]);
    };
    // The machine's own actions (quit, reset, power button); they take effect asynchronously, as in QEMU.
    auto action = [](const std::function<void()>& f) {
        return [&f](const Json&) {
            if (f) f();
            return Json::object();
        };
    };
    // savevm/loadvm with the vCPU parked; the machine decides the file (pc_snapshot.h).
    auto snapshot = [this](const std::function<std::optional<std::string>(const std::string&)>& f) {
        return [this, &f](const Json& a) {
            if (!f) throw CommandFailed{"snapshots are not available on this machine"};
            const std::string name = a["name"];
            if (name.empty()) throw CommandFailed{"a snapshot needs a name"};
            return Paused([&] {
                if (auto error = f(name)) throw CommandFailed{*error};
                return Json::object();
            });
        };
    };
    // QEMU's screendump; its default format is PPM, ours PNG, the only one there is. The picture is the display's
    // own copy, so the guest runs on.
    auto screendump = [&t](const Json& a) {
        if (!t.screendump) throw CommandFailed{"no display device"};
        if (a.value("format", "png") != "png") throw CommandFailed{"format: only png is implemented"};
        if (auto error = t.screendump(a["filename"])) throw CommandFailed{*error};
        return Json::object();
    };
    // QEMU's query-cpus-fast: no register is read, so the vCPUs keep running.
    auto cpus = [&t](const Json&) {
        Json list = Json::array();
        const std::vector<MonitorCpu> all = t.cpus ? t.cpus() : std::vector<MonitorCpu>{MonitorCpu{}};
        for (const MonitorCpu& c : all) {
            list.push_back({{"cpu-index", c.index},
                            {"qom-path", "/machine/unattached/device[" + std::to_string(c.index) + "]"},
                            {"thread-id", c.host_thread},
                            {"props", {{"socket-id", c.socket}, {"core-id", c.core}, {"thread-id", c.thread}}},
                            {"target", "x86_64"}});
        }
        return list;
    };
    auto cpus_text = [](const Json& r) {
        std::string text;
        for (const Json& c : r) {  // '*': the monitor's CPU (registers, x), CPU 0 here
            const unsigned index = c["cpu-index"];
            text += (index == 0 ? "* CPU #" : "  CPU #") + std::to_string(index) +
                    ": thread_id=" + std::to_string(i64{c["thread-id"]}) + "\n";
        }
        return text;
    };
    std::vector<Command> table;
    table.push_back({"query-status", "info status", {}, status,
                     [](const Json& r) { return "VM status: " + std::string(r["status"]) + "\n"; }});
    table.push_back({"stop", "stop", {}, [&t](const Json&) {
                         t.control->RequestPause();
                         t.control->WaitPaused(1000);
                         return Json::object();
                     }, nullptr});
    table.push_back({"cont", "cont", {}, [&t](const Json&) {
                         t.control->Resume();
                         return Json::object();
                     }, nullptr});
    table.push_back({"system_reset", "system_reset", {}, action(t.reset), nullptr});
    table.push_back({"system_powerdown", "system_powerdown", {}, action(t.powerdown), nullptr});
    table.push_back({"quit", "quit", {}, action(t.quit), nullptr});
    table.push_back({"query-registers", "info registers", {}, registers, registers_text});
    table.push_back({"query-cpus-fast", "info cpus", {}, cpus, cpus_text});
    table.push_back({"x", "x", {{"addr", ArgType::Integer}, {"size", ArgType::Integer, true}}, dump(false), DumpText});
    table.push_back({"xp", "xp", {{"addr", ArgType::Integer}, {"size", ArgType::Integer, true}}, dump(true), DumpText});
    table.push_back({"query-memslots", "info memslots", {}, memslots, memslots_text});
    table.push_back({"query-tlb", "info tlb", {}, mappings(false), mappings_text(false)});
    table.push_back({"query-mem", "info mem", {}, mappings(true), mappings_text(true)});
    table.push_back({"memslot-move", "memslot move", {{"id", ArgType::Integer}, {"base", ArgType::Integer}},
                     change("move"), nullptr});
    table.push_back({"memslot-delete", "memslot delete", {{"id", ArgType::Integer}}, change("delete"), nullptr});
    table.push_back({"memslot-create", "memslot create", {{"id", ArgType::Integer}, {"base", ArgType::Integer}},
                     change("create"), nullptr});
    table.push_back({"memslot-set-flags", "memslot set-flags", {{"id", ArgType::Integer}, {"dirty-log", ArgType::Boolean}},
                     change("set-flags"), nullptr});
    table.push_back({"query-page-track", "info page-track", {}, page_track, page_track_text});
    table.push_back({"savevm", "savevm", {{"name", ArgType::String}}, snapshot(t.savevm), nullptr});
    table.push_back({"loadvm", "loadvm", {{"name", ArgType::String}}, snapshot(t.loadvm), nullptr});
    table.push_back({"screendump", "screendump", {{"filename", ArgType::String}, {"format", ArgType::String, true}},
                     screendump, nullptr});
    table.push_back({"human-monitor-command", "", {{"command-line", ArgType::String}},
                     [this](const Json& a) { return Json(HumanLocked(a["command-line"])); }, nullptr});
    return table;
}

const Monitor::Command* Monitor::Find(const std::string& qmp_name) const {
    for (const Command& c : table_) {
        if (qmp_name == c.qmp) return &c;
    }
    return nullptr;
}

std::variant<Json, MonitorError> Monitor::Execute(const std::string& name, const Json& arguments) {
    std::lock_guard lock(mutex_);
    return ExecuteLocked(name, arguments);
}

std::variant<Json, MonitorError> Monitor::ExecuteLocked(const std::string& name, const Json& arguments) {
    const Command* c = Find(name);
    if (c == nullptr) return MonitorError{"CommandNotFound", "The command " + name + " has not been found"};
    if (!arguments.is_object()) return MonitorError{"GenericError", "'arguments' must be an object"};
    for (const auto& [key, value] : arguments.items()) {
        const auto arg = std::find_if(c->args.begin(), c->args.end(), [&](const Arg& a) { return key == a.name; });
        if (arg == c->args.end()) return MonitorError{"GenericError", "Parameter '" + key + "' is unexpected"};
        if (!HasType(value, arg->type)) {
            return MonitorError{"GenericError",
                                "Invalid parameter type for '" + key + "', expected: " + TypeName(arg->type)};
        }
    }
    for (const Arg& a : c->args) {
        if (!a.optional && !arguments.contains(a.name)) {
            return MonitorError{"GenericError", "Parameter '" + std::string(a.name) + "' is missing"};
        }
    }
    try {
        return c->run(arguments);
    } catch (const CommandFailed& e) {
        return MonitorError{"GenericError", e.desc};
    } catch (const Json::exception& e) {
        return MonitorError{"GenericError", e.what()};
    }
}

std::string Monitor::Human(const std::string& line) {
    std::lock_guard lock(mutex_);
    return HumanLocked(line);
}

std::string Monitor::HumanLocked(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) return "";
    // QEMU's `x/16xb ADDR`: the count and unit after the slash (b h w g; the format letter is always hex here).
    std::optional<u64> unit_count;
    if (const size_t slash = words[0].find('/'); slash != std::string::npos) {
        const std::string fmt = words[0].substr(slash + 1);
        words[0].resize(slash);
        u64 count = 0, unit = 4;
        size_t i = 0;
        while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) count = count * 10 + (fmt[i++] - '0');
        for (; i < fmt.size(); ++i) {
            if (fmt[i] == 'b') unit = 1;
            if (fmt[i] == 'h') unit = 2;
            if (fmt[i] == 'w') unit = 4;
            if (fmt[i] == 'g') unit = 8;
        }
        unit_count = (count ? count : 1) * unit;
    }
    if (words[0] == "help" || words[0] == "?") return std::string(kCommandList) + "\n";
    if (words[0] == "c") words[0] = "cont";
    if (words[0] == "q") words[0] = "quit";
    for (const Command& c : table_) {
        if (*c.hmp == '\0') continue;
        std::istringstream hw(c.hmp);
        std::vector<std::string> hmp_words;
        for (std::string w; hw >> w;) hmp_words.push_back(w);
        if (words.size() < hmp_words.size() || !std::equal(hmp_words.begin(), hmp_words.end(), words.begin())) continue;
        Json args = Json::object();
        size_t at = hmp_words.size();
        for (const Arg& a : c.args) {
            if (at >= words.size()) break;
            const std::string& w = words[at++];
            if (a.type == ArgType::Integer) {
                const auto v = ParseNumber(w);
                if (!v) return "invalid number '" + w + "' for " + a.name + "\n";
                args[a.name] = *v;
            } else if (a.type == ArgType::Boolean) {
                args[a.name] = w == "on" || w == "true" || w == "1";
            } else {
                args[a.name] = w;
            }
        }
        if (unit_count && !args.contains("size")) args["size"] = *unit_count;
        if (at < words.size()) return "too many arguments for " + std::string(c.hmp) + "\n";
        const auto r = ExecuteLocked(c.qmp, args);
        if (const MonitorError* e = std::get_if<MonitorError>(&r)) return "Error: " + e->desc + "\n";
        const Json& result = std::get<Json>(r);
        if (c.text) return c.text(result);
        return result.empty() ? "" : result.dump() + "\n";
    }
    return "unknown command: '" + line + "' (" + kCommandList + ")\n";
}

}  // namespace emu::debug
