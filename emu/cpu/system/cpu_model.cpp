#include "emu/cpu/system/cpu_model.h"

#include <cpuid.h>

#include <array>
#include <cstdio>
#include <cstring>

namespace emu::cpu::system {
namespace {

// CPUID.1:EAX from a family, model and stepping (SDM Vol. 2 CPUID, Figure 3-6: families above 15 use the extended
// family field, models above 15 the extended model field).
constexpr u32 Signature(u32 family, u32 model, u32 stepping) {
    const u32 base_family = family > 15 ? 15 : family;
    const u32 ext_family = family > 15 ? family - 15 : 0;
    return (ext_family << 20) | ((model >> 4) << 16) | (base_family << 8) | ((model & 0xF) << 4) | stepping;
}

// The named processors: vendor, signature, brand and the CPUID features QEMU's model table gives them (feature names
// as in Linux's /proc/cpuinfo). Only names in cpuid.cpp's table can be advertised; the others are listed as missing.
struct ModelDef {
    std::string_view name;
    Vendor vendor;
    u32 signature;
    std::string_view brand;
    std::string_view features;  // space-separated
};

// The leaf-1 EDX features every model below has (QEMU's PPRO_FEATURES plus VME), before its own.
constexpr std::string_view kCommonEdx =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2";

constexpr ModelDef kModels[] = {
    {"qemu64", Vendor::Amd, Signature(15, 107, 1), "QEMU Virtual CPU version 2.5+",
     "sse3 cx16 lm syscall nx lahf_lm svm"},
    {"Opteron_G1", Vendor::Amd, Signature(15, 6, 1), "AMD Opteron 240 (Gen 1 Class Opteron)",
     "sse3 lm nx syscall"},
    {"Opteron_G2", Vendor::Amd, Signature(15, 6, 1), "AMD Opteron 22xx (Gen 2 Class Opteron)",
     "cx16 sse3 lm nx syscall svm lahf_lm"},
    {"Opteron_G3", Vendor::Amd, Signature(16, 2, 3), "AMD Opteron 23xx (Gen 3 Class Opteron)",
     "popcnt cx16 monitor sse3 lm nx syscall misalignsse sse4a abm svm lahf_lm"},
    {"Opteron_G4", Vendor::Amd, Signature(21, 1, 2), "AMD Opteron 62xx class CPU",
     "avx xsave aes popcnt sse4_2 sse4_1 cx16 ssse3 pclmulqdq sse3 lm pdpe1gb nx syscall fma4 xop "
     "3dnowprefetch misalignsse sse4a abm svm lahf_lm"},
    {"Opteron_G5", Vendor::Amd, Signature(21, 2, 0), "AMD Opteron 63xx class CPU",
     "f16c avx xsave aes popcnt sse4_2 sse4_1 cx16 fma ssse3 pclmulqdq sse3 lm pdpe1gb nx syscall "
     "tbm fma4 xop 3dnowprefetch misalignsse sse4a abm svm lahf_lm"},
    {"EPYC", Vendor::Amd, Signature(23, 1, 2), "AMD EPYC Processor",
     "rdrand f16c avx xsave aes popcnt movbe sse4_2 sse4_1 cx16 fma ssse3 monitor pclmulqdq sse3 "
     "lm rdtscp pdpe1gb fxsr_opt nx syscall osvw 3dnowprefetch misalignsse sse4a abm cr8_legacy svm "
     "lahf_lm fsgsbase bmi1 avx2 smep bmi2 rdseed adx smap clflushopt sha_ni xsaveopt xsavec xgetbv1"},
    {"Skylake-Client", Vendor::Intel, Signature(6, 94, 3), "Intel Core Processor (Skylake)",
     "avx xsave aes popcnt x2apic sse4_2 sse4_1 cx16 ssse3 pclmulqdq sse3 tsc_deadline_timer fma movbe "
     "pcid f16c rdrand lm rdtscp nx syscall abm lahf_lm 3dnowprefetch fsgsbase bmi1 hle avx2 smep bmi2 "
     "erms invpcid rtm rdseed adx smap mpx xsaveopt xsavec xgetbv1 arat"},
};

// "max" and the default: everything emu64 implements, with the signature and brand emu64 always reported (family 6,
// model 0x3A, stepping 9: an Ivy Bridge signature).
constexpr u32 kMaxSignature = Signature(6, 0x3A, 9);

std::vector<std::string_view> Words(std::string_view s) {
    std::vector<std::string_view> out;
    while (!s.empty()) {
        const size_t space = s.find(' ');
        if (space != 0) out.push_back(s.substr(0, space));
        if (space == std::string_view::npos) break;
        s.remove_prefix(space + 1);
    }
    return out;
}

bool Implemented(int index) { return index >= 0 && CpuidFeatures()[static_cast<size_t>(index)].enabled; }

CpuModel MaxModel() {
    CpuModel m{"max", Vendor::Intel, kMaxSignature, "emu64 virtual x86-64 CPU", {}, {}};
    for (size_t i = 0; i < CpuidFeatures().size(); ++i) m.features[i] = CpuidFeatures()[i].enabled;
    return m;
}

CpuModel FromDef(const ModelDef& def) {
    CpuModel m{std::string(def.name), def.vendor, def.signature, std::string(def.brand), {}, {}};
    std::vector<std::string_view> names = Words(kCommonEdx);
    for (std::string_view name : Words(def.features)) names.push_back(name);
    for (std::string_view name : names) {
        const int i = FeatureIndex(name);
        if (Implemented(i)) {
            m.features[static_cast<size_t>(i)] = true;
        } else {
            m.missing.emplace_back(name);
        }
    }
    return m;
}

// "host": this machine's vendor, signature and brand, and the features of its CPUID that emu64 implements.
CpuModel HostModel() {
    CpuModel m{"host", Vendor::Intel, 0, "", {}, {}};
    unsigned a, b, c, d;
    if (__get_cpuid(0, &a, &b, &c, &d)) m.vendor = b == 0x68747541 ? Vendor::Amd : Vendor::Intel;  // "Auth"
    if (__get_cpuid(1, &a, &b, &c, &d)) m.signature = a;
    std::array<char, 49> brand{};
    for (unsigned part = 0; part < 3; ++part) {
        if (!__get_cpuid(0x80000002 + part, &a, &b, &c, &d)) break;
        const unsigned regs[4] = {a, b, c, d};
        std::memcpy(brand.data() + 16 * part, regs, sizeof regs);
    }
    m.brand = brand.data();
    for (size_t i = 0; i < CpuidFeatures().size(); ++i) {
        const CpuidFeature& f = CpuidFeatures()[i];
        if (!__get_cpuid_count(f.leaf, f.subleaf, &a, &b, &c, &d)) continue;
        const unsigned reg = f.reg == CpuidReg::Eax ? a : f.reg == CpuidReg::Ebx ? b : f.reg == CpuidReg::Ecx ? c : d;
        if (reg & (1u << f.bit)) {
            if (f.enabled) {
                m.features[i] = true;
            } else {
                m.missing.emplace_back(f.name);
            }
        }
    }
    return m;
}

std::optional<CpuModel> NamedModel(std::string_view name) {
    if (name == "max") return MaxModel();
    if (name == "host") return HostModel();
    for (const ModelDef& def : kModels) {
        if (def.name == name) return FromDef(def);
    }
    return std::nullopt;
}

CpuModel& Selected() {
    static CpuModel model = MaxModel();
    return model;
}

}  // namespace

std::optional<CpuModel> ParseCpuSpec(std::string_view spec, std::string* error) {
    const size_t comma = spec.find(',');
    const std::string_view name = spec.substr(0, comma);
    std::optional<CpuModel> model = NamedModel(name);
    if (!model) {
        *error = "unknown CPU model '" + std::string(name) + "' (-cpu help lists them)";
        return std::nullopt;
    }
    std::string_view rest = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    while (!rest.empty()) {
        const size_t next = rest.find(',');
        const std::string_view item = rest.substr(0, next);
        rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
        if (item.starts_with("vendor=")) {
            const std::string_view v = item.substr(7);
            if (v == "intel" || v == "GenuineIntel") {
                model->vendor = Vendor::Intel;
            } else if (v == "amd" || v == "AuthenticAMD") {
                model->vendor = Vendor::Amd;
            } else {
                *error = "unknown vendor '" + std::string(v) + "' (expected intel, amd, GenuineIntel or AuthenticAMD)";
                return std::nullopt;
            }
            continue;
        }
        // +feat / -feat, and QEMU's feat=on|off.
        bool on;
        std::string_view feature;
        if (item.starts_with('+') || item.starts_with('-')) {
            on = item[0] == '+';
            feature = item.substr(1);
        } else if (item.ends_with("=on") || item.ends_with("=off")) {
            on = item.ends_with("=on");
            feature = item.substr(0, item.rfind('='));
        } else {
            *error = "'" + std::string(item) + "': expected vendor=..., +FEATURE, -FEATURE or FEATURE=on|off";
            return std::nullopt;
        }
        const int i = FeatureIndex(feature);
        if (i < 0) {
            *error = "unknown CPU feature '" + std::string(feature) + "' (-cpu help lists them)";
            return std::nullopt;
        }
        if (on && !Implemented(i)) {
            *error = "CPU feature '" + std::string(feature) + "' is not implemented by emu64";
            return std::nullopt;
        }
        model->features[static_cast<size_t>(i)] = on;
    }
    return model;
}

std::string CpuModelsHelp() {
    auto describe = [](const CpuModel& m) {
        std::string line = "  " + m.name + (m.vendor == Vendor::Amd ? " (AuthenticAMD" : " (GenuineIntel");
        char sig[16];
        std::snprintf(sig, sizeof sig, ", %08X", m.signature);
        line += sig;
        line += ") " + m.brand + "\n    advertises:";
        for (size_t i = 0; i < CpuidFeatures().size(); ++i) {
            if (m.features[i]) line += " " + std::string(CpuidFeatures()[i].name);
        }
        if (!m.missing.empty()) {
            line += "\n    not implemented by emu64, not advertised:";
            for (const std::string& f : m.missing) line += " " + f;
        }
        return line + "\n";
    };
    std::string out = "CPU models (-cpu MODEL[,vendor=intel|amd][,+FEATURE][,-FEATURE][,FEATURE=on|off]):\n";
    out += describe(MaxModel());
    out += describe(HostModel());
    for (const ModelDef& def : kModels) out += describe(FromDef(def));
    out += "Features emu64 implements (+FEATURE):";
    for (const CpuidFeature& f : CpuidFeatures()) {
        if (f.enabled) out += " " + std::string(f.name);
    }
    out += "\nFeatures it knows but does not implement:";
    for (const CpuidFeature& f : CpuidFeatures()) {
        if (!f.enabled) out += " " + std::string(f.name);
    }
    return out + "\n";
}

void SelectCpuModel(const CpuModel& model) { Selected() = model; }
const CpuModel& SelectedCpuModel() { return Selected(); }

}  // namespace emu::cpu::system
