// Processor state instructions: FXSAVE/FXRSTOR (SDM Vol. 1 10.5.1, Table 10-2), XSAVE/XSAVEOPT/XRSTOR for the
// x87 and SSE components (Vol. 1 13.4-13.8), XGETBV/XSETBV, LDMXCSR/STMXCSR and EMMS.
#include "emu/common/bits.h"
#include "emu/cpu/simd/exec.h"
#include "emu/cpu/simd/state.h"
#include "emu/cpu/system/cpuid.h"

namespace emu::cpu::simd {

using namespace x87;

namespace {

constexpr unsigned kFxAreaSize = 512;
constexpr unsigned kXsaveHeader = 512;

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

// XMM registers in the image: 16 in 64-bit mode, 8 elsewhere.
unsigned NumXmm(const CpuState& s) { return s.mode() == CpuMode::Long64 ? 16 : 8; }

// ST0-ST7 (image bytes 32-159, in stack order).
void SaveX87Registers(const X87State& f, u8* img) {
    const unsigned top = (f.fsw >> 11) & 7;
    for (unsigned i = 0; i < 8; ++i) {
        const Float80& r = f.st[(top + i) & 7];
        Put<u64>(img + 32 + 16 * i, r.significand);
        Put<u16>(img + 40 + 16 * i, r.sign_exponent);
    }
}

// Bytes 0-23 and 32-159: the x87 part of the legacy area. `wide` is the REX.W (64-bit pointer) format.
void SaveX87(const CpuState& s, u8* img, bool wide) {
    const X87State& f = s.x87;
    std::memset(img, 0, 24);  // reserved bytes are written as zeros
    std::memset(img + 32, 0, 128);
    Put<u16>(img + 0, f.fcw);
    Put<u16>(img + 2, f.fsw);
    img[4] = AbridgedTag(f.ftw);
    // Host behaviour (AMD): FXSAVE/XSAVE store FOP, FIP/FCS and FDP/FDS only while an exception is pending
    // (FSW.ES = 1) and write zeros otherwise (the Linux FXSAVE_LEAK erratum; AMD APM Vol. 5 FXSAVE). Intel stores
    // the last non-control instruction's pointers regardless (SDM Vol. 1 8.1.8, FDP only on an unmasked
    // exception with CPUID.(7,0):EBX[6]). FNSTENV/FNSAVE store the pointers on both.
    if (!(f.fsw & kEs)) return SaveX87Registers(f, img);
    Put<u16>(img + 6, f.fop);
    if (wide) {
        Put<u64>(img + 8, f.fip);
        Put<u64>(img + 16, f.fdp);
    } else {
        Put<u32>(img + 8, static_cast<u32>(f.fip));
        Put<u16>(img + 12, f.fcs);
        Put<u32>(img + 16, static_cast<u32>(f.fdp));
        Put<u16>(img + 20, f.fds);
    }
    SaveX87Registers(f, img);
}

void RestoreX87Pointers(X87State& f, const u8* img, bool wide);
void RestoreX87Registers(CpuState& s, const u8* img);

void RestoreX87(CpuState& s, const u8* img, bool wide) {
    X87State& f = s.x87;
    f.fcw = SanitizeFcw(Get<u16>(img + 0));
    f.fsw = Get<u16>(img + 2);
    // The pointers are loaded whatever FSW.ES says (host behaviour; an image saved with ES = 0 holds zeros there).
    RestoreX87Pointers(f, img, wide);
    RestoreX87Registers(s, img);
}

void RestoreX87Pointers(X87State& f, const u8* img, bool wide) {
    f.fop = Get<u16>(img + 6) & 0x7FF;
    if (wide) {
        // FIP is an instruction address: both hosts (Intel and AMD, 57-bit linear addresses) load bits 63:57 as
        // copies of bit 56. FDP is an operand offset: the REX.W format holds "the full 64 bits of FDP" (SDM Vol. 2
        // FXSAVE, Vol. 1 Table 10-2) and Intel, the vendor CPUID advertises, keeps all of them; AMD sign-extends it
        // from bit 56 like FIP (tests/unit/cpu/simd_test.cpp checks that on AMD hosts).
        f.fip = SignExtend(Get<u64>(img + 8), 57);
        f.fdp = Get<u64>(img + 16);
    } else {
        f.fip = Get<u32>(img + 8);
        f.fcs = Get<u16>(img + 12);
        f.fdp = Get<u32>(img + 16);
        f.fds = Get<u16>(img + 20);
    }
}

void RestoreX87Registers(CpuState& s, const u8* img) {
    X87State& f = s.x87;
    const unsigned top = (f.fsw >> 11) & 7;
    for (unsigned i = 0; i < 8; ++i) {
        Float80& r = f.st[(top + i) & 7];
        r.significand = Get<u64>(img + 32 + 16 * i);
        r.sign_exponent = Get<u16>(img + 40 + 16 * i);
    }
    f.ftw = FullTag(s, img[4]);
    // B mirrors ES, and ES follows the unmasked flags (host behaviour, as for FLDENV).
    if (f.fsw & ~f.fcw & fpu::status::kExceptions) f.fsw |= kEs | kBusy;
    else f.fsw &= static_cast<u16>(~(kEs | kBusy));
}

void SaveXmm(const CpuState& s, u8* img) {
    for (unsigned i = 0; i < NumXmm(s); ++i) std::memcpy(img + 160 + 16 * i, s.xmm[i].b, 16);
}
void RestoreXmm(CpuState& s, const u8* img) {
    for (unsigned i = 0; i < NumXmm(s); ++i) std::memcpy(s.xmm[i].b, img + 160 + 16 * i, 16);
}

void InitX87(CpuState& s) {
    s.x87 = X87State{};
}
void InitXmm(CpuState& s) {
    for (unsigned i = 0; i < NumXmm(s); ++i) s.xmm[i] = cpu::Xmm{};
}

bool X87InUse(const CpuState& s) {
    const X87State& f = s.x87;
    if (f.fcw != fpu::fcw::kDefault || f.fsw != 0 || f.ftw != 0xFFFF || f.fop || f.fip || f.fdp) return true;
    for (const Float80& r : f.st) {
        if (r.significand || r.sign_exponent) return true;
    }
    return false;
}
bool SseInUse(const CpuState& s) {
    for (const cpu::Xmm& r : s.xmm) {
        if (r.q[0] || r.q[1]) return true;
    }
    return false;
}

u64 Rfbm(const Exec& x) {
    const u64 edx_eax = ((x.s.gpr[2] & 0xFFFFFFFF) << 32) | (x.s.gpr[0] & 0xFFFFFFFF);
    return x.s.xcr0 & edx_eax;
}

}  // namespace

void Fxsave(Exec& x) {
    if (!IsAligned(x.linear, 16)) return x.Raise(vec::GP, 0);
    u8 img[kFxAreaSize] = {};
    // The whole 512-byte area must be writable (a #PF on the reserved/available tail too, as on the host), though
    // only bytes 0-415 are written.
    if (!x.LoadMem(0, img, kFxAreaSize, MemAccess::Write)) return;
    std::memset(img, 0, sizeof img);
    SaveX87(x.s, img, x.in.op_size == 8);
    Put<u32>(img + 24, x.s.mxcsr);
    Put<u32>(img + 28, kMxcsrMask);
    SaveXmm(x.s, img);
    // Bytes 416-511 are reserved or available to software: left as they are in memory.
    x.StoreMem(0, img, 416);
}

void Fxrstor(Exec& x) {
    if (!IsAligned(x.linear, 16)) return x.Raise(vec::GP, 0);
    u8 img[kFxAreaSize] = {};
    if (!x.LoadMem(0, img, sizeof img)) return;  // the whole area is read (a #PF on its tail too, as on the host)
    const u32 mxcsr = Get<u32>(img + 24);
    if (mxcsr & ~kMxcsrMask) return x.Raise(vec::GP, 0);
    RestoreX87(x.s, img, x.in.op_size == 8);
    x.s.mxcsr = mxcsr;
    RestoreXmm(x.s, img);
}

void Xsave(Exec& x) {
    if (!IsAligned(x.linear, 64)) return x.Raise(vec::GP, 0);
    const u64 rfbm = Rfbm(x);
    u8 img[kXsaveAreaSize] = {};
    // XSAVE writes only XSTATE_BV in the header: read-modify-write over the whole area (a fault is reported as a
    // write, as on the host).
    if (!x.LoadMem(0, img, sizeof img, MemAccess::Write)) return;
    u64 pkru_slot = 0;
    if ((rfbm & kXcr0Pkru) && !x.LoadMem(kXsavePkruOffset, &pkru_slot, kXsavePkruSize, MemAccess::Write)) return;
    u64 xstate_bv = Get<u64>(img + kXsaveHeader);
    const bool wide = x.in.op_size == 8;
    if (rfbm & kXcr0X87) SaveX87(x.s, img, wide);
    if (rfbm & kXcr0Sse) SaveXmm(x.s, img);
    if (rfbm & (kXcr0Sse | kXcr0Avx)) {
        Put<u32>(img + 24, x.s.mxcsr);
        Put<u32>(img + 28, kMxcsrMask);
    }
    // PKRU's initial configuration is 0 (SDM Vol. 1 13.6).
    const u64 in_use =
        (X87InUse(x.s) ? kXcr0X87 : 0) | (SseInUse(x.s) ? kXcr0Sse : 0) | (x.s.pkru != 0 ? kXcr0Pkru : 0);
    xstate_bv = (xstate_bv & ~rfbm) | (in_use & rfbm);
    Put<u64>(img + kXsaveHeader, xstate_bv);
    if (!x.StoreMem(0, img, sizeof img)) return;
    if (rfbm & kXcr0Pkru) {
        pkru_slot = x.s.pkru;
        x.StoreMem(kXsavePkruOffset, &pkru_slot, kXsavePkruSize);
    }
}

void Xrstor(Exec& x) {
    if (!IsAligned(x.linear, 64)) return x.Raise(vec::GP, 0);
    u8 img[kXsaveHeader + 64] = {};
    if (!x.LoadMem(0, img, sizeof img)) return;
    const u64 xstate_bv = Get<u64>(img + kXsaveHeader);
    const u64 xcomp_bv = Get<u64>(img + kXsaveHeader + 8);
    // Standard form only: XCOMP_BV and header bytes 16-23 must be zero, XSTATE_BV within XCR0.
    if (xcomp_bv != 0 || Get<u64>(img + kXsaveHeader + 16) != 0 || (xstate_bv & ~x.s.xcr0)) {
        return x.Raise(vec::GP, 0);
    }
    const u64 rfbm = Rfbm(x);
    const u32 mxcsr = Get<u32>(img + 24);
    const bool load_mxcsr = (rfbm & (kXcr0Sse | kXcr0Avx)) != 0;
    if (load_mxcsr && (mxcsr & ~kMxcsrMask)) return x.Raise(vec::GP, 0);
    u64 pkru_slot = 0;  // the saved PKRU is bytes 0-3 of its slot
    const bool load_pkru = (rfbm & xstate_bv & kXcr0Pkru) != 0;
    if (load_pkru && !x.LoadMem(kXsavePkruOffset, &pkru_slot, kXsavePkruSize)) return;
    const bool wide = x.in.op_size == 8;
    if (rfbm & kXcr0Pkru) SetPkru(x.s, x.env.memory, load_pkru ? static_cast<u32>(pkru_slot) : 0);
    if (rfbm & kXcr0X87) {
        if (xstate_bv & kXcr0X87) RestoreX87(x.s, img, wide);
        else InitX87(x.s);
    }
    if (rfbm & kXcr0Sse) {
        if (xstate_bv & kXcr0Sse) RestoreXmm(x.s, img);
        else InitXmm(x.s);
    }
    if (load_mxcsr) x.s.mxcsr = mxcsr;
}

void Xgetbv(Exec& x) {
    if ((x.s.gpr[1] & 0xFFFFFFFF) != 0) return x.Raise(vec::GP, 0);
    x.s.gpr[0] = x.s.xcr0 & 0xFFFFFFFF;
    x.s.gpr[2] = x.s.xcr0 >> 32;
}

void Xsetbv(Exec& x) {
    const u64 value = ((x.s.gpr[2] & 0xFFFFFFFF) << 32) | (x.s.gpr[0] & 0xFFFFFFFF);
    const bool v86 = x.s.mode() == CpuMode::Virtual8086;
    if (x.s.cpl() != 0 || v86 || (x.s.gpr[1] & 0xFFFFFFFF) != 0 || !(value & kXcr0X87) ||
        (value & ~system::SupportedXcr0())) {
        return x.Raise(vec::GP, 0);
    }
    x.s.xcr0 = value;
}

void Ldmxcsr(Exec& x) {
    u32 v = 0;
    if (!x.LoadMem(0, &v, 4)) return;
    if (v & ~kMxcsrMask) return x.Raise(vec::GP, 0);
    x.s.mxcsr = v;
}

void Stmxcsr(Exec& x) { x.StoreMem(0, &x.s.mxcsr, 4); }

// EMMS empties every tag; the host (AMD) also resets TOP to 0, as the MMX transition does.
void Emms(Exec& x) {
    x.s.x87.ftw = 0xFFFF;
    SetTop(x.s, 0);
}

}  // namespace emu::cpu::simd
