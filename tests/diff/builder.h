#pragma once
// Internals of the generator shared by generator.cpp and templates.cpp: the per-case random source, the
// bookkeeping of what each instruction reads, writes and leaves undefined, and the Builder that the
// instruction templates use to pick operands and emit code. Not part of the tester's public API.
#include <array>
#include <optional>
#include <span>
#include <vector>

#include "emu/common/bits.h"
#include "tests/diff/encoder.h"
#include "tests/diff/rng.h"
#include "tests/diff/generator.h"

namespace emu::diff::gen {

constexpr u64 CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
constexpr u64 kArith = CF | PF | AF | ZF | SF | OF;
constexpr u8 RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
constexpr u16 RegBit(u8 r) { return static_cast<u16>(1u << r); }

// Memory layout inside the data area: ordinary operands below kStackLow, the snippet's stack above it.
constexpr u64 kStackLow = 0xC000;
constexpr u64 kStackStart = 0xE000;

// Values where arithmetic changes behaviour: zero, one, all ones, and the sign boundaries of each size.
inline u64 SpecialValue(Rng& rng, unsigned size) {
    const u64 mask = LowMask(size * 8);
    const u64 sign = u64{1} << (size * 8 - 1);
    const std::array<u64, 12> values{0, 1, 2, mask, mask - 1, sign - 1, sign, sign + 1, 0x7F, 0x80, 0xFF, 0x100};
    return rng.Pick(values) & mask;
}

inline u64 RandomValue(Rng& rng, unsigned size) {
    switch (rng.Below(4)) {
        case 0: return SpecialValue(rng, size);
        case 1: return rng.Below(64);  // small counts and indices
        default: return rng.Next() & LowMask(size * 8);
    }
}

// A register's initial value: a 64-bit special, a sign-extended narrower special, or random.
inline u64 InitialValue(Rng& rng) {
    const unsigned size = std::array<unsigned, 4>{1, 2, 4, 8}[rng.Below(4)];
    const u64 v = RandomValue(rng, size);
    switch (rng.Below(3)) {
        case 0: return SignExtend(v, size * 8);
        case 1: return v;
        default: return (rng.Next() & ~LowMask(size * 8)) | v;  // random upper bits over a narrow special
    }
}

inline unsigned PickSize(Rng& rng, bool allow8 = true) {
    return allow8 ? std::array<unsigned, 4>{1, 2, 4, 8}[rng.Below(4)] : std::array<unsigned, 3>{2, 4, 8}[rng.Below(3)];
}

inline u64 PickCount(Rng& rng) {
    const std::array<u64, 18> counts{0, 1, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255};
    return rng.Chance(3, 4) ? rng.Pick(counts) : rng.Below(256);
}

// Flags read by condition code cc (SDM Vol. 1 Appendix B).
inline u64 CondFlags(unsigned cc) {
    switch (cc >> 1) {
        case 0: return OF;
        case 1: return CF;
        case 2: return ZF;
        case 3: return CF | ZF;
        case 4: return SF;
        case 5: return PF;
        case 6: return SF | OF;
        default: return ZF | SF | OF;
    }
}

// What one instruction (or one template's instruction group) reads, writes and leaves undefined.
struct InsnInfo {
    u64 flags_read = 0;
    u64 flags_written = 0;  // written with a defined value
    u64 flags_undef = 0;    // written with an undefined value
    u16 regs_read = 0;
    u16 regs_written = 0;
    u16 regs_undef = 0;     // written with an undefined value
    bool stack = false;     // changes RSP on purpose
    bool ends_case = false; // always faults: nothing after it runs
};

struct MemRange {
    u64 begin = 0, end = 0;
};

// Everything a case's generation tracks; copied wholesale to roll back a rejected template.
struct BuildState {
    CaseInput input;
    u16 touched = 0;     // registers referenced so far (their initial value may no longer be reshaped)
    u16 written = 0;     // registers written so far (their current value is no longer the initial one)
    u16 pinned = 0;      // registers holding addresses that later instructions rely on
    u16 undef_regs = 0, ever_undef_regs = 0;
    u64 undef_flags = 0, ever_undef_flags = 0;
    bool mem_written = false;  // an ordinary (non-stack) memory operand was written
    u8 num_bases = 0;
    std::array<u8, 4> bases{};  // pinned base registers pointing into the data area
    u8 num_touched_mem = 0;
    std::array<MemRange, 16> touched_mem{};
    std::array<u8, kMaxCodeBytes> code{};
    u8 code_length = 0;
    std::array<InsnClass, 8> classes{};
    u8 num_classes = 0;
    bool ended = false;
    bool x87_tolerance = false;  // see GeneratedCase
    std::array<u16, 4> mxcsr_mask_at{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};  // see GeneratedCase
    std::array<X87Image, 8> x87_images{};                                 // see GeneratedCase
    // The FCW in force may unmask #I, #O or #U (FCW bits 0, 3, 4), which suppress an x87 store (see
    // HostFeatures::x87_suppressed_store_skips_checks): the case's initial FCW, then any FLDCW/FLDENV/FRSTOR.
    bool x87_store_may_be_suppressed = false;
    // The FCW in force may unmask #U (FCW bit 4): the case's initial FCW, then any FLDCW/FLDENV/FRSTOR.
    bool x87_underflow_may_be_unmasked = false;
    // An FLDCW/FLDENV/FRSTOR may load any FCW.
    void FcwLoaded() { x87_store_may_be_suppressed = x87_underflow_may_be_unmasked = true; }
};

class Builder {
public:
    Builder(u64 seed, std::span<const u8> pristine, const HostFeatures& features)
        : rng(seed), pristine_(pristine), features(features) {}

    Rng rng;
    BuildState s;
    InsnInfo info;
    const std::span<const u8> pristine_;
    const HostFeatures& features;

    // --- registers ---------------------------------------------------------------------------------
    bool Pinned(u8 r) const { return s.pinned & RegBit(r); }
    bool Shapeable(u8 r) const { return r != RSP && !(s.touched & RegBit(r)) && !Pinned(r); }
    std::optional<u64> Known(u8 r) const {
        if (s.written & RegBit(r)) return std::nullopt;
        return s.input.gpr[r];
    }
    void Shape(u8 r, u64 value) {
        s.input.gpr[r] = value;
        s.touched |= RegBit(r);
    }
    void Read(u8 r) { info.regs_read |= RegBit(r); s.touched |= RegBit(r); }
    void Write(u8 r) { info.regs_written |= RegBit(r); s.touched |= RegBit(r); }

    RegRef PickDst(unsigned size) {
        for (unsigned tries = 0;; ++tries) {
            const u8 n = static_cast<u8>(rng.Below(16));
            if (n == RSP || (Pinned(n) && tries < 64)) continue;  // a pinned pick is refused by Commit
            if (size == 1 && n < 4 && rng.Chance(1, 4)) return RegRef{n, true};
            return RegRef{n, false};
        }
    }
    RegRef PickSrc(unsigned size) {
        for (;;) {
            const u8 n = static_cast<u8>(rng.Below(16));
            if (n == RSP) continue;
            if (size == 1 && n < 4 && rng.Chance(1, 4)) return RegRef{n, true};
            return RegRef{n, false};
        }
    }
    std::optional<u8> PickShapeable() {
        std::array<u8, 16> c{};
        unsigned n = 0;
        for (u8 r = 0; r < 16; ++r) if (Shapeable(r)) c[n++] = r;
        if (n == 0) return std::nullopt;
        return c[rng.Below(n)];
    }

    // --- memory --------------------------------------------------------------------------------------
    bool MemTouched(u64 begin, u64 end) const {
        for (unsigned i = 0; i < s.num_touched_mem; ++i)
            if (begin < s.touched_mem[i].end && s.touched_mem[i].begin < end) return true;
        return false;
    }
    void TouchMem(u64 addr, unsigned size) {
        if (s.num_touched_mem < s.touched_mem.size()) s.touched_mem[s.num_touched_mem++] = {addr, addr + size};
        else s.touched_mem.back().end = ~u64{0};  // out of slots: block further patches
    }
    bool InData(u64 addr, unsigned size) const { return addr >= kDataBase && addr + size <= kDataBase + kStackLow; }

    // The value memory holds when the case starts (pristine pattern + patches), if still current.
    std::optional<u64> KnownMem(u64 addr, unsigned size) const {
        if (s.mem_written || !InData(addr, size) || size > 8) return std::nullopt;
        u64 v = 0;
        for (unsigned i = 0; i < size; ++i) v |= u64{ByteAt(addr + i - kDataBase)} << (8 * i);
        return v;
    }
    u8 ByteAt(u64 off) const {
        u8 b = pristine_[off];
        for (unsigned i = 0; i < s.input.num_patches; ++i) {
            const MemPatch& p = s.input.patches[i];
            if (off >= p.offset && off < p.offset + p.length) b = p.bytes[off - p.offset];
        }
        return b;
    }
    // Writes `size` bytes of `value` at `addr` into the case's initial memory, if nothing read it yet.
    bool Patch(u64 addr, unsigned size, u64 lo, u64 hi = 0) {
        if (!InData(addr, size) || size > kPatchBytes || s.input.num_patches >= kMaxPatches) return false;
        if (MemTouched(addr, addr + size)) return false;
        MemPatch& p = s.input.patches[s.input.num_patches++];
        p.offset = static_cast<u16>(addr - kDataBase);
        p.length = static_cast<u8>(size);
        for (unsigned i = 0; i < size; ++i) p.bytes[i] = static_cast<u8>(i < 8 ? lo >> (8 * i) : hi >> (8 * (i - 8)));
        return true;
    }

    // A memory operand of `size` bytes. Usually inside the ordinary data range (aligned to `align` and at
    // least `margin` bytes from its edges); rarely, on purpose, across the end of the data area (#PF) or
    // at a non-canonical address (#GP, or #SS through RBP).
    MemRef PickMem(unsigned size, unsigned align = 1, u64 margin = 0, bool allow_faults = true) {
        MemRef m;
        u64 target;
        const unsigned fault = allow_faults ? static_cast<unsigned>(rng.Below(100)) : 100;
        if (fault < 2) {
            target = kGuardBase - size + 1 + rng.Below(size + 16);
        } else {
            const u64 slots = (kStackLow - 2 * margin - size) / align;
            target = kDataBase + margin + rng.Below(slots + 1) * align;
        }
        m.target = target;
        // Non-canonical through a freshly shaped base register (plus the last user page, which Linux leaves
        // unmapped). No access straddles the canonical boundary: vendors may order #GP and #PF differently.
        if (fault == 2) {
            if (auto r = PickShapeable()) {
                const std::array<u64, 4> wild{0x0000800000000000ull, 0x8000000000000000ull, 0xFFFF7FFFFFFFFFF0ull,
                                              0x00007FFFFFFFFF00ull};
                m.base = *r;
                m.target = rng.Pick(wild);
                m.disp = static_cast<i64>(rng.Below(16));
                Shape(*r, m.target - static_cast<u64>(m.disp));
                s.pinned |= RegBit(*r);
                Read(*r);
                return m;
            }
        }
        switch (rng.Below(8)) {
            case 0:
                m.rip_relative = true;
                return m;
            case 1:
                m.absolute = true;
                m.disp = static_cast<i64>(target);
                return m;
            default: break;
        }
        // [base + index*scale + disp]: reuse a pinned base or shape a new one near the target.
        u8 base;
        if (s.num_bases > 0 && rng.Chance(2, 3)) {
            base = s.bases[rng.Below(s.num_bases)];
        } else if (auto r = PickShapeable(); r && s.num_bases < s.bases.size()) {
            base = *r;
            const u64 value = rng.Chance(1, 2) ? target - (rng.Below(256) - 128)
                                               : kDataBase + rng.Below(kDataSize);
            Shape(base, value);
            s.pinned |= RegBit(base);
            s.bases[s.num_bases++] = base;
        } else {
            m.rip_relative = true;
            return m;
        }
        m.base = base;
        Read(base);
        i64 index_part = 0;
        if (rng.Chance(1, 4)) {
            if (auto r = PickShapeable(); r) {
                const i64 idx = static_cast<i64>(rng.Below(129)) - 64;
                Shape(*r, static_cast<u64>(idx));
                s.pinned |= RegBit(*r);
                Read(*r);
                m.index = *r;
                m.scale_log = static_cast<u8>(rng.Below(4));
                index_part = idx * (i64{1} << m.scale_log);
            }
        }
        m.disp = static_cast<i64>(target - s.input.gpr[base]) - index_part;
        m.force_disp32 = rng.Chance(1, 8);
        // 67h: the same address computed in 32 bits, when the base fits (index and disp wrap modulo 2^32).
        m.addr32 = s.input.gpr[base] <= 0xFFFFFFFF && target <= 0xFFFFFFFF && rng.Chance(1, 8);
        return m;
    }
    // Records the access for patch bookkeeping.
    void Access(const MemRef& m, unsigned size, bool write) {
        TouchMem(m.target, size);
        if (write) s.mem_written = true;
    }
    // Records an x87 environment or state image stored at the operand (see GeneratedCase::x87_images); false when
    // the case already holds as many as it can list.
    bool RecordX87Image(const MemRef& m, X87ImageKind kind) {
        if (m.target < kDataBase || m.target >= kDataBase + kDataSize) return true;  // faults before storing
        for (X87Image& image : s.x87_images) {
            if (image.kind != X87ImageKind::None) continue;
            image = X87Image{static_cast<u16>(m.target - kDataBase), kind};
            return true;
        }
        return false;
    }

    // Chooses a register or (with probability mem_num/mem_den) a memory r/m operand.
    struct Rm {
        bool mem = false;
        RegRef reg;
        MemRef m;
    };
    Rm PickRm(unsigned size, bool dst, u64 mem_num = 2, u64 mem_den = 5) {
        Rm rm;
        if (rng.Chance(mem_num, mem_den)) {
            rm.mem = true;
            rm.m = PickMem(size);
        } else {
            rm.reg = dst ? PickDst(size) : PickSrc(size);
        }
        return rm;
    }
    void SetRm(Insn& in, const Rm& rm, unsigned size, bool read, bool write) {
        if (rm.mem) {
            in.SetRmMem(rm.m);
            Access(rm.m, size, write);
        } else {
            in.SetRmReg(rm.reg, size);
            if (read) Read(rm.reg.num);
            if (write) Write(rm.reg.num);
        }
    }
    std::optional<u64> KnownRm(const Rm& rm, unsigned size) const {
        if (rm.mem) return KnownMem(rm.m.target, size);
        auto v = Known(rm.reg.num);
        if (!v) return v;
        return (rm.reg.high8 ? *v >> 8 : *v) & LowMask(size * 8);
    }

    // --- code ----------------------------------------------------------------------------------------
    u64 Here() const { return kCodeBase + s.code_length; }
    bool Emit(const Insn& in) {
        std::vector<u8> bytes;
        if (!Encode(in, Here(), bytes)) return false;
        return EmitBytes(bytes);
    }
    bool EmitBytes(std::span<const u8> bytes) {
        if (s.code_length + bytes.size() > kMaxCodeBytes) return false;
        std::copy(bytes.begin(), bytes.end(), s.code.begin() + s.code_length);
        s.code_length = static_cast<u8>(s.code_length + bytes.size());
        return true;
    }
    u64 PickImm(unsigned bytes) { return RandomValue(rng, bytes); }

    // Folds the current instruction into the case, or refuses it (the caller rolls back).
    bool Commit(u16 pinned_before) {
        if (info.flags_read & s.undef_flags) return false;
        if (info.regs_read & s.undef_regs) return false;
        if (info.regs_written & pinned_before) return false;
        if ((info.regs_written & RegBit(RSP)) && !info.stack) return false;
        const u64 changed = info.flags_written | info.flags_undef;
        s.undef_flags = (s.undef_flags & ~changed) | info.flags_undef;
        s.ever_undef_flags |= info.flags_undef;
        s.undef_regs = static_cast<u16>((s.undef_regs & ~info.regs_written) | info.regs_undef);
        s.ever_undef_regs |= info.regs_undef;
        s.written |= info.regs_written;
        s.touched |= info.regs_read | info.regs_written;
        // A base register the instruction itself overwrote (after using it) points nowhere now.
        s.pinned = static_cast<u16>(s.pinned & ~info.regs_written);
        u8 kept = 0;
        for (unsigned i = 0; i < s.num_bases; ++i)
            if (!(info.regs_written & RegBit(s.bases[i]))) s.bases[kept++] = s.bases[i];
        s.num_bases = kept;
        s.ended = info.ends_case;
        return true;
    }
};

// One instruction template per class (templates.cpp): emits code through the builder and fills
// builder.info; returns false when it cannot produce an instruction in the current state.
bool RunTemplate(InsnClass cls, Builder& b);

// The x87 and SIMD templates (fp_templates.cpp).
bool GenX87Arith(Builder& b);
bool GenX87Mem(Builder& b);
bool GenX87Misc(Builder& b);
bool GenX87Trans(Builder& b);
bool GenSseFloat(Builder& b);
bool GenSseConvert(Builder& b);
bool GenSimdInt(Builder& b);
bool GenSsse3(Builder& b);
bool GenSse41(Builder& b);
bool GenSse42(Builder& b);
bool GenFpState(Builder& b);

}  // namespace emu::diff::gen
