#include "emu/cpu/system/cpuid.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "emu/cpu/simd/state.h"
#include "emu/cpu/system/cpu_model.h"
#include "emu/cpu/system/topology.h"

namespace emu::cpu::system {
namespace {

constexpr u32 kMaxBasicLeaf = 0x1F;  // 0x1F: the V2 extended topology leaf
// The TSC and the local APIC timer's input clock both count host nanoseconds (GuestTsc, devices/irq/local_apic.h).
// Leaf 0x15 states it, so the kernel takes the frequency as known instead of calibrating it against the PIT on
// a CPU whose speed varies with the host's load (a miscalibrated TSC is later marked unstable by the clocksource
// watchdog).
constexpr u32 kCrystalHz = 1'000'000'000;
constexpr u32 kTscMhz = kCrystalHz / 1'000'000;
constexpr u32 kMaxExtendedLeaf = 0x80000008;

// Every feature bit we know about; `enabled` only when the emulator implements it. The selected CPU model
// (cpu_model.h) advertises a subset of the enabled ones.
constexpr CpuidFeature kFeatures[] = {
    {1, 0, CpuidReg::Edx, 0, "fpu", true},
    {1, 0, CpuidReg::Edx, 3, "pse", true},
    {1, 0, CpuidReg::Edx, 4, "tsc", true},
    {1, 0, CpuidReg::Edx, 5, "msr", true},
    {1, 0, CpuidReg::Edx, 6, "pae", true},
    {1, 0, CpuidReg::Edx, 8, "cx8", true},
    {1, 0, CpuidReg::Edx, 9, "apic", true},  // xAPIC at IA32_APIC_BASE (devices/irq/local_apic)
    {1, 0, CpuidReg::Edx, 11, "sep", true},
    {1, 0, CpuidReg::Edx, 12, "mtrr", true},
    {1, 0, CpuidReg::Edx, 13, "pge", true},
    {1, 0, CpuidReg::Edx, 15, "cmov", true},
    {1, 0, CpuidReg::Edx, 16, "pat", true},
    {1, 0, CpuidReg::Edx, 19, "clflush", true},
    {1, 0, CpuidReg::Edx, 23, "mmx", true},
    {1, 0, CpuidReg::Edx, 24, "fxsr", true},
    {1, 0, CpuidReg::Edx, 25, "sse", true},
    {1, 0, CpuidReg::Edx, 26, "sse2", true},
    {1, 0, CpuidReg::Ecx, 0, "sse3", true},
    {1, 0, CpuidReg::Ecx, 9, "ssse3", true},
    {1, 0, CpuidReg::Ecx, 13, "cx16", true},
    {1, 0, CpuidReg::Ecx, 17, "pcid", true},  // CR4.PCIDE, CR3 bit 63 (control.cpp); the TLB is untagged
    {1, 0, CpuidReg::Ecx, 19, "sse4_1", true},
    {1, 0, CpuidReg::Ecx, 20, "sse4_2", true},
    {1, 0, CpuidReg::Ecx, 21, "x2apic", true},  // EXTD and MSRs 0x800-0x8FF (msr.cpp, devices/irq/local_apic)
    {1, 0, CpuidReg::Ecx, 22, "movbe", true},
    {1, 0, CpuidReg::Ecx, 23, "popcnt", true},
    {1, 0, CpuidReg::Ecx, 24, "tsc_deadline_timer", true},  // IA32_TSC_DEADLINE: the local APIC's MSR
    {1, 0, CpuidReg::Ecx, 26, "xsave", true},
    {7, 0, CpuidReg::Ebx, 0, "fsgsbase", true},  // RD/WR FS/GS BASE with CR4.FSGSBASE (segments.h)
    {7, 0, CpuidReg::Ebx, 3, "bmi1", false},
    {7, 0, CpuidReg::Ebx, 7, "smep", true},   // mmu/walk and the shadow MMU's role; fetch faults carry I/D
    {7, 0, CpuidReg::Ebx, 20, "smap", true},  // mmu/softtlb's SupervisorAc index; STAC/CLAC (translate/flags.cpp)
    {7, 0, CpuidReg::Ebx, 8, "bmi2", false},
    {7, 0, CpuidReg::Ebx, 10, "invpcid", true},  // control.h Invpcid
    {7, 0, CpuidReg::Ebx, 19, "adx", true},
    {7, 0, CpuidReg::Ecx, 2, "umip", true},  // CR4.UMIP: control.h CheckUmip
    {7, 0, CpuidReg::Ecx, 3, "pku", true},  // CR4.PKE, PKRU (XSAVE component 9), mmu/walk's key check
    {7, 0, CpuidReg::Ecx, 22, "rdpid", true},
    {7, 0, CpuidReg::Edx, 29, "arch_capabilities", true},  // IA32_ARCH_CAPABILITIES (msr.cpp): not vulnerable
    {0x80000001, 0, CpuidReg::Ecx, 0, "lahf_lm", true},
    {0x80000001, 0, CpuidReg::Ecx, 5, "abm", true},  // LZCNT
    {0x80000001, 0, CpuidReg::Edx, 11, "syscall", true},
    {0x80000001, 0, CpuidReg::Edx, 20, "nx", true},
    {0x80000001, 0, CpuidReg::Edx, 26, "pdpe1gb", true},  // 1 GiB pages: walker and shadow MMU
    {0x80000001, 0, CpuidReg::Edx, 27, "rdtscp", true},
    {0x80000001, 0, CpuidReg::Edx, 29, "lm", true},
    // The TSC counts the host clock at a fixed rate on every vCPU, running or halted (one clock for all CPUs). Linux
    // takes it as constant_tsc/nonstop_tsc; without it an AMD guest with several CPUs marks the TSC unstable.
    {0x80000007, 0, CpuidReg::Edx, 8, "invtsc", true},
};

static_assert(std::size(kFeatures) <= kMaxFeatures);

u32 FeatureBits(u32 leaf, u32 subleaf, CpuidReg reg) {
    const CpuModel& model = SelectedCpuModel();
    u32 bits = 0;
    for (size_t i = 0; i < std::size(kFeatures); ++i) {
        const CpuidFeature& f = kFeatures[i];
        if (model.features[i] && f.leaf == leaf && f.subleaf == subleaf && f.reg == reg) bits |= u32{1} << f.bit;
    }
    return bits;
}

CpuidResult WithFeatures(u32 leaf, u32 subleaf, CpuidResult r) {
    r.eax |= FeatureBits(leaf, subleaf, CpuidReg::Eax);
    r.ebx |= FeatureBits(leaf, subleaf, CpuidReg::Ebx);
    r.ecx |= FeatureBits(leaf, subleaf, CpuidReg::Ecx);
    r.edx |= FeatureBits(leaf, subleaf, CpuidReg::Edx);
    return r;
}

// Four characters of a string as a register value (little-endian, as CPUID packs text).
u32 Chars(const char* s) {
    u32 v;
    std::memcpy(&v, s, 4);
    return v;
}

CpuidResult BrandString(u32 part) {
    char brand[48] = {};  // padded with NULs to 48 bytes
    const std::string& name = SelectedCpuModel().brand;
    std::memcpy(brand, name.data(), std::min(name.size(), sizeof brand - 1));
    const char* p = brand + 16 * part;
    return {Chars(p), Chars(p + 4), Chars(p + 8), Chars(p + 12)};
}

// Leaf 0xD (XSAVE, emu/cpu/simd): x87 and SSE in the 512-byte legacy area and the 64-byte header, and PKRU at
// its own offset when the model has pku. EBX is the size XCR0's current components need, ECX the size all of
// them need. Subleaf 1: XSAVEOPT only. All zero while the XSAVE feature bit is off, as on processors without XSAVE.
CpuidResult XsaveLeaf(u32 subleaf, const CpuState& state) {
    if (!(FeatureBits(1, 0, CpuidReg::Ecx) & (1u << 26))) return {};
    const u64 supported = SupportedXcr0();
    auto area_size = [](u64 xcr0) {
        return (xcr0 & simd::kXcr0Pkru) ? simd::kXsaveAreaSizeWithPkru : simd::kXsaveAreaSize;
    };
    if (subleaf == 0) {
        return {static_cast<u32>(supported), area_size(state.xcr0 & supported), area_size(supported), 0};
    }
    if (subleaf == 1) return {1, 0, 0, 0};
    if (subleaf == 9 && (supported & simd::kXcr0Pkru)) return {simd::kXsavePkruSize, simd::kXsavePkruOffset, 0, 0};
    return {};
}

// Leaves 0xB and 0x1F (SDM Vol. 2A CPUID, "V2 Extended Topology Enumeration"): subleaf 0 the SMT level, 1 the core
// level, then an invalid level; EAX is the shift to the next level's ID, EBX the logical processors at this level,
// EDX the x2APIC ID. Our topology has no module or die level, so both leaves are the same.
CpuidResult ExtendedTopologyLeaf(u32 subleaf, const CpuState& state) {
    const CpuTopology& t = SelectedCpuTopology();
    const u32 thread_bits = TopologyFieldWidth(t.threads);
    const u32 core_bits = TopologyFieldWidth(t.cores);
    constexpr u32 kSmtLevel = 1, kCoreLevel = 2;
    switch (subleaf) {
        case 0: return {thread_bits, t.threads, (kSmtLevel << 8) | subleaf, state.initial_apic_id};
        case 1: return {thread_bits + core_bits, t.ThreadsPerSocket(), (kCoreLevel << 8) | subleaf, state.initial_apic_id};
        default: return {0, 0, subleaf & 0xFF, state.initial_apic_id};
    }
}

// CPUID.1:EBX: CLFLUSH line size 8 qwords, the logical processors a package addresses, the initial APIC ID.
// EDX.HTT (bit 28) says that EBX[23:16] is valid: set with more than one logical processor per package, as QEMU does.
CpuidResult Leaf1(const CpuState& state) {
    const u32 per_package = SelectedCpuTopology().ThreadsPerSocket();
    const u32 ebx = ((state.initial_apic_id & 0xFF) << 24) | (std::min<u32>(per_package, 255) << 16) | (8u << 8);
    // ECX[27] OSXSAVE reflects CR4.OSXSAVE.
    return WithFeatures(1, 0, {SelectedCpuModel().signature, ebx, (state.cr4 & cr4::OSXSAVE) ? 1u << 27 : 0u,
                               per_package > 1 ? 1u << 28 : 0u});
}

// CPUID.80000008H (AMD APM Vol. 3 E.4.7): address sizes in EAX (48 linear, 40 physical); on AMD, ECX[7:0] NC is the
// package's logical processors minus one and ECX[15:12] the APIC-ID bits they use. Intel reserves ECX.
CpuidResult AddressSizeLeaf() {
    if (CpuVendor() != Vendor::Amd) return {0x3028, 0, 0, 0};
    const CpuTopology& t = SelectedCpuTopology();
    const u32 id_bits = TopologyFieldWidth(t.threads) + TopologyFieldWidth(t.cores);
    return {0x3028, 0, (id_bits << 12) | ((t.ThreadsPerSocket() - 1) & 0xFF), 0};
}

}  // namespace

std::span<const CpuidFeature> CpuidFeatures() { return kFeatures; }

Vendor CpuVendor() { return SelectedCpuModel().vendor; }

int FeatureIndex(std::string_view name) {
    for (size_t i = 0; i < std::size(kFeatures); ++i) {
        if (kFeatures[i].name == name) return static_cast<int>(i);
    }
    return -1;
}

u64 SupportedXcr0() { return simd::kXcr0Supported | (HasFeature("pku") ? simd::kXcr0Pkru : 0); }

bool HasFeature(std::string_view name) {
    const int i = FeatureIndex(name);
    return i >= 0 && SelectedCpuModel().features[static_cast<size_t>(i)];
}

CpuidResult Cpuid(u32 leaf, u32 subleaf, const CpuState& state) {
    switch (leaf) {
        case 0:
            if (CpuVendor() == Vendor::Amd) return {kMaxBasicLeaf, Chars("Auth"), Chars("cAMD"), Chars("enti")};
            return {kMaxBasicLeaf, Chars("Genu"), Chars("ntel"), Chars("ineI")};
        case 1: return Leaf1(state);
        // ECX[4] OSPKE reflects CR4.PKE.
        case 7:
            if (subleaf != 0) return {};
            return WithFeatures(7, 0, {0, 0, (state.cr4 & cr4::PKE) ? 1u << 4 : 0u, 0});
        case 0xD: return XsaveLeaf(subleaf, state);
        case 0xB:
        case 0x1F: return ExtendedTopologyLeaf(subleaf, state);
        case 0x15: return {1, 1, kCrystalHz, 0};     // TSC = crystal * 1/1
        case 0x16: return {kTscMhz, kTscMhz, kTscMhz, 0};  // base, maximum and bus MHz
        case 0x80000000: return {kMaxExtendedLeaf, 0, 0, 0};
        case 0x80000001: return WithFeatures(0x80000001, 0, {});
        case 0x80000002:
        case 0x80000003:
        case 0x80000004: return BrandString(leaf - 0x80000002);
        case 0x80000007: return WithFeatures(0x80000007, 0, {});
        case 0x80000008: return AddressSizeLeaf();
        default: break;
    }
    // Out-of-range basic leaves return the highest basic leaf (Intel behaviour); others read as zero.
    if (leaf > kMaxBasicLeaf && leaf < 0x80000000) return Cpuid(kMaxBasicLeaf, subleaf, state);
    return {};
}

}  // namespace emu::cpu::system
