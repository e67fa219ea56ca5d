// String instructions: MOVS CMPS STOS LODS SCAS, with REP / REPE / REPNE.
// One helper executes them. A REP form runs at most kChunk iterations per call and then re-executes
// itself (the block exits to the same RIP), so long copies stay interruptible. Every iteration updates
// rCX/rSI/rDI, so a fault in the middle leaves a state from which the instruction restarts correctly.
#include <algorithm>

#include "emu/common/guest_ram.h"
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::Value;

namespace {
constexpr u64 kChunk = 4096;
}

u64 StringOpArgs::Pack() const {
    return u64{kind} | u64{size} << 8 | u64{addr_size} << 16 | u64{rep} << 24 | u64{seg} << 32 | u64{flat} << 40;
}

StringOpArgs StringOpArgs::Unpack(u64 v) {
    StringOpArgs a;
    a.kind = static_cast<u8>(v);
    a.size = static_cast<u8>(v >> 8);
    a.addr_size = static_cast<u8>(v >> 16);
    a.rep = static_cast<u8>(v >> 24);
    a.seg = static_cast<u8>(v >> 32);
    a.flat = (v >> 40) & 1;
    return a;
}

bool Translator::StringOp(const DecodedInsn& insn, unsigned kind) {
    StringOpArgs args;
    args.kind = static_cast<u8>(kind);
    args.size = insn.data_size ? insn.data_size : insn.operands[0].size;
    args.addr_size = insn.addr_size;
    args.rep = (insn.prefixes & prefix::Repne) ? 2 : (insn.prefixes & prefix::Rep) ? 1 : 0;
    args.seg = insn.seg_override != kNoReg ? insn.seg_override : static_cast<u8>(SegReg::Ds);
    args.flat = mode_.flat;
    const Value done = ir_.CallHelper(kStringHelper, ir::Emitter::Imm64(args.Pack()));
    if (args.rep == 0) return true;
    ir_.ExitCond(ir_.CmpNe(done, ir::Emitter::Imm64(0)), next_rip_, rip_);
    return false;
}

bool Translator::MOVS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Movs)); }
bool Translator::CMPS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Cmps)); }
bool Translator::STOS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Stos)); }
bool Translator::LODS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Lods)); }
bool Translator::SCAS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Scas)); }
bool Translator::INS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Ins)); }
bool Translator::OUTS(const DecodedInsn& insn) { return StringOp(insn, static_cast<unsigned>(StringKind::Outs)); }

// --- Helper

namespace {

struct StringMachine {
    ir::HelperEnv& env;
    StringOpArgs a;
    u64 addr_mask;

    u64& Reg(Gpr r) { return env.state.reg(r); }
    u64 Get(Gpr r) { return Reg(r) & addr_mask; }
    // Writes a register at the address size (a 32-bit write clears bits 63:32).
    void Set(Gpr r, u64 v) { Reg(r) = a.addr_size == 2 ? (Reg(r) & ~u64{0xFFFF}) | (v & 0xFFFF) : v & addr_mask; }
    u64 Linear(unsigned seg, u64 offset) {
        if (a.flat) return (seg == 4 || seg == 5) ? env.state.seg[seg].base + offset : offset;
        return (env.state.seg[seg].base + offset) & 0xFFFFFFFF;
    }
    void Advance(Gpr r) {
        const u64 step = (env.state.rflags & rflags::DF) ? u64{0} - a.size : a.size;
        Set(r, Get(r) + step);
    }
    u16 Port() { return static_cast<u16>(Reg(Gpr::Rdx)); }
    u64 Acc() { return Reg(Gpr::Rax) & ir::MaskOf(ir::IntTypeOfSize(a.size)); }

    // One iteration; false on a fault (nothing changed) or, for CMPS/SCAS, `*stop` when REPE/REPNE ends.
    bool Step(bool* stop) {
        const auto src = Linear(a.seg, Get(Gpr::Rsi));
        const auto dst = Linear(static_cast<unsigned>(SegReg::Es), Get(Gpr::Rdi));
        u64 x = 0, y = 0;
        switch (static_cast<StringKind>(a.kind)) {
            case StringKind::Movs:
                if (!env.Read(src, &x, a.size) || !env.Write(dst, &x, a.size)) return false;
                Advance(Gpr::Rsi);
                Advance(Gpr::Rdi);
                return true;
            case StringKind::Stos:
                x = Acc();
                if (!env.Write(dst, &x, a.size)) return false;
                Advance(Gpr::Rdi);
                return true;
            case StringKind::Lods:
                if (!env.Read(src, &x, a.size)) return false;
                WriteAcc(x);
                Advance(Gpr::Rsi);
                return true;
            case StringKind::Cmps:
                if (!env.Read(src, &x, a.size) || !env.Read(dst, &y, a.size)) return false;
                Compare(x, y, stop);
                Advance(Gpr::Rsi);
                Advance(Gpr::Rdi);
                return true;
            case StringKind::Ins:
                // The port is read before the memory write is known to succeed: a fault repeats the read.
                x = env.memory.PortIn(Port(), a.size);
                if (!env.Write(dst, &x, a.size)) return false;
                Advance(Gpr::Rdi);
                return true;
            case StringKind::Outs:
                if (!env.Read(src, &x, a.size)) return false;
                env.memory.PortOut(Port(), a.size, static_cast<u32>(x));
                Advance(Gpr::Rsi);
                return true;
            case StringKind::Scas:
                if (!env.Read(dst, &y, a.size)) return false;
                Compare(Acc(), y, stop);
                Advance(Gpr::Rdi);
                return true;
        }
        return false;
    }

    // REP STOS and REP MOVS forward, within one page of each operand, straight in host memory when the soft TLB
    // maps both as plain RAM: the same stores, element by element, as Step would make, without its per-element
    // lookups. Returns the elements done (at most `max`), 0 where only Step can go on (TLB miss, MMIO, a tracked,
    // dirty-logged or code page, DF = 1, a page or address-size boundary).
    u64 BulkStep(u64 max) {
        const auto kind = static_cast<StringKind>(a.kind);
        if ((kind != StringKind::Stos && kind != StringKind::Movs) || (env.state.rflags & rflags::DF)) return 0;
        const u64 size = a.size;
        u64 n = std::min(Get(Gpr::Rcx), max);
        const auto room = [&](Gpr r, u64 linear) {
            const u64 to_page_end = (kPageSize - (linear & kPageMask)) / size;
            const u64 to_wrap = (addr_mask - Get(r)) / size + 1;  // offsets must not wrap at the address size
            return std::min(to_page_end, to_wrap);
        };
        const u64 dst = Linear(static_cast<unsigned>(SegReg::Es), Get(Gpr::Rdi));
        n = std::min(n, room(Gpr::Rdi, dst));
        u64 src = 0;
        if (kind == StringKind::Movs) {
            src = Linear(a.seg, Get(Gpr::Rsi));
            n = std::min(n, room(Gpr::Rsi, src));
        }
        if (n == 0) return 0;
        const unsigned bytes = static_cast<unsigned>(n * size);
        u8* d = env.TlbHit(dst, bytes, true);
        if (d == nullptr) return 0;
        if (kind == StringKind::Stos) {
            const u64 value = Acc();
            if (size == 1 || value == 0) {
                guest_ram::FillBytes(d, static_cast<u8>(value), bytes);
            } else {
                for (u64 i = 0; i < n; ++i) guest_ram::Store(d + i * size, &value, size);
            }
        } else {
            const u8* from = env.TlbHit(src, bytes, false);
            if (from == nullptr) return 0;
            if (d <= from || d >= from + bytes) {
                guest_ram::CopyBytes(d, from, bytes);  // what a forward copy gives when it never reads what it wrote
            } else {
                // Element by element: an overlapping forward copy repeats a pattern, as the instruction does.
                for (u64 i = 0; i < n; ++i) {
                    u64 element = 0;
                    guest_ram::Load(&element, from + i * size, size);
                    guest_ram::Store(d + i * size, &element, size);
                }
            }
            Set(Gpr::Rsi, Get(Gpr::Rsi) + n * size);
        }
        Set(Gpr::Rdi, Get(Gpr::Rdi) + n * size);
        Set(Gpr::Rcx, Get(Gpr::Rcx) - n);
        return n;
    }

    void WriteAcc(u64 v) {
        u64& rax = Reg(Gpr::Rax);
        rax = a.size >= 4 ? v : (rax & ~ir::MaskOf(ir::IntTypeOfSize(a.size))) | v;
    }

    void Compare(u64 x, u64 y, bool* stop) {
        const ir::Type t = ir::IntTypeOfSize(a.size);
        const u64 r = (x - y) & ir::MaskOf(t);
        env.state.rflags = ir::ComputeFlags(ir::FlagOp::Sub, t, x, y, r, false, env.state.rflags);
        const bool zf = env.state.rflags & rflags::ZF;
        *stop = (a.rep == 1 && !zf) || (a.rep == 2 && zf);
    }
};

u64 StringHelper(ir::HelperEnv& env, u64 packed, u64, u64) {
    StringMachine m{env, StringOpArgs::Unpack(packed), 0};
    m.addr_mask = ir::MaskOf(ir::IntTypeOfSize(m.a.addr_size));
    const auto kind = static_cast<StringKind>(m.a.kind);
    if ((kind == StringKind::Ins || kind == StringKind::Outs) && !IoAllowed(env, m.Port(), m.a.size)) {
        return env.Raise(vec::GP, 0);
    }
    bool stop = false;
    if (m.a.rep == 0) return m.Step(&stop) ? 1 : 0;
    for (u64 i = 0; i < kChunk;) {
        if (m.Get(Gpr::Rcx) == 0) return 1;
        if (const u64 done = m.BulkStep(kChunk - i)) {
            i += done;
            continue;
        }
        if (!m.Step(&stop)) return 0;
        m.Set(Gpr::Rcx, m.Get(Gpr::Rcx) - 1);
        ++i;
        if (stop) return 1;
    }
    return m.Get(Gpr::Rcx) == 0 ? 1 : 0;
}

}  // namespace

const ir::HelperInfo kStringHelper{"String", &StringHelper};

}  // namespace emu::cpu::translate
