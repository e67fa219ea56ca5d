#pragma once
// The host CPU's vendor (CPUID leaf 0), for the tests that use the host as their oracle: fpu_test.cpp and
// simd_test.cpp. The emulated CPU says GenuineIntel (emu/cpu/system/cpuid.cpp), so where Intel and AMD differ
// the emulator follows Intel; on an AMD host those tests check the emulator's documented behaviour for exactly
// those cases instead of the host's.
#include <cpuid.h>

#include <cstring>
#include <string_view>

namespace emu::cpu::test {

enum class HostVendor { Intel, Amd, Other };

inline HostVendor DetectHostVendor() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return HostVendor::Other;
    char id[13] = {};
    std::memcpy(id, &ebx, 4);
    std::memcpy(id + 4, &edx, 4);
    std::memcpy(id + 8, &ecx, 4);
    const std::string_view s(id);
    if (s == "GenuineIntel") return HostVendor::Intel;
    if (s == "AuthenticAMD" || s == "HygonGenuine") return HostVendor::Amd;  // Hygon: AMD Zen cores
    return HostVendor::Other;
}

// True on AMD (and Hygon) hosts, whose behaviour the emulator does not follow where it differs from Intel's.
inline bool HostIsAmd() {
    static const bool amd = DetectHostVendor() == HostVendor::Amd;
    return amd;
}

}  // namespace emu::cpu::test
