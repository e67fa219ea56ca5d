// The x87 and SIMD instruction templates (classes x87arith..fpstate of generator.h). Operands come from the random
// x87/SSE state of the case (fp_values.cpp) and from memory patched with special values; what the instructions
// compute is compared through the FXSAVE image, the GPRs, RFLAGS and memory.
//
// FXSAVE/XSAVE images (fpstate) and FNSTENV/FNSAVE images are compared byte for byte through memory, with these
// exclusions. What an AMD EPYC host writes, and where Intel differs:
// - MXCSR_MASK: AMD 0x0002FFFF (bit 17 = MM, misaligned SSE mode), Intel 0x0000FFFF (the emulated CPU's). Byte 2
//   of the field is not compared (GeneratedCase::mxcsr_mask_at); LDMXCSR operands never set bit 17.
// - FOP/FIP/FDP: AMD's FXSAVE/XSAVE store them only while FSW.ES = 1 and write zeros otherwise; Intel stores the
//   last non-control x87 instruction's FIP, FOP only of one with an unmasked exception, FDP only on exceptions with
//   CPUID.(7,0):EBX[6]. FCS/FDS are recorded in 64-bit mode (zero on Intel parts with CPUID.(7,0):EBX[13]). The
//   emulator follows AMD: compared exactly on AMD hosts; on others compare.cpp masks the fields where the host's
//   documented model differs (HostFeatures, GeneratedCase::x87_images), and a reload never uses the other
//   operand size there (it would carry the masked fields into FTW and the registers).
// - Bytes 416-511 (reserved, available) are not written, but a #PF on them is raised; XSAVE with RFBM = 3 writes
//   XSTATE_BV only in the header. CR2 of a #PF inside such a multi-piece store is compared by page only.
// Not generated (host-model or host-undefined): RCPPS/RSQRTPS (model-specific approximations), FCW precision
// control 01 (reserved), FXRSTOR of random images, F3 0F AE /0-/4 mod=11 and 66 0F AE /6,/7 (CPUID features the
// host has and the emulated CPU lacks: tests/unit/cpu/simd_test.cpp checks their #UD), F3 0F AE /4 memory forms
// where the host runs PTWRITE, and the other host-specific corners listed in HostFeatures (generator.h).
#include <cstring>
#include <vector>

#include "tests/diff/builder.h"
#include "tests/diff/fp_values.h"

namespace emu::diff::gen {

namespace {

enum class Val : u8 { None, F32, F64, F80, I16, I32, I64, Bcd, V64, V128, Cw, Mxcsr, Str };

// 16 bytes of text for PCMPxSTRx: bytes (or words) from a small alphabet, so that elements match, and a NUL now and
// then, so that implicit lengths vary; sometimes arbitrary bytes (signed comparisons).
void StrValue(Rng& rng, u8* buf) {
    const bool text = rng.Chance(3, 4);
    const unsigned nul_at = static_cast<unsigned>(rng.Below(24));
    for (unsigned i = 0; i < 16; ++i) {
        buf[i] = text ? static_cast<u8>('a' + rng.Below(4)) : static_cast<u8>(rng.Next());
        if (text && (i & 1) && rng.Chance(1, 2)) buf[i] = 0;  // word elements over the same alphabet
    }
    if (nul_at < 16) buf[nul_at] = 0;
}

void FillValue(Rng& rng, Val val, u8* buf) {
    u64 v = 0;
    switch (val) {
        case Val::None: return;
        case Val::F32: v = FpValue32(rng); break;
        case Val::F64: v = FpValue64(rng); break;
        case Val::F80: {
            u64 sig;
            u16 se;
            FpValue80(rng, sig, se);
            std::memcpy(buf, &sig, 8);
            std::memcpy(buf + 8, &se, 2);
            return;
        }
        case Val::I16: v = IntValue(rng, 16); break;
        case Val::I32: v = IntValue(rng, 32); break;
        case Val::I64: v = IntValue(rng, 64); break;
        case Val::Bcd: BcdValue(rng, buf); return;
        case Val::V64:
        case Val::V128: VecValue(rng, buf); return;
        case Val::Str: StrValue(rng, buf); return;
        case Val::Cw: v = (rng.Chance(3, 4) ? 0x1F3F & rng.Next() : rng.Next()) | (rng.Chance(2, 3) ? 0x3F : 0); break;
        case Val::Mxcsr:  // mostly valid; a reserved bit now and then (#GP)
            v = (rng.Next() & 0xFFFF) | (rng.Chance(2, 3) ? 0x1F80 : 0);
            // Bit 17 is left out: AMD's MXCSR_MASK allows it (MM, misaligned SSE mode), the emulated CPU's does not.
            if (rng.Chance(1, 16)) v |= u64{1} << std::array<unsigned, 6>{16, 18, 20, 24, 30, 31}[rng.Below(6)];
            break;
    }
    std::memcpy(buf, &v, 8);
}

// A memory operand as Builder::PickMem picks it, except that an operand larger than 16 bytes never straddles the
// canonical boundary (vendors order #GP/#SS and #PF differently there; the generator avoids it for all sizes).
MemRef PickFpMem(Builder& b, unsigned size, unsigned align, bool allow_faults = true) {
    constexpr u64 kBoundary = u64{1} << 47;
    MemRef m = b.PickMem(size, align, 0, allow_faults);
    if (m.target < kBoundary && m.target + size > kBoundary) m = b.PickMem(size, align, 0, false);
    return m;
}

// Sets a memory r/m operand of `size` bytes whose initial bytes hold a `val` value (when patchable).
MemRef SetMem(Builder& b, Insn& in, unsigned size, Val val, unsigned align, bool write, bool allow_faults = true) {
    MemRef m = PickFpMem(b, size, align == 0 ? 1 : align, allow_faults);
    if (val != Val::None && size <= kPatchBytes) {
        u8 buf[16] = {};
        FillValue(b.rng, val, buf);
        u64 lo, hi;
        std::memcpy(&lo, buf, 8);
        std::memcpy(&hi, buf + 8, 8);
        b.Patch(m.target, size, lo, hi);
    }
    in.SetRmMem(m);
    b.Access(m, size, write);
    return m;
}

Insn X87(u8 opcode, u8 digit) {
    Insn in;
    in.opcode = opcode;
    in.has_modrm = true;
    in.reg = digit;
    return in;
}
Insn X87Reg(u8 opcode, u8 digit, unsigned i) {
    Insn in = X87(opcode, digit);
    in.rm_is_mem = false;
    in.rm_reg = static_cast<u8>(i);
    return in;
}

}  // namespace

// --- x87 ---------------------------------------------------------------------------------------------------

bool GenX87Arith(Builder& b) {
    Rng& rng = b.rng;
    const u8 i = static_cast<u8>(rng.Below(8));
    switch (rng.Below(8)) {
        case 0: return b.Emit(X87Reg(0xD8, static_cast<u8>(rng.Below(8)), i));  // FADD..FDIVR ST(0),ST(i)
        case 1: {  // DC: FADD..FDIVR ST(i),ST(0); DE: the popping forms and FCOMPP
            const std::array<u8, 6> ops{0, 1, 4, 5, 6, 7};
            if (rng.Chance(1, 8)) return b.Emit(X87Reg(0xDE, 3, 1));
            return b.Emit(X87Reg(rng.Chance(1, 2) ? 0xDC : 0xDE, rng.Pick(ops), i));
        }
        case 2: {  // m32fp, m64fp, m32int, m16int operands
            const unsigned form = static_cast<unsigned>(rng.Below(4));
            const std::array<u8, 4> opcodes{0xD8, 0xDC, 0xDA, 0xDE};
            const std::array<Val, 4> vals{Val::F32, Val::F64, Val::I32, Val::I16};
            const std::array<unsigned, 4> sizes{4, 8, 4, 2};
            Insn in = X87(opcodes[form], static_cast<u8>(rng.Below(8)));
            SetMem(b, in, sizes[form], vals[form], 0, false);
            return b.Emit(in);
        }
        case 3: {  // one-byte-ModRM register operations
            const std::array<std::array<u8, 2>, 20> ops{{{0xD9, 0xE0}, {0xD9, 0xE1}, {0xD9, 0xE4}, {0xD9, 0xE5},
                                                         {0xD9, 0xF6}, {0xD9, 0xF7}, {0xD9, 0xD0}, {0xD9, 0xE8},
                                                         {0xD9, 0xE9}, {0xD9, 0xEA}, {0xD9, 0xEB}, {0xD9, 0xEC},
                                                         {0xD9, 0xED}, {0xD9, 0xEE}, {0xDA, 0xE9}, {0xD9, 0xE5},
                                                         {0xD9, 0xE0}, {0xD9, 0xE4}, {0xD9, 0xE1}, {0xD9, 0xE5}}};
            const auto op = rng.Pick(ops);
            return b.EmitBytes(std::array<u8, 2>{op[0], op[1]});
        }
        case 4: {  // FLD ST(i), FXCH, FST/FSTP ST(i), FFREE, FUCOM/FUCOMP ST(i)
            const std::array<std::array<u8, 2>, 6> ops{{{0xD9, 0xC0}, {0xD9, 0xC8}, {0xDD, 0xD0}, {0xDD, 0xD8},
                                                        {0xDD, 0xC0}, {0xDD, 0xE0}}};
            const auto op = rng.Pick(ops);
            if (rng.Chance(1, 6)) return b.EmitBytes(std::array<u8, 2>{0xDD, static_cast<u8>(0xE8 + i)});
            return b.EmitBytes(std::array<u8, 2>{op[0], static_cast<u8>(op[1] + i)});
        }
        case 5: {  // FCOMI/FUCOMI(P): ZF PF CF from the comparison, OF SF AF cleared
            const std::array<std::array<u8, 2>, 4> ops{{{0xDB, 0xF0}, {0xDB, 0xE8}, {0xDF, 0xF0}, {0xDF, 0xE8}}};
            const auto op = rng.Pick(ops);
            b.info.flags_written = kArith;
            return b.EmitBytes(std::array<u8, 2>{op[0], static_cast<u8>(op[1] + i)});
        }
        case 6: {  // FCMOVcc reads CF, ZF, PF
            b.info.flags_read = CF | ZF | PF;
            return b.EmitBytes(std::array<u8, 2>{static_cast<u8>(rng.Chance(1, 2) ? 0xDA : 0xDB),
                                                 static_cast<u8>(0xC0 + 8 * rng.Below(4) + i)});
        }
        default: {  // FCOM/FCOMP m32/m64, FICOM/FICOMP m16/m32
            const std::array<u8, 4> opcodes{0xD8, 0xDC, 0xDA, 0xDE};
            const std::array<Val, 4> vals{Val::F32, Val::F64, Val::I32, Val::I16};
            const std::array<unsigned, 4> sizes{4, 8, 4, 2};
            const unsigned form = static_cast<unsigned>(rng.Below(4));
            Insn in = X87(opcodes[form], static_cast<u8>(2 + rng.Below(2)));
            SetMem(b, in, sizes[form], vals[form], 0, false);
            return b.Emit(in);
        }
    }
}

bool GenX87Mem(Builder& b) {
    struct Form {
        u8 opcode, digit, size;
        Val val;
        bool store;
    };
    static constexpr std::array<Form, 21> kForms{{
        {0xD9, 0, 4, Val::F32, false},  {0xD9, 2, 4, Val::None, true},  {0xD9, 3, 4, Val::None, true},
        {0xDD, 0, 8, Val::F64, false},  {0xDD, 2, 8, Val::None, true},  {0xDD, 3, 8, Val::None, true},
        {0xDB, 5, 10, Val::F80, false}, {0xDB, 7, 10, Val::None, true}, {0xDF, 0, 2, Val::I16, false},
        {0xDF, 2, 2, Val::None, true},  {0xDF, 3, 2, Val::None, true},  {0xDF, 1, 2, Val::None, true},
        {0xDB, 0, 4, Val::I32, false},  {0xDB, 1, 4, Val::None, true},  {0xDB, 2, 4, Val::None, true},
        {0xDB, 3, 4, Val::None, true},  {0xDF, 5, 8, Val::I64, false},  {0xDF, 7, 8, Val::None, true},
        {0xDD, 1, 8, Val::None, true},  {0xDF, 4, 10, Val::Bcd, false}, {0xDF, 6, 10, Val::None, true},
    }};
    const Form& f = kForms[b.rng.Below(kForms.size())];
    Insn in = X87(f.opcode, f.digit);
    // Where the host skips the destination's checks for a store that an unmasked exception suppresses (and the
    // emulator, as AMD, does not), a store that may be suppressed gets no faulting address.
    const bool may_skip_checks = b.features.x87_suppressed_store_skips_checks && b.s.x87_store_may_be_suppressed;
    const MemRef m = SetMem(b, in, f.size, f.val, 0, f.store, !(f.store && may_skip_checks));
    // FSTP m80/FBSTP across the end of the data area with its low 8 bytes inside: stored before the #PF on hosts
    // that split the store (HostFeatures::x87_m80_store_split), not by the emulator.
    if (f.store && f.size == 10 && b.features.x87_m80_store_split && m.target + 8 <= kGuardBase &&
        m.target + 10 > kGuardBase)
        return false;
    return b.Emit(in);
}

// FPREM/FPREM1 by +-inf and FSCALE by +-0 return ST0 as it is; a denormal one with UE unmasked is where Intel (DE
// only) and AMD (the unmasked-underflow response) differ (emu/cpu/fpu/README.md). The emulated CPU follows its
// model's vendor, so these are left out while the FCW may unmask UE and the host's vendor is the other one
// (`--cpu host` compares them; the values that trigger the difference are not known when the case is built).
namespace {
bool X87VendorNeutral(const Builder& b, u8 op) {
    const bool differs = op == 0xF8 || op == 0xF5 || op == 0xFD;
    return !differs || b.features.same_vendor || !b.s.x87_underflow_may_be_unmasked;
}
}  // namespace

bool GenX87Misc(Builder& b) {
    Rng& rng = b.rng;
    switch (rng.Below(8)) {
        case 0:
        case 1: {  // FPREM FPREM1 FSCALE FXTRACT FRNDINT FSQRT
            const std::array<u8, 6> ops{0xF8, 0xF5, 0xFD, 0xF4, 0xFC, 0xFA};
            const u8 op = rng.Pick(ops);
            if (!X87VendorNeutral(b, op)) return false;
            return b.EmitBytes(std::array<u8, 2>{0xD9, op});
        }
        case 2:
            if (rng.Chance(1, 2)) {  // FNSTSW AX
                b.Write(RAX);
                return b.EmitBytes(std::array<u8, 2>{0xDF, 0xE0});
            } else {  // FNCLEX, FWAIT, FNINIT
                const std::array<std::vector<u8>, 4> ops{{{0xDB, 0xE2}, {0x9B}, {0xDB, 0xE3}, {0x9B, 0xDB, 0xE2}}};
                return b.EmitBytes(rng.Pick(ops));
            }
        case 3: {  // FNSTSW m16, FNSTCW m16, FLDCW m16, FSTCW (waiting)
            const unsigned k = static_cast<unsigned>(rng.Below(4));
            Insn in = X87(k == 0 ? 0xDD : 0xD9, k == 0 ? 7 : (k == 2 ? 5 : 7));
            if (k == 3) in.prefixes.push_back(0x9B);
            SetMem(b, in, 2, k == 2 ? Val::Cw : Val::None, 0, k != 2);
            if (k == 2) b.s.FcwLoaded();
            return b.Emit(in);
        }
        case 4:
        case 5: {  // FNSTENV/FNSAVE (16- or 32-bit operand size), optionally reloaded by FLDENV/FRSTOR
            const bool save = rng.Chance(1, 2);
            const bool o16 = rng.Chance(1, 3);
            const unsigned size = save ? (o16 ? 94 : 108) : (o16 ? 14 : 28);
            Insn st = X87(save ? 0xDD : 0xD9, 6);
            if (o16) st.prefixes.push_back(0x66);
            MemRef m = PickFpMem(b, size, 1, rng.Chance(1, 4));
            st.SetRmMem(m);
            b.Access(m, size, true);
            if (!b.RecordX87Image(m, o16 ? X87ImageKind::Env16 : X87ImageKind::Env32)) return false;
            if (!b.Emit(st)) return false;
            if (rng.Chance(1, 2)) return true;
            // Something to undo, then the reload from the same place.
            const std::array<std::array<u8, 2>, 4> between{{{0xD9, 0xE8}, {0xDB, 0xE3}, {0xD9, 0xF7}, {0xD9, 0xE0}}};
            if (!b.EmitBytes(rng.Pick(between))) return false;
            Insn ld = X87(save ? 0xDD : 0xD9, 4);  // FRSTOR / FLDENV
            // Now and then with the other operand size, which loads pointer fields into FTW and the registers:
            // not where compare.cpp masks pointer fields of the image (HostFeatures), as they would carry on.
            const bool pointers_masked = b.features.intel_x87_pointers || b.features.fdp_excptn_only ||
                                         b.features.fcs_fds_deprecated;
            const bool other_size = rng.Chance(1, 8) && !pointers_masked;
            if (o16 != other_size) ld.prefixes.push_back(0x66);
            ld.SetRmMem(m);
            b.s.FcwLoaded();
            return b.Emit(ld);
        }
        default: {  // FLDCW then an operation rounded under it
            Insn in = X87(0xD9, 5);
            SetMem(b, in, 2, Val::Cw, 0, false);
            b.s.FcwLoaded();
            if (!b.Emit(in)) return false;
            const std::array<u8, 8> ops{0xFC, 0xFA, 0xF8, 0xFD, 0xC1, 0xC9, 0xE0, 0xF4};
            const u8 op = rng.Pick(ops);
            if (!X87VendorNeutral(b, op)) return false;
            return b.EmitBytes(std::array<u8, 2>{static_cast<u8>(op < 0xD0 ? 0xDC : 0xD9), op});
        }
    }
}

bool GenX87Trans(Builder& b) {
    // FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1: results within one ulp of the host (fpu README), so
    // the case compares ST with that tolerance and nothing may run after it.
    const std::array<u8, 8> ops{0xFE, 0xFF, 0xFB, 0xF2, 0xF3, 0xF0, 0xF1, 0xF9};
    b.s.x87_tolerance = true;
    b.info.ends_case = true;
    return b.EmitBytes(std::array<u8, 2>{0xD9, b.rng.Pick(ops)});
}

// --- SIMD --------------------------------------------------------------------------------------------------

namespace {

enum Reg : u8 { X, M, G };  // XMM, MMX, GPR
enum VecFlags : u16 {
    kMemOnly = 1, kRegOnly = 2, kStore = 4, kImm = 8, kCmpImm = 16, kFlags = 32, kWideOk = 64, kUnaligned = 128,
    kGpr64 = 256,  // REX.W changes the GPR operand to 64 bits
};

struct VecOp {
    u8 prefix, map, opcode;
    Reg reg, rm;
    u8 mem_size;
    Val val;
    u16 flags;
};

bool EmitVec(Builder& b, const VecOp& op) {
    Rng& rng = b.rng;
    Insn in;
    in.map = op.map;
    in.opcode = op.opcode;
    in.has_modrm = true;
    const bool w = (op.flags & kGpr64) && rng.Chance(1, 2);
    in.rex_w = w;
    const unsigned gsize = w ? 8 : 4;
    auto pick = [&](Reg r) -> u8 { return static_cast<u8>(r == X ? rng.Below(16) : (r == M ? rng.Below(8) : 0)); };
    // ModRM.reg
    if (op.reg == G) {
        const RegRef dst = b.PickDst(gsize);
        in.reg = dst.num;
        if (op.flags & kStore) b.Read(dst.num);
        else b.Write(dst.num);
    } else {
        in.reg = pick(op.reg);
    }
    const bool mem = !(op.flags & kRegOnly) && ((op.flags & kMemOnly) || rng.Chance(2, 5));
    if (mem) {
        unsigned align = op.mem_size == 16 && !(op.flags & kUnaligned) ? 16 : 1;
        if (align == 16 && rng.Chance(1, 10)) align = 4;  // misaligned legacy SSE operand: #GP(0)
        const unsigned size = (op.rm == G) ? std::min<unsigned>(op.mem_size, gsize) : op.mem_size;
        SetMem(b, in, size, op.val, align, op.flags & kStore);
    } else if (op.rm == G) {
        const RegRef r = (op.flags & kStore) ? b.PickDst(gsize) : b.PickSrc(gsize);
        in.SetRmReg(r, gsize);
        if (op.flags & kStore) b.Write(r.num);
        else b.Read(r.num);
    } else {
        in.rm_is_mem = false;
        in.rm_reg = pick(op.rm);
    }
    if (op.prefix) in.prefixes.push_back(op.prefix);
    if (op.flags & (kImm | kCmpImm)) {
        in.imm_size = 1;
        in.imm = (op.flags & kCmpImm) ? rng.Below(8) : (rng.Chance(1, 2) ? rng.Below(32) : rng.Next() & 0xFF);
    }
    if (op.flags & kFlags) b.info.flags_written = kArith;
    return b.Emit(in);
}

// SSE/SSE2/SSE3 floating point: arithmetic, compare, logic, moves, shuffles (RCPPS/RCPSS/RSQRTPS/RSQRTSS are
// left out: their results are model specific within the SDM's 1.5*2^-12 relative error, SDM Vol. 2 RCPPS).
constexpr VecOp kSseFloat[] = {
    // 0F 51 SQRT, 54 AND, 55 ANDN, 56 OR, 57 XOR, 58 ADD, 59 MUL, 5C SUB, 5D MIN, 5E DIV, 5F MAX
#define EMU64_ARITH(opc)                                                                                    \
    {0, 1, opc, X, X, 16, Val::V128, 0}, {0x66, 1, opc, X, X, 16, Val::V128, 0},                         \
        {0xF3, 1, opc, X, X, 4, Val::F32, 0}, {0xF2, 1, opc, X, X, 8, Val::F64, 0}
    EMU64_ARITH(0x51), EMU64_ARITH(0x58), EMU64_ARITH(0x59), EMU64_ARITH(0x5C), EMU64_ARITH(0x5D),
    EMU64_ARITH(0x5E), EMU64_ARITH(0x5F),
#undef EMU64_ARITH
    {0, 1, 0xC2, X, X, 16, Val::V128, kCmpImm}, {0x66, 1, 0xC2, X, X, 16, Val::V128, kCmpImm},
    {0xF3, 1, 0xC2, X, X, 4, Val::F32, kCmpImm}, {0xF2, 1, 0xC2, X, X, 8, Val::F64, kCmpImm},
    {0, 1, 0x2E, X, X, 4, Val::F32, kFlags}, {0, 1, 0x2F, X, X, 4, Val::F32, kFlags},
    {0x66, 1, 0x2E, X, X, 8, Val::F64, kFlags}, {0x66, 1, 0x2F, X, X, 8, Val::F64, kFlags},
    {0, 1, 0x54, X, X, 16, Val::V128, 0}, {0x66, 1, 0x55, X, X, 16, Val::V128, 0},
    {0, 1, 0x56, X, X, 16, Val::V128, 0}, {0x66, 1, 0x57, X, X, 16, Val::V128, 0},
    {0xF2, 1, 0xD0, X, X, 16, Val::V128, 0}, {0x66, 1, 0xD0, X, X, 16, Val::V128, 0},   // ADDSUBPS/PD
    {0xF2, 1, 0x7C, X, X, 16, Val::V128, 0}, {0x66, 1, 0x7C, X, X, 16, Val::V128, 0},   // HADDPS/PD
    {0xF2, 1, 0x7D, X, X, 16, Val::V128, 0}, {0x66, 1, 0x7D, X, X, 16, Val::V128, 0},   // HSUBPS/PD
    {0, 1, 0x28, X, X, 16, Val::V128, 0}, {0x66, 1, 0x28, X, X, 16, Val::V128, 0},      // MOVAPS/PD
    {0, 1, 0x29, X, X, 16, Val::None, kStore}, {0, 1, 0x10, X, X, 16, Val::V128, kUnaligned},
    {0, 1, 0x11, X, X, 16, Val::None, kStore | kUnaligned}, {0xF3, 1, 0x10, X, X, 4, Val::F32, 0},
    {0xF2, 1, 0x10, X, X, 8, Val::F64, 0}, {0xF3, 1, 0x11, X, X, 4, Val::None, kStore},
    {0xF2, 1, 0x11, X, X, 8, Val::None, kStore}, {0, 1, 0x12, X, X, 8, Val::V64, 0},       // MOVLPS/MOVHLPS
    {0, 1, 0x16, X, X, 8, Val::V64, 0}, {0, 1, 0x13, X, X, 8, Val::None, kStore | kMemOnly},  // MOVHPS/MOVLHPS
    {0, 1, 0x17, X, X, 8, Val::None, kStore | kMemOnly}, {0x66, 1, 0x12, X, X, 8, Val::V64, kMemOnly},
    {0x66, 1, 0x16, X, X, 8, Val::V64, kMemOnly}, {0xF2, 1, 0x12, X, X, 8, Val::V64, 0},     // MOVDDUP
    {0xF3, 1, 0x12, X, X, 16, Val::V128, 0}, {0xF3, 1, 0x16, X, X, 16, Val::V128, 0},       // MOVSLDUP/SHDUP
    {0xF2, 1, 0xF0, X, X, 16, Val::V128, kMemOnly | kUnaligned},                          // LDDQU
    {0, 1, 0x2B, X, X, 16, Val::None, kStore | kMemOnly}, {0x66, 1, 0x2B, X, X, 16, Val::None, kStore | kMemOnly},
    {0, 1, 0xC6, X, X, 16, Val::V128, kImm}, {0x66, 1, 0xC6, X, X, 16, Val::V128, kImm},  // SHUFPS/PD
    {0, 1, 0x14, X, X, 16, Val::V128, 0}, {0, 1, 0x15, X, X, 16, Val::V128, 0},           // UNPCKL/HPS
    {0x66, 1, 0x14, X, X, 16, Val::V128, 0}, {0x66, 1, 0x15, X, X, 16, Val::V128, 0},
    {0, 1, 0x50, G, X, 0, Val::None, kRegOnly | kGpr64}, {0x66, 1, 0x50, G, X, 0, Val::None, kRegOnly},  // MOVMSK
};

// Conversions between float formats, integers (XMM, MMX and GPR).
constexpr VecOp kSseConvert[] = {
    {0xF3, 1, 0x2A, X, G, 8, Val::I64, kGpr64}, {0xF2, 1, 0x2A, X, G, 8, Val::I64, kGpr64},   // CVTSI2SS/SD
    {0xF3, 1, 0x2D, G, X, 4, Val::F32, kGpr64}, {0xF3, 1, 0x2C, G, X, 4, Val::F32, kGpr64},   // CVT(T)SS2SI
    {0xF2, 1, 0x2D, G, X, 8, Val::F64, kGpr64}, {0xF2, 1, 0x2C, G, X, 8, Val::F64, kGpr64},   // CVT(T)SD2SI
    {0, 1, 0x5A, X, X, 8, Val::V64, 0}, {0x66, 1, 0x5A, X, X, 16, Val::V128, 0},              // CVTPS2PD/PD2PS
    {0xF3, 1, 0x5A, X, X, 4, Val::F32, 0}, {0xF2, 1, 0x5A, X, X, 8, Val::F64, 0},            // CVTSS2SD/SD2SS
    {0, 1, 0x5B, X, X, 16, Val::V128, 0}, {0x66, 1, 0x5B, X, X, 16, Val::V128, 0},            // CVTDQ2PS/PS2DQ
    {0xF3, 1, 0x5B, X, X, 16, Val::V128, 0}, {0xF3, 1, 0xE6, X, X, 8, Val::V64, 0},           // CVTTPS2DQ/DQ2PD
    {0xF2, 1, 0xE6, X, X, 16, Val::V128, 0}, {0x66, 1, 0xE6, X, X, 16, Val::V128, 0},         // CVT(T)PD2DQ
    {0, 1, 0x2A, X, M, 8, Val::V64, 0}, {0x66, 1, 0x2A, X, M, 8, Val::V64, 0},                // CVTPI2PS/PD
    {0, 1, 0x2D, M, X, 8, Val::V64, 0}, {0, 1, 0x2C, M, X, 8, Val::V64, 0},                   // CVT(T)PS2PI
    {0x66, 1, 0x2D, M, X, 16, Val::V128, 0}, {0x66, 1, 0x2C, M, X, 16, Val::V128, 0},         // CVT(T)PD2PI
};

// MMX/SSE2 integer: the same opcode without prefix is the MMX form, with 66 the XMM form.
constexpr u8 kIntOps[] = {
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x74, 0x75, 0x76,  // unpack pack cmp
    0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF,              // shifts add min and
    0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE, 0xEF,
    0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xD4,
};
constexpr VecOp kSimdIntOther[] = {
    {0x66, 1, 0x6C, X, X, 16, Val::V128, 0}, {0x66, 1, 0x6D, X, X, 16, Val::V128, 0},       // PUNPCKL/HQDQ
    {0x66, 1, 0x70, X, X, 16, Val::V128, kImm}, {0xF3, 1, 0x70, X, X, 16, Val::V128, kImm},  // PSHUFD/HW
    {0xF2, 1, 0x70, X, X, 16, Val::V128, kImm}, {0, 1, 0x70, M, M, 8, Val::V64, kImm},      // PSHUFLW, PSHUFW
    {0x66, 1, 0x6E, X, G, 8, Val::I64, kGpr64}, {0, 1, 0x6E, M, G, 8, Val::I64, kGpr64},     // MOVD/MOVQ from r/m
    {0x66, 1, 0x7E, X, G, 8, Val::None, kGpr64 | kStore}, {0, 1, 0x7E, M, G, 8, Val::None, kGpr64 | kStore},
    {0xF3, 1, 0x7E, X, X, 8, Val::V64, 0}, {0x66, 1, 0xD6, X, X, 8, Val::None, kStore},      // MOVQ
    {0x66, 1, 0x6F, X, X, 16, Val::V128, 0}, {0xF3, 1, 0x6F, X, X, 16, Val::V128, kUnaligned},  // MOVDQA/U
    {0x66, 1, 0x7F, X, X, 16, Val::None, kStore}, {0xF3, 1, 0x7F, X, X, 16, Val::None, kStore | kUnaligned},
    {0, 1, 0x6F, M, M, 8, Val::V64, 0}, {0, 1, 0x7F, M, M, 8, Val::None, kStore},            // MOVQ mm
    {0x66, 1, 0xD7, G, X, 0, Val::None, kRegOnly}, {0, 1, 0xD7, G, M, 0, Val::None, kRegOnly},  // PMOVMSKB
    {0x66, 1, 0xC4, X, G, 2, Val::I16, kImm}, {0, 1, 0xC4, M, G, 2, Val::I16, kImm},         // PINSRW
    {0x66, 1, 0xC5, G, X, 0, Val::None, kRegOnly | kImm}, {0, 1, 0xC5, G, M, 0, Val::None, kRegOnly | kImm},
    {0xF3, 1, 0xD6, X, M, 0, Val::None, kRegOnly}, {0xF2, 1, 0xD6, M, X, 0, Val::None, kRegOnly},  // MOVQ2DQ/DQ2Q
    {0, 1, 0xE7, M, M, 8, Val::None, kStore | kMemOnly}, {0x66, 1, 0xE7, X, X, 16, Val::None, kStore | kMemOnly},
};

// SSSE3: 0F 38 00-0B, 1C-1E, and PALIGNR 0F 3A 0F; MMX forms without prefix.
constexpr u8 kSsse3Ops[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x1C, 0x1D, 0x1E};

// SSE4.1 (66 0F 38 / 66 0F 3A). BLENDVPS/BLENDVPD/PBLENDVB read XMM0 implicitly.
constexpr VecOp kSse41[] = {
#define EMU64_38(opc, size) {0x66, 2, opc, X, X, size, Val::V128, 0}
    EMU64_38(0x10, 16), EMU64_38(0x14, 16), EMU64_38(0x15, 16), EMU64_38(0x20, 8), EMU64_38(0x21, 4),
    EMU64_38(0x22, 2), EMU64_38(0x23, 8), EMU64_38(0x24, 4), EMU64_38(0x25, 8), EMU64_38(0x28, 16),
    EMU64_38(0x29, 16), EMU64_38(0x2B, 16), EMU64_38(0x30, 8), EMU64_38(0x31, 4), EMU64_38(0x32, 2),
    EMU64_38(0x33, 8), EMU64_38(0x34, 4), EMU64_38(0x35, 8), EMU64_38(0x37, 16), EMU64_38(0x38, 16),
    EMU64_38(0x39, 16), EMU64_38(0x3A, 16), EMU64_38(0x3B, 16), EMU64_38(0x3C, 16), EMU64_38(0x3D, 16),
    EMU64_38(0x3E, 16), EMU64_38(0x3F, 16), EMU64_38(0x40, 16), EMU64_38(0x41, 16),
#undef EMU64_38
    {0x66, 2, 0x17, X, X, 16, Val::V128, kFlags},              // PTEST
    {0x66, 2, 0x2A, X, X, 16, Val::V128, kMemOnly},            // MOVNTDQA
#define EMU64_3A(opc) {0x66, 3, opc, X, X, 16, Val::V128, kImm}
    EMU64_3A(0x08), EMU64_3A(0x09), EMU64_3A(0x0C), EMU64_3A(0x0D), EMU64_3A(0x0E), EMU64_3A(0x40),
    EMU64_3A(0x41), EMU64_3A(0x42),
#undef EMU64_3A
    {0x66, 3, 0x0A, X, X, 4, Val::F32, kImm}, {0x66, 3, 0x0B, X, X, 8, Val::F64, kImm},    // ROUNDSS/SD
    {0x66, 3, 0x21, X, X, 4, Val::F32, kImm},                                              // INSERTPS
    {0x66, 3, 0x20, X, G, 1, Val::I16, kImm}, {0x66, 3, 0x22, X, G, 8, Val::I64, kImm | kGpr64},  // PINSRB/D/Q
    {0x66, 3, 0x14, X, G, 1, Val::None, kImm | kStore}, {0x66, 3, 0x15, X, G, 2, Val::None, kImm | kStore},
    {0x66, 3, 0x16, X, G, 8, Val::None, kImm | kStore | kGpr64}, {0x66, 3, 0x17, X, G, 4, Val::None, kImm | kStore},
};

template <size_t N>
bool EmitFrom(Builder& b, const VecOp (&table)[N]) {
    return EmitVec(b, table[b.rng.Below(N)]);
}

}  // namespace

bool GenSseFloat(Builder& b) { return EmitFrom(b, kSseFloat); }
bool GenSseConvert(Builder& b) { return EmitFrom(b, kSseConvert); }

bool GenSimdInt(Builder& b) {
    Rng& rng = b.rng;
    switch (rng.Below(6)) {
        case 0:
            if (rng.Chance(1, 16)) return b.EmitBytes(std::array<u8, 2>{0x0F, 0x77});  // EMMS
            return EmitFrom(b, kSimdIntOther);
        case 1: {  // shifts by immediate: 0F 71/72/73 /2 /4 /6 (and /3 /7: PSRLDQ/PSLLDQ, XMM only)
            const bool xmm = rng.Chance(2, 3);
            const u8 opc = static_cast<u8>(0x71 + rng.Below(3));
            std::vector<u8> digits = opc == 0x73 ? std::vector<u8>{2, 6} : std::vector<u8>{2, 4, 6};
            if (opc == 0x72 || opc == 0x71) digits = {2, 4, 6};
            if (opc == 0x73 && xmm) digits = {2, 3, 6, 7};
            Insn in;
            in.map = 1;
            in.opcode = opc;
            in.has_modrm = true;
            in.reg = digits[rng.Below(digits.size())];
            in.rm_reg = static_cast<u8>(rng.Below(xmm ? 16 : 8));
            if (xmm) in.prefixes.push_back(0x66);
            in.imm_size = 1;
            in.imm = rng.Chance(3, 4) ? rng.Below(70) : rng.Next() & 0xFF;
            return b.Emit(in);
        }
        default: {
            const u8 opc = kIntOps[rng.Below(sizeof(kIntOps))];
            const bool xmm = rng.Chance(2, 3);
            const VecOp op{static_cast<u8>(xmm ? 0x66 : 0), 1, opc, xmm ? X : M, xmm ? X : M,
                           static_cast<u8>(xmm ? 16 : 8), xmm ? Val::V128 : Val::V64, 0};
            return EmitVec(b, op);
        }
    }
}

bool GenSse41(Builder& b) { return EmitFrom(b, kSse41); }

// SSE4.2 string compares, 66 0F 3A 60-63: PCMPESTRM PCMPESTRI PCMPISTRM PCMPISTRI. The explicit forms read their
// lengths from EAX/EDX (RAX/RDX with REX.W): mostly -20..20, sometimes any 64-bit value. The index forms write ECX,
// the mask forms XMM0.
bool GenSse42(Builder& b) {
    Rng& rng = b.rng;
    if (!b.features.crc32) return false;  // the host's SSE4.2 bit
    const u8 opc = static_cast<u8>(0x60 + rng.Below(4));
    const bool explicit_len = opc < 0x62;
    if (explicit_len) {
        for (const u8 r : {RAX, RDX}) {
            const u64 length = static_cast<u64>(static_cast<i64>(rng.Below(41)) - 20);
            if (b.Shapeable(r)) b.Shape(r, rng.Chance(7, 8) ? length : rng.Next());
            b.Read(r);
        }
    }
    if (opc & 1) b.Write(RCX);
    const u16 flags = kImm | kFlags | kUnaligned | (explicit_len ? kGpr64 : 0);
    return EmitVec(b, VecOp{0x66, 3, opc, X, X, 16, Val::Str, flags});
}

bool GenSsse3(Builder& b) {
    Rng& rng = b.rng;
    const bool xmm = rng.Chance(2, 3);
    const bool palignr = rng.Chance(1, 8);
    const VecOp op{static_cast<u8>(xmm ? 0x66 : 0), static_cast<u8>(palignr ? 3 : 2),
                   palignr ? u8{0x0F} : kSsse3Ops[rng.Below(sizeof(kSsse3Ops))], xmm ? X : M, xmm ? X : M,
                   static_cast<u8>(xmm ? 16 : 8), xmm ? Val::V128 : Val::V64,
                   static_cast<u16>(palignr ? kImm : 0)};
    return EmitVec(b, op);
}

// FXSAVE/FXSAVE64/XSAVE/XSAVE64 of the random state (the image must be byte-identical to the host's),
// FXRSTOR of it back after a change, and LDMXCSR/STMXCSR.
bool GenFpState(Builder& b) {
    Rng& rng = b.rng;
    if (rng.Chance(1, 12)) {
        // The group-15 memory forms with a 66, F2 or F3 prefix (FXSAVE FXRSTOR LDMXCSR STMXCSR XSAVE XRSTOR XSAVEOPT
        // CLFLUSH): #UD where the SDM's opcode tables list no instruction for the prefix (SDM Vol. 2 Table A-6).
        Insn in;
        in.map = 1;
        in.opcode = 0xAE;
        in.has_modrm = true;
        in.reg = static_cast<u8>(rng.Below(8));
        in.prefixes.push_back(std::array<u8, 3>{0x66, 0xF2, 0xF3}[rng.Below(3)]);
        if (rng.Chance(1, 4)) {
            // LFENCE/MFENCE/SFENCE (mod = 11, /5-/7) with a prefix; F3 /0-/3 (RDFSBASE..) and F3 /4 (PTWRITE)
            // depend on CPUID bits the host has and the emulated CPU does not: tests/unit/cpu covers them.
            in.reg = static_cast<u8>(5 + rng.Below(3));
            if (in.prefixes[0] == 0xF3 && in.reg == 5 && b.features.cet_ss) return false;  // INCSSP on this host
            in.rm_is_mem = false;
            in.rm_reg = static_cast<u8>(rng.Below(8));
            b.info.ends_case = true;
            return b.Emit(in);
        }
        // 66 /6 CLWB, 66 /7 CLFLUSHOPT, F3 /6 CLRSSBSY exist by CPUID on the host only. F3 /4 is PTWRITE on hosts
        // that run it (HostFeatures::ptwrite; the emulated CPU does not have it: #UD, tests/unit/cpu/simd_test.cpp).
        if (in.reg >= 6) return false;
        if (in.prefixes[0] == 0xF3 && in.reg == 4 && b.features.ptwrite) return false;
        SetMem(b, in, 4, Val::Mxcsr, 0, false);
        b.info.ends_case = true;
        return b.Emit(in);
    }
    if (rng.Chance(1, 3)) {  // LDMXCSR m32 / STMXCSR m32
        const bool load = rng.Chance(1, 2);
        Insn in;
        in.map = 1;
        in.opcode = 0xAE;
        in.has_modrm = true;
        in.reg = load ? 2 : 3;
        SetMem(b, in, 4, load ? Val::Mxcsr : Val::None, 0, !load);
        return b.Emit(in);
    }
    // Nothing runs after the images: a later read of the MXCSR_MASK field would carry the model difference on.
    b.info.ends_case = true;
    const bool xsave = rng.Chance(1, 3);
    const unsigned size = xsave ? 576 : 512;
    // Mostly aligned (16 for FXSAVE, 64 for XSAVE); misaligned now and then (#GP(0)).
    const unsigned align = rng.Chance(1, 12) ? 8 : (xsave ? 64 : 16);
    MemRef m = PickFpMem(b, size, align, rng.Chance(1, 4));
    // Non-canonical through the SS segment and misaligned: #SS or #GP first is host-specific
    // (HostFeatures::fxsave_ss_canonical_first).
    const bool ss = !m.rip_relative && !m.absolute && (m.base == RBP || m.base == RSP);
    const bool canonical = m.target < (u64{1} << 47) || m.target >= ~((u64{1} << 47) - 1);
    if (b.features.fxsave_ss_canonical_first && ss && !canonical && m.target % (xsave ? 64 : 16) != 0) return false;
    if (xsave) {
        // XSAVE with RFBM = EDX:EAX & XCR0 = 3: x87 and SSE only, whatever else the host's XCR0 enables.
        if (!b.Shapeable(RAX) || !b.Shapeable(RDX)) return false;
        b.Shape(RAX, (rng.Next() & ~u64{0xFFFFFFFF}) | 3);
        b.Shape(RDX, rng.Next() & ~u64{0xFFFFFFFF});
        b.Read(RAX);
        b.Read(RDX);
    }
    Insn save;
    save.map = 1;
    save.opcode = 0xAE;
    save.has_modrm = true;
    save.reg = xsave ? 4 : 0;
    save.rex_w = rng.Chance(1, 2);
    save.SetRmMem(m);
    b.Access(m, size, true);
    for (u16& at : b.s.mxcsr_mask_at) {
        if (at != 0xFFFF) continue;
        at = static_cast<u16>(m.target - kDataBase + fx::kMxcsrMask);
        break;
    }
    if (!b.RecordX87Image(m, save.rex_w ? X87ImageKind::Fx64 : X87ImageKind::Fx32)) return false;
    if (!b.Emit(save)) return false;
    if (xsave || rng.Chance(1, 2)) return true;
    // Change the state, then FXRSTOR the image (same REX.W) and use it.
    const std::array<std::array<u8, 3>, 4> between{{{0x0F, 0x57, 0xC0}, {0xD9, 0xE8, 0x90}, {0xDB, 0xE3, 0x90},
                                                    {0x0F, 0x77, 0x90}}};
    if (!b.EmitBytes(rng.Pick(between))) return false;
    Insn rstor = save;
    rstor.reg = 1;
    if (!b.Emit(rstor)) return false;
    const std::array<std::array<u8, 2>, 3> after{{{0xD8, 0xC1}, {0xD9, 0xFA}, {0xDE, 0xC9}}};
    return b.EmitBytes(rng.Pick(after));
}

}  // namespace emu::diff::gen
