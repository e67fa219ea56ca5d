// x87 control instructions: FLDCW FNSTCW FNSTSW FNCLEX FNINIT and the environment/state images of
// FNSTENV/FLDENV/FNSAVE/FRSTOR (SDM Vol. 1 8.1.10, Figures 8-9 to 8-12: protected-mode and real-mode formats).
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

using namespace x87;

namespace {

void Put32(u8* p, u32 v) { std::memcpy(p, &v, 4); }
u16 Get16(const u8* p) {
    u16 v;
    std::memcpy(&v, p, 2);
    return v;
}
u32 Get32(const u8* p) {
    u32 v;
    std::memcpy(&v, p, 4);
    return v;
}

// ES and B follow the unmasked exception flags after FCW changes (SDM Vol. 1 8.1.5: unmasking a pending
// exception makes it pending for the next waiting instruction).
void RecomputeSummary(CpuState& s) {
    if (s.x87.fsw & ~s.x87.fcw & fpu::status::kExceptions) s.x87.fsw |= kEs | kBusy;
    else s.x87.fsw &= static_cast<u16>(~(kEs | kBusy));
}

// Environment image size: 14 bytes with a 16-bit operand size, else 28.
unsigned EnvSize(const Exec& x) { return x.in.op_size == 2 ? 14 : 28; }

// Real-address and virtual-8086 mode use the real-mode layouts, which hold linear 20/32-bit FIP/FDP split into
// a low word and a high part beside FOP (SDM Vol. 1 Figures 8-10 and 8-12).
bool RealFormat(const CpuState& s) { return s.mode() == CpuMode::Real || s.mode() == CpuMode::Virtual8086; }
// The linear instruction and operand pointers: selector * 16 + offset in those modes.
u32 LinearIp(const X87State& f) { return static_cast<u32>((u32{f.fcs} << 4) + f.fip); }
u32 LinearDp(const X87State& f) { return static_cast<u32>((u32{f.fds} << 4) + f.fdp); }

void WriteEnv(const Exec& x, u8* out) {
    X87State f = x.s.x87;
    // The hardware keeps one "empty" bit per register and derives the 2-bit tags from the contents when it
    // stores them (host behaviour; after an MMX instruction the tags are not all "valid").
    f.ftw = FullTag(x.s, AbridgedTag(f.ftw));
    const bool real = RealFormat(x.s);
    if (EnvSize(x) == 14) {
        u16 words[7] = {f.fcw, f.fsw, f.ftw, static_cast<u16>(f.fip), f.fcs, static_cast<u16>(f.fdp), f.fds};
        if (real) {  // Figure 8-12: FIP[19:16] and FDP[19:16] in bits 15:12, FOP in bits 10:0
            const u32 ip = LinearIp(f), dp = LinearDp(f);
            words[3] = static_cast<u16>(ip);
            words[4] = static_cast<u16>(((ip >> 16) & 0xF) << 12 | (f.fop & 0x7FF));
            words[5] = static_cast<u16>(dp);
            words[6] = static_cast<u16>(((dp >> 16) & 0xF) << 12);
        }
        std::memcpy(out, words, 14);
        return;
    }
    // Reserved upper halves read as ones on the hardware.
    Put32(out + 0, 0xFFFF0000u | f.fcw);
    Put32(out + 4, 0xFFFF0000u | f.fsw);
    Put32(out + 8, 0xFFFF0000u | f.ftw);
    if (real) {  // Figure 8-10: FIP[15:0] | FIP[31:16] << 12 with FOP; FDP[15:0] | FDP[31:16] << 12
        const u32 ip = LinearIp(f), dp = LinearDp(f);
        Put32(out + 12, 0xFFFF0000u | (ip & 0xFFFF));
        Put32(out + 16, (ip >> 16) << 12 | (f.fop & 0x7FFu));
        Put32(out + 20, 0xFFFF0000u | (dp & 0xFFFF));
        Put32(out + 24, (dp >> 16) << 12);
        return;
    }
    Put32(out + 12, static_cast<u32>(f.fip));
    Put32(out + 16, f.fcs | (u32{f.fop & 0x7FFu} << 16));
    Put32(out + 20, static_cast<u32>(f.fdp));
    Put32(out + 24, 0xFFFF0000u | f.fds);
}

void ReadEnv(Exec& x, const u8* in) {
    X87State& f = x.s.x87;
    const bool real = RealFormat(x.s);
    u16 ftw = 0;
    if (EnvSize(x) == 14) {
        f.fcw = SanitizeFcw(Get16(in)), f.fsw = Get16(in + 2), ftw = Get16(in + 4);
        if (real) {  // linear pointers, kept as offsets with a zero selector
            f.fip = Get16(in + 6) | static_cast<u32>(Get16(in + 8) >> 12) << 16, f.fcs = 0;
            f.fop = Get16(in + 8) & 0x7FF;
            f.fdp = Get16(in + 10) | static_cast<u32>(Get16(in + 12) >> 12) << 16, f.fds = 0;
        } else {
            // The 16-bit protected-mode image has no FOP field: it loads as 0 (host behaviour).
            f.fip = Get16(in + 6), f.fcs = Get16(in + 8), f.fdp = Get16(in + 10), f.fds = Get16(in + 12), f.fop = 0;
        }
    } else {
        f.fcw = SanitizeFcw(Get16(in)), f.fsw = Get16(in + 4), ftw = Get16(in + 8);
        if (real) {
            f.fip = Get16(in + 12) | (Get32(in + 16) >> 12 & 0xFFFF) << 16, f.fcs = 0;
            f.fop = Get16(in + 16) & 0x7FF;
            f.fdp = Get16(in + 20) | (Get32(in + 24) >> 12 & 0xFFFF) << 16, f.fds = 0;
        } else {
            f.fip = Get32(in + 12), f.fcs = Get16(in + 16), f.fop = Get16(in + 18) & 0x7FF;
            f.fdp = Get32(in + 20), f.fds = Get16(in + 24);
        }
    }
    // Non-empty tags are re-derived from the register contents; empty stays empty.
    u8 abridged = 0;
    for (unsigned i = 0; i < 8; ++i) {
        if (((ftw >> (2 * i)) & 3) != 3) abridged = static_cast<u8>(abridged | (1u << i));
    }
    f.ftw = FullTag(x.s, abridged);
    RecomputeSummary(x.s);
}

}  // namespace

void Fldcw(Exec& x) {
    u16 cw = 0;
    if (!x.LoadMem(0, &cw, 2)) return;
    x.s.x87.fcw = SanitizeFcw(cw);
    RecomputeSummary(x.s);
}

void Fnstcw(Exec& x) { x.StoreMem(0, &x.s.x87.fcw, 2); }

void Fnstsw(Exec& x) {
    if (x.IsMem(0)) {
        x.StoreMem(0, &x.s.x87.fsw, 2);
        return;
    }
    x.s.gpr[0] = (x.s.gpr[0] & ~u64{0xFFFF}) | x.s.x87.fsw;
}

void Fnclex(Exec& x) {
    x.s.x87.fsw &= static_cast<u16>(~(fpu::status::kExceptions | kSf | kEs | kBusy));
}

void Fninit(Exec& x) {
    X87State& f = x.s.x87;
    f.fcw = fpu::fcw::kDefault;
    f.fsw = 0;
    f.ftw = 0xFFFF;
    f.fip = f.fdp = 0;
    f.fop = f.fcs = f.fds = 0;
}

void Fnstenv(Exec& x) {
    const bool save = x.in.mnemonic == Mnemonic::FNSAVE;
    const unsigned env = EnvSize(x);
    u8 image[108] = {};
    WriteEnv(x, image);
    if (save) {
        for (unsigned i = 0; i < 8; ++i) {
            const Float80& r = St(x.s, i);
            std::memcpy(image + env + 10 * i, &r.significand, 8);
            std::memcpy(image + env + 10 * i + 8, &r.sign_exponent, 2);
        }
    }
    if (!x.StoreMem(0, image, save ? env + 80 : env)) return;
    if (save) {
        Fninit(x);
    } else {
        x.s.x87.fcw |= fpu::fcw::kMaskAll;  // FNSTENV masks all exceptions after saving
        RecomputeSummary(x.s);
    }
}

void Fldenv(Exec& x) {
    const bool restore = x.in.mnemonic == Mnemonic::FRSTOR;
    const unsigned env = EnvSize(x);
    u8 image[108] = {};
    if (!x.LoadMem(0, image, restore ? env + 80 : env)) return;
    if (restore) {
        // Registers are stored in stack order from the image's TOP.
        const unsigned top = env == 14 ? (Get16(image + 2) >> 11) & 7 : (Get16(image + 4) >> 11) & 7;
        for (unsigned i = 0; i < 8; ++i) {
            Float80& r = x.s.x87.st[(top + i) & 7];
            std::memcpy(&r.significand, image + env + 10 * i, 8);
            std::memcpy(&r.sign_exponent, image + env + 10 * i + 8, 2);
        }
    }
    ReadEnv(x, image);
}

}  // namespace emu::cpu::simd
