#include "tests/diff/encoder.h"

namespace emu::diff {

void Insn::SetReg(RegRef r, unsigned size) {
    if (size == 1 && r.high8) {
        reg = static_cast<u8>(r.num + 4);
        rex_forbidden = true;
    } else {
        reg = r.num;
        if (size == 1 && r.num >= 4 && r.num < 8) rex_force = true;
    }
}

void Insn::SetRmReg(RegRef r, unsigned size) {
    has_modrm = true;
    rm_is_mem = false;
    if (size == 1 && r.high8) {
        rm_reg = static_cast<u8>(r.num + 4);
        rex_forbidden = true;
    } else {
        rm_reg = r.num;
        if (size == 1 && r.num >= 4 && r.num < 8) rex_force = true;
    }
}

void Insn::SetRmMem(const MemRef& m) {
    has_modrm = true;
    rm_is_mem = true;
    mem = m;
    if (m.addr32) prefixes.push_back(0x67);
}

void Insn::SetOperandSize(unsigned size) {
    if (size == 2) prefixes.push_back(0x66);
    if (size == 8) rex_w = true;
}

namespace {

void PutLe(std::vector<u8>& out, u64 value, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i) out.push_back(static_cast<u8>(value >> (8 * i)));
}

bool FitsI8(i64 v) { return v >= -128 && v <= 127; }
bool FitsI32(i64 v) { return v >= INT32_MIN && v <= INT32_MAX; }

}  // namespace

bool Encode(const Insn& in, u64 address, std::vector<u8>& out) {
    std::vector<u8> b(in.prefixes);
    const MemRef& m = in.mem;
    const bool mem = in.has_modrm && in.rm_is_mem;
    const bool sib_regs = mem && !m.rip_relative && !m.absolute;
    const u8 rex_r = in.has_modrm && in.reg >= 8;
    const u8 rex_x = sib_regs && m.index != kNoReg && m.index >= 8;
    u8 rex_b = 0;
    if (in.opreg >= 8) rex_b = 1;
    if (in.has_modrm && !in.rm_is_mem && in.rm_reg >= 8) rex_b = 1;
    if (sib_regs && m.base != kNoReg && m.base >= 8) rex_b = 1;
    const bool need_rex = in.rex_w || rex_r || rex_x || rex_b || in.rex_force;
    if (need_rex && in.rex_forbidden) return false;
    if (need_rex) b.push_back(static_cast<u8>(0x40 | (in.rex_w << 3) | (rex_r << 2) | (rex_x << 1) | rex_b));
    if (in.map >= 1) b.push_back(0x0F);
    if (in.map == 2) b.push_back(0x38);
    if (in.map == 3) b.push_back(0x3A);
    b.push_back(static_cast<u8>(in.opcode + (in.opreg >= 0 ? (in.opreg & 7) : 0)));

    size_t rip_disp_at = 0;
    if (in.has_modrm) {
        const u8 reg3 = static_cast<u8>((in.reg & 7) << 3);
        if (!in.rm_is_mem) {
            b.push_back(static_cast<u8>(0xC0 | reg3 | (in.rm_reg & 7)));
        } else if (m.rip_relative) {
            b.push_back(static_cast<u8>(reg3 | 5));
            rip_disp_at = b.size();
            PutLe(b, 0, 4);
        } else if (m.absolute || m.base == kNoReg) {
            // No base: SIB base=101 with mod=00 means disp32 (plus the index, if any).
            b.push_back(static_cast<u8>(reg3 | 4));
            const u8 index = m.index == kNoReg ? 4 : (m.index & 7);
            b.push_back(static_cast<u8>((m.scale_log << 6) | (index << 3) | 5));
            if (!FitsI32(m.disp)) return false;
            PutLe(b, static_cast<u64>(m.disp), 4);
        } else {
            const bool needs_sib = m.index != kNoReg || (m.base & 7) == 4;
            u8 mod;
            if (m.disp == 0 && (m.base & 7) != 5 && !m.force_disp32) mod = 0;
            else if (FitsI8(m.disp) && !m.force_disp32) mod = 1;
            else mod = 2;
            if (!FitsI32(m.disp)) return false;
            b.push_back(static_cast<u8>((mod << 6) | reg3 | (needs_sib ? 4 : (m.base & 7))));
            if (needs_sib) {
                const u8 index = m.index == kNoReg ? 4 : (m.index & 7);
                b.push_back(static_cast<u8>((m.scale_log << 6) | (index << 3) | (m.base & 7)));
            }
            if (mod == 1) PutLe(b, static_cast<u64>(m.disp), 1);
            if (mod == 2) PutLe(b, static_cast<u64>(m.disp), 4);
        }
    }
    PutLe(b, in.imm, in.imm_size);
    PutLe(b, in.imm2, in.imm2_size);
    if (rip_disp_at) {
        const i64 disp = static_cast<i64>(m.target - (address + b.size()));
        if (!FitsI32(disp)) return false;
        for (unsigned i = 0; i < 4; ++i) b[rip_disp_at + i] = static_cast<u8>(static_cast<u64>(disp) >> (8 * i));
    }
    if (b.size() > 15) return false;
    out.insert(out.end(), b.begin(), b.end());
    return true;
}

}  // namespace emu::diff
