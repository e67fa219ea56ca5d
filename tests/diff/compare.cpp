#include "tests/diff/compare.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace emu::diff {

namespace {

constexpr const char* kStNames[8] = {"st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7"};
constexpr const char* kXmmNames[16] = {"xmm0", "xmm1", "xmm2",  "xmm3",  "xmm4",  "xmm5",  "xmm6",  "xmm7",
                                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"};
constexpr u16 fpu_c1 = 1u << 9;

// Error-code bits compared for #PF: P, W, U and I/D (the rest depend on features like PKRU or SGX).
constexpr u32 kPfErrorBits = 0x17;
// Linux reports faults at or above TASK_SIZE_MAX (the last user page and beyond) with P set, to hide the
// kernel's page tables; the hardware's P bit is lost there.
constexpr u64 kLinuxTaskSizeMax = 0x00007FFFFFFFF000ull;

std::map<u16, u8> ChangeMap(const CaseResult& r) {
    std::map<u16, u8> m;
    for (unsigned i = 0; i < r.num_changes; ++i) m[r.changes[i].offset] = r.changes[i].value;
    return m;
}

// Runs `fn(address, size, mnemonic, operands)` over the snippet's instructions (`count` of them from `from`; 0: all).
template <typename Fn>
void ForEachInsn(const CaseInput& input, Fn fn, u64 from = kCodeBase, size_t count = 0) {
    const u64 skip = from - kCodeBase;
    if (skip >= input.code_length) return;
    csh handle;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return;
    cs_insn* insn = nullptr;
    const size_t n = cs_disasm(handle, input.code.data() + skip, input.code_length - skip, from, count, &insn);
    for (size_t i = 0; i < n; ++i) fn(insn[i].address, insn[i].size, insn[i].mnemonic, insn[i].op_str);
    if (n) cs_free(insn, n);
    cs_close(&handle);
}

template <typename T>
T FxGet(const CaseResult& r, unsigned offset) {
    T v;
    std::memcpy(&v, r.fx.data() + offset, sizeof(T));
    return v;
}

// Two 80-bit values within one unit in the last place of each other (same sign; a carry into the exponent
// counts as adjacent): the transcendental tolerance of emu/cpu/fpu/README.md.
bool WithinOneUlp(const u8* a, const u8* b) {
    u64 sa, sb;
    u16 ea, eb;
    std::memcpy(&sa, a, 8);
    std::memcpy(&sb, b, 8);
    std::memcpy(&ea, a + 8, 2);
    std::memcpy(&eb, b + 8, 2);
    if (sa == sb && ea == eb) return true;
    if ((ea ^ eb) & 0x8000) return false;
    // Order the magnitudes as (exponent, significand) integers; the next value after sig 0xFFFF... is
    // exponent + 1 with significand 0x8000....
    auto next = [](u16 e, u64 sig) -> std::pair<u16, u64> {
        if (sig == ~u64{0}) return {static_cast<u16>(e + 1), u64{1} << 63};
        return {e, sig + 1};
    };
    const auto na = next(ea, sa), nb = next(eb, sb);
    return (na.first == eb && na.second == sb) || (nb.first == ea && nb.second == sa);
}

// The instructions that store an image in several pieces (environment, registers, XMM area) in an order the
// SDM leaves open (Vol. 3 8.2.3.1: the ordering of the accesses within one instruction is not specified): the
// host reports CR2 for whichever piece it wrote first on the unmapped page, so only the page is compared.
// The instruction is decoded at the faulting RIP itself: Capstone stops at the first encoding it does not know
// (66 0F 1F C0, NOP r16, in Capstone 4), which may come before it.
bool MultiStore(const CaseInput& input, u64 rip) {
    bool multi = false;
    ForEachInsn(
        input,
        [&](u64, unsigned, const char* mnemonic, const char*) {
            const std::string_view m(mnemonic);
            multi = m == "fnsave" || m == "fnstenv" || m.starts_with("fxsave") || m.starts_with("xsave");
        },
        rip, 1);
    return multi;
}

// Bytes [begin, end) of an x87 image, from the image's start.
struct ByteRange {
    u16 begin, end;
};

// The x87 pointer fields of the images the snippet stores that the host writes by its own documented model
// (HostFeatures) where it differs from the emulated CPU's, as data-area offsets. Nothing on a host that shares the
// emulated model (AMD). Everything else in the images (FCW, FSW, FTW, the registers, MXCSR, the XMM registers, and
// the pointers the two models agree on) is compared.
std::set<u16> HostModelBytes(const GeneratedCase& c, const CaseResult& native, const HostFeatures& host,
                             std::span<const u8> pristine) {
    std::set<u16> out;
    if (!host.intel_x87_pointers && !host.fdp_excptn_only && !host.fcs_fds_deprecated) return out;
    const auto nm = ChangeMap(native);
    for (const X87Image& image : c.x87_images) {
        if (image.kind == X87ImageKind::None) continue;
        const bool env = image.kind == X87ImageKind::Env16 || image.kind == X87ImageKind::Env32;
        // FSW.ES as stored in the host's image (a byte the snippet left as it was is the pristine one; unknown
        // counts as ES = 0, which masks more).
        const u16 fsw_at = static_cast<u16>(image.offset + (image.kind == X87ImageKind::Env32 ? 4 : 2));
        bool es = false;
        if (auto it = nm.find(fsw_at); it != nm.end()) es = it->second & 0x80;
        else if (fsw_at < pristine.size()) es = pristine[fsw_at] & 0x80;
        // Field offsets: SDM Vol. 1 Figures 8-9 (Env32) and 8-11 (Env16), 10.5.1.1 and 13.5.1 (Fx32, Fx64).
        ByteRange fop{0, 0}, fip{0, 0}, fcs{0, 0}, fdp{0, 0}, fds{0, 0};
        switch (image.kind) {
            case X87ImageKind::Env16: fip = {6, 8}, fcs = {8, 10}, fdp = {10, 12}, fds = {12, 14}; break;
            case X87ImageKind::Env32:
                fip = {12, 16}, fcs = {16, 18}, fop = {18, 20}, fdp = {20, 24}, fds = {24, 26};
                break;
            case X87ImageKind::Fx32:
                fop = {6, 8}, fip = {8, 12}, fcs = {12, 14}, fdp = {16, 20}, fds = {20, 22};
                break;
            case X87ImageKind::Fx64: fop = {6, 8}, fip = {8, 16}, fdp = {16, 24}; break;
            case X87ImageKind::None: break;
        }
        std::vector<ByteRange> masked;
        if (host.intel_x87_pointers) {
            // FOP holds the last non-control instruction that incurred an unmasked exception (SDM Vol. 1 8.1.9; no
            // fopcode compatibility mode on recent parts); the emulator records every non-control instruction's
            // (FNSTENV/FNSAVE) and stores it in FXSAVE/XSAVE only while ES = 1. ES = 1 does not tell that the last
            // one incurred it: FLDCW, FLDENV or FRSTOR unmasking a pending exception set it too.
            masked.push_back(fop);
            // FXSAVE/XSAVE: Intel stores FIP/FCS whatever ES says (SDM Vol. 1 8.1.8), AMD and the emulator only
            // while ES = 1 (AMD APM Vol. 5 FXSAVE). FNSTENV/FNSAVE store it on both: compared.
            if (!es && !env) masked.insert(masked.end(), {fip, fcs});
            // FDP/FDS: undefined when the last non-control instruction had no memory operand (SDM Vol. 3
            // 22.18.7.16), where the emulator keeps the previous one; in FXSAVE images with ES = 0, stored by
            // Intel and zeros on AMD and in the emulator.
            masked.insert(masked.end(), {fdp, fds});
        }
        // FDP_EXCPTN_ONLY: FDP/FDS only for a non-control instruction that incurs an unmasked exception.
        if (host.fdp_excptn_only) masked.insert(masked.end(), {fdp, fds});
        // FCS/FDS deprecated: saved as 0000H (SDM Vol. 1 8.1.8, 10.5.1.1); the emulated CPU does not set the bit and
        // records CS and DS.
        if (host.fcs_fds_deprecated) masked.insert(masked.end(), {fcs, fds});
        for (const ByteRange& r : masked)
            for (u16 i = r.begin; i < r.end; ++i) out.insert(static_cast<u16>(image.offset + i));
    }
    return out;
}

// The changed bytes agree, except byte 2 of an FXSAVE image's MXCSR_MASK (see GeneratedCase::mxcsr_mask_at) and the
// host-model bytes of x87 images (HostModelBytes).
bool SameMemory(const GeneratedCase& c, const CaseResult& native, const CaseResult& emu, const HostFeatures& host,
                std::span<const u8> pristine) {
    if (native.changes_overflow != emu.changes_overflow) return false;
    const std::set<u16> host_model = HostModelBytes(c, native, host, pristine);
    if (c.mxcsr_mask_at[0] == 0xFFFF && host_model.empty()) {
        return native.num_changes == emu.num_changes &&
               std::equal(native.changes.begin(), native.changes.begin() + native.num_changes, emu.changes.begin());
    }
    auto a = ChangeMap(native), b = ChangeMap(emu);
    for (u16 at : c.mxcsr_mask_at) {
        a.erase(static_cast<u16>(at + 2));
        b.erase(static_cast<u16>(at + 2));
    }
    for (u16 at : host_model) {
        a.erase(at);
        b.erase(at);
    }
    return a == b;
}

// The snippet stopped at a memory fault (#SS, #GP, #PF) of an MMX instruction that stores an MMX register
// (MOVD/MOVQ/MOVNTQ m, mm and MASKMOVQ), on a host that has then already made the MMX transition
// (HostFeatures::mmx_store_fault_sets_top).
bool FaultingMmxStore(const CaseInput& input, const CaseResult& native, const HostFeatures& host) {
    if (!host.mmx_store_fault_sets_top || native.outcome != Outcome::Exception) return false;
    if (native.vector != 12 && native.vector != 13 && native.vector != 14) return false;  // #SS #GP #PF
    bool store = false;
    ForEachInsn(input, [&](u64 address, unsigned, const char* mnemonic, const char* ops) {
        if (address != native.rip) return;
        const std::string_view m(mnemonic), o(ops);
        const size_t comma = o.rfind(", ");
        const std::string_view src = comma == std::string_view::npos ? o : o.substr(comma + 2);
        store = m == "maskmovq" || ((m == "movd" || m == "movq" || m == "movntq") && o.find("ptr [") < comma &&
                                    src.size() == 3 && src.starts_with("mm"));
    });
    return store;
}

void CompareFx(const GeneratedCase& c, const CaseResult& native, const CaseResult& emu, const HostFeatures& host,
               Verdict& v) {
    if (FxGet<u16>(native, fx::kFcw) != FxGet<u16>(emu, fx::kFcw)) v.fields.push_back("fcw");
    u16 fsw_mask = c.x87_tolerance ? u16(~fpu_c1) : u16(0xFFFF);
    constexpr u16 kTop = 0x3800;
    // A faulting MMX store on a host that has already set TOP to 0 (and, for MASKMOVQ, every tag to valid), as an
    // MMX instruction does (SDM Vol. 3 12.2), where the emulator restores the state from before the instruction (a
    // fault, SDM Vol. 3 6.5): TOP and FTW may show that transition, and the registers are compared physically.
    unsigned emu_rotate = 0;
    const bool mmx_quirk = FaultingMmxStore(c.input, native, host) && (FxGet<u16>(native, fx::kFsw) & kTop) == 0;
    if (mmx_quirk) {
        fsw_mask = static_cast<u16>(fsw_mask & ~kTop);
        emu_rotate = (FxGet<u16>(emu, fx::kFsw) & kTop) >> 11;  // ST(i) of the emulator is physical (TOP + i) & 7
    }
    if ((FxGet<u16>(native, fx::kFsw) ^ FxGet<u16>(emu, fx::kFsw)) & fsw_mask) v.fields.push_back("fsw");
    if (native.fx[fx::kFtw] != emu.fx[fx::kFtw] && !(mmx_quirk && native.fx[fx::kFtw] == 0xFF))
        v.fields.push_back("ftw");
    if (FxGet<u32>(native, fx::kMxcsr) != FxGet<u32>(emu, fx::kMxcsr)) v.fields.push_back("mxcsr");
    for (unsigned i = 0; i < 8; ++i) {
        // Native ST(i) is physical register i when the quirk applies (TOP = 0).
        const unsigned e = mmx_quirk ? (i - emu_rotate) & 7 : i;
        const u8* a = native.fx.data() + fx::kSt + 16 * i;
        const u8* b = emu.fx.data() + fx::kSt + 16 * e;
        if (std::memcmp(a, b, 10) == 0) continue;
        if (c.x87_tolerance && WithinOneUlp(a, b)) continue;
        v.fields.push_back(kStNames[i]);
    }
    for (unsigned i = 0; i < 16; ++i)
        if (std::memcmp(native.fx.data() + fx::kXmm + 16 * i, emu.fx.data() + fx::kXmm + 16 * i, 16) != 0)
            v.fields.push_back(kXmmNames[i]);
}

}  // namespace

std::string_view OutcomeName(Outcome o) {
    switch (o) {
        case Outcome::Completed: return "completed";
        case Outcome::Exception: return "exception";
        case Outcome::Timeout: return "timeout";
        case Outcome::Crashed: return "crashed";
    }
    return "?";
}

Verdict Compare(const GeneratedCase& c, const CaseResult& native, const CaseResult& emu, const HostFeatures& host,
                std::span<const u8> pristine) {
    Verdict v;
    if (native.outcome == Outcome::Timeout || native.outcome == Outcome::Crashed) {
        v.native_trouble = true;
        return v;
    }
    if (native.outcome != emu.outcome) {
        v.fields.push_back("outcome");
        return v;
    }
    const bool fault = native.outcome == Outcome::Exception;
    if (fault) {
        if (native.vector != emu.vector) v.fields.push_back("vector");
        u32 mask = native.vector == 14 ? kPfErrorBits : ~u32{0};
        if (native.vector == 14 && native.cr2 >= kLinuxTaskSizeMax) mask &= ~u32{1};
        if (native.vector == emu.vector && (native.error_code & mask) != (emu.error_code & mask))
            v.fields.push_back("error_code");
        if (native.vector == 14 && native.cr2 != emu.cr2 &&
            !(MultiStore(c.input, native.rip) && (native.cr2 >> 12) == (emu.cr2 >> 12)))
            v.fields.push_back("cr2");
    }
    if (native.rip != emu.rip) v.fields.push_back("rip");
    const u64 undef_flags = fault ? c.undefined_flags_at_fault : c.undefined_flags;
    const u16 undef_gprs = fault ? c.undefined_gprs_at_fault : c.undefined_gprs;
    const u64 mask = kCompareFlags & ~undef_flags;
    if ((native.rflags & mask) != (emu.rflags & mask)) v.fields.push_back("rflags");
    for (unsigned i = 0; i < 16; ++i) {
        if (undef_gprs & (1u << i)) continue;
        if (native.gpr[i] != emu.gpr[i]) v.fields.push_back(kGprNames[i]);
    }
    // FOP/FIP/FDP (image bytes 6-23) are not compared here: whether and when they are recorded is model
    // specific (SDM Vol. 1 8.1.8-8.1.9: FDP_EXCPTN_ONLY, FCS/FDS deprecation; AMD APM Vol. 2 11.4.4: pointers
    // saved only with ES=1 unless CPUID 8000_0008h EBX[2]). The fxsave class compares the image bytes the
    // snippet itself stores. MXCSR_MASK (28-31) is a model constant, not state.
    CompareFx(c, native, emu, host, v);
    if (!SameMemory(c, native, emu, host, pristine)) v.fields.push_back("memory");
    return v;
}

std::string Disassemble(const CaseInput& input) {
    std::string out;
    unsigned covered = 0;
    ForEachInsn(input, [&](u64 address, unsigned size, const char* mnemonic, const char* ops) {
        std::string hex;
        for (unsigned i = 0; i < size; ++i) hex += fmt::format("{:02x}", input.code[address - kCodeBase + i]);
        out += fmt::format("    {:08x}: {:<32} {} {}\n", address, hex, mnemonic, ops);
        covered = static_cast<unsigned>(address - kCodeBase + size);
    });
    if (covered < input.code_length) out += fmt::format("    (capstone stops at +{})\n", covered);
    return out;
}

std::string MnemonicKey(const CaseInput& input) {
    std::set<std::string> names;
    ForEachInsn(input, [&](u64, unsigned, const char* mnemonic, const char*) { names.insert(mnemonic); });
    std::string key;
    for (const auto& n : names) key += (key.empty() ? "" : ",") + n;
    return key.empty() ? "(undecodable)" : key;
}

std::string Symptom(const CaseResult& native, const CaseResult& emu, const Verdict& verdict) {
    if (verdict.native_trouble) return fmt::format("native {}", OutcomeName(native.outcome));
    auto event = [](const CaseResult& r) {
        return r.outcome == Outcome::Exception ? fmt::format("#{}", r.vector) : std::string(OutcomeName(r.outcome));
    };
    std::string s;
    for (const auto& f : verdict.fields) {
        if (!s.empty()) s += " ";
        if (f == "outcome" || f == "vector")
            s += fmt::format("{}: native {} emulator {}", f, event(native), event(emu));
        else if (f == "error_code")
            s += fmt::format("error_code: native {:#x} emulator {:#x} (#{})", native.error_code, emu.error_code,
                             native.vector);
        else s += f;
    }
    return s;
}

std::string Culprit(const CaseInput& input, const CaseResult& native, const Verdict& verdict) {
    const bool only_exception = std::all_of(verdict.fields.begin(), verdict.fields.end(), [](const std::string& f) {
        return f == "vector" || f == "error_code" || f == "cr2" || f == "rip";
    });
    if (native.outcome != Outcome::Exception || !only_exception) return MnemonicKey(input);
    std::string name;
    ForEachInsn(input, [&](u64 address, unsigned, const char* mnemonic, const char*) {
        if (address == native.rip) name = mnemonic;
    });
    return name.empty() ? MnemonicKey(input) : name;
}

namespace {
std::string St80(const u8* p) {
    u64 sig;
    u16 se;
    std::memcpy(&sig, p, 8);
    std::memcpy(&se, p + 8, 2);
    return fmt::format("{:04x}:{:016x}", se, sig);
}
}  // namespace

std::string FormatFx(const GeneratedCase& c, const CaseResult& native, std::span<const EmuColumn> emus) {
    CaseResult in;
    in.fx = c.input.fx;
    std::string s;
    auto line = [&](const char* name, auto get) {
        const std::string nat = get(native);
        s += fmt::format("  {:>6} {:<24} {:<24}", name, get(in), nat);
        bool differs = false;
        for (const EmuColumn& e : emus) {
            const std::string v = get(*e.result);
            differs |= v != nat;
            s += fmt::format(" {:<24}", v);
        }
        s += differs ? "  <--\n" : "\n";
    };
    line("fcw", [](const CaseResult& r) { return fmt::format("{:04x}", FxGet<u16>(r, fx::kFcw)); });
    line("fsw", [](const CaseResult& r) { return fmt::format("{:04x}", FxGet<u16>(r, fx::kFsw)); });
    line("ftw", [](const CaseResult& r) { return fmt::format("{:02x}", r.fx[fx::kFtw]); });
    line("mxcsr", [](const CaseResult& r) { return fmt::format("{:08x}", FxGet<u32>(r, fx::kMxcsr)); });
    line("fop/ip", [](const CaseResult& r) {
        return fmt::format("{:03x}/{:x}", FxGet<u16>(r, fx::kFop), FxGet<u64>(r, fx::kFip));
    });
    line("fdp", [](const CaseResult& r) { return fmt::format("{:x}", FxGet<u64>(r, fx::kFdp)); });
    for (unsigned i = 0; i < 8; ++i)
        line(kStNames[i], [i](const CaseResult& r) { return St80(r.fx.data() + fx::kSt + 16 * i); });
    for (unsigned i = 0; i < 16; ++i)
        line(kXmmNames[i], [i](const CaseResult& r) {
            const unsigned at = fx::kXmm + 16 * i;
            return fmt::format("{:016x}{:016x}", FxGet<u64>(r, at + 8), FxGet<u64>(r, at));
        });
    return s;
}

std::string FormatCase(const GeneratedCase& c) {
    std::string classes;
    for (InsnClass k : c.classes) classes += std::string(classes.empty() ? "" : ",") + std::string(ClassName(k));
    std::string s = fmt::format("  classes: {}\n  bytes:", classes);
    for (unsigned i = 0; i < c.input.code_length; ++i) s += fmt::format(" {:02x}", c.input.code[i]);
    return s + "\n" + Disassemble(c.input);
}

std::string FormatFailure(std::string_view reproduce, const GeneratedCase& c, const CaseResult& native,
                          std::span<const EmuColumn> emus) {
    std::string s = fmt::format("=== MISMATCH case {} (reproduce: diff-cpu {} --first {} --cases 1 --verbose)\n",
                                c.index, reproduce, c.index);
    s += FormatCase(c);
    if (native.outcome == Outcome::Timeout || native.outcome == Outcome::Crashed)
        s += "  the native run " + std::string(OutcomeName(native.outcome)) + "\n";
    std::string differs;
    for (const EmuColumn& e : emus) {
        std::string fields;
        for (const auto& f : e.verdict->fields) fields += " " + f;
        differs += fmt::format("{}{}:{}", differs.empty() ? "" : "; ", e.name, fields.empty() ? " nothing" : fields);
    }
    s += fmt::format("  differs from the host: {}\n", differs);
    s += fmt::format("  {:>6} {:<18} {:<18}", "", "input", "native");
    for (const EmuColumn& e : emus) s += fmt::format(" {:<18}", e.name);
    s += "\n";
    auto row = [&](const char* name, u64 input, auto get, std::string_view note) {
        s += fmt::format("  {:>6} {:016x}   {:016x}  ", name, input, get(native));
        bool differs = false;
        for (const EmuColumn& e : emus) {
            differs |= get(*e.result) != get(native);
            s += fmt::format(" {:016x}  ", get(*e.result));
        }
        s += fmt::format("{}{}\n", differs ? "<--" : "", note);
    };
    for (unsigned i = 0; i < 16; ++i) {
        const bool undef = c.undefined_gprs_at_fault & (1u << i);
        row(kGprNames[i], c.input.gpr[i], [i](const CaseResult& r) { return r.gpr[i]; }, undef ? " (undefined)" : "");
    }
    row("rflags", c.input.rflags, [](const CaseResult& r) { return r.rflags; },
        fmt::format(" undefined {:#x} (at a fault {:#x})", c.undefined_flags, c.undefined_flags_at_fault));
    s += FormatFx(c, native, emus);
    for (u16 at : c.mxcsr_mask_at)
        if (at != 0xFFFF) s += fmt::format("  MXCSR_MASK of an image at {:#x} (byte 2 not compared)\n", kDataBase + at);
    auto describe = [](const CaseResult& r) {
        std::string d = fmt::format("{} rip={:#x}", OutcomeName(r.outcome), r.rip);
        if (r.outcome == Outcome::Exception)
            d += fmt::format(" vector={} error={:#x} cr2={:#x}", r.vector, r.error_code, r.cr2);
        return d;
    };
    s += fmt::format("  {:<8} {}\n", "native:", describe(native));
    for (const EmuColumn& e : emus) s += fmt::format("  {:<8} {}\n", std::string(e.name) + ":", describe(*e.result));
    for (unsigned i = 0; i < c.input.num_patches; ++i) {
        const MemPatch& p = c.input.patches[i];
        s += fmt::format("  memory patch at {:#x}:", kDataBase + p.offset);
        for (unsigned j = 0; j < p.length; ++j) s += fmt::format(" {:02x}", p.bytes[j]);
        s += "\n";
    }
    const auto nm = ChangeMap(native);
    std::vector<std::map<u16, u8>> em;
    std::set<u16> offsets;
    for (auto [o, _] : nm) offsets.insert(o);
    for (const EmuColumn& e : emus) {
        em.push_back(ChangeMap(*e.result));
        for (auto [o, _] : em.back()) offsets.insert(o);
    }
    auto value = [](const std::map<u16, u8>& m, u16 o) {
        const auto it = m.find(o);
        return it == m.end() ? std::string("unchanged") : fmt::format("{:02x}", it->second);
    };
    unsigned shown = 0;
    for (u16 o : offsets) {
        const std::string nat = value(nm, o);
        std::string line;
        bool same = true;
        for (size_t k = 0; k < emus.size(); ++k) {
            const std::string v = value(em[k], o);
            same &= v == nat;
            line += fmt::format(" {} {}", emus[k].name, v);
        }
        if (same) continue;
        if (shown++ == 24) { s += "  ...\n"; break; }
        s += fmt::format("  memory {:#x}: native {}{}\n", kDataBase + o, nat, line);
    }
    return s;
}

}  // namespace emu::diff
