// x87, MMX and SSE..SSE4.2 against the host CPU. Each case draws a random encoding of an instruction that
// emu/cpu/simd implements (filtered through the decoder), random operands biased to special values (signed
// zeros, denormals, infinities, QNaN/SNaN, x87 pseudo-denormals/unnormals/pseudo-NaNs, integer boundaries), every
// rounding mode and precision, MXCSR FTZ/DAZ and occasional unmasked exceptions, and runs the instruction
// natively (simd_native.h) and in the emulator (Vcpu, interpreter). Compared: the FXSAVE image's architecturally
// defined fields (SDM Vol. 1 Table 10-2: FCW, FSW, abridged FTW, FOP, FIP, FDP, MXCSR, ST0-7 10 bytes each,
// XMM0-15; FIP/FDP relative to the code and data addresses), RAX..RDI, the six status flags, the data buffer,
// and whether the instruction faulted (SIGFPE = #MF/#XM, SIGSEGV = #GP, SIGILL = #UD).
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "emu/common/bits.h"
#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/simd/simd.h"
#include "emu/cpu/simd/state.h"
#include "emu/cpu/system/cpu_model.h"
#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/vcpu.h"
#include "flat_memory.h"
#include "host_vendor.h"
#include "simd_native.h"

using namespace emu;
using namespace emu::cpu;

namespace {

constexpr u64 kCode = 0x1000;
constexpr u64 kData = 0x4000;
constexpr u64 kStack = 0x8000;
constexpr unsigned kDataSize = test::NativeRunner::kDataSize;

using Rng = std::mt19937_64;

u64 Pick(Rng& rng, u64 n) { return rng() % n; }
bool Chance(Rng& rng, unsigned percent) { return Pick(rng, 100) < percent; }

template <typename T>
void Put(u8* p, T v) {
    std::memcpy(p, &v, sizeof v);
}
template <typename T>
T Get(const u8* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// --- special values

u32 RandomF32(Rng& rng) {
    static constexpr u32 kSpecial[] = {0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF,
                                       0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00000, 0xFF800001,
                                       0x3F800000, 0xBF800000, 0x4F000000, 0xCF000000, 0x3EFFFFFF, 0x4B400001};
    switch (Pick(rng, 4)) {
        case 0: return kSpecial[Pick(rng, std::size(kSpecial))];
        case 1: return static_cast<u32>(rng());
        case 2: return static_cast<u32>((Pick(rng, 2) << 31) | ((Pick(rng, 60) + 97) << 23) | (rng() & 0x7FFFFF));
        default: return static_cast<u32>((rng() & 0x807FFFFF) | (Chance(rng, 50) ? 0 : 0x7F800000));
    }
}

u64 RandomF64(Rng& rng) {
    static constexpr u64 kSpecial[] = {
        0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x800FFFFFFFFFFFFF, 0x0010000000000000,
        0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000,
        0x7FF4000000000000, 0xFFF0000000000001, 0x3FF0000000000000, 0xBFF0000000000000, 0x41E0000000000000,
        0xC3E0000000000000, 0x43E0000000000000, 0x3FE0000000000001, 0x4330000000000001, 0x36A0000000000000};
    switch (Pick(rng, 4)) {
        case 0: return kSpecial[Pick(rng, std::size(kSpecial))];
        case 1: return rng();
        case 2: return (Pick(rng, 2) << 63) | ((Pick(rng, 120) + 963) << 52) | (rng() & 0xFFFFFFFFFFFFF);
        default: return (rng() & 0x800FFFFFFFFFFFFF) | (Chance(rng, 50) ? 0 : 0x7FF0000000000000);
    }
}

u64 RandomInt(Rng& rng) {
    static constexpr u64 kSpecial[] = {0, 1, ~u64{0}, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
                                       0x80000000, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 16, 31, 63};
    return Chance(rng, 30) ? kSpecial[Pick(rng, std::size(kSpecial))] : rng();
}

Float80 RandomF80(Rng& rng) {
    const u16 sign = Chance(rng, 50) ? 0x8000 : 0;
    const u64 sig = rng();
    switch (Pick(rng, 12)) {
        case 0: return {0, sign};                                               // zero
        case 1: return {sig >> 1, sign};                                        // denormal
        case 2: return {sig | (u64{1} << 63), sign};                            // pseudo-denormal
        case 3: return {u64{1} << 63, static_cast<u16>(sign | 0x7FFF)};         // infinity
        case 4: return {sig | (u64{3} << 62), static_cast<u16>(sign | 0x7FFF)};  // QNaN
        case 5: return {(sig >> 2) | (u64{1} << 63) | 1, static_cast<u16>(sign | 0x7FFF)};  // SNaN
        case 6: return {sig >> 1, static_cast<u16>(sign | (1 + Pick(rng, 0x7FFE)))};       // unnormal
        case 7: return {0xC000000000000000, 0xFFFF};                                       // indefinite
        case 8: {  // a small integer or a value near an integer boundary
            const i64 v = static_cast<i64>(RandomInt(rng) >> Pick(rng, 64));
            if (v == 0) return {0, sign};
            const u64 mag = v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v);  // INT64_MIN too
            const int lz = __builtin_clzll(mag);
            return {mag << lz, static_cast<u16>(sign | (16383 + 63 - lz))};
        }
        default: return {sig | (u64{1} << 63), static_cast<u16>(sign | (16383 - 70 + Pick(rng, 140)))};
    }
}

void FillVector(Rng& rng, u8* p, unsigned bytes) {
    switch (Pick(rng, 4)) {
        case 0:
            for (unsigned i = 0; i < bytes; i += 4) Put<u32>(p + i, RandomF32(rng));
            break;
        case 1:
            for (unsigned i = 0; i < bytes; i += 8) Put<u64>(p + i, RandomF64(rng));
            break;
        case 2:
            for (unsigned i = 0; i < bytes; i += 8) Put<u64>(p + i, RandomInt(rng));
            break;
        default:
            for (unsigned i = 0; i < bytes; i += 8) Put<u64>(p + i, rng());
            break;
    }
}

// --- state images (the test's own conversion between an FXSAVE64 image and CpuState)

unsigned ClassTag(const Float80& v) {
    const unsigned e = v.sign_exponent & 0x7FFF;
    if (e == 0) return v.significand == 0 ? 1 : 2;
    return (e == 0x7FFF || !(v.significand >> 63)) ? 2 : 0;
}

void ImageToState(const u8* fx, CpuState& s) {
    X87State& f = s.x87;
    f.fcw = Get<u16>(fx), f.fsw = Get<u16>(fx + 2), f.fop = Get<u16>(fx + 6) & 0x7FF;
    f.fip = Get<u64>(fx + 8), f.fdp = Get<u64>(fx + 16);
    f.fcs = f.fds = 0;  // not in the 64-bit image
    s.mxcsr = Get<u32>(fx + 24);
    const unsigned top = (f.fsw >> 11) & 7;
    f.ftw = 0;
    for (unsigned i = 0; i < 8; ++i) {
        Float80& r = f.st[(top + i) & 7];
        r.significand = Get<u64>(fx + 32 + 16 * i);
        r.sign_exponent = Get<u16>(fx + 40 + 16 * i);
    }
    for (unsigned p = 0; p < 8; ++p) {
        const unsigned tag = (fx[4] >> p) & 1 ? ClassTag(f.st[p]) : 3;
        f.ftw = static_cast<u16>(f.ftw | (tag << (2 * p)));
    }
    for (unsigned i = 0; i < 16; ++i) std::memcpy(s.xmm[i].b, fx + 160 + 16 * i, 16);
}

void StateToImage(const CpuState& s, u8* fx) {
    const X87State& f = s.x87;
    Put<u16>(fx, f.fcw), Put<u16>(fx + 2, f.fsw), Put<u16>(fx + 6, f.fop);
    u8 abridged = 0;
    for (unsigned p = 0; p < 8; ++p) {
        if (((f.ftw >> (2 * p)) & 3) != 3) abridged = static_cast<u8>(abridged | (1u << p));
    }
    fx[4] = abridged;
    Put<u64>(fx + 8, f.fip), Put<u64>(fx + 16, f.fdp), Put<u32>(fx + 24, s.mxcsr);
    const unsigned top = (f.fsw >> 11) & 7;
    for (unsigned i = 0; i < 8; ++i) {
        Put<u64>(fx + 32 + 16 * i, f.st[(top + i) & 7].significand);
        Put<u16>(fx + 40 + 16 * i, f.st[(top + i) & 7].sign_exponent);
    }
    for (unsigned i = 0; i < 16; ++i) std::memcpy(fx + 160 + 16 * i, s.xmm[i].b, 16);
}

void RandomImage(Rng& rng, u8* fx) {
    std::memset(fx, 0, 512);
    const bool unmask_x87 = Chance(rng, 8);
    u16 fcw = static_cast<u16>(0x0040 | (Pick(rng, 4) << 8) | (Pick(rng, 4) << 10) |
                               (unmask_x87 ? rng() & 0x3F : 0x3F));
    if (Chance(rng, 60)) fcw = static_cast<u16>((fcw & ~0x300u) | 0x300);  // mostly 64-bit precision
    u16 fsw = static_cast<u16>((Pick(rng, 8) << 11) | (rng() & 0x4700));
    if (Chance(rng, 20)) fsw = static_cast<u16>(fsw | (rng() & 0x3F));
    // Pending (#MF at the next waiting instruction) only sometimes.
    if (fsw & ~fcw & 0x3F) {
        if (Chance(rng, 70)) fsw = static_cast<u16>(fsw & ~(~fcw & 0x3F));
        else fsw |= 0x8080;
    }
    Put<u16>(fx, fcw);
    Put<u16>(fx + 2, fsw);
    fx[4] = Chance(rng, 15) ? 0xFF : Chance(rng, 15) ? 0 : static_cast<u8>(rng());
    for (unsigned i = 0; i < 8; ++i) {
        const Float80 v = RandomF80(rng);
        Put<u64>(fx + 32 + 16 * i, v.significand);
        Put<u16>(fx + 40 + 16 * i, v.sign_exponent);
    }
    u32 mxcsr = static_cast<u32>((Pick(rng, 4) << 13) | (Chance(rng, 25) ? 0x8000 : 0) | (Chance(rng, 25) ? 0x40 : 0));
    mxcsr |= Chance(rng, 10) ? static_cast<u32>(rng() & 0x1F80) : 0x1F80;
    if (Chance(rng, 20)) mxcsr |= static_cast<u32>(rng() & 0x3F);
    Put<u32>(fx + 24, mxcsr);
    Put<u32>(fx + 28, simd::kMxcsrMask);
    for (unsigned i = 0; i < 16; ++i) FillVector(rng, fx + 160 + 16 * i, 16);
}

// --- encodings

enum class Family { X87, Vector, State };

// The state-image instructions, run as they are (their images hold no host address here: FIP/FDP start at 0 and
// no x87 instruction runs before them). 48 = REX.W, 66 = 16-bit environment formats.
const std::vector<std::vector<u8>> kStateEncodings = {
    {0x0F, 0xAE, 0x06},        // FXSAVE [rsi]
    {0x48, 0x0F, 0xAE, 0x06},  // FXSAVE64 [rsi]
    {0x0F, 0xAE, 0x0E},        // FXRSTOR [rsi]
    {0x48, 0x0F, 0xAE, 0x0E},  // FXRSTOR64 [rsi]
    {0xD9, 0x36},              // FNSTENV [rsi]
    {0x66, 0xD9, 0x36},        // FNSTENV (14-byte format)
    {0xDD, 0x36},              // FNSAVE [rsi]
    {0x66, 0xDD, 0x36},        // FNSAVE (94-byte format)
    {0xD9, 0x26},              // FLDENV [rsi]
    {0xDD, 0x26},              // FRSTOR [rsi]
    {0x0F, 0xAE, 0x26},        // XSAVE [rsi]
    {0x48, 0x0F, 0xAE, 0x26},  // XSAVE64 [rsi]
    {0x0F, 0xAE, 0x2E},        // XRSTOR [rsi]
    {0x48, 0x0F, 0xAE, 0x2E},  // XRSTOR64 [rsi]
    {0x0F, 0xAE, 0x36},        // XSAVEOPT [rsi]
    {0x0F, 0xAE, 0x1E},        // STMXCSR [rsi]
};


bool Excluded(Mnemonic m) {
    switch (m) {
        // Transcendentals are within 1 ulp of the host, not bit-identical (emu/cpu/fpu/README.md; fpu_test).
        case Mnemonic::F2XM1: case Mnemonic::FYL2X: case Mnemonic::FPTAN: case Mnemonic::FPATAN:
        case Mnemonic::FYL2XP1: case Mnemonic::FSINCOS: case Mnemonic::FSIN: case Mnemonic::FCOS:
        // They store FIP/FDP, which are host addresses natively: FXSAVE has its own test below.
        case Mnemonic::FNSTENV: case Mnemonic::FNSAVE: case Mnemonic::FXSAVE:
        // The host's XCR0 enables AVX and more; the XSAVE family has its own tests.
        case Mnemonic::XSAVE: case Mnemonic::XSAVEOPT: case Mnemonic::XRSTOR: case Mnemonic::XGETBV:
        case Mnemonic::XSETBV: return true;
        default: return false;
    }
}

// Operands the runner can host: GPRs RAX..RBX only, memory only as [RSI] or [RSI + disp8].
bool Hostable(const DecodedInsn& insn) {
    for (unsigned i = 0; i < insn.num_operands; ++i) {
        const Operand& op = insn.operands[i];
        if (op.kind == OperandKind::Reg && op.reg_class == RegClass::Gpr && op.reg > 3) return false;
        if (op.kind == OperandKind::Mem && (op.mem.base != 6 || op.mem.index != kNoReg || op.mem.rip_relative)) {
            return false;
        }
    }
    return true;
}

std::vector<u8> RandomEncoding(Rng& rng, Family family, DecodedInsn* out) {
    if (family == Family::State) {
        const std::vector<u8>& b = kStateEncodings[Pick(rng, kStateEncodings.size())];
        *out = *Decode(b, DecodeMode::Bits64);
        return b;
    }
    for (;;) {
        std::vector<u8> b;
        const unsigned mod = Chance(rng, 50) ? 3 : Chance(rng, 50) ? 0 : 1;
        const unsigned reg = static_cast<unsigned>(Pick(rng, 8));
        const unsigned rm = mod == 3 ? static_cast<unsigned>(Pick(rng, 8)) : 6;
        if (family == Family::X87) {
            if (Chance(rng, 1)) {
                b = {0x9B};  // FWAIT
            } else {
                b = {static_cast<u8>(0xD8 + Pick(rng, 8)), static_cast<u8>((mod << 6) | (reg << 3) | rm)};
            }
        } else {
            static constexpr u8 kPrefixes[] = {0, 0x66, 0xF2, 0xF3};
            const u8 prefix = kPrefixes[Pick(rng, 4)];
            if (prefix) b.push_back(prefix);
            if (Chance(rng, 40)) b.push_back(static_cast<u8>(0x40 | (rng() & 0xD)));  // REX.W/R/B, never X
            b.push_back(0x0F);
            const unsigned map = static_cast<unsigned>(Pick(rng, 5));
            if (map == 0) b.push_back(0x38);
            if (map == 1) b.push_back(0x3A);
            b.push_back(static_cast<u8>(map <= 1 ? rng() : 0x10 + Pick(rng, 0xF0)));
            b.push_back(static_cast<u8>((mod << 6) | (reg << 3) | rm));
        }
        if (mod == 1) b.push_back(static_cast<u8>(Pick(rng, 8) * 8 + (Chance(rng, 80) ? 0 : Pick(rng, 8))));
        b.push_back(static_cast<u8>(rng()));  // a possible imm8 (dropped if the decoder does not use it)
        const auto d = Decode(b, DecodeMode::Bits64);
        if (!d || !simd::Handles(d->mnemonic) || Excluded(d->mnemonic) || !Hostable(*d)) continue;
        b.resize(d->length);
        *out = *d;
        return b;
    }
}

// --- one case on both sides

struct Case {
    std::vector<u8> code;
    DecodedInsn insn;
    test::NativeState in;
    std::array<u8, kDataSize> data{};
};

struct Outcome {
    std::array<u8, 512> fx{};
    std::array<u64, 6> gpr{};
    u64 flags = 0;
    std::array<u8, kDataSize> data{};
    int fault = 0;  // 0, 'F' (#MF/#XM), 'G' (#GP/#PF), 'U' (#UD)
};

class Harness {
public:
    Case Make(Rng& rng, Family family) {
        Case c;
        c.code = RandomEncoding(rng, family, &c.insn);
        RandomImage(rng, c.in.fx.data());
        for (unsigned i = 0; i < 4; ++i) c.in.gpr[i] = RandomInt(rng);
        static constexpr u64 kOffsets[] = {0, 16, 32, 64, 48, 8, 4, 1};
        c.in.gpr[4] = Chance(rng, 85) ? kOffsets[Pick(rng, 4)] : kOffsets[Pick(rng, std::size(kOffsets))];
        c.in.gpr[5] = 256 + Pick(rng, 16);  // MASKMOV* destination, unaligned on purpose
        c.in.rflags = 0x202 | (rng() & 0xD5);
        for (unsigned i = 0; i < kDataSize; i += 16) FillVector(rng, c.data.data() + i, 16);
        if (family == Family::State) {
            // Mostly loadable images: a valid MXCSR, a standard-form XSAVE header with XSTATE_BV in 0..3, and
            // EDX:EAX = 3 (the x87 and SSE components, which both sides' XCR0 enable).
            u8* img = c.data.data() + c.in.gpr[4];
            if (Chance(rng, 90)) Put<u32>(img + 24, static_cast<u32>(rng() & 0xFFFF));
            std::memset(img + 512, 0, 64);
            img[512] = static_cast<u8>(Pick(rng, 4));
            c.in.gpr[0] = Chance(rng, 80) ? 3 : Pick(rng, 4);
            c.in.gpr[2] = 0;
        }
        return c;
    }

    Outcome Native(const Case& c) {
        test::NativeState in = c.in;
        in.gpr[4] += reinterpret_cast<u64>(native_.data());
        in.gpr[5] += reinterpret_cast<u64>(native_.data());
        std::memcpy(native_.data(), c.data.data(), kDataSize);
        const test::NativeResult r = native_.Run(c.code, in);
        Outcome o;
        o.fx = r.state.fx;
        o.gpr = r.state.gpr;
        o.gpr[4] -= reinterpret_cast<u64>(native_.data());
        o.gpr[5] -= reinterpret_cast<u64>(native_.data());
        o.flags = r.state.rflags & rflags::Arith;
        std::memcpy(o.data.data(), native_.data(), kDataSize);
        o.fault = r.signal == 0 ? 0 : r.signal == SIGFPE ? 'F' : r.signal == SIGILL ? 'U' : 'G';
        // Pointers relative to the code and data: the emulator's are at kCode/kData. FLDENV/FRSTOR/FXRSTOR load
        // theirs from memory instead.
        const Mnemonic m = c.insn.mnemonic;
        if (m == Mnemonic::FLDENV || m == Mnemonic::FRSTOR || m == Mnemonic::FXRSTOR || m == Mnemonic::XRSTOR) return o;
        Relocate(o.fx.data() + 8, c.in.fx.data() + 8, native_.code_address(), kCode);
        Relocate(o.fx.data() + 16, c.in.fx.data() + 16, reinterpret_cast<u64>(native_.data()), kData);
        return o;
    }

    Outcome Emulated(const Case& c) {
        CpuState& s = emu_.vcpu.state();
        test::Enter64(s, kCode, kStack, 3);
        s.cr0 |= cr0::NE | cr0::MP;
        s.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT | cr4::OSXSAVE;
        s.xcr0 = simd::kXcr0Supported;
        ImageToState(c.in.fx.data(), s);
        for (unsigned i = 0; i < 4; ++i) s.gpr[i] = c.in.gpr[i];
        s.reg(Gpr::Rsi) = kData + c.in.gpr[4];
        s.reg(Gpr::Rdi) = kData + c.in.gpr[5];
        s.rflags = c.in.rflags;
        std::memcpy(emu_.memory.data() + kData, c.data.data(), kDataSize);
        std::memcpy(emu_.memory.data() + kCode, c.code.data(), c.code.size());
        emu_.vcpu.InvalidateAllCode();
        const RunResult r = emu_.vcpu.Run(1);
        Outcome o;
        StateToImage(s, o.fx.data());
        for (unsigned i = 0; i < 4; ++i) o.gpr[i] = s.gpr[i];
        o.gpr[4] = s.reg(Gpr::Rsi) - kData;
        o.gpr[5] = s.reg(Gpr::Rdi) - kData;
        o.flags = s.rflags & rflags::Arith;
        std::memcpy(o.data.data(), emu_.memory.data() + kData, kDataSize);
        if (r.reason == StopReason::Exception && r.exception) {
            const u8 v = r.exception->vector;
            o.fault = (v == vec::MF || v == vec::XM) ? 'F' : v == vec::UD ? 'U' : 'G';
        }
        return o;
    }

private:
    // A pointer field the instruction changed becomes relative to `from` and rebased at `to`.
    static void Relocate(u8* field, const u8* input, u64 from, u64 to) {
        const u64 v = Get<u64>(field);
        if (v != Get<u64>(input)) Put<u64>(field, v - from + to);
    }

    struct Emu {
        test::FlatMemory memory{0x10000};
        Vcpu vcpu{memory};
    };
    test::NativeRunner native_;
    Emu emu_;
};

// FXRSTOR64/XRSTOR64 (REX.W) load FDP from the image: all 64 bits on Intel, which the emulator follows ("the full
// 64 bits of FDP", SDM Vol. 2 FXSAVE, Vol. 1 Table 10-2); AMD loads bits 56:0 and copies bit 56 into 63:57, as both
// do for FIP. On AMD hosts the emulator's FDP must be the image's, and is compared with the host's after that
// extension. Returns a difference, or "".
std::string AmdRestoredFdp(Outcome& e, const Case& c) {
    const Mnemonic m = c.insn.mnemonic;
    if (!test::HostIsAmd() || (m != Mnemonic::FXRSTOR && m != Mnemonic::XRSTOR) || c.insn.op_size != 8) return "";
    if (e.fault) return "";
    // The image is at [RSI + disp8] (the Vector family's random encodings have a displacement too).
    i64 disp = 0;
    for (unsigned i = 0; i < c.insn.num_operands; ++i) {
        if (c.insn.operands[i].kind == OperandKind::Mem) disp = c.insn.operands[i].mem.disp;
    }
    const u8* img = c.data.data() + c.in.gpr[4] + disp;
    // XRSTOR loads the x87 component only when RFBM (XCR0 & EDX:EAX) and XSTATE_BV both have it.
    const bool loaded = m == Mnemonic::FXRSTOR || ((c.in.gpr[0] & 1) && (img[512] & 1));
    const u64 fdp = Get<u64>(e.fx.data() + 16);
    if (loaded && fdp != Get<u64>(img + 16)) {
        return fmt::format("FDP: emu {:016x}, not the image's {:016x}", fdp, Get<u64>(img + 16));
    }
    Put<u64>(e.fx.data() + 16, SignExtend(fdp, 57));
    return "";
}

template <typename T>
bool IsNaNBits(T v) {
    constexpr unsigned kFrac = sizeof(T) == 4 ? 23 : 52;
    constexpr T kExp = static_cast<T>(sizeof(T) == 4 ? 0xFF : 0x7FF);
    return ((v >> kFrac) & kExp) == kExp && (v & ((T{1} << kFrac) - 1)) != 0;
}

// DPPS/DPPD: which of several NaNs reaches which destination lane is implementation dependent ("These rules do not
// cover horizontal prioritization of NaNs. Horizontal propagation of NaNs to the destination and the positioning of
// those NaNs in the destination is implementation dependent", SDM Vol. 2 DPPS, DPPD). The emulator sums the products
// once, (p0 + p1) + (p2 + p3), and broadcasts the sum, as AMD does; Intel sums them in a different order for each
// lane. Off AMD, a written lane where both sides hold a NaN matches when the host's NaN is one the instruction
// can produce: a (quieted) NaN of a multiplied source lane or the default NaN. Everything else is compared as is.
template <typename T>
void AcceptDotProductNaNs(Outcome& n, const Outcome& e, const Case& c) {
    constexpr unsigned kLanes = 16 / sizeof(T);
    constexpr T kQuiet = static_cast<T>(T{1} << (sizeof(T) == 4 ? 22 : 51));
    constexpr T kDefaultNaN = static_cast<T>(sizeof(T) == 4 ? 0xFFC00000u : 0xFFF8000000000000ull);
    const Operand& dst = c.insn.operands[0];
    const Operand& src = c.insn.operands[1];
    const u8 imm = static_cast<u8>(c.insn.operands[2].imm);
    const u8* d = c.in.fx.data() + 160 + 16 * dst.reg;
    const u8* s = src.kind == OperandKind::Mem ? c.data.data() + c.in.gpr[4] + src.mem.disp
                                               : c.in.fx.data() + 160 + 16 * src.reg;
    std::vector<T> candidates{kDefaultNaN};
    for (unsigned i = 0; i < kLanes; ++i) {
        if (!((imm >> (4 + i)) & 1)) continue;
        for (const T v : {Get<T>(d + i * sizeof(T)), Get<T>(s + i * sizeof(T))}) {
            if (IsNaNBits(v)) candidates.push_back(static_cast<T>(v | kQuiet));
        }
    }
    u8* nd = n.fx.data() + 160 + 16 * dst.reg;
    const u8* ed = e.fx.data() + 160 + 16 * dst.reg;
    for (unsigned i = 0; i < kLanes; ++i) {
        const T nv = Get<T>(nd + i * sizeof(T)), ev = Get<T>(ed + i * sizeof(T));
        if (!((imm >> i) & 1) || nv == ev || !IsNaNBits(nv) || !IsNaNBits(ev)) continue;
        if (std::find(candidates.begin(), candidates.end(), nv) != candidates.end()) Put<T>(nd + i * sizeof(T), ev);
    }
}

// The first difference between two outcomes, or "".
std::string Difference(Outcome n, Outcome e, const Case& c) {
    const Mnemonic m = c.insn.mnemonic;
    u8* nimg = n.data.data() + c.in.gpr[4];
    const u8* eimg = e.data.data() + c.in.gpr[4];
    if (const std::string fdp = AmdRestoredFdp(e, c); !fdp.empty()) return fdp;
    if (!test::HostIsAmd() && !n.fault && !e.fault) {
        if (m == Mnemonic::DPPS) AcceptDotProductNaNs<u32>(n, e, c);
        if (m == Mnemonic::DPPD) AcceptDotProductNaNs<u64>(n, e, c);
    }
    if (m == Mnemonic::FXSAVE || m == Mnemonic::XSAVE || m == Mnemonic::XSAVEOPT) {
        // MXCSR_MASK is the implementation's (the host's has AMD's misaligned-SSE bit 17); bytes 416-511 of the
        // legacy area are reserved or software-available (SDM Vol. 1 Table 10-2): not compared.
        std::memcpy(nimg + 28, eimg + 28, 4);
        std::memcpy(nimg + 416, eimg + 416, 96);
        // The x87 pointers in the image follow the same AMD rule as below.
        if (!(Get<u16>(nimg + 2) & 0x80)) std::memcpy(nimg + 6, eimg + 6, 18);
    }
    if ((m == Mnemonic::FNSTENV || m == Mnemonic::FNSAVE) && !(Get<u16>(c.in.fx.data() + 2) & 0x80)) {
        if (c.insn.op_size == 2) std::memcpy(nimg + 6, eimg + 6, 8);  // FIP FCS FDP FDS (14-byte format)
        else std::memcpy(nimg + 12, eimg + 12, 16);                   // FIP FCS:FOP FDP FDS (28-byte format)
    }
    if (n.fault != e.fault) return fmt::format("fault native {} emu {}", n.fault, e.fault);
    // AMD processors save FOP, FIP and FDP only while an unmasked exception is pending (FSW.ES = 1; AMD APM
    // Vol. 2 11.4.4.1): elsewhere the host's image holds zeros where Intel's holds the last instruction's. Compare
    // them only when ES is set.
    if (!(Get<u16>(n.fx.data() + 2) & 0x80)) std::memcpy(n.fx.data() + 6, e.fx.data() + 6, 18);
    struct Field {
        const char* name;
        unsigned off, len;
    };
    std::vector<Field> fields = {{"FCW", 0, 2}, {"FSW", 2, 2}, {"FTW", 4, 1}, {"FOP", 6, 2}, {"FIP", 8, 8},
                                 {"FDP", 16, 8}, {"MXCSR", 24, 4}};
    static const char* kSt[8] = {"ST0", "ST1", "ST2", "ST3", "ST4", "ST5", "ST6", "ST7"};
    static const char* kXmm[16] = {"XMM0", "XMM1", "XMM2",  "XMM3",  "XMM4",  "XMM5",  "XMM6",  "XMM7",
                                   "XMM8", "XMM9", "XMM10", "XMM11", "XMM12", "XMM13", "XMM14", "XMM15"};
    for (unsigned i = 0; i < 8; ++i) fields.push_back({kSt[i], 32 + 16 * i, 10});
    for (unsigned i = 0; i < 16; ++i) fields.push_back({kXmm[i], 160 + 16 * i, 16});
    for (const Field& f : fields) {
        if (std::memcmp(n.fx.data() + f.off, e.fx.data() + f.off, f.len) != 0) {
            std::string a, b;
            for (unsigned i = f.len; i-- > 0;) {
                a += fmt::format("{:02x}", n.fx[f.off + i]);
                b += fmt::format("{:02x}", e.fx[f.off + i]);
            }
            return fmt::format("{}: native {} emu {}", f.name, a, b);
        }
    }
    for (unsigned i = 0; i < 6; ++i) {
        if (n.gpr[i] != e.gpr[i]) return fmt::format("GPR{}: native {:#x} emu {:#x}", i, n.gpr[i], e.gpr[i]);
    }
    if (n.flags != e.flags) return fmt::format("RFLAGS: native {:#x} emu {:#x}", n.flags, e.flags);
    for (unsigned i = 0; i < kDataSize; ++i) {
        if (n.data[i] != e.data[i]) {
            return fmt::format("memory +{}: native {:#x} emu {:#x}", i, n.data[i], e.data[i]);
        }
    }
    return "";
}

std::string Hex(const std::vector<u8>& code) {
    std::string s;
    for (u8 b : code) s += fmt::format("{:02x} ", b);
    return s;
}

// Runs `count` random cases of `family`; returns the number of mismatches and prints the first per mnemonic.
unsigned RunCases(u64 seed, unsigned count, Family family) {
    Rng rng(seed);
    Harness h;
    std::map<std::string, unsigned> failures;
    unsigned failed = 0;
    for (unsigned i = 0; i < count; ++i) {
        const Case c = h.Make(rng, family);
        const std::string diff = Difference(h.Native(c), h.Emulated(c), c);
        if (diff.empty()) continue;
        ++failed;
        const std::string name{MnemonicName(c.insn.mnemonic)};
        if (failures[name]++ < 2) {
            const u8* fx = c.in.fx.data();
            UNSCOPED_INFO(FormatInsn(c.insn) << " [" << Hex(c.code) << "] " << diff
                                             << fmt::format(" (input FCW {:04x} FSW {:04x} tags {:02x} ST0 {:04x}:{:016x} "
                                                            "ST1 {:04x}:{:016x})",
                                                            Get<u16>(fx), Get<u16>(fx + 2), fx[4], Get<u16>(fx + 40),
                                                            Get<u64>(fx + 32), Get<u16>(fx + 56), Get<u64>(fx + 48)));
        }
    }
    for (const auto& [name, n] : failures) UNSCOPED_INFO(name << ": " << n << " mismatches");
    return failed;
}

}  // namespace

TEST_CASE("The random encodings reach every mnemonic emu/cpu/simd implements", "[simd]") {
    Rng rng(7);
    std::set<Mnemonic> seen;
    for (unsigned i = 0; i < 100000; ++i) {
        DecodedInsn insn;
        RandomEncoding(rng, i % 3 == 0 ? Family::X87 : Family::Vector, &insn);
        seen.insert(insn.mnemonic);
    }
    for (const auto& e : kStateEncodings) seen.insert(Decode(e, DecodeMode::Bits64)->mnemonic);
    for (unsigned m = 0; m < static_cast<unsigned>(Mnemonic::Count); ++m) {
        const auto mn = static_cast<Mnemonic>(m);
        if (!simd::Handles(mn) || Excluded(mn)) continue;
        INFO(MnemonicName(mn));
        CHECK(seen.count(mn) == 1);
    }
}

TEST_CASE("MMX and SSE..SSE4.2 instructions match the host CPU (10,000 random cases)", "[simd]") {
    CHECK(RunCases(1, 10000, Family::Vector) == 0);
}

TEST_CASE("x87 instructions match the host CPU (10,000 random cases)", "[simd]") {
    CHECK(RunCases(2, 10000, Family::X87) == 0);
}

TEST_CASE("FXSAVE/FXRSTOR, FNSTENV/FNSAVE/FLDENV/FRSTOR and XSAVE/XRSTOR images match the host (4,000 cases)",
          "[simd]") {
    CHECK(RunCases(5, 4000, Family::State) == 0);
}

TEST_CASE("x87, MMX and SSE instructions match the host CPU (1,000,000 random cases)", "[.slow]") {
    CHECK(RunCases(3, 480000, Family::Vector) == 0);
    CHECK(RunCases(4, 480000, Family::X87) == 0);
    CHECK(RunCases(6, 40000, Family::State) == 0);
}

// --- Fault conditions of the SIMD classes (SDM Vol. 3 2.5 CR0.EM/TS/MP/NE, CR4.OSFXSR/OSXMMEXCPT/OSXSAVE;
// Vol. 2 XGETBV/XSETBV). Each snippet is worked by hand from those tables.
namespace {

struct Env {
    test::FlatMemory memory{0x10000};
    Vcpu vcpu{memory};
    CpuState& s = vcpu.state();

    explicit Env(std::initializer_list<u8> code, unsigned cpl = 0) {
        memory.Put(kCode, code);
        test::Enter64(s, kCode, kStack, cpl);
        s.cr0 |= cr0::NE | cr0::MP;
        s.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT | cr4::OSXSAVE;
    }
    // Runs `n` instructions; returns the exception vector, or -1 if none.
    int Run(u64 n) {
        const RunResult r = vcpu.Run(n);
        return r.reason == StopReason::Exception && r.exception ? r.exception->vector : -1;
    }
};

constexpr std::initializer_list<u8> kAddps = {0x0F, 0x58, 0xC1};  // addps xmm0, xmm1
constexpr std::initializer_list<u8> kPaddb = {0x0F, 0xFC, 0xC1};  // paddb mm0, mm1
constexpr std::initializer_list<u8> kFld1 = {0xD9, 0xE8};         // fld1

}  // namespace

TEST_CASE("SSE needs CR4.OSFXSR and CR0.EM clear (#UD); CR0.TS gives #NM", "[simd]") {
    Env a(kAddps);
    a.s.cr4 &= ~cr4::OSFXSR;
    CHECK(a.Run(1) == vec::UD);
    Env b(kAddps);
    b.s.cr0 |= cr0::EM;
    CHECK(b.Run(1) == vec::UD);
    Env c(kAddps);
    c.s.cr0 |= cr0::TS;
    CHECK(c.Run(1) == vec::NM);
    Env d(kAddps);
    CHECK(d.Run(1) == -1);
}

TEST_CASE("MMX: CR0.EM gives #UD, CR0.TS #NM; x87: CR0.EM or TS gives #NM", "[simd]") {
    Env a(kPaddb);
    a.s.cr0 |= cr0::EM;
    CHECK(a.Run(1) == vec::UD);
    Env b(kPaddb);
    b.s.cr0 |= cr0::TS;
    CHECK(b.Run(1) == vec::NM);
    Env c(kFld1);
    c.s.cr0 |= cr0::EM;
    CHECK(c.Run(1) == vec::NM);
    Env d(kFld1);
    d.s.cr0 |= cr0::TS;
    CHECK(d.Run(1) == vec::NM);
}

TEST_CASE("FWAIT raises #NM only when CR0.TS and CR0.MP are both set", "[simd]") {
    Env a({0x9B});
    a.s.cr0 |= cr0::TS;
    CHECK(a.Run(1) == vec::NM);
    Env b({0x9B});
    b.s.cr0 = (b.s.cr0 | cr0::TS) & ~cr0::MP;
    CHECK(b.Run(1) == -1);
}

TEST_CASE("An unmasked x87 exception is reported as #MF at the next waiting instruction", "[simd]") {
    // fld1; fldz; fdivp st(1), st(0) (1/0: ZE); fnstsw ax (no wait); fld1 (waits: #MF here)
    Env e({0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9, 0xDF, 0xE0, 0xD9, 0xE8});
    e.s.x87.fcw = 0x037B;  // ZM clear
    const RunResult r = e.vcpu.Run(10);
    REQUIRE(r.reason == StopReason::Exception);
    CHECK(r.exception->vector == vec::MF);
    CHECK(r.exception->rip == kCode + 8);
    CHECK((e.s.reg(Gpr::Rax) & 0x80) != 0);  // FNSTSW saw ES
    CHECK((e.s.x87.fsw & 0x4) != 0);
}

namespace {
// Counts FERR# signals (MemoryInterface::SignalFerr), the PC's IRQ13 source.
struct FerrMemory : test::FlatMemory {
    FerrMemory() : test::FlatMemory(0x10000) {}
    void SignalFerr() override { ++ferr; }
    unsigned ferr = 0;
};
}  // namespace

TEST_CASE("With CR0.NE = 0 a pending x87 exception signals FERR# instead of #MF and the instruction runs", "[simd]") {
    // SDM Vol. 1 8.7: with NE = 0 the error goes out on FERR# (IRQ13 on the PC); the waiting instruction goes on.
    for (const bool ne : {false, true}) {
        FerrMemory memory;
        Vcpu vcpu{memory};
        CpuState& s = vcpu.state();
        // fld1; fldz; fdivp st(1), st(0) (1/0: ZE unmasked); fld1 (waiting); fnstsw ax
        memory.Put(kCode, {0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9, 0xD9, 0xE8, 0xDF, 0xE0});
        test::Enter64(s, kCode, kStack);
        s.cr0 |= cr0::MP | (ne ? cr0::NE : 0);
        s.cr4 |= cr4::OSFXSR;
        s.x87.fcw = 0x037B;
        const RunResult r = vcpu.Run(5);
        if (ne) {
            REQUIRE(r.reason == StopReason::Exception);
            CHECK(r.exception->vector == vec::MF);
            CHECK(r.exception->rip == kCode + 6);
            CHECK(memory.ferr == 0);
        } else {
            CHECK(r.reason != StopReason::Exception);
            CHECK(memory.ferr == 1);                       // the FLD1 found the error pending
            CHECK((s.reg(Gpr::Rax) & 0x80) != 0);          // still pending afterwards: ES set
            // TOP: 0 -> 7 -> 6; the unmasked FDIVP neither stores nor pops; the FLD1 ran: 5.
            CHECK(((s.reg(Gpr::Rax) >> 11) & 7) == 5);
        }
    }
}

TEST_CASE("FNSTENV/FLDENV use the real-mode layouts with linear FIP/FDP in real mode", "[simd]") {
    // SDM Vol. 1 Figures 8-10 (32-bit) and 8-12 (16-bit) real-mode formats, worked by hand:
    // CS = 0x1234 (base 0x12340), IP of FLD m32 = 0x0010 -> FIP linear 0x12350; its operand DS:0x0300 with
    // DS = 0x0100 -> FDP linear 0x1300; FOP of D9 /0 with ModRM 06 = 0x106.
    for (const bool o32 : {true, false}) {
        test::FlatMemory memory{0x20000};
        Vcpu vcpu{memory};
        CpuState& s = vcpu.state();
        test::EnterReal(s, 0x10, 0x8000);
        s.segment(SegReg::Cs) = Segment{0x1234, 0x12340, 0xFFFF, 0x9B};
        s.segment(SegReg::Ds) = Segment{0x0100, 0x1000, 0xFFFF, 0x93};
        s.cr0 |= cr0::NE;
        memory.Set<u32>(0x1300, 0x3F800000);  // 1.0f
        // fld dword [0x300]; fnstenv [0x400] (66 prefix selects the 32-bit image in real mode)
        if (o32) memory.Put(0x12350, {0xD9, 0x06, 0x00, 0x03, 0x66, 0xD9, 0x36, 0x00, 0x04});
        else memory.Put(0x12350, {0xD9, 0x06, 0x00, 0x03, 0xD9, 0x36, 0x00, 0x04});
        const RunResult r = vcpu.Run(2);
        REQUIRE(r.reason != StopReason::Exception);
        const u64 env = 0x1400;
        CHECK(memory.Get<u16>(env) == 0x037F);
        if (o32) {
            CHECK(memory.Get<u32>(env + 12) == 0xFFFF2350u);             // FIP[15:0], reserved ones
            CHECK(memory.Get<u32>(env + 16) == ((0x0001u << 12) | 0x106));  // FIP[31:16] << 12 | FOP
            CHECK(memory.Get<u32>(env + 20) == 0xFFFF1300u);             // FDP[15:0]
            CHECK(memory.Get<u32>(env + 24) == 0u);                      // FDP[31:16] << 12
        } else {
            CHECK(memory.Get<u16>(env + 6) == 0x2350);                   // FIP[15:0]
            CHECK(memory.Get<u16>(env + 8) == ((0x1 << 12) | 0x106));    // FIP[19:16] << 12 | FOP
            CHECK(memory.Get<u16>(env + 10) == 0x1300);                  // FDP[15:0]
            CHECK(memory.Get<u16>(env + 12) == 0);                       // FDP[19:16] << 12
        }
        // FLDENV of the same image and FNSTENV again give the same pointers back.
        s.x87.fip = s.x87.fdp = 0;
        s.x87.fop = 0;
        const u64 next = s.segment(SegReg::Cs).base + s.rip;
        if (o32) memory.Put(next, {0x66, 0xD9, 0x26, 0x00, 0x04, 0x66, 0xD9, 0x36, 0x00, 0x05});
        else memory.Put(next, {0xD9, 0x26, 0x00, 0x04, 0xD9, 0x36, 0x00, 0x05});
        REQUIRE(vcpu.Run(2).reason != StopReason::Exception);
        const unsigned n = o32 ? 28 : 14;
        CHECK(std::memcmp(memory.data() + 0x1400, memory.data() + 0x1500, n) == 0);
    }
}

TEST_CASE("The 0F AE forms: a 66/F2/F3 prefix is #UD (NP), RDFSBASE..WRGSBASE #UD without FSGSBASE", "[simd]") {
    // SDM Vol. 2 Table A-6 (group 15): FXSAVE..CLFLUSH and the fences are NP; F3 0F AE /0-/3 (mod = 11) need
    // CPUID.(7,0):EBX.FSGSBASE, which the emulated CPU does not advertise.
    const std::initializer_list<u8> kForms[] = {
        {0x66, 0x0F, 0xAE, 0x00}, {0xF3, 0x0F, 0xAE, 0x08}, {0xF2, 0x0F, 0xAE, 0x10}, {0x66, 0x0F, 0xAE, 0x18},
        {0xF2, 0x0F, 0xAE, 0x20}, {0xF3, 0x0F, 0xAE, 0x28}, {0xF2, 0x0F, 0xAE, 0x30}, {0xF2, 0x0F, 0xAE, 0x38},
        {0x66, 0x0F, 0xAE, 0xE8}, {0xF2, 0x0F, 0xAE, 0xF0}, {0xF3, 0x0F, 0xAE, 0xF8}, {0xF3, 0x0F, 0xAE, 0xC0},
        {0xF3, 0x0F, 0xAE, 0xC8}, {0xF3, 0x48, 0x0F, 0xAE, 0xD0}, {0xF3, 0x0F, 0xAE, 0xD8},
    };
    for (const auto& code : kForms) {
        Env e(code);
        e.s.reg(Gpr::Rax) = kStack;  // a valid operand for the memory forms
        CHECK(e.Run(1) == vec::UD);
    }
    Env plain({0x0F, 0xAE, 0xE8});  // LFENCE without a prefix runs
    CHECK(plain.Run(1) == -1);
}

TEST_CASE("An unmasked SIMD exception raises #XM with CR4.OSXMMEXCPT, else #UD, leaving the destination", "[simd]") {
    for (const bool osxmmexcpt : {true, false}) {
        Env e({0xF3, 0x0F, 0x5E, 0xC1});  // divss xmm0, xmm1
        if (!osxmmexcpt) e.s.cr4 &= ~cr4::OSXMMEXCPT;
        e.s.mxcsr = 0x1F80 & ~(1u << 9);   // ZM clear
        e.s.xmm[0].d[0] = 0x3F800000;      // 1.0f
        e.s.xmm[1].d[0] = 0;
        CHECK(e.Run(1) == (osxmmexcpt ? vec::XM : vec::UD));
        CHECK((e.s.mxcsr & 0x4) != 0);     // ZE recorded
        CHECK(e.s.xmm[0].d[0] == 0x3F800000);
    }
}

TEST_CASE("XSETBV accepts x87|SSE at CPL 0 only; XGETBV reads it back; both need CR4.OSXSAVE", "[simd]") {
    // mov eax, value (B8 imm32); xor edx, edx; xor ecx, ecx; xsetbv; xgetbv
    const auto xsetbv = [](u32 value, unsigned cpl, bool osxsave) {
        Env e({0xB8, static_cast<u8>(value), static_cast<u8>(value >> 8), 0, 0, 0x31, 0xD2, 0x31, 0xC9, 0x0F, 0x01,
               0xD1, 0x31, 0xC0, 0x0F, 0x01, 0xD0}, cpl);
        if (!osxsave) e.s.cr4 &= ~cr4::OSXSAVE;
        const int v = e.Run(6);
        return std::pair<int, u64>{v, e.s.reg(Gpr::Rax)};
    };
    CHECK(xsetbv(3, 0, true) == std::pair<int, u64>{-1, 3});
    CHECK(xsetbv(1, 0, true) == std::pair<int, u64>{-1, 1});
    CHECK(xsetbv(2, 0, true).first == vec::GP);  // x87 bit clear
    CHECK(xsetbv(7, 0, true).first == vec::GP);  // AVX not supported
    CHECK(xsetbv(3, 3, true).first == vec::GP);  // CPL 3
    CHECK(xsetbv(3, 0, false).first == vec::UD);
}

TEST_CASE("CPUID advertises FPU MMX FXSR SSE SSE2 SSE3 SSSE3 SSE4.1 SSE4.2; leaf 0xD agrees with the XSAVE bit",
          "[simd]") {
    CpuState s;
    s.cr4 = cr4::OSXSAVE;
    const system::CpuidResult l1 = system::Cpuid(1, 0, s);
    for (unsigned bit : {0u, 23u, 24u, 25u, 26u}) CHECK(((l1.edx >> bit) & 1) == 1);
    for (unsigned bit : {0u, 9u, 19u, 20u}) CHECK(((l1.ecx >> bit) & 1) == 1);
    CHECK(system::Cpuid(0, 0, s).eax >= 0xD);
    const system::CpuidResult d0 = system::Cpuid(0xD, 0, s);
    if ((l1.ecx >> 26) & 1) {
        CHECK(((l1.ecx >> 27) & 1) == 1);  // OSXSAVE mirrors CR4.OSXSAVE
        s.cr4 = 0;
        CHECK(((system::Cpuid(1, 0, s).ecx >> 27) & 1) == 0);
        CHECK(d0.eax == system::SupportedXcr0());
        CHECK(d0.ebx == simd::kXsaveAreaSize);  // XCR0 = x87 only
        const bool pkru = system::HasFeature("pku");
        CHECK(d0.ecx == (pkru ? simd::kXsaveAreaSizeWithPkru : simd::kXsaveAreaSize));
        CHECK((system::Cpuid(0xD, 9, s).ebx == simd::kXsavePkruOffset) == pkru);
        CHECK(system::Cpuid(0xD, 1, s).eax == 1);  // XSAVEOPT
    } else {
        CHECK(d0.eax == 0);  // no XSAVE: leaf 0xD is empty
        CHECK(system::Cpuid(0xD, 1, s).eax == 0);
    }
}

// SDM Vol. 2 (each instruction's exceptions): #UD if CPUID.01H:ECX.SSE4_1[bit 19] = 0 (SSE4_2[bit 20] for PCMPGTQ,
// PCMPxSTRx and CRC32). The translator decodes by the selected model's CPUID.
namespace {
// The vector one instruction raises under the CPU model `spec` (-1: none). The caller restores the model.
int VectorUnder(const char* spec, std::initializer_list<u8> code) {
    std::string error;
    system::SelectCpuModel(*system::ParseCpuSpec(spec, &error));
    Env e(code);
    return e.Run(1);
}
}  // namespace

TEST_CASE("SSE4.1, SSE4.2 and CRC32 are #UD on a model that does not advertise them", "[simd]") {
    const std::initializer_list<u8> kSse41[] = {
        {0x66, 0x0F, 0x38, 0x40, 0xC1},        // pmulld xmm0, xmm1
        {0x66, 0x0F, 0x3A, 0x08, 0xC1, 0x00},  // roundps xmm0, xmm1, 0
        {0x66, 0x0F, 0x38, 0x17, 0xC1},        // ptest xmm0, xmm1
    };
    const std::initializer_list<u8> kSse42[] = {
        {0x66, 0x0F, 0x38, 0x37, 0xC1},        // pcmpgtq xmm0, xmm1
        {0x66, 0x0F, 0x3A, 0x63, 0xC1, 0x00},  // pcmpistri xmm0, xmm1, 0
        {0x66, 0x0F, 0x3A, 0x60, 0xC1, 0x0C},  // pcmpestrm xmm0, xmm1, 12
        {0xF2, 0x0F, 0x38, 0xF1, 0xC1},        // crc32 eax, ecx
    };
    const system::CpuModel saved = system::SelectedCpuModel();
    for (const auto& code : kSse41) {
        CHECK(VectorUnder("qemu64", code) == vec::UD);
        CHECK(VectorUnder("max,-sse4_2", code) == -1);
        CHECK(VectorUnder("EPYC", code) == -1);
    }
    for (const auto& code : kSse42) {
        CHECK(VectorUnder("qemu64", code) == vec::UD);
        CHECK(VectorUnder("max,-sse4_2", code) == vec::UD);
        CHECK(VectorUnder("Skylake-Client", code) == -1);
    }
    system::SelectCpuModel(saved);
}

// SDM Vol. 2: #UD "If CPUID.01H:ECX.SSE3[bit 0] = 0" (FISTTP too) and "If CPUID.01H:ECX.SSSE3[bit 9] = 0".
TEST_CASE("SSE3 and SSSE3 are #UD on a model that does not advertise them", "[simd]") {
    const std::initializer_list<u8> kSse3[] = {
        {0xF2, 0x0F, 0x12, 0xC1},  // movddup xmm0, xmm1
        {0x66, 0x0F, 0x7C, 0xC1},  // haddpd xmm0, xmm1
        {0xDB, 0x0C, 0x24},        // fisttp dword [rsp]
    };
    const std::initializer_list<u8> kSsse3[] = {
        {0x66, 0x0F, 0x38, 0x00, 0xC1},        // pshufb xmm0, xmm1
        {0x66, 0x0F, 0x3A, 0x0F, 0xC1, 0x01},  // palignr xmm0, xmm1, 1
        {0x0F, 0x38, 0x1E, 0xC1},              // pabsd mm0, mm1
    };
    const system::CpuModel saved = system::SelectedCpuModel();
    for (const auto& code : kSse3) {
        CHECK(VectorUnder("max,-sse3", code) == vec::UD);
        CHECK(VectorUnder("qemu64", code) != vec::UD);
    }
    for (const auto& code : kSsse3) {
        CHECK(VectorUnder("qemu64", code) == vec::UD);
        CHECK(VectorUnder("max,-ssse3", code) == vec::UD);
        CHECK(VectorUnder("EPYC", code) == -1);
    }
    system::SelectCpuModel(saved);
}

TEST_CASE("MOVNTDQA needs a 16-byte aligned operand (#GP(0)); PCMPISTRI takes an unaligned one", "[simd]") {
    for (const u64 offset : {0u, 8u}) {
        Env movntdqa({0x66, 0x0F, 0x38, 0x2A, 0x00});  // movntdqa xmm0, [rax]
        movntdqa.s.reg(Gpr::Rax) = kStack + offset;
        CHECK(movntdqa.Run(1) == (offset ? vec::GP : -1));
        Env pcmpistri({0x66, 0x0F, 0x3A, 0x63, 0x00, 0x00});  // pcmpistri xmm0, [rax], 0
        pcmpistri.s.reg(Gpr::Rax) = kStack + offset;
        CHECK(pcmpistri.Run(1) == -1);
    }
}

// Worked by hand from SDM Vol. 2 4.1: "equal ordered" finds the substring "lo" of src1 in src2 = "hello".
TEST_CASE("PCMPISTRI equal ordered finds a substring: index in ECX, CF ZF SF OF", "[simd]") {
    Env e({0x66, 0x0F, 0x3A, 0x63, 0xC1, 0x0C});  // pcmpistri xmm0, xmm1, 0x0C (unsigned bytes, equal ordered)
    std::memcpy(e.s.xmm[0].b, "lo\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    std::memcpy(e.s.xmm[1].b, "hello\0\0\0\0\0\0\0\0\0\0", 16);
    e.s.reg(Gpr::Rcx) = ~u64{0};
    REQUIRE(e.Run(1) == -1);
    CHECK(e.s.reg(Gpr::Rcx) == 3);
    const u64 f = e.s.rflags;
    CHECK((f & rflags::CF) != 0);  // a match
    CHECK((f & rflags::ZF) != 0);  // src2 ends inside the vector
    CHECK((f & rflags::SF) != 0);  // src1 too
    CHECK((f & rflags::OF) == 0);  // no match at element 0
}
