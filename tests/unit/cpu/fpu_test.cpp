// Differential tests of emu::cpu::fpu against the host CPU: every helper runs on random operands biased toward
// special values and rounding boundaries, and the host executes the same instruction (x87 via inline asm with
// FCW set, SSE via inline asm with MXCSR set) as the oracle. Seeded and reproducible: set EMU_FPU_SEED to
// change the seed. The default suite runs ~2,000 cases per operation; "[.slow]" runs ~1,000,000 in total.
#include <catch2/catch.hpp>

#include <ucontext.h>
#include <xmmintrin.h>
#include <csetjmp>
#include <csignal>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "emu/cpu/fpu/sse.h"
#include "emu/cpu/fpu/x87.h"
#include "host_vendor.h"

namespace {

using namespace emu;
using namespace emu::cpu;
using namespace emu::cpu::fpu;

// ===== Operand generation =====

class Gen {
public:
    explicit Gen(u64 salt) : rng_(Seed() ^ (salt * 0x9E3779B97F4A7C15ull)) {}

    static u64 Seed() {
        const char* env = std::getenv("EMU_FPU_SEED");
        return env ? std::strtoull(env, nullptr, 0) : 0x5EED0F9u;
    }

    u64 U64() { return rng_(); }
    u64 Below(u64 n) { return rng_() % n; }
    bool Chance(unsigned percent) { return Below(100) < percent; }

    // Significands concentrated around the 24/53/64-bit rounding points: a random head, then a boundary pattern.
    u64 Significand() {
        u64 s = U64();
        switch (Below(8)) {
            case 0: return s;
            case 1: return ~u64{0};
            case 2: return u64{1} << 63;
            default: {
                static constexpr unsigned kCuts[] = {40, 11, 1, 2, 30, 9};  // low bits below the 24/53/64-bit points
                const unsigned cut = kCuts[Below(6)];
                const u64 low_mask = (u64{1} << cut) - 1;
                const u64 half = u64{1} << (cut - 1);
                const u64 tail = std::array<u64, 6>{0, half, half - 1, half + 1, low_mask, 1}[Below(6)];
                return (s & ~low_mask) | tail;
            }
        }
    }

    u16 Exponent() {
        switch (Below(6)) {
            case 0: return static_cast<u16>(1 + Below(80));             // near the denormal range
            case 1: return static_cast<u16>(0x7FFE - Below(80));        // near overflow
            case 2: return static_cast<u16>(0x3FFF - 70 + Below(140));  // moderate values
            case 3: return static_cast<u16>(0x3FFF - 8 + Below(16));
            default: return static_cast<u16>(1 + Below(0x7FFE));
        }
    }

    Float80 F80() {
        const u16 sign = Chance(50) ? 0x8000 : 0;
        const u64 r = Below(100);
        if (r < 4) return {0, sign};                                                                       // zero
        if (r < 7) return {u64{1} << 63, static_cast<u16>(sign | 0x7FFF)};                                 // infinity
        if (r < 10) return {(u64{3} << 62) | (U64() >> Below(64) >> 2), static_cast<u16>(sign | 0x7FFF)};  // QNaN
        if (r < 13) return {(u64{1} << 63) | (U64() >> (2 + Below(62))) | 1, static_cast<u16>(sign | 0x7FFF)};
        if (r < 18) return {Significand() >> (1 + Below(63)), sign};                   // denormal
        if (r < 20) return {Significand() | (u64{1} << 63), sign};                     // pseudo-denormal
        if (r < 22) return {Significand() >> 1, static_cast<u16>(sign | Exponent())};  // unnormal
        if (r < 23) return {Significand() >> 1, static_cast<u16>(sign | 0x7FFF)};      // pseudo-NaN/inf
        if (r < 24) return {0xC000000000000000ull, 0xFFFF};                            // indefinite
        return {Significand() | (u64{1} << 63), static_cast<u16>(sign | Exponent())};
    }

    // Values near integer-width limits and near halves, for FIST/FBSTP/FRNDINT/CVT*2SI.
    Float80 IntegerLike() {
        if (Chance(20)) return F80();
        static constexpr int kWidths[] = {0, 1, 14, 15, 16, 30, 31, 32, 52, 59, 60, 62, 63, 64};
        const int e = kWidths[Below(14)] + static_cast<int>(Below(3)) - 1;
        u64 sig = Significand() | (u64{1} << 63);
        if (Chance(30)) sig = (u64{1} << 63) | (Chance(50) ? 0 : (U64() >> std::clamp(e + 1, 1, 63)));
        return {sig, static_cast<u16>((Chance(50) ? 0x8000 : 0) | (0x3FFF + e))};
    }

    // Values near the normal/denormal/overflow limits of float32 (wide == false) or float64.
    Float80 NearIeeeRange(bool wide) {
        if (Chance(20)) return F80();
        const int emax = wide ? 1023 : 127, mant = wide ? 52 : 23;
        const int anchors[] = {emax, emax + 1, 1 - emax, -emax, 1 - emax - mant, -emax - mant, 0};
        const int e = anchors[Below(7)] + static_cast<int>(Below(5)) - 2;
        return {Significand() | (u64{1} << 63), static_cast<u16>((Chance(50) ? 0x8000 : 0) | (0x3FFF + e))};
    }

    template <typename T>
    T IeeeBits() {
        constexpr int kFrac = sizeof(T) == 4 ? 23 : 52;
        constexpr u64 kExpMax = sizeof(T) == 4 ? 0xFF : 0x7FF;
        const u64 sign = Chance(50) ? 1 : 0;
        u64 exp = 0;
        switch (Below(6)) {
            case 0: exp = 0; break;
            case 1: exp = kExpMax; break;
            case 2: exp = 1 + Below(3); break;
            case 3: exp = kExpMax - 1 - Below(3); break;
            case 4: exp = kExpMax / 2 - 5 + Below(40); break;
            default: exp = Below(kExpMax + 1); break;
        }
        u64 frac = (Significand() >> (64 - kFrac));
        if (Chance(10)) frac = 0;
        return static_cast<T>((sign << (sizeof(T) * 8 - 1)) | (exp << kFrac) | frac);
    }

    // Operands for the transcendentals, each within the instruction's domain most of the time.
    Float80 TrigArg() {
        if (Chance(15)) return F80();
        const int e = Chance(60) ? static_cast<int>(Below(8)) - 3 : static_cast<int>(Below(140)) - 75;
        return Finite(Chance(50), Chance(5) ? 62 + static_cast<int>(Below(3)) : e);
    }
    Float80 UnitArg() {
        if (Chance(10)) return F80();
        if (Chance(5)) return Finite(Chance(50), 0, u64{1} << 63);
        return Finite(Chance(50), -1 - static_cast<int>(Chance(70) ? Below(4) : Below(80)));
    }
    Float80 PositiveArg() {
        if (Chance(10)) return F80();
        if (Chance(30)) {  // near 1
            const u64 sig = Chance(50) ? (u64{1} << 63) | (U64() >> (1 + Below(63))) : ~(U64() >> (1 + Below(63)));
            return Finite(false, sig >> 63 ? (Chance(50) ? 0 : -1) : 0, sig | (u64{1} << 63));
        }
        return {Significand() | (u64{1} << 63), Exponent()};
    }
    Float80 SmallArg() {
        if (Chance(10)) return F80();
        return Finite(Chance(50), -3 - static_cast<int>(Chance(70) ? Below(6) : Below(90)));
    }
    Float80 Finite(bool negative, int unbiased_exp, u64 sig = 0) {
        if (!sig) sig = Significand() | (u64{1} << 63);
        return {sig, static_cast<u16>((negative ? 0x8000 : 0) | (0x3FFF + unbiased_exp))};
    }

    Float80 NearSingleRange() { return NearIeeeRange(false); }
    Float80 NearDoubleRange() { return NearIeeeRange(true); }

    // A second operand close to `a` (cancellation, equal values) or independent.
    Float80 Near(const Float80& a) {
        if (Chance(70) || (a.sign_exponent & 0x7FFF) == 0x7FFF) return F80();
        Float80 b = a;
        b.sign_exponent = static_cast<u16>(b.sign_exponent ^ (Chance(50) ? 0x8000 : 0));
        const int shift = static_cast<int>(Below(5)) - 2;
        const int e = (b.sign_exponent & 0x7FFF) + shift;
        if (e > 0 && e < 0x7FFF) b.sign_exponent = static_cast<u16>((b.sign_exponent & 0x8000) | e);
        b.significand ^= U64() >> Below(64);
        if (b.sign_exponent & 0x7FFF) b.significand |= u64{1} << 63;
        return b;
    }

    // Random PC and RC; exceptions masked except sometimes OE/UE/PE (whose responses still deliver results) or
    // any of them (the destination is then only compared when the hardware writes it).
    u16 Fcw() {
        u16 cw = static_cast<u16>(0x3F | (Below(4) << 8) | (Below(4) << 10) | 0x40);
        if (Chance(10)) cw = static_cast<u16>(cw & ~(Below(8) << 3));
        if (Chance(5)) cw = static_cast<u16>(cw & ~Below(64));
        return cw;
    }

private:
    std::mt19937_64 rng_;
};

// Multiplier for every operation's case count: EMU_FPU_SCALE, or the slow test's own.
unsigned g_scale = 0;
u64 g_cases_run = 0;  // cases compared against the host so far

unsigned Cases(unsigned default_count) {
    const char* env = std::getenv("EMU_FPU_SCALE");
    const unsigned scale = g_scale ? g_scale : env ? static_cast<unsigned>(std::strtoul(env, nullptr, 0)) : 1u;
    return default_count * scale;
}

std::string Hex(const Float80& f) { return fmt::format("{:04x}:{:016x}", f.sign_exponent, f.significand); }

// ===== Host x87 oracle =====

struct HostX87 {
    Float80 st0{}, st1{};
    u16 fsw = 0;
};

// Loads b then a (ST0 = a, ST1 = b) under `cw`, runs the instruction, reads FSW, ST0 and ST1, then re-initialises
// the FPU so any pops or pushes by the instruction do not matter.
#define EMU_HOST_X87(insn)                                                                                  \
    [](const Float80& a, const Float80& b, u16 cw) {                                                        \
        HostX87 h;                                                                                          \
        u16 saved;                                                                                          \
        asm volatile("fnstcw %[saved]\n\tfldcw %[cw]\n\tfnclex\n\tfldt %[b]\n\tfldt %[a]\n\t" insn          \
                     "\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[r0]\n\tfstpt %[r1]\n\tfninit\n\tfldcw %[saved]" \
                     : [r0] "=m"(h.st0), [r1] "=m"(h.st1), [sw] "=m"(h.fsw), [saved] "=m"(saved)            \
                     : [a] "m"(a), [b] "m"(b), [cw] "m"(cw)                                                 \
                     : "memory");                                                                           \
        return h;                                                                                           \
    }

template <typename T>
struct HostStore {
    T value{};
    u16 fsw = 0;
};

// Loads a under `cw` and stores it with the instruction (memory operand %[out]).
#define EMU_HOST_X87_STORE(T, insn)                                                   \
    [](const Float80& a, u16 cw) {                                                    \
        HostStore<T> h;                                                               \
        u16 saved;                                                                    \
        asm volatile("fnstcw %[saved]\n\tfldcw %[cw]\n\tfnclex\n\tfldt %[a]\n\t" insn \
                     " %[out]\n\tfnstsw %[sw]\n\tfninit\n\tfldcw %[saved]"            \
                     : [out] "=m"(h.value), [sw] "=m"(h.fsw), [saved] "=m"(saved)     \
                     : [a] "m"(a), [cw] "m"(cw)                                       \
                     : "memory");                                                     \
        return h;                                                                     \
    }

// Loads a memory operand with the instruction under `cw`; returns ST0.
#define EMU_HOST_X87_LOAD(T, insn)                                                                 \
    [](const T& in, u16 cw) {                                                                      \
        HostX87 h;                                                                                 \
        u16 saved;                                                                                 \
        asm volatile("fnstcw %[saved]\n\tfldcw %[cw]\n\tfnclex\n\t" insn                           \
                     " %[in]\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[r0]\n\tfninit\n\tfldcw %[saved]" \
                     : [r0] "=m"(h.st0), [sw] "=m"(h.fsw), [saved] "=m"(saved)                     \
                     : [in] "m"(in), [cw] "m"(cw)                                                  \
                     : "memory");                                                                  \
        return h;                                                                                  \
    }

// Loads a under `cw` and runs the instruction with memory operand %[m] (FADD m32fp etc.); returns ST0.
#define EMU_HOST_X87_MEM(T, insn)                                                                 \
    [](const Float80& a, const T& m, u16 cw) {                                                    \
        HostX87 h;                                                                                \
        u16 saved;                                                                                \
        asm volatile("fnstcw %[saved]\n\tfldcw %[cw]\n\tfnclex\n\tfldt %[a]\n\t" insn             \
                     " %[m]\n\tfnstsw %[sw]\n\tfnclex\n\tfstpt %[r0]\n\tfninit\n\tfldcw %[saved]" \
                     : [r0] "=m"(h.st0), [sw] "=m"(h.fsw), [saved] "=m"(saved)                    \
                     : [a] "m"(a), [m] "m"(m), [cw] "m"(cw)                                       \
                     : "memory");                                                                 \
        return h;                                                                                 \
    }

constexpr u16 kExc = status::kExceptions;

// Compares one x87 result; `mask` selects the status bits the SDM defines for the instruction.
bool SameX87(const X87Result& lib, const Float80& host_value, u16 host_fsw, u16 mask, u16 cw) {
    if ((lib.status & mask) != (host_fsw & mask)) return false;
    // With IE/ZE/DE unmasked and raised the hardware does not write the destination.
    if (lib.status & ~cw & (status::IE | status::ZE | status::DE)) return true;
    return SameBits(lib.value, host_value);
}

// Counts the cases of one operation and reports the first few mismatches in full.
struct FailureLog {
    unsigned count = 0;
    void Report(const std::string& msg) {
        if (++count <= 8) FAIL_CHECK(msg);
    }
    FailureLog() = default;
    FailureLog(const FailureLog&) = delete;
    FailureLog& operator=(const FailureLog&) = delete;
    ~FailureLog() { CHECK(count == 0); }
};

// FCW for the host oracle of a case (ST0 = a, ST1 = b): normally the case's own; see HostFcwUnchangedOperand.
using HostFcw = u16 (*)(const Float80& a, const Float80& b, u16 cw);

template <typename Lib, typename Host>
void CheckX87Binary(const char* name, u64 salt, unsigned n, Lib lib, Host host, u16 mask, bool result_in_st1 = false,
                    HostFcw host_fcw = nullptr) {
    Gen g(salt);
    FailureLog log;
    g_cases_run += n;
    for (unsigned i = 0; i < n; ++i) {
        const Float80 a = g.F80(), b = g.Near(a);
        const u16 cw = g.Fcw();
        const X87Result r = lib(a, b, cw);
        const HostX87 h = host(a, b, host_fcw ? host_fcw(a, b, cw) : cw);
        // Only non-waiting instructions may follow the one under test (an unmasked exception would trap), so
        // results left in ST1 are read from there.
        const Float80& hv = result_in_st1 ? h.st1 : h.st0;
        if (!SameX87(r, hv, h.fsw, mask, cw))
            log.Report(fmt::format("{} case {}: a={} b={} fcw={:04x}: lib={} st={:04x} host={} fsw={:04x}", name, i,
                                   Hex(a), Hex(b), cw, Hex(r.value), r.status & mask, Hex(hv), h.fsw & mask));
    }
}

constexpr u16 kArithMask = kExc | status::C1;
constexpr u16 kAllCond = kExc | status::kConditions;

template <typename T>
std::string HexAny(const T& v) {
    if constexpr (std::is_same_v<T, Float80>) {
        return Hex(v);
    } else if constexpr (std::is_integral_v<T>) {
        return fmt::format("{:x}", static_cast<u64>(v));
    } else {
        std::string s;
        for (int i = static_cast<int>(v.size()) - 1; i >= 0; --i) s += fmt::format("{:02x}", v[i]);
        return s;
    }
}

// Stores from an 80-bit register into memory formats: value and status must match.
template <typename T, typename Lib, typename Host>
void CheckX87Store(const char* name, u64 salt, unsigned n, Lib lib, Host host, u16 mask, Float80 (Gen::*make)()) {
    Gen g(salt);
    FailureLog log;
    g_cases_run += n;
    for (unsigned i = 0; i < n; ++i) {
        const Float80 a = (g.*make)();
        const u16 cw = g.Fcw();
        const auto r = lib(a, cw);
        const HostStore<T> h = host(a, cw);
        const bool unmasked_fault = (r.status & ~cw & kExc) != 0;  // the store does not happen
        const bool same_value = unmasked_fault || HexAny(static_cast<T>(r.value)) == HexAny(h.value);
        if ((r.status & mask) != (h.fsw & mask) || !same_value)
            log.Report(fmt::format("{} case {}: a={} fcw={:04x}: lib={} st={:04x} host={} fsw={:04x}", name, i, Hex(a),
                                   cw, HexAny(static_cast<T>(r.value)), r.status & mask, HexAny(h.value),
                                   h.fsw & mask));
    }
}

template <typename T, typename Lib, typename Host>
void CheckX87Load(const char* name, u64 salt, unsigned n, Lib lib, Host host) {
    Gen g(salt);
    FailureLog log;
    for (unsigned i = 0; i < n; ++i) {
        T in{};
        if constexpr (std::is_same_v<T, u32> || std::is_same_v<T, u64>) {
            in = g.IeeeBits<T>();
        } else if constexpr (std::is_integral_v<T>) {
            in = static_cast<T>(g.U64() >> g.Below(64));
            if (g.Chance(50)) in = static_cast<T>(-in);
        } else {
            for (auto& byte : in) byte = static_cast<u8>(g.Below(10) | (g.Below(10) << 4));
            in[9] = g.Chance(50) ? 0x80 : 0;
        }
        const u16 cw = g.Fcw();
        const X87Result r = lib(in, cw);
        const HostX87 h = host(in, cw);
        if (!SameX87(r, h.st0, h.fsw, kExc, cw))
            log.Report(fmt::format("{} case {}: in={} fcw={:04x}: lib={} st={:04x} host={} fsw={:04x}", name, i,
                                   HexAny(in), cw, Hex(r.value), r.status & kExc, Hex(h.st0), h.fsw & kExc));
    }
}

void RunX87Arithmetic(unsigned n) {
    CheckX87Binary("FADD", 1, n, Add, EMU_HOST_X87("fadd %%st(1), %%st"), kArithMask);
    CheckX87Binary("FSUB", 2, n, Sub, EMU_HOST_X87("fsub %%st(1), %%st"), kArithMask);
    CheckX87Binary("FMUL", 3, n, Mul, EMU_HOST_X87("fmul %%st(1), %%st"), kArithMask);
    CheckX87Binary("FDIV", 4, n, Div, EMU_HOST_X87("fdiv %%st(1), %%st"), kArithMask);
    CheckX87Binary(
        "FSQRT", 5, n, [](const Float80& a, const Float80&, u16 cw) { return Sqrt(a, cw); }, EMU_HOST_X87("fsqrt"),
        kArithMask);
    CheckX87Binary(
        "FRNDINT", 6, n, [](const Float80& a, const Float80&, u16 cw) { return RoundToInteger(a, cw); },
        EMU_HOST_X87("frndint"), kArithMask);
}

bool IsZero80(const Float80& f) { return (f.sign_exponent & 0x7FFF) == 0 && f.significand == 0; }
bool IsInfinity80(const Float80& f) { return (f.sign_exponent & 0x7FFF) == 0x7FFF && f.significand == u64{1} << 63; }

// FSCALE by +-0 and FPREM/FPREM1 by +-inf return a finite ST0 as it is (SDM Vol. 2 FSCALE and FPREM result
// tables). Intel, which the emulator follows (emu/cpu/fpu/x87_arith.cpp, Unchanged), gives a denormal ST0 back
// with DE only, even with UE unmasked; AMD applies the unmasked-underflow response to it (UE, exponent biased by
// 2^24576). On AMD hosts the oracle runs exactly those cases with UE masked: the operand is exact, so a masked
// underflow changes nothing and the host then gives the Intel result, which the emulator must match.
u16 HostFcwScaleByZero(const Float80&, const Float80& b, u16 cw) {
    return test::HostIsAmd() && IsZero80(b) ? static_cast<u16>(cw | status::UE) : cw;
}
u16 HostFcwRemainderByInfinity(const Float80&, const Float80& b, u16 cw) {
    return test::HostIsAmd() && IsInfinity80(b) ? static_cast<u16>(cw | status::UE) : cw;
}

void RunX87Misc(unsigned n) {
    const auto intel = [](auto fn) {
        return [fn](const Float80& a, const Float80& b, u16 cw) { return fn(a, b, cw, false); };
    };
    CheckX87Binary("FSCALE", 7, n, intel(Scale), EMU_HOST_X87("fscale"), kArithMask, false, HostFcwScaleByZero);
    CheckX87Binary("FPREM", 8, n, intel(PartialRemainder), EMU_HOST_X87("fprem"), kAllCond, false,
                   HostFcwRemainderByInfinity);
    CheckX87Binary("FPREM1", 9, n, intel(PartialRemainderIeee), EMU_HOST_X87("fprem1"), kAllCond, false,
                   HostFcwRemainderByInfinity);
    // The host's own vendor behaviour (AMD models pass amd = true), compared with the FCW as it is.
    const bool amd = test::HostIsAmd();
    const auto host = [amd](auto fn) {
        return [fn, amd](const Float80& a, const Float80& b, u16 cw) { return fn(a, b, cw, amd); };
    };
    CheckX87Binary("FSCALE (host vendor)", 70, n, host(Scale), EMU_HOST_X87("fscale"), kArithMask);
    CheckX87Binary("FPREM (host vendor)", 71, n, host(PartialRemainder), EMU_HOST_X87("fprem"), kAllCond);
    CheckX87Binary("FPREM1 (host vendor)", 72, n, host(PartialRemainderIeee), EMU_HOST_X87("fprem1"), kAllCond);
    const u16 cmp_mask = kExc | status::C0 | status::C2 | status::C3;
    // Compares leave ST0 (= a) unchanged.
    const auto as_result = [](const Float80& a, u16 st) { return X87Result{a, st}; };
    CheckX87Binary(
        "FCOM", 10, n, [&](const Float80& a, const Float80& b, u16) { return as_result(a, Compare(a, b, false)); },
        EMU_HOST_X87("fcom %%st(1)"), cmp_mask);
    CheckX87Binary(
        "FUCOM", 11, n, [&](const Float80& a, const Float80& b, u16) { return as_result(a, Compare(a, b, true)); },
        EMU_HOST_X87("fucom %%st(1)"), cmp_mask);
    CheckX87Binary(
        "FXAM", 13, n,
        [](const Float80& a, const Float80&, u16) {
            return X87Result{a, Examine(a)};
        },
        EMU_HOST_X87("fxam"), status::kConditions);
    // FXTRACT leaves the significand in ST0 and the exponent in ST1.
    CheckX87Binary(
        "FXTRACT(sig)", 12, n,
        [](const Float80& a, const Float80&, u16 cw) {
            const X87Pair p = Extract(a, cw);
            return X87Result{p.second, p.status};
        },
        EMU_HOST_X87("fxtract"), kExc);
    CheckX87Binary(
        "FXTRACT(exp)", 12, n,
        [](const Float80& a, const Float80&, u16 cw) {
            const X87Pair p = Extract(a, cw);
            return X87Result{p.first, p.status};
        },
        EMU_HOST_X87("fxtract"), kExc, true);
}

// Arithmetic and compares with an m32fp/m64fp operand: widened without signalling, then the register operation.
template <typename T, typename Lib, typename Host>
void CheckX87Memory(const char* name, u64 salt, unsigned n, Lib lib, Host host, u16 mask) {
    Gen g(salt);
    FailureLog log;
    g_cases_run += n;
    for (unsigned i = 0; i < n; ++i) {
        const Float80 a = g.F80();
        const T m = g.IeeeBits<T>();
        const u16 cw = g.Fcw();
        const X87Result r = lib(a, m, cw);
        const HostX87 h = host(a, m, cw);
        if (!SameX87(r, h.st0, h.fsw, mask, cw))
            log.Report(fmt::format("{} case {}: a={} m={:x} fcw={:04x}: lib={} st={:04x} host={} fsw={:04x}", name, i,
                                   Hex(a), u64{m}, cw, Hex(r.value), r.status & mask, Hex(h.st0), h.fsw & mask));
    }
}

void RunX87Memory(unsigned n) {
    const u16 cmp_mask = kExc | status::C0 | status::C2 | status::C3;
    CheckX87Memory<u32>(
        "FADD m32", 70, n, [](const Float80& a, u32 m, u16 cw) { return Add(a, WidenFloat32(m), cw); },
        EMU_HOST_X87_MEM(u32, "fadds"), kArithMask);
    CheckX87Memory<u64>(
        "FMUL m64", 71, n, [](const Float80& a, u64 m, u16 cw) { return Mul(a, WidenFloat64(m), cw); },
        EMU_HOST_X87_MEM(u64, "fmull"), kArithMask);
    CheckX87Memory<u32>(
        "FSUBR m32", 72, n, [](const Float80& a, u32 m, u16 cw) { return Sub(WidenFloat32(m), a, cw); },
        EMU_HOST_X87_MEM(u32, "fsubrs"), kArithMask);
    CheckX87Memory<u64>(
        "FDIV m64", 73, n, [](const Float80& a, u64 m, u16 cw) { return Div(a, WidenFloat64(m), cw); },
        EMU_HOST_X87_MEM(u64, "fdivl"), kArithMask);
    CheckX87Memory<u32>(
        "FDIVR m32", 74, n, [](const Float80& a, u32 m, u16 cw) { return Div(WidenFloat32(m), a, cw); },
        EMU_HOST_X87_MEM(u32, "fdivrs"), kArithMask);
    CheckX87Memory<u64>(
        "FCOM m64", 75, n,
        [](const Float80& a, u64 m, u16) {
            return X87Result{a, Compare(a, WidenFloat64(m), false)};
        },
        EMU_HOST_X87_MEM(u64, "fcoml"), cmp_mask);
}

void RunX87Constants(unsigned n) {
    const auto load = [](Constant c) {
        return [c](const Float80&, const Float80&, u16 cw) { return X87Result{LoadConstant(c, cw), 0}; };
    };
    // The constant is pushed on top of the two operands the oracle loads.
    CheckX87Binary("FLD1", 60, n, load(Constant::One), EMU_HOST_X87("fld1"), kExc);
    CheckX87Binary("FLDL2T", 61, n, load(Constant::Log2Ten), EMU_HOST_X87("fldl2t"), kExc);
    CheckX87Binary("FLDL2E", 62, n, load(Constant::Log2E), EMU_HOST_X87("fldl2e"), kExc);
    CheckX87Binary("FLDPI", 63, n, load(Constant::Pi), EMU_HOST_X87("fldpi"), kExc);
    CheckX87Binary("FLDLG2", 64, n, load(Constant::Log10Two), EMU_HOST_X87("fldlg2"), kExc);
    CheckX87Binary("FLDLN2", 65, n, load(Constant::LnTwo), EMU_HOST_X87("fldln2"), kExc);
    CheckX87Binary("FLDZ", 66, n, load(Constant::Zero), EMU_HOST_X87("fldz"), kExc);
}

void RunX87Conversions(unsigned n) {
    const auto fist = [](unsigned bits, bool truncate) {
        return [bits, truncate](const Float80& a, u16 cw) { return ToInt(a, cw, bits, truncate); };
    };
    CheckX87Store<i16>("FIST m16", 20, n, fist(16, false), EMU_HOST_X87_STORE(i16, "fistps"), kArithMask,
                       &Gen::IntegerLike);
    CheckX87Store<i32>("FIST m32", 21, n, fist(32, false), EMU_HOST_X87_STORE(i32, "fistpl"), kArithMask,
                       &Gen::IntegerLike);
    CheckX87Store<i64>("FIST m64", 22, n, fist(64, false), EMU_HOST_X87_STORE(i64, "fistpll"), kArithMask,
                       &Gen::IntegerLike);
    CheckX87Store<i16>("FISTTP m16", 23, n, fist(16, true), EMU_HOST_X87_STORE(i16, "fisttps"), kArithMask,
                       &Gen::IntegerLike);
    CheckX87Store<i32>("FISTTP m32", 24, n, fist(32, true), EMU_HOST_X87_STORE(i32, "fisttpl"), kArithMask,
                       &Gen::IntegerLike);
    CheckX87Store<i64>("FISTTP m64", 25, n, fist(64, true), EMU_HOST_X87_STORE(i64, "fisttpll"), kArithMask,
                       &Gen::IntegerLike);
    CheckX87Store<Bcd>("FBSTP", 26, n, ToBcd, EMU_HOST_X87_STORE(Bcd, "fbstp"), kArithMask, &Gen::IntegerLike);
    CheckX87Store<u32>("FST m32", 27, n, ToFloat32, EMU_HOST_X87_STORE(u32, "fstps"), kArithMask,
                       &Gen::NearSingleRange);
    CheckX87Store<u64>("FST m64", 28, n, ToFloat64, EMU_HOST_X87_STORE(u64, "fstpl"), kArithMask,
                       &Gen::NearDoubleRange);
    CheckX87Load<u32>(
        "FLD m32", 29, n, [](u32 v, u16) { return FromFloat32(v); }, EMU_HOST_X87_LOAD(u32, "flds"));
    CheckX87Load<u64>(
        "FLD m64", 30, n, [](u64 v, u16) { return FromFloat64(v); }, EMU_HOST_X87_LOAD(u64, "fldl"));
    CheckX87Load<i16>(
        "FILD m16", 31, n,
        [](i16 v, u16) {
            return X87Result{FromInt(v), 0};
        },
        EMU_HOST_X87_LOAD(i16, "filds"));
    CheckX87Load<i32>(
        "FILD m32", 32, n,
        [](i32 v, u16) {
            return X87Result{FromInt(v), 0};
        },
        EMU_HOST_X87_LOAD(i32, "fildl"));
    CheckX87Load<i64>(
        "FILD m64", 33, n,
        [](i64 v, u16) {
            return X87Result{FromInt(v), 0};
        },
        EMU_HOST_X87_LOAD(i64, "fildll"));
    CheckX87Load<Bcd>(
        "FBLD", 34, n,
        [](const Bcd& v, u16) {
            return X87Result{FromBcd(v), 0};
        },
        EMU_HOST_X87_LOAD(Bcd, "fbld"));
}

// ===== SSE =====

struct alignas(16) V128 {
    std::array<u8, 16> bytes{};
    template <typename T>
    T Lane(unsigned i) const {
        T v;
        std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
        return v;
    }
    template <typename T>
    void SetLane(unsigned i, T v) {
        std::memcpy(bytes.data() + i * sizeof(T), &v, sizeof(T));
    }
    bool operator==(const V128&) const = default;
};

std::string HexV(const V128& v) { return fmt::format("{:016x}:{:016x}", v.Lane<u64>(1), v.Lane<u64>(0)); }

struct HostSse {
    V128 xmm0;
    u64 rax = 0;
    u32 mxcsr = 0;
};

// xmm0 = a, xmm1 = b, rax = low 8 bytes of b; runs the instruction under MXCSR `csr` (all exceptions masked);
// returns xmm0, rax and the flags. %[imm] is the immediate `imm` (a constant expression).
#define EMU_HOST_SSE_IMM(insn, imm_value)                                                            \
    [](const V128& a, const V128& b, u32 csr) {                                                      \
        HostSse h;                                                                                   \
        u32 saved;                                                                                   \
        asm volatile(                                                                                \
            "stmxcsr %[saved]\n\tmovups %[a], %%xmm0\n\tmovups %[b], %%xmm1\n\tmovq %[b], %%rax\n\t" \
            "ldmxcsr %[csr]\n\t" insn                                                                \
            "\n\tstmxcsr %[flags]\n\tldmxcsr %[saved]\n\t"                                           \
            "movups %%xmm0, %[out]\n\tmovq %%rax, %[rax]"                                            \
            : [out] "=m"(h.xmm0), [rax] "=m"(h.rax), [flags] "=m"(h.mxcsr), [saved] "=m"(saved)      \
            : [a] "m"(a), [b] "m"(b), [csr] "m"(csr), [imm] "i"(imm_value)                           \
            : "rax", "xmm0", "xmm1", "memory");                                                      \
        return h;                                                                                    \
    }
#define EMU_HOST_SSE(insn) EMU_HOST_SSE_IMM(insn, 0)

struct LibSse {
    V128 xmm0;
    u64 rax = 0;
    u32 flags = 0;
};

u32 RandomMxcsr(Gen& g) {
    u32 csr = static_cast<u32>(mxcsr::kDefault | (g.Below(4) << mxcsr::kRcShift) | (g.Chance(25) ? mxcsr::FTZ : 0) |
                               (g.Chance(25) ? mxcsr::DAZ : 0));
    if (g.Chance(10)) csr &= ~static_cast<u32>(g.Below(64) << mxcsr::kMaskShift);  // some exceptions unmasked
    return csr;
}

// SSE exceptions are precise: an unmasked one traps (SIGFPE) inside the oracle's asm. The handler records MXCSR
// from the signal context and jumps back; the host's result is then "faulted" with those flags.
sigjmp_buf g_fault_jump;
volatile u32 g_fault_mxcsr = 0;

void OnSigFpe(int, siginfo_t*, void* context) {
    g_fault_mxcsr = static_cast<ucontext_t*>(context)->uc_mcontext.fpregs->mxcsr;
    siglongjmp(g_fault_jump, 1);
}

template <typename Host>
HostSse RunGuarded(Host host, const V128& a, const V128& b, u32 csr, bool* faulted) {
    struct sigaction action {
    }, previous{};
    action.sa_sigaction = OnSigFpe;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &action, &previous);
    HostSse h;
    *faulted = false;
    if (sigsetjmp(g_fault_jump, 1)) {
        *faulted = true;
        h.mxcsr = g_fault_mxcsr;
        _mm_setcsr(mxcsr::kDefault);  // the handler's jump skipped the oracle's MXCSR restore
    } else {
        h = host(a, b, csr);
    }
    sigaction(SIGFPE, &previous, nullptr);
    return h;
}

template <typename T>
V128 RandomVec(Gen& g, const V128* near) {
    V128 v;
    for (unsigned i = 0; i < 16 / sizeof(T); ++i) {
        T x = g.IeeeBits<T>();
        if (near && g.Chance(30)) x = static_cast<T>(near->Lane<T>(i) ^ (g.U64() >> (sizeof(T) * 4 + g.Below(64 - sizeof(T) * 4))));
        if (near && g.Chance(10)) x = static_cast<T>(near->Lane<T>(i) ^ (T{1} << (sizeof(T) * 8 - 1)));
        v.SetLane<T>(i, x);
    }
    if (g.Chance(15)) {  // integer sources for CVTSI2S*/CVTDQ2P*
        v.SetLane<u64>(0, g.U64() >> g.Below(64));
        if (g.Chance(50)) v.SetLane<u64>(0, 0 - v.Lane<u64>(0));
    }
    return v;
}

template <typename T, typename Lib, typename Host>
void CheckSse(const char* name, u64 salt, unsigned n, Lib lib, Host host) {
    Gen g(salt);
    FailureLog log;
    g_cases_run += n;
    for (unsigned i = 0; i < n; ++i) {
        const V128 a = RandomVec<T>(g, nullptr);
        const V128 b = RandomVec<T>(g, &a);
        const u32 csr = RandomMxcsr(g);
        LibSse r = lib(a, b, csr);
        r.flags = sse::ReportedFlags(r.flags, csr);
        const bool lib_faults = (r.flags & ~(csr >> mxcsr::kMaskShift) & kExc) != 0;
        bool host_faulted = false;
        const HostSse h = RunGuarded(host, a, b, csr, &host_faulted);
        const bool same_result = host_faulted || (r.xmm0 == h.xmm0 && r.rax == h.rax);
        if (lib_faults != host_faulted || !same_result || r.flags != (h.mxcsr & kExc))
            log.Report(fmt::format(
                "{} case {}: a={} b={} mxcsr={:04x}: lib={} rax={:x} flags={:02x} host={} rax={:x} "
                "flags={:02x}",
                name, i, HexV(a), HexV(b), csr, HexV(r.xmm0), r.rax, r.flags, HexV(h.xmm0), h.rax, h.mxcsr & kExc));
    }
}

// Lane-wise operation on `lanes` lanes of xmm0 op xmm1; the other lanes of xmm0 are kept (scalar forms).
template <typename T, typename Op>
auto Lanes(unsigned lanes, Op op) {
    return [lanes, op](const V128& a, const V128& b, u32 csr) {
        LibSse r{a};
        r.rax = b.Lane<u64>(0);
        constexpr unsigned kWidth = 16 / sizeof(T);
        if (lanes == kWidth) {  // packed: through the library's lane mapper
            std::array<T, kWidth> va{}, vb{};
            for (unsigned i = 0; i < kWidth; ++i) va[i] = a.Lane<T>(i), vb[i] = b.Lane<T>(i);
            const auto packed = sse::MapLanes(va, vb, [&](T x, T y) { return op(x, y, csr); });
            for (unsigned i = 0; i < kWidth; ++i) r.xmm0.SetLane<T>(i, packed.value[i]);
            r.flags = packed.flags;
            return r;
        }
        for (unsigned i = 0; i < lanes; ++i) {
            const SseResult<T> lane = op(a.Lane<T>(i), b.Lane<T>(i), csr);
            r.xmm0.SetLane<T>(i, lane.value);
            r.flags |= lane.flags;
        }
        return r;
    };
}

// Conversion of `lanes` lanes of xmm1 (type From) into xmm0 lanes of type To; `zero_upper` clears the rest of
// xmm0 (packed forms), otherwise it keeps a (scalar forms).
template <typename To, typename From, typename Op>
auto Convert(unsigned lanes, bool zero_upper, Op op) {
    return [lanes, zero_upper, op](const V128& a, const V128& b, u32 csr) {
        LibSse r{zero_upper ? V128{} : a};
        for (unsigned i = 0; i < lanes; ++i) {
            const auto lane = op(b.Lane<From>(i), csr);
            r.xmm0.SetLane<To>(i, static_cast<To>(lane.value));
            r.flags |= lane.flags;
        }
        r.rax = b.Lane<u64>(0);
        return r;
    };
}

// Scalar conversion into rax (CVT*2SI); 32-bit results are zero-extended as a 32-bit GPR write does.
template <typename From, typename Op>
auto ToGpr(unsigned bits, Op op) {
    return [bits, op](const V128& a, const V128& b, u32 csr) {
        const SseResult<i64> v = op(b.Lane<From>(0), csr);
        return LibSse{a, bits == 32 ? static_cast<u32>(v.value) : static_cast<u64>(v.value), v.flags};
    };
}

template <typename T>
void RunSseArithmetic(unsigned n, const char* suffix, u64 salt) {
    constexpr bool kSingle = sizeof(T) == 4;
    constexpr unsigned kLanes = 16 / sizeof(T);
    const auto name = [suffix](const char* op) { return std::string(op) + suffix; };
    using namespace emu::cpu::fpu::sse;
    const auto add = [](T a, T b, u32 c) { return Add(a, b, c); };
    const auto sub = [](T a, T b, u32 c) { return Sub(a, b, c); };
    const auto mul = [](T a, T b, u32 c) { return Mul(a, b, c); };
    const auto div = [](T a, T b, u32 c) { return Div(a, b, c); };
    const auto sqrt = [](T, T b, u32 c) { return Sqrt(b, c); };
    const auto min = [](T a, T b, u32 c) { return Min(a, b, c); };
    const auto max = [](T a, T b, u32 c) { return Max(a, b, c); };
    if constexpr (kSingle) {
        CheckSse<T>(name("ADDS").c_str(), salt + 1, n, Lanes<T>(1, add), EMU_HOST_SSE("addss %%xmm1, %%xmm0"));
        CheckSse<T>(name("SUBP").c_str(), salt + 2, n, Lanes<T>(kLanes, sub), EMU_HOST_SSE("subps %%xmm1, %%xmm0"));
        CheckSse<T>(name("MULS").c_str(), salt + 3, n, Lanes<T>(1, mul), EMU_HOST_SSE("mulss %%xmm1, %%xmm0"));
        CheckSse<T>(name("DIVP").c_str(), salt + 4, n, Lanes<T>(kLanes, div), EMU_HOST_SSE("divps %%xmm1, %%xmm0"));
        CheckSse<T>(name("SQRTS").c_str(), salt + 5, n, Lanes<T>(1, sqrt), EMU_HOST_SSE("sqrtss %%xmm1, %%xmm0"));
        CheckSse<T>(name("MINP").c_str(), salt + 6, n, Lanes<T>(kLanes, min), EMU_HOST_SSE("minps %%xmm1, %%xmm0"));
        CheckSse<T>(name("MAXS").c_str(), salt + 7, n, Lanes<T>(1, max), EMU_HOST_SSE("maxss %%xmm1, %%xmm0"));
    } else {
        CheckSse<T>(name("ADDP").c_str(), salt + 1, n, Lanes<T>(kLanes, add), EMU_HOST_SSE("addpd %%xmm1, %%xmm0"));
        CheckSse<T>(name("SUBS").c_str(), salt + 2, n, Lanes<T>(1, sub), EMU_HOST_SSE("subsd %%xmm1, %%xmm0"));
        CheckSse<T>(name("MULP").c_str(), salt + 3, n, Lanes<T>(kLanes, mul), EMU_HOST_SSE("mulpd %%xmm1, %%xmm0"));
        CheckSse<T>(name("DIVS").c_str(), salt + 4, n, Lanes<T>(1, div), EMU_HOST_SSE("divsd %%xmm1, %%xmm0"));
        CheckSse<T>(name("SQRTP").c_str(), salt + 5, n, Lanes<T>(kLanes, sqrt), EMU_HOST_SSE("sqrtpd %%xmm1, %%xmm0"));
        CheckSse<T>(name("MINS").c_str(), salt + 6, n, Lanes<T>(1, min), EMU_HOST_SSE("minsd %%xmm1, %%xmm0"));
        CheckSse<T>(name("MAXP").c_str(), salt + 7, n, Lanes<T>(kLanes, max), EMU_HOST_SSE("maxpd %%xmm1, %%xmm0"));
    }
}

template <typename T, unsigned Predicate>
void CheckSseCompare(unsigned n, u64 salt) {
    const auto cmp = [](T a, T b, u32 c) { return sse::Compare(a, b, Predicate, c); };
    const std::string name = fmt::format("CMP{} imm={}", sizeof(T) == 4 ? "PS" : "SD", Predicate);
    if constexpr (sizeof(T) == 4) {
        CheckSse<T>(name.c_str(), salt, n, Lanes<T>(4, cmp),
                    EMU_HOST_SSE_IMM("cmpps %[imm], %%xmm1, %%xmm0", Predicate));
    } else {
        CheckSse<T>(name.c_str(), salt, n, Lanes<T>(1, cmp),
                    EMU_HOST_SSE_IMM("cmpsd %[imm], %%xmm1, %%xmm0", Predicate));
    }
}

template <typename T, unsigned... P>
void CheckSseComparePredicates(unsigned n, u64 salt, std::integer_sequence<unsigned, P...>) {
    (CheckSseCompare<T, P>(n, salt + P), ...);
}

template <unsigned Imm>
void CheckSseRound(unsigned n, u64 salt) {
    const auto round32 = [](u32, u32 b, u32 c) { return sse::RoundToIntegral(b, static_cast<u8>(Imm), c); };
    const auto round64 = [](u64, u64 b, u32 c) { return sse::RoundToIntegral(b, static_cast<u8>(Imm), c); };
    const std::string n32 = fmt::format("ROUNDPS imm={}", Imm), n64 = fmt::format("ROUNDSD imm={}", Imm);
    CheckSse<u32>(n32.c_str(), salt, n, Lanes<u32>(4, round32),
                  EMU_HOST_SSE_IMM("roundps %[imm], %%xmm1, %%xmm0", Imm));
    CheckSse<u64>(n64.c_str(), salt + 100, n, Lanes<u64>(1, round64),
                  EMU_HOST_SSE_IMM("roundsd %[imm], %%xmm1, %%xmm0", Imm));
}

template <unsigned... I>
void CheckSseRounds(unsigned n, u64 salt, std::integer_sequence<unsigned, I...>) {
    (CheckSseRound<I>(n, salt + I), ...);
}

void RunSseCompares(unsigned n) {
    CheckSseComparePredicates<u32>(n, 200, std::make_integer_sequence<unsigned, 8>{});
    CheckSseComparePredicates<u64>(n, 210, std::make_integer_sequence<unsigned, 8>{});
    // COMIS*/UCOMIS*: LAHF copies ZF, PF and CF into AH.
    const auto flags = [](bool quiet, auto zero) {
        using T = decltype(zero);
        return [quiet](const V128& a, const V128& b, u32 csr) {
            const SseResult<u32> f = sse::CompareFlags(a.Lane<T>(0), b.Lane<T>(0), quiet, csr);
            return LibSse{a, f.value, f.flags};
        };
    };
    CheckSse<u32>("COMISS", 220, n, flags(false, u32{}),
                  EMU_HOST_SSE("comiss %%xmm1, %%xmm0\n\tmov $0, %%eax\n\tlahf\n\tshr $8, %%eax\n\tand $0x45, %%eax"));
    CheckSse<u32>("UCOMISS", 221, n, flags(true, u32{}),
                  EMU_HOST_SSE("ucomiss %%xmm1, %%xmm0\n\tmov $0, %%eax\n\tlahf\n\tshr $8, %%eax\n\tand $0x45, %%eax"));
    CheckSse<u64>("COMISD", 222, n, flags(false, u64{}),
                  EMU_HOST_SSE("comisd %%xmm1, %%xmm0\n\tmov $0, %%eax\n\tlahf\n\tshr $8, %%eax\n\tand $0x45, %%eax"));
    CheckSse<u64>("UCOMISD", 223, n, flags(true, u64{}),
                  EMU_HOST_SSE("ucomisd %%xmm1, %%xmm0\n\tmov $0, %%eax\n\tlahf\n\tshr $8, %%eax\n\tand $0x45, %%eax"));
    CheckSseRounds(n, 230, std::integer_sequence<unsigned, 0, 1, 2, 3, 4, 8, 9, 10, 11, 12>{});
}

void RunSseConversions(unsigned n) {
    using namespace emu::cpu::fpu::sse;
    const auto to_int = [](unsigned bits, bool truncate) {
        return [bits, truncate](auto v, u32 c) { return ToInt(v, bits, truncate, c); };
    };
    const auto from_int32 = [](auto zero) {
        using T = decltype(zero);
        return [](i32 v, u32 c) { return FromInt<T>(v, c); };
    };
    CheckSse<u32>("CVTSI2SS r32", 240, n, Convert<u32, i32>(1, false, from_int32(u32{})),
                  EMU_HOST_SSE("cvtsi2ssl %%eax, %%xmm0"));
    CheckSse<u32>("CVTSI2SS r64", 241, n, Convert<u32, i64>(1, false, [](i64 v, u32 c) { return FromInt<u32>(v, c); }),
                  EMU_HOST_SSE("cvtsi2ssq %%rax, %%xmm0"));
    CheckSse<u64>("CVTSI2SD r64", 242, n, Convert<u64, i64>(1, false, [](i64 v, u32 c) { return FromInt<u64>(v, c); }),
                  EMU_HOST_SSE("cvtsi2sdq %%rax, %%xmm0"));
    CheckSse<u32>("CVTSS2SI r32", 243, n, ToGpr<u32>(32, to_int(32, false)), EMU_HOST_SSE("cvtss2si %%xmm1, %%eax"));
    CheckSse<u32>("CVTTSS2SI r64", 244, n, ToGpr<u32>(64, to_int(64, true)), EMU_HOST_SSE("cvttss2si %%xmm1, %%rax"));
    CheckSse<u64>("CVTSD2SI r64", 245, n, ToGpr<u64>(64, to_int(64, false)), EMU_HOST_SSE("cvtsd2si %%xmm1, %%rax"));
    CheckSse<u64>("CVTTSD2SI r32", 246, n, ToGpr<u64>(32, to_int(32, true)), EMU_HOST_SSE("cvttsd2si %%xmm1, %%eax"));
    CheckSse<u32>("CVTSS2SD", 247, n, Convert<u64, u32>(1, false, Float32ToFloat64),
                  EMU_HOST_SSE("cvtss2sd %%xmm1, %%xmm0"));
    CheckSse<u64>("CVTSD2SS", 248, n, Convert<u32, u64>(1, false, Float64ToFloat32),
                  EMU_HOST_SSE("cvtsd2ss %%xmm1, %%xmm0"));
    CheckSse<u32>("CVTPS2PD", 249, n, Convert<u64, u32>(2, true, Float32ToFloat64),
                  EMU_HOST_SSE("cvtps2pd %%xmm1, %%xmm0"));
    CheckSse<u64>("CVTPD2PS", 250, n, Convert<u32, u64>(2, true, Float64ToFloat32),
                  EMU_HOST_SSE("cvtpd2ps %%xmm1, %%xmm0"));
    CheckSse<u32>("CVTDQ2PS", 251, n, Convert<u32, i32>(4, true, from_int32(u32{})),
                  EMU_HOST_SSE("cvtdq2ps %%xmm1, %%xmm0"));
    CheckSse<u32>("CVTDQ2PD", 252, n, Convert<u64, i32>(2, true, from_int32(u64{})),
                  EMU_HOST_SSE("cvtdq2pd %%xmm1, %%xmm0"));
    CheckSse<u32>("CVTPS2DQ", 253, n, Convert<u32, u32>(4, true, to_int(32, false)),
                  EMU_HOST_SSE("cvtps2dq %%xmm1, %%xmm0"));
    CheckSse<u32>("CVTTPS2DQ", 254, n, Convert<u32, u32>(4, true, to_int(32, true)),
                  EMU_HOST_SSE("cvttps2dq %%xmm1, %%xmm0"));
    CheckSse<u64>("CVTPD2DQ", 255, n, Convert<u32, u64>(2, true, to_int(32, false)),
                  EMU_HOST_SSE("cvtpd2dq %%xmm1, %%xmm0"));
    CheckSse<u64>("CVTTPD2DQ", 256, n, Convert<u32, u64>(2, true, to_int(32, true)),
                  EMU_HOST_SSE("cvttpd2dq %%xmm1, %%xmm0"));
}

// ===== x87 transcendentals (within 1 ulp) =====

// Distance in units in the last place between two finite Float80 values of the same sign; large otherwise.
u64 UlpDistance(const Float80& a, const Float80& b) {
    const auto key = [](const Float80& f) -> i128 {
        const i128 mag = (i128{f.sign_exponent & 0x7FFF} << 63) + (f.significand & ~(u64{1} << 63));
        return (f.sign_exponent & 0x8000) ? -mag : mag;
    };
    if ((a.sign_exponent & 0x7FFF) == 0x7FFF || (b.sign_exponent & 0x7FFF) == 0x7FFF)
        return SameBits(a, b) ? 0 : ~u64{0};
    const i128 d = key(a) - key(b);
    return static_cast<u64>(d < 0 ? -d : d);
}

// PE and C1 (rounded up) depend on the last bit, where AMD, Intel and this library may legitimately differ (SDM
// Vol. 1 8.3.10: the transcendentals are within 1 ulp, 1.5 ulps in the directed rounding modes).
constexpr u16 kTranscendentalMask = (kExc & ~status::PE) | status::C2;

// A result below the smallest normal (biased exponent 0: denormal or zero).
bool IsTiny80(const Float80& f) { return (f.sign_exponent & 0x7FFF) == 0; }

// The masked-underflow rule (SDM Vol. 1 4.9.1.5): UE only with PE, and a tiny inexact result always raises it.
// (A result that comes out as the smallest normal may have raised it: tininess is judged on the result rounded with
// unbounded exponent.)
bool UnderflowConsistent(const Float80& result, u16 status) {
    const bool ue = status & status::UE, pe = status & status::PE;
    return (!ue || pe) && (!(IsTiny80(result) && pe) || ue);
}

// A transcendental's result on the library side: the value compared with the host, the value whose tininess decides
// UE (the same one, or FSINCOS's sine and FPTAN's tangent when their second result is compared) and the status.
struct ApproxResult {
    Float80 value;
    Float80 ue_value;
    u16 status = 0;
};

// `result_in_st1`: the host's compared value is in ST1 (first result of a pair); `pair`: the instruction pushes a
// second result, so the host's first result (the one that decides UE) is in ST1 unless C2 (no reduction) is set.
template <typename Lib, typename Host>
void CheckX87Approx(const char* name, u64 salt, unsigned n, Float80 (Gen::*make_a)(), Float80 (Gen::*make_b)(), Lib lib,
                    Host host, bool result_in_st1, bool pair, std::string* summary) {
    Gen g(salt);
    FailureLog log;
    unsigned off_by_one = 0;
    g_cases_run += n;
    for (unsigned i = 0; i < n; ++i) {
        const Float80 a = (g.*make_a)(), b = (g.*make_b)();
        const u16 cw = static_cast<u16>(0x037F | (g.Below(4) << fcw::kRcShift));
        const ApproxResult r = lib(a, b, cw);
        const HostX87 h = host(a, b, cw);
        const bool reduced = !(h.fsw & status::C2);
        const Float80& hv = result_in_st1 && reduced ? h.st1 : h.st0;
        const Float80& host_ue_value = pair && reduced ? h.st1 : hv;
        const u64 ulps = UlpDistance(r.value, hv);
        if (ulps == 1) ++off_by_one;
        u16 mask = kTranscendentalMask;
        bool consistent = true;
        // Results 1 ulp apart on either side of the smallest normal: UE follows each side's own result, so it is
        // checked against that result instead of the other side's flag.
        if (UlpDistance(r.ue_value, host_ue_value) == 1 && IsTiny80(r.ue_value) != IsTiny80(host_ue_value)) {
            mask &= static_cast<u16>(~status::UE);
            consistent = UnderflowConsistent(r.ue_value, r.status) && UnderflowConsistent(host_ue_value, h.fsw);
        }
        if (ulps > 1 || !consistent || (r.status & mask) != (h.fsw & mask))
            log.Report(fmt::format("{} case {}: a={} b={} fcw={:04x}: lib={} st={:04x} host={} fsw={:04x} ({} ulp)",
                                   name, i, Hex(a), Hex(b), cw, Hex(r.value), r.status, Hex(hv), h.fsw, ulps));
    }
    *summary += fmt::format(" {} {}/{};", name, off_by_one, n);
}

void RunX87Transcendentals(unsigned n) {
    std::string summary;
    const auto first = [](auto pair_fn) {
        return [pair_fn](const Float80& a, const Float80&, u16 cw) {
            const X87Pair p = pair_fn(a, cw);
            return ApproxResult{p.first, p.first, p.status};
        };
    };
    const auto second = [](auto pair_fn) {
        return [pair_fn](const Float80& a, const Float80&, u16 cw) {
            const X87Pair p = pair_fn(a, cw);
            return ApproxResult{(p.status & status::C2) ? p.first : p.second, p.first, p.status};
        };
    };
    const auto unary = [](auto fn) {
        return [fn](const Float80& a, const Float80&, u16 cw) {
            const X87Result r = fn(a, cw);
            return ApproxResult{r.value, r.value, r.status};
        };
    };
    // Binary forms: ST0 = a, ST1 = b, result replaces ST1 and is popped to ST0.
    const auto binary = [](auto fn) {
        return [fn](const Float80& a, const Float80& b, u16 cw) {
            const X87Result r = fn(b, a, cw);
            return ApproxResult{r.value, r.value, r.status};
        };
    };
    CheckX87Approx("FSIN", 40, n, &Gen::TrigArg, &Gen::F80, unary(Sin), EMU_HOST_X87("fsin"), false, false,
                   &summary);
    CheckX87Approx("FCOS", 41, n, &Gen::TrigArg, &Gen::F80, unary(Cos), EMU_HOST_X87("fcos"), false, false,
                   &summary);
    CheckX87Approx("FSINCOS(sin)", 42, n, &Gen::TrigArg, &Gen::F80, first(SinCos), EMU_HOST_X87("fsincos"), true,
                   true, &summary);
    CheckX87Approx("FSINCOS(cos)", 42, n, &Gen::TrigArg, &Gen::F80, second(SinCos), EMU_HOST_X87("fsincos"), false,
                   true, &summary);
    CheckX87Approx("FPTAN", 43, n, &Gen::TrigArg, &Gen::F80, first(Tan), EMU_HOST_X87("fptan"), true, true,
                   &summary);
    CheckX87Approx("FPTAN(1.0)", 43, n, &Gen::TrigArg, &Gen::F80, second(Tan), EMU_HOST_X87("fptan"), false, true,
                   &summary);
    CheckX87Approx("FPATAN", 44, n, &Gen::F80, &Gen::F80, binary(Atan2), EMU_HOST_X87("fpatan"), false, false,
                   &summary);
    CheckX87Approx("F2XM1", 45, n, &Gen::UnitArg, &Gen::F80, unary(Exp2M1), EMU_HOST_X87("f2xm1"), false, false,
                   &summary);
    CheckX87Approx("FYL2X", 46, n, &Gen::PositiveArg, &Gen::F80, binary(YLog2X), EMU_HOST_X87("fyl2x"), false, false,
                   &summary);
    CheckX87Approx("FYL2XP1", 47, n, &Gen::SmallArg, &Gen::F80, binary(YLog2XP1), EMU_HOST_X87("fyl2xp1"), false,
                   false, &summary);
    WARN("transcendental results 1 ulp away from the host x87 (the rest are bit-exact):" << summary);
}

// Default per-operation counts: 95,900 cases in total (x13 in the slow test).
void RunAll() {
    RunX87Arithmetic(Cases(2000));
    RunX87Misc(Cases(2000));
    RunX87Conversions(Cases(1000));
    RunX87Constants(Cases(100));
    RunX87Memory(Cases(1000));
    RunSseArithmetic<u32>(Cases(1000), "S", 100);
    RunSseArithmetic<u64>(Cases(1000), "D", 110);
    RunSseCompares(Cases(300));
    RunSseConversions(Cases(600));
    RunX87Transcendentals(Cases(1000));
}

}  // namespace

TEST_CASE("x87 arithmetic matches the host bit for bit", "[fpu][x87]") { RunX87Arithmetic(Cases(2000)); }
TEST_CASE("x87 FSCALE, FPREM, FPREM1, FXTRACT and compares match the host", "[fpu][x87]") { RunX87Misc(Cases(2000)); }
TEST_CASE("x87 integer, BCD and float32/float64 conversions match the host", "[fpu][x87]") {
    RunX87Conversions(Cases(1000));
}
TEST_CASE("x87 constant loads round with FCW.RC like the host", "[fpu][x87]") { RunX87Constants(Cases(100)); }
TEST_CASE("x87 arithmetic with m32fp/m64fp operands matches the host", "[fpu][x87]") { RunX87Memory(Cases(1000)); }
TEST_CASE("SSE float32/float64 arithmetic, min and max match the host", "[fpu][sse]") {
    RunSseArithmetic<u32>(Cases(1000), "S", 100);
    RunSseArithmetic<u64>(Cases(1000), "D", 110);
}
TEST_CASE("SSE compares and ROUNDSS/SD/PS/PD match the host", "[fpu][sse]") { RunSseCompares(Cases(300)); }
TEST_CASE("SSE conversions match the host", "[fpu][sse]") { RunSseConversions(Cases(600)); }
TEST_CASE("x87 transcendentals are within 1 ulp of the host with the same exceptions", "[fpu][x87]") {
    RunX87Transcendentals(Cases(1000));
}

// Hidden from the default run; meson's 'slow' suite runs it with the "[slow]" filter.
TEST_CASE("every operation matches the host over a million cases", "[.][slow]") {
    g_scale = 13;
    const u64 before = g_cases_run;
    RunAll();
    g_scale = 0;
    WARN("cases compared with the host: " << g_cases_run - before);
    CHECK(g_cases_run - before >= 1000000);
}

// FYL2X with x a power of two: log2(x) is exact, so a zero or infinite y gives an exact zero or infinity, and the
// host reports no precision exception for it (diff-cpu-slow, seed 2, cases 17098 and 142758). A finite y still
// reports PE (host behaviour, see YLog2XImpl).
TEST_CASE("FYL2X of a power of two with a zero or infinite y is exact", "[fpu][x87]") {
    const Float80 two_pow_31{u64{1} << 63, 0x401E};
    const u16 fcw = 0x0B7F;  // all masked, round up (the failing cases' rounding)
    const X87Result zero = YLog2X(Float80{0, 0x8000}, two_pow_31, fcw);
    CHECK(zero.value.sign_exponent == 0x8000);
    CHECK(zero.value.significand == 0);
    CHECK((zero.status & status::PE) == 0);
    const X87Result inf = YLog2X(Float80{u64{1} << 63, 0xFFFF}, two_pow_31, fcw);
    CHECK(inf.value.sign_exponent == 0xFFFF);
    CHECK(inf.value.significand == u64{1} << 63);
    CHECK((inf.status & status::PE) == 0);
    const X87Result three = YLog2X(Float80{u64{3} << 62, 0x4000}, two_pow_31, fcw);  // 3 * 31 = 93
    CHECK(three.value.sign_exponent == 0x4005);
    CHECK(three.value.significand == u64{93} << 57);
}
