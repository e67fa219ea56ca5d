#include "tests/diff/generator.h"

#include <cpuid.h>

#include <algorithm>
#include <cstring>

#include "emu/cpu/system/cpuid.h"
#include "tests/diff/builder.h"
#include "tests/diff/fp_values.h"
#include "tests/diff/native_runner.h"

namespace emu::diff {

using namespace gen;

namespace {

static_assert(std::tuple_size_v<decltype(BuildState::classes)> >= Generator::kMaxLength);
// One image at most per instruction: recording one never rejects a template.
static_assert(std::tuple_size_v<decltype(BuildState::x87_images)> >= Generator::kMaxLength);

u64 CaseSeed(u64 seed, u64 index) {
    Rng r(seed ^ (index * 0xD1B54A32D192ED03ull));
    r.Next();
    return r.Next();
}

}  // namespace

std::string_view ClassName(InsnClass c) {
    switch (c) {
#define EMU64_DIFF_NAME(name, str) case InsnClass::name: return str;
        EMU64_DIFF_CLASSES(EMU64_DIFF_NAME)
#undef EMU64_DIFF_NAME
        case InsnClass::Count: break;
    }
    return "?";
}

std::optional<InsnClass> ClassFromName(std::string_view name) {
    for (InsnClass c : AllClasses()) if (ClassName(c) == name) return c;
    return std::nullopt;
}

std::vector<InsnClass> AllClasses() {
    std::vector<InsnClass> all;
    for (unsigned i = 0; i < kNumClasses; ++i) all.push_back(static_cast<InsnClass>(i));
    return all;
}

HostFeatures HostFeatures::Detect() {
    HostFeatures f;
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        f.popcnt = c & (1u << 23);
        f.cx16 = c & (1u << 13);
        f.crc32 = c & (1u << 20);
        f.movbe = c & (1u << 22);
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        // Both CPUs must run F3 0F BC as TZCNT: without BMI1 in its CPUID the emulated CPU runs it as BSF (SDM TZCNT).
        f.tzcnt = (b & (1u << 3)) && emu::cpu::system::HasFeature("bmi1");
        f.adx = b & (1u << 19);
    }
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) {
        f.lahf64 = c & 1;
        f.lzcnt = (c & (1u << 5)) && emu::cpu::system::HasFeature("abm");  // both run F3 0F BD as LZCNT
    }
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        char vendor[13] = {};
        std::memcpy(vendor, &b, 4);
        std::memcpy(vendor + 4, &d, 4);
        std::memcpy(vendor + 8, &c, 4);
        f.intel_x87_pointers = std::string_view(vendor) == "GenuineIntel";
        const bool host_amd = std::string_view(vendor) == "AuthenticAMD";
        f.same_vendor = host_amd == (emu::cpu::system::CpuVendor() == emu::cpu::system::Vendor::Amd);
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.cet_ss = c & (1u << 7);
        f.fdp_excptn_only = b & (1u << 6);
        f.fcs_fds_deprecated = b & (1u << 13);
    }
    const HostProbes probes = ProbeHost();
    f.ptwrite = probes.ptwrite;
    f.x87_suppressed_store_skips_checks = probes.x87_suppressed_store_skips_checks;
    f.mmx_store_fault_sets_top = probes.mmx_store_fault_sets_top;
    f.x87_m80_store_split = probes.x87_m80_store_split;
    f.rep_a32_zero_count_clears_rcx = probes.rep_a32_zero_count_clears_rcx;
    f.fxsave_ss_canonical_first = probes.fxsave_ss_canonical_first;
    return f;
}

Generator::Generator(u64 seed, std::span<const u8> pristine, HostFeatures features, std::vector<InsnClass> enabled,
                     unsigned max_length, unsigned min_length)
    : seed_(seed), pristine_(pristine), features_(features), enabled_(std::move(enabled)),
      max_length_(std::clamp(max_length, 1u, kMaxLength)), min_length_(std::clamp(min_length, 1u, max_length_)) {
    if (enabled_.empty()) enabled_ = AllClasses();
}

GeneratedCase Generator::Generate(u64 index) const {
    Builder b(CaseSeed(seed_, index), pristine_, features_);
    Rng& rng = b.rng;
    CaseInput& in = b.s.input;
    for (unsigned r = 0; r < 16; ++r) in.gpr[r] = InitialValue(rng);
    // The snippet's stack: inside the data area, usually 8-aligned, sometimes not.
    in.gpr[RSP] = kDataBase + kStackStart - 8 * rng.Below(64) - (rng.Chance(1, 8) ? rng.Below(8) : 0);
    in.rflags = 0x202 | (rng.Next() & kArith) | (rng.Chance(1, 2) ? DF : 0);
    RandomFpState(rng, in.fx);
    u16 fcw;
    std::memcpy(&fcw, in.fx.data() + fx::kFcw, 2);
    b.s.x87_store_may_be_suppressed = (fcw & 0x19) != 0x19;  // IM, OM, UM
    b.s.x87_underflow_may_be_unmasked = (fcw & 0x10) == 0;

    const std::array<unsigned, 10> lengths{1, 1, 1, 1, 2, 2, 2, 3, 3, 4};
    // The default draw stays as it was so that existing (seed, index) pairs keep reproducing the same case.
    const unsigned target = min_length_ > 1
                                ? min_length_ + static_cast<unsigned>(rng.Below(max_length_ - min_length_ + 1))
                                : std::min(rng.Pick(lengths), max_length_);
    for (unsigned i = 0; i < target && !b.s.ended; ++i) {
        for (unsigned attempt = 0; attempt < 64; ++attempt) {
            const InsnClass cls = enabled_[rng.Below(enabled_.size())];
            const BuildState saved = b.s;
            b.info = InsnInfo{};
            const u16 pinned_before = b.s.pinned;
            if (RunTemplate(cls, b) && b.Commit(pinned_before)) {
                if (b.s.num_classes < b.s.classes.size()) b.s.classes[b.s.num_classes++] = cls;
                break;
            }
            b.s = saved;
        }
    }
    GeneratedCase out;
    out.index = index;
    out.input = b.s.input;
    out.input.code = b.s.code;
    out.input.code_length = b.s.code_length;
    out.undefined_flags = b.s.undef_flags;
    out.undefined_gprs = b.s.undef_regs;
    out.undefined_flags_at_fault = b.s.undef_flags | b.s.ever_undef_flags;
    out.undefined_gprs_at_fault = static_cast<u16>(b.s.undef_regs | b.s.ever_undef_regs);
    out.classes.assign(b.s.classes.begin(), b.s.classes.begin() + b.s.num_classes);
    out.x87_tolerance = b.s.x87_tolerance;
    out.mxcsr_mask_at = b.s.mxcsr_mask_at;
    out.x87_images = b.s.x87_images;
    return out;
}

}  // namespace emu::diff
