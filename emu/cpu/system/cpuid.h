#pragma once
// CPUID: what the virtual CPU reports. Only implemented features are advertised; each feature bit lives
// in one table (cpuid.cpp, kFeatures) so that whoever implements a feature flips it there.
#include <span>
#include <string_view>

#include "emu/common/types.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::cpu::system {

struct CpuidResult {
    u32 eax = 0, ebx = 0, ecx = 0, edx = 0;
};

enum class CpuidReg : u8 { Eax, Ebx, Ecx, Edx };

struct CpuidFeature {
    u32 leaf;
    u32 subleaf;
    CpuidReg reg;
    u8 bit;
    std::string_view name;  // as in the SDM's CPUID tables / Linux's /proc/cpuinfo
    bool enabled;
};

// Whose manual the virtual CPU follows where Intel's and AMD's differ (undefined results and flags, instructions one
// vendor refuses). CPUID leaf 0 reports it.
enum class Vendor : u8 { Intel, Amd };
Vendor CpuVendor();

// The feature table, for tests and documentation.
std::span<const CpuidFeature> CpuidFeatures();

CpuidResult Cpuid(u32 leaf, u32 subleaf, const CpuState& state);
// Whether the feature with this name is advertised by the selected model (false for names not in the table).
bool HasFeature(std::string_view name);

// The XCR0 bits XSETBV accepts and CPUID.(EAX=0DH,ECX=0):EAX reports: x87, SSE, and PKRU with pku.
u64 SupportedXcr0();
// The feature's index in CpuidFeatures(), or -1 for a name not in the table.
int FeatureIndex(std::string_view name);

}  // namespace emu::cpu::system
