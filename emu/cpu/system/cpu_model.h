#pragma once
// -cpu MODEL[,vendor=intel|amd][,+FEATURE][,-FEATURE][,FEATURE=on|off]: the CPU model the machine presents, as QEMU
// users write it. A model is a vendor, a CPUID signature and brand, and the CPUID features it advertises: those of the
// named processor (facts from QEMU's model table, target/i386/cpu.c) that emu64 implements (cpuid.cpp's table); the
// rest are listed by `-cpu help` and not advertised, as QEMU's TCG drops what it cannot emulate. The vendor decides
// behaviour where Intel's and AMD's manuals differ (cpuid.h: CpuVendor()).
//
// One model per process: the machine selects it before any vCPU runs, and CPUID, the translator's feature checks and
// the vendor-dependent paths read it from then on (blocks are never translated under another model).
#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emu/common/types.h"
#include "emu/cpu/system/cpuid.h"

namespace emu::cpu::system {

inline constexpr size_t kMaxFeatures = 64;  // cpuid.cpp's table fits (static_assert there)

struct CpuModel {
    std::string name;
    Vendor vendor = Vendor::Intel;
    u32 signature = 0;   // CPUID.1:EAX (family, model, stepping)
    std::string brand;   // CPUID.80000002H-80000004H
    std::bitset<kMaxFeatures> features;  // advertised, by index into CpuidFeatures()
    std::vector<std::string> missing;    // features of the named processor that emu64 does not implement
};

// Parses a -cpu spec; on failure returns nullopt and sets *error to the message (unknown model, vendor or feature, a
// feature emu64 does not implement asked for with +).
std::optional<CpuModel> ParseCpuSpec(std::string_view spec, std::string* error);
// `-cpu help`: the models, what each advertises and lacks, and the features.
std::string CpuModelsHelp();

// The model in force (the default, "max", until one is selected).
void SelectCpuModel(const CpuModel& model);
const CpuModel& SelectedCpuModel();

}  // namespace emu::cpu::system
