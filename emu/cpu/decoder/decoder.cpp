// The decoding steps, in the CPU's order: legacy prefixes and REX, opcode escapes, table row selection from the
// opcode and ModRM byte, memory addressing (ModRM/SIB/displacement), then operands and immediates as the row's
// operand specifications say. Nothing here knows individual opcodes: that is the tables' job.
#include "emu/cpu/decoder/decoder.h"

#include <algorithm>

#include "emu/common/bits.h"
#include "emu/cpu/decoder/opcode_table.h"

namespace emu::cpu {
namespace {

using tables::OperandSource;
using tables::OpSpec;
using tables::Row;
using tables::SizeRule;

enum class PrefixKind : u8 { Lock, Rep, Repne, OpSize, AddrSize, Seg };

struct LegacyPrefix {
    u8 byte;
    PrefixKind kind;
    u8 seg;
};

constexpr LegacyPrefix kLegacyPrefixes[] = {
    {0xF0, PrefixKind::Lock, 0},   {0xF3, PrefixKind::Rep, 0},      {0xF2, PrefixKind::Repne, 0},
    {0x66, PrefixKind::OpSize, 0}, {0x67, PrefixKind::AddrSize, 0}, {0x26, PrefixKind::Seg, 0},
    {0x2E, PrefixKind::Seg, 1},    {0x36, PrefixKind::Seg, 2},      {0x3E, PrefixKind::Seg, 3},
    {0x64, PrefixKind::Seg, 4},    {0x65, PrefixKind::Seg, 5},
};

const LegacyPrefix* FindLegacyPrefix(u8 byte) {
    for (const LegacyPrefix& p : kLegacyPrefixes)
        if (p.byte == byte) return &p;
    return nullptr;
}

constexpr u8 kSegSs = 2, kSegDs = 3;
constexpr u8 kRegBx = 3, kRegSp = 4, kRegBp = 5, kRegSi = 6, kRegDi = 7;

// Reads instruction bytes, enforcing the 15-byte limit before the end of the buffer.
class ByteReader {
public:
    explicit ByteReader(std::span<const u8> bytes) : bytes_(bytes) {}

    bool Peek(u8& out) {
        if (pos_ >= kMaxInsnLength) return Fail(DecodeError::TooLong);
        if (pos_ >= bytes_.size()) return Fail(DecodeError::Truncated);
        out = bytes_[pos_];
        return true;
    }
    bool Next(u8& out) {
        if (!Peek(out)) return false;
        ++pos_;
        return true;
    }
    // Little-endian value of `count` bytes.
    bool ReadLe(unsigned count, u64& out) {
        out = 0;
        for (unsigned i = 0; i < count; ++i) {
            u8 b;
            if (!Next(b)) return false;
            out |= u64{b} << (8 * i);
        }
        return true;
    }
    unsigned pos() const { return static_cast<unsigned>(pos_); }
    DecodeError error() const { return error_; }
    bool Fail(DecodeError e) {
        error_ = e;
        return false;
    }

private:
    std::span<const u8> bytes_;
    size_t pos_ = 0;
    DecodeError error_ = DecodeError::Undefined;
};

// Prefix state gathered before the opcode.
struct Prefixes {
    u16 bits = 0;
    u8 seg = kNoReg;
    u8 rex = 0;
    u8 last_rep = 0;  // 0xF2, 0xF3 or 0
    bool RexW() const { return rex & 8; }
    bool RexR() const { return rex & 4; }
    bool RexX() const { return rex & 2; }
    bool RexB() const { return rex & 1; }
    // Mandatory-prefix class for SSE selection: the last of F2/F3 wins, 66 counts only without them.
    u8 PrefixClass() const {
        if (last_rep == 0xF2) return 3;
        if (last_rep == 0xF3) return 2;
        return (bits & prefix::OpSize) ? 1 : 0;
    }
};

bool ReadPrefixes(ByteReader& r, DecodeMode mode, Prefixes& p, u8& opcode) {
    for (;;) {
        u8 b;
        if (!r.Next(b)) return false;
        if (const LegacyPrefix* lp = FindLegacyPrefix(b)) {
            p.rex = 0;  // a REX prefix counts only immediately before the opcode
            switch (lp->kind) {
                case PrefixKind::Lock: p.bits |= prefix::Lock; break;
                case PrefixKind::Rep: p.last_rep = 0xF3; break;
                case PrefixKind::Repne: p.last_rep = 0xF2; break;
                case PrefixKind::OpSize: p.bits |= prefix::OpSize; break;
                case PrefixKind::AddrSize: p.bits |= prefix::AddrSize; break;
                case PrefixKind::Seg:
                    p.bits |= prefix::Seg;
                    p.seg = lp->seg;
                    break;
            }
            continue;
        }
        if (mode == DecodeMode::Bits64 && (b & 0xF0) == 0x40) {
            p.rex = b;
            continue;
        }
        opcode = b;
        if (p.last_rep == 0xF3) p.bits |= prefix::Rep;
        if (p.last_rep == 0xF2) p.bits |= prefix::Repne;
        if (p.rex) p.bits |= prefix::Rex;
        return true;
    }
}

// The override that applies to memory operands: in 64-bit mode ES/CS/SS/DS overrides are ignored (SDM 3.3.7.1
// Vol. 1), so the default segment (DS, or SS for rBP/rSP) stays in effect.
u8 EffectiveOverride(DecodeMode mode, const Prefixes& p) {
    constexpr u8 kSegFs = 4;
    if (mode == DecodeMode::Bits64 && p.seg < kSegFs) return kNoReg;
    return p.seg;
}

unsigned AddressSize(DecodeMode mode, const Prefixes& p) {
    const bool a67 = p.bits & prefix::AddrSize;
    switch (mode) {
        case DecodeMode::Bits16: return a67 ? 4 : 2;
        case DecodeMode::Bits32: return a67 ? 2 : 4;
        case DecodeMode::Bits64: return a67 ? 4 : 8;
    }
    return 4;
}

// A displacement of disp_bytes (0, 1, 2 or 4) sign-extended. No displacement is 0: SignExtend of 0 bits would shift a
// 64-bit value by 2^32 - 1, which is undefined behaviour (found by the UBSan build, tools/test-sanitize).
i64 DisplacementValue(u64 disp, unsigned disp_bytes) {
    return disp_bytes == 0 ? 0 : static_cast<i64>(SignExtend(disp, disp_bytes * 8));
}

// Reads SIB and displacement for a ModRM memory form (mod != 11) and fills `mem` (segment left to the caller
// unless the SS default applies).
bool ParseMemory(ByteReader& r, u8 modrm, unsigned addr_size, const Prefixes& p, DecodeMode mode, MemOperand& mem,
                 bool& ss_default) {
    const unsigned mod = modrm >> 6, rm = modrm & 7;
    u64 disp = 0;
    ss_default = false;
    if (addr_size == 2) {
        // BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP (disp16 alone when mod = 00), BX.
        constexpr u8 kBase[8] = {kRegBx, kRegBx, kRegBp, kRegBp, kRegSi, kRegDi, kRegBp, kRegBx};
        constexpr u8 kIndex[8] = {kRegSi, kRegDi, kRegSi, kRegDi, kNoReg, kNoReg, kNoReg, kNoReg};
        if (mod == 0 && rm == 6) {
            if (!r.ReadLe(2, disp)) return false;
            mem.disp = static_cast<i64>(SignExtend(disp, 16));
            return true;
        }
        mem.base = kBase[rm];
        mem.index = kIndex[rm];
        ss_default = mem.base == kRegBp;
        const unsigned disp_bytes = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        if (!r.ReadLe(disp_bytes, disp)) return false;
        mem.disp = DisplacementValue(disp, disp_bytes);
        return true;
    }
    unsigned disp_bytes = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {
        u8 sib;
        if (!r.Next(sib)) return false;
        mem.scale = static_cast<u8>(1u << (sib >> 6));
        const unsigned index = ((sib >> 3) & 7) | (p.RexX() ? 8 : 0);
        if (index != kRegSp) mem.index = static_cast<u8>(index);  // 100 without REX.X means no index
        if ((sib & 7) == 5 && mod == 0) {
            disp_bytes = 4;  // no base, disp32
        } else {
            mem.base = static_cast<u8>((sib & 7) | (p.RexB() ? 8 : 0));
        }
    } else if (rm == 5 && mod == 0) {
        disp_bytes = 4;
        mem.rip_relative = mode == DecodeMode::Bits64;  // disp32 absolute outside 64-bit mode
    } else {
        mem.base = static_cast<u8>(rm | (p.RexB() ? 8 : 0));
    }
    ss_default = mem.base == kRegSp || mem.base == kRegBp;
    if (!r.ReadLe(disp_bytes, disp)) return false;
    mem.disp = DisplacementValue(disp, disp_bytes);
    return true;
}

// VEX (C4/C5), EVEX (62) and XOP (8F): measured only. Called with the escape byte consumed.
bool MeasureVexFamily(ByteReader& r, u8 escape, DecodeMode mode, const Prefixes& p) {
    u8 b0 = 0, b1 = 0, b2 = 0, opcode = 0;
    unsigned map = 1;
    bool xop = false;
    if (escape == 0xC5) {
        if (!r.Next(b0)) return false;
    } else if (escape == 0x62) {
        if (!r.Next(b0) || !r.Next(b1) || !r.Next(b2)) return false;
        map = b0 & 7;
    } else {
        if (!r.Next(b0) || !r.Next(b1)) return false;
        map = b0 & 0x1F;
        xop = escape == 0x8F;
    }
    if (!r.Next(opcode)) return false;
    const bool vzero = !xop && escape != 0x62 && map == 1 && opcode == 0x77;  // VZEROUPPER/VZEROALL
    if (vzero) return true;
    u8 modrm;
    if (!r.Next(modrm)) return false;
    if ((modrm >> 6) != 3) {
        MemOperand mem;
        bool ss_default;
        Prefixes no_rex = p;
        no_rex.rex = 0;
        if (!ParseMemory(r, modrm, AddressSize(mode, p), no_rex, mode, mem, ss_default)) return false;
    }
    unsigned imm = 0;
    if (xop) {
        imm = map == 8 ? 1 : map == 0xA ? 4 : 0;
    } else if (map == 3) {
        imm = 1;
    } else if (map == 1) {
        constexpr u8 kImmOps[] = {0x70, 0x71, 0x72, 0x73, 0xC2, 0xC4, 0xC5, 0xC6};
        imm = std::find(std::begin(kImmOps), std::end(kImmOps), opcode) != std::end(kImmOps) ? 1 : 0;
    }
    u64 ignored;
    return r.ReadLe(imm, ignored);
}

bool IsVexFamilyEscape(u8 escape, u8 next, DecodeMode mode) {
    switch (escape) {
        case 0xC4:
        case 0xC5:
        case 0x62:  // outside 64-bit mode these are LES/LDS/BOUND unless the next byte looks like mod = 11
            return mode == DecodeMode::Bits64 || (next & 0xC0) == 0xC0;
        case 0x8F: return (next & 0x1F) >= 8;  // XOP map_select >= 8; POP Ev has ModRM.reg = 0
        default: return false;
    }
}

// Everything operand building needs.
struct OperandContext {
    DecodeMode mode;
    const Prefixes& p;
    unsigned op_size;
    unsigned addr_size;
    u8 opcode;
    u8 modrm;
    bool rm_is_reg;
    const MemOperand& mem;
};

unsigned EvalSize(SizeRule rule, const OperandContext& c) {
    const bool m64 = c.mode == DecodeMode::Bits64;
    switch (rule) {
        case SizeRule::None: return 0;
        case SizeRule::B: return 1;
        case SizeRule::W: return 2;
        case SizeRule::D: return 4;
        case SizeRule::Q: return 8;
        case SizeRule::V: return c.op_size;
        case SizeRule::Z: return std::min(c.op_size, 4u);
        case SizeRule::Y: return c.op_size == 8 ? 8 : 4;
        case SizeRule::P: return c.op_size + 2;
        case SizeRule::S: return m64 ? 10 : 6;
        case SizeRule::T: return 10;
        case SizeRule::X: return 16;
        case SizeRule::A: return 2 * c.op_size;
        case SizeRule::DQ: return m64 ? 8 : 4;
        case SizeRule::O: return c.addr_size;
    }
    return 0;
}

// Checks a register number against what exists for its class.
bool RegisterExists(RegClass cls, unsigned reg) {
    switch (cls) {
        case RegClass::Seg: return reg < 6;
        case RegClass::Cr: return reg == 0 || reg == 2 || reg == 3 || reg == 4 || reg == 8;
        case RegClass::Dr: return reg < 8;
        default: return true;
    }
}

// The register number from a 3-bit field plus its REX extension bit, for the classes REX extends.
unsigned ExtendReg(RegClass cls, unsigned field, bool rex_bit) {
    const bool extends = cls == RegClass::Gpr || cls == RegClass::Xmm || cls == RegClass::Cr || cls == RegClass::Dr;
    return field | (extends && rex_bit ? 8 : 0);
}

Operand RegisterOperand(RegClass cls, unsigned reg, unsigned size, const Prefixes& p) {
    Operand o;
    o.kind = OperandKind::Reg;
    o.reg_class = cls;
    o.size = static_cast<u8>(size);
    o.reg = static_cast<u8>(reg);
    if (cls == RegClass::Gpr && size == 1 && p.rex == 0 && reg >= 4 && reg < 8) {
        o.high8 = true;  // AH, CH, DH, BH
        o.reg = static_cast<u8>(reg - 4);
    }
    return o;
}

bool BuildOperand(OpSpec spec, ByteReader& r, const OperandContext& c, Operand& out) {
    const tables::OpSpecInfo& info = tables::SpecInfo(spec);
    const unsigned size = EvalSize(info.size, c);
    const unsigned reg_field = (c.modrm >> 3) & 7, rm_field = c.modrm & 7;
    switch (info.source) {
        case OperandSource::None: return true;
        case OperandSource::Rm:
        case OperandSource::RmMem:
        case OperandSource::RmReg:
            if (c.rm_is_reg) {
                if (info.source == OperandSource::RmMem) return r.Fail(DecodeError::Undefined);
                out = RegisterOperand(info.reg_class, ExtendReg(info.reg_class, rm_field, c.p.RexB()), size, c.p);
            } else {
                if (info.source == OperandSource::RmReg) return r.Fail(DecodeError::Undefined);
                out.kind = OperandKind::Mem;
                out.size = static_cast<u8>(EvalSize(info.alt, c));
                out.mem = c.mem;
            }
            return true;
        case OperandSource::Reg:
            out = RegisterOperand(info.reg_class, ExtendReg(info.reg_class, reg_field, c.p.RexR()), size, c.p);
            return RegisterExists(info.reg_class, out.reg) || r.Fail(DecodeError::Undefined);
        case OperandSource::OpReg:
            out = RegisterOperand(info.reg_class, ExtendReg(info.reg_class, c.opcode & 7, c.p.RexB()), size, c.p);
            return true;
        case OperandSource::Fixed:
            out.kind = OperandKind::Reg;
            out.reg_class = info.reg_class;
            out.size = static_cast<u8>(size);
            out.reg = info.fixed;
            return true;
        case OperandSource::Const1:
            out.kind = OperandKind::Imm;
            out.size = 1;
            out.imm = 1;
            return true;
        case OperandSource::Imm:
        case OperandSource::Rel: {
            const unsigned encoded = EvalSize(info.alt, c);
            u64 value;
            if (!r.ReadLe(encoded, value)) return false;
            value = SignExtend(value, encoded * 8);
            const bool rel = info.source == OperandSource::Rel;
            out.kind = rel ? OperandKind::Rel : OperandKind::Imm;
            out.size = static_cast<u8>(size);
            out.imm = rel ? value : value & LowMask(size * 8);
            return true;
        }
        case OperandSource::Moffs: {
            u64 offset;
            if (!r.ReadLe(c.addr_size, offset)) return false;
            out.kind = OperandKind::Mem;
            out.size = static_cast<u8>(size);
            const u8 seg = EffectiveOverride(c.mode, c.p);
            out.mem.seg = seg != kNoReg ? seg : kSegDs;
            out.mem.disp = static_cast<i64>(offset);
            return true;
        }
        case OperandSource::FarImm: {
            u64 offset, selector;
            if (!r.ReadLe(EvalSize(info.alt, c), offset) || !r.ReadLe(2, selector)) return false;
            out.kind = OperandKind::FarPtr;
            out.size = static_cast<u8>(size);
            out.imm = offset;
            out.far_selector = static_cast<u16>(selector);
            return true;
        }
    }
    return true;
}

bool IsGprDataSource(OperandSource s) {
    return s == OperandSource::Rm || s == OperandSource::RmMem || s == OperandSource::Reg ||
           s == OperandSource::OpReg || s == OperandSource::Fixed || s == OperandSource::Moffs;
}

const Row* SelectRow(const tables::OpcodeEntry& entry, const tables::MatchKey& key) {
    for (const Row* row : entry.rows)
        if (tables::RowMatches(*row, key)) return row;
    return nullptr;
}

unsigned OperandSize(DecodeMode mode, const Prefixes& p, tables::Attr attrs, bool mandatory66) {
    const bool o66 = (p.bits & prefix::OpSize) && !mandatory66;
    if (mode == DecodeMode::Bits64) {
        if ((attrs & tables::F64) || p.RexW()) return 8;
        if (o66) return 2;
        return (attrs & tables::D64) ? 8 : 4;
    }
    const unsigned base = mode == DecodeMode::Bits16 ? 2 : 4;
    return o66 ? 6 - base : base;
}

enum class Status : u8 { Ok, Error, VexFamily, LockViolation };

struct CoreResult {
    Status status = Status::Error;
    DecodeError error = DecodeError::Undefined;
    DecodedInsn insn{};
};

CoreResult DecodeCore(std::span<const u8> bytes, DecodeMode mode) {
    CoreResult res;
    DecodedInsn& insn = res.insn;
    ByteReader r(bytes);
    auto fail = [&]() {
        res.status = Status::Error;
        res.error = r.error();
        return res;
    };
    auto undefined = [&]() {
        r.Fail(DecodeError::Undefined);
        return fail();
    };

    Prefixes p;
    u8 opcode;
    if (!ReadPrefixes(r, mode, p, opcode)) return fail();
    insn.prefixes = p.bits;
    insn.seg_override = p.seg;
    insn.rex = p.rex;
    insn.addr_size = static_cast<u8>(AddressSize(mode, p));

    u8 map = 0;
    if (opcode == 0x0F) {
        if (!r.Next(opcode)) return fail();
        map = 1;
        if (opcode == 0x38 || opcode == 0x3A) {
            map = opcode == 0x38 ? 2 : 3;
            if (!r.Next(opcode)) return fail();
        }
    } else if (opcode == 0xC4 || opcode == 0xC5 || opcode == 0x62 || opcode == 0x8F) {
        u8 next;
        if (!r.Peek(next)) return fail();
        if (IsVexFamilyEscape(opcode, next, mode)) {
            if (!MeasureVexFamily(r, opcode, mode, p)) return fail();
            insn.length = static_cast<u8>(r.pos());
            res.status = Status::VexFamily;
            return res;
        }
    }
    insn.opcode_map = map;
    insn.opcode = opcode;

    const tables::OpcodeEntry& entry = tables::Lookup(map, opcode);
    if (entry.rows.empty()) return undefined();
    if (entry.has_modrm && !r.Next(insn.modrm)) return fail();
    insn.has_modrm = entry.has_modrm;

    const tables::MatchKey key{entry.has_modrm, insn.modrm, p.PrefixClass(), p.RexW(), p.RexB(), mode};
    const Row* row = SelectRow(entry, key);
    if (row == nullptr || row->mnemonic == Mnemonic::Invalid) return undefined();
    const tables::Attr attrs = row->attrs;
    const unsigned pfx_key = static_cast<unsigned>((attrs & tables::attr::kPfxMask) >> tables::attr::kPfxShift);
    constexpr u8 kMandatoryByte[] = {0, 0, 0x66, 0xF3, 0xF2};
    insn.mandatory_prefix = kMandatoryByte[pfx_key];
    insn.mnemonic = row->mnemonic;
    const unsigned op_size = OperandSize(mode, p, attrs, insn.mandatory_prefix == 0x66);
    insn.op_size = static_cast<u8>(op_size);
    if (const unsigned cc = static_cast<unsigned>((attrs & tables::attr::kCcMask) >> tables::attr::kCcShift))
        insn.cond = static_cast<u8>(cc - 1);

    const bool rm_is_reg = entry.has_modrm && ((insn.modrm >> 6) == 3 || (attrs & tables::MODREG));
    MemOperand mem;
    if (entry.has_modrm && !rm_is_reg) {
        bool ss_default;
        if (!ParseMemory(r, insn.modrm, insn.addr_size, p, mode, mem, ss_default)) return fail();
        const u8 seg = EffectiveOverride(mode, p);
        mem.seg = seg != kNoReg ? seg : ss_default ? kSegSs : kSegDs;
    }

    const OperandContext ctx{mode, p, op_size, insn.addr_size, opcode, insn.modrm, rm_is_reg, mem};
    for (OpSpec spec : row->ops) {
        if (spec == OpSpec::_) break;
        Operand& o = insn.operands[insn.num_operands];
        if (!BuildOperand(spec, r, ctx, o)) return fail();
        ++insn.num_operands;
    }
    insn.length = static_cast<u8>(r.pos());

    const tables::OpSpecInfo& first = tables::SpecInfo(row->ops[0]);
    const bool byte_form = (attrs & tables::BYTE) || (first.reg_class == RegClass::Gpr &&
                                                      first.size == SizeRule::B && IsGprDataSource(first.source));
    insn.data_size = static_cast<u8>(byte_form ? 1 : (attrs & tables::WZ) ? std::min(op_size, 4u) : op_size);

    res.status = Status::Ok;
    if (p.bits & prefix::Lock) {
        const bool lockable = (attrs & tables::LK) && insn.num_operands > 0 &&
                              insn.operands[0].kind == OperandKind::Mem;
        if (!lockable) res.status = Status::LockViolation;
    }
    return res;
}

}  // namespace

Result<DecodedInsn, DecodeError> Decode(std::span<const u8> bytes, DecodeMode mode) {
    CoreResult res = DecodeCore(bytes, mode);
    switch (res.status) {
        case Status::Ok: return res.insn;
        case Status::Error: return Err{res.error};
        case Status::VexFamily: return Err{DecodeError::Undefined};
        case Status::LockViolation: return Err{DecodeError::LockNotAllowed};
    }
    return Err{DecodeError::Undefined};
}

Result<InsnLength, DecodeError> DecodeLength(std::span<const u8> bytes, DecodeMode mode) {
    CoreResult res = DecodeCore(bytes, mode);
    if (res.status == Status::Error) return Err{res.error};
    return InsnLength{res.insn.length, res.status == Status::VexFamily};
}

}  // namespace emu::cpu
