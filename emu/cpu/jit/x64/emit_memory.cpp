// BlockEmitter: loads and stores through the soft TLB, helper calls and exceptions, and the inline SSE forms.
#include "emu/cpu/jit/x64/block_emitter.h"

namespace emu::cpu::jit::x64 {

// --- Memory. The inline path is softtlb.h's: index by the first byte's page, compare the tag with the page of the
// last byte (so a page-crossing access, a flagged tag or an invalid entry all miss), add the addend. Everything else
// goes to the slow path, which is the interpreter's memory access.
// The soft TLB's hit path (softtlb.h) for `size` bytes at the linear address in `addr`: index by the first byte's page,
// compare the tag with the page of the last byte (a page-crossing access, a flagged tag or a miss all jump to `miss`),
// and leave the host address in rax. Clobbers rcx and rdx; `addr` is kept unless it is rax.
void BlockEmitter::EmitTlbHit(const Reg64& addr, unsigned size, bool write, Label& miss) {
    c_.mov(rcx, addr);
    c_.shr(rcx, kPageShift - mmu::kTlbEntryShift);
    c_.and_(ecx, static_cast<u32>((mmu::SoftTlb::kEntries - 1) << mmu::kTlbEntryShift));
    // The table is usually within 2 GiB of the context, whose register then addresses it (QEMU's env-relative TLB).
    const i64 delta = reinterpret_cast<i64>(info_.tlb_table) - reinterpret_cast<i64>(info_.ctx);
    constexpr i64 kTableBytes = i64{mmu::SoftTlb::kEntries} << mmu::kTlbEntryShift;
    Xbyak::RegExp entry = rcx;
    if (info_.ctx != nullptr && delta > INT32_MIN + kTableBytes && delta < INT32_MAX - kTableBytes) {
        entry = x64::kCtx + rcx + static_cast<i32>(delta);
    } else {
        c_.mov(rdx, reinterpret_cast<u64>(info_.tlb_table));
        c_.add(rcx, rdx);
    }
    if (size > 1) {
        c_.lea(rdx, c_.ptr[addr + (size - 1)]);
    } else {
        c_.mov(rdx, addr);
    }
    c_.and_(rdx, static_cast<u32>(~kPageMask));  // sign-extended: keeps bits 63:12
    c_.cmp(rdx, c_.qword[entry + (write ? offsetof(mmu::TlbEntry, addr_write) : offsetof(mmu::TlbEntry, addr_read))]);
    c_.jne(miss, Xbyak::CodeGenerator::T_NEAR);
    if (addr.getIdx() != rax.getIdx()) c_.mov(rax, addr);
    c_.add(rax, c_.qword[entry + offsetof(mmu::TlbEntry, addend)]);
}

void BlockEmitter::EmitMemAccess(const Inst& i, bool store) {
    const unsigned flags = store ? Imm32(i, 2) : Imm32(i, 1);
    const unsigned bits = store ? Bits(i.args[1].type()) : Bits(i.type);
    const unsigned size = bits / 8;
    const bool write_tag = store || (flags & ir::mem_flags::WriteIntent);
    // A load's result goes straight to its register (which may be the address's, if the address dies here).
    const Reg64 d = store ? rax : DefReusing(0);
    const Reg64 value = store ? InReg(i.args[1], rsi) : rsi;  // a store's value; the hit path keeps rsi
    Reg64 addr = rax;
    if (const AddressFold& fold = address_fold_[current_]; fold.valid) {
        Xbyak::RegExp at = Xbyak::RegExp() + fold.disp;
        if (fold.base.is_inst()) at = at + InReg(fold.base, rax);
        if (fold.index.is_inst()) at = at + InReg(fold.index, rcx) * (1 << fold.scale);
        c_.lea(rax, c_.ptr[at]);
    } else {
        addr = InReg(i.args[0], rax);
    }
    Label& slow = NewLabel();
    Label& resume = NewLabel();
    if (info_.tlb_table != nullptr) {
        EmitTlbHit(addr, size, write_tag, slow);
        if (store) {
            c_.mov(c_.ptr[rax], Sized(value, bits));
        } else if (bits == 64) {
            c_.mov(d, c_.qword[rax]);
        } else if (bits == 32) {
            c_.mov(d.cvt32(), c_.dword[rax]);
        } else {
            c_.movzx(d.cvt32(), bits == 16 ? c_.word[rax] : c_.byte[rax]);
        }
    } else {
        c_.jmp(slow, Xbyak::CodeGenerator::T_NEAR);
    }
    c_.L(resume);
    const u32 packed = PackAccess(size, flags);
    Label& exit = ExceptionExit();
    Far([this, &slow, &resume, &exit, store, packed, d, value, addr] {
        c_.L(slow);
        PushCallerSaved();  // they may hold live values
        StoreFlags();       // the memory path reads RFLAGS.AC
        if (store) c_.mov(rdx, value);
        c_.mov(rdi, x64::kCtx);
        c_.mov(rsi, addr);
        if (store) {
            c_.mov(ecx, packed);
            CallC(&JitStoreSlow);
        } else {
            c_.mov(edx, packed);
            CallC(&JitLoadSlow);
        }
        PopCallerSaved();
        CheckFault(exit);
        if (!store && d.getIdx() != rax.getIdx()) c_.mov(d, rax);
        c_.jmp(resume, Xbyak::CodeGenerator::T_NEAR);
    });
}
void BlockEmitter::EmitLoad(const Inst& i) { EmitMemAccess(i, false); }
void BlockEmitter::EmitStore(const Inst& i) {
    may_write_code_ = true;
    EmitMemAccess(i, true);
}

// --- Calls and exceptions
void BlockEmitter::EmitCallHelper(const Inst& i) {
    may_write_code_ = true;  // a helper may store (string instructions, descriptor updates)
    LeaveHome(-1);           // and write any GPR (string instructions, CPUID, the SIMD forms with a GPR destination)
    if (i.args[0].helper() == &simd::kSimdHelper && EmitSimdInline(i)) return;
    SpillCallerSaved();
    c_.mov(rdi, x64::kCtx);
    c_.mov(rsi, reinterpret_cast<u64>(i.args[0].helper()));
    LoadArg(rdx, i, 1);
    LoadArg(rcx, i, 2);
    LoadArg(r8, i, 3);
    StoreFlags();  // helpers read and write RFLAGS
    CallC(&JitCallHelper);
    ReloadFlags();
    CheckFault(ExceptionExit());
    Result(rax);
}
void BlockEmitter::EmitRaiseException(const Inst& i) {
    c_.mov(rdi, x64::kCtx);
    c_.mov(esi, Imm32(i, 0));
    LoadArg(rdx, i, 1);
    CallC(&JitRaise);
    c_.jmp(ExceptionExit(), Xbyak::CodeGenerator::T_NEAR);
}
void BlockEmitter::EmitRaiseExceptionIf(const Inst& i) {
    Label& raise = NewLabel();
    LoadArg(rdx, i, 2);  // the error code, read here: far code runs without the allocator's view of this point
    if (fused_compare_ >= 0) {
        JumpIfHostCond(static_cast<unsigned>(std::exchange(fused_compare_, -1)), raise);
    } else {
        LoadArg(rax, i, 0);
        c_.test(eax, eax);
        c_.jnz(raise, Xbyak::CodeGenerator::T_NEAR);
    }
    const u32 vector = Imm32(i, 1);
    Label& exit = ExceptionExit();
    Far([this, &raise, &exit, vector] {
        c_.L(raise);
        c_.mov(rdi, x64::kCtx);
        c_.mov(esi, vector);
        CallC(&JitRaise);
        c_.jmp(exit, Xbyak::CodeGenerator::T_NEAR);
    });
}

// --- SSE integer moves and operations inline. CallHelper(kSimdHelper, packed, linear, rip) for the forms below runs
// the same host instruction on the guest's XMM registers in CpuState, with the memory operand found through the soft
// TLB; anything unusual (SSE not usable: CR0.EM/TS, CR4.OSFXSR; a misaligned operand that must be aligned; a TLB
// miss or a flagged page) calls the helper, which raises exactly as the interpreter does. Host = guest ISA, so the
// host instruction is the definition the helper implements (checked by the differential tester).
namespace {

enum class SimdForm : u8 { Move, Binary, Shuffle, MoveMask, MoveD, Generic };
// Generic: the host instruction on (xmm0 or the memory operand, xmm1 or the memory operand or none: an imm8 form).
using GenericOp = void (*)(Xbyak::CodeGenerator&, const Xbyak::Operand& dst, const Xbyak::Operand* src, u8 imm);
struct SimdInline {
    SimdForm form;
    bool aligned;  // a 16-byte memory operand must be 16-byte aligned
    void (*op)(Xbyak::CodeGenerator&);  // Binary: xmm0 = xmm0 op xmm1
    GenericOp generic = nullptr;
    u8 mem = 16;            // Generic: the size of the memory operand
    bool store = false;     // Generic: (memory, xmm) is a form too
    bool imm_count = false; // Generic: (xmm, imm8) is a form too
    // Generic, floating point: runs under the guest's MXCSR (rounding, DAZ, FTZ) and ORs the exception flags it raises
    // into it; a guest MXCSR that unmasks any exception takes the helper (which raises #XM exactly).
    bool mxcsr = false;
    bool comis = false;     // sets ZF, PF, CF and clears OF, SF, AF (COMISx, UCOMISx)
    bool gpr_src = false;   // the source is a 32/64-bit integer in a GPR or memory (CVTSI2Sx; SimdInsn::op_size)
    bool gpr_dst = false;   // the destination is a 32/64-bit GPR (CVTSx2SI), written zero-extended
};

const Xbyak::Xmm& AsXmm(const Xbyak::Operand& o) { return static_cast<const Xbyak::Xmm&>(o); }
const Xbyak::Address& AsMem(const Xbyak::Operand& o) { return static_cast<const Xbyak::Address&>(o); }

// Moves of 32 or 64 bits between XMM registers and memory (each has both directions in one mnemonic).
SimdInline ScalarMove(GenericOp op, u8 size) { return SimdInline{SimdForm::Generic, false, nullptr, op, size, true}; }
// Scalar floating-point operations on (xmm, xmm or m32/m64).
SimdInline ScalarFloat(GenericOp op, u8 size, bool comis = false) {
    SimdInline s{SimdForm::Generic, false, nullptr, op, size};
    s.mxcsr = true;
    s.comis = comis;
    return s;
}
// Conversions from a 32/64-bit integer (GPR or memory) and to one (GPR).
SimdInline FromInt(GenericOp op) {
    SimdInline s = ScalarFloat(op, 0);
    s.gpr_src = true;
    return s;
}
SimdInline ToInt(GenericOp op, u8 size) {
    SimdInline s = ScalarFloat(op, size);
    s.gpr_dst = true;
    return s;
}
// Two-operand operations whose m128 source must be aligned, and the shifts with an imm8 count besides.
SimdInline PackedOp(GenericOp op, bool imm_count = false) {
    return SimdInline{SimdForm::Generic, true, nullptr, op, 16, false, imm_count};
}

std::optional<SimdInline> SimdInlineOf(Mnemonic m) {
    using G = Xbyak::CodeGenerator;
    using M = Mnemonic;
    switch (m) {
        case M::MOVAPS: case M::MOVDQA: return SimdInline{SimdForm::Move, true, nullptr};
        case M::MOVUPS: case M::MOVDQU: return SimdInline{SimdForm::Move, false, nullptr};
        case M::PSHUFD: return SimdInline{SimdForm::Shuffle, true, nullptr};
        case M::PMOVMSKB: return SimdInline{SimdForm::MoveMask, false, nullptr};
        case M::MOVD: return SimdInline{SimdForm::MoveD, false, nullptr};
        case M::PXOR: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pxor(xmm0, xmm1); }};
        case M::POR: return SimdInline{SimdForm::Binary, true, [](G& g) { g.por(xmm0, xmm1); }};
        case M::PAND: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pand(xmm0, xmm1); }};
        case M::PANDN: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pandn(xmm0, xmm1); }};
        case M::PCMPEQB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpeqb(xmm0, xmm1); }};
        case M::PCMPEQW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpeqw(xmm0, xmm1); }};
        case M::PCMPEQD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpeqd(xmm0, xmm1); }};
        case M::PCMPGTB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpgtb(xmm0, xmm1); }};
        case M::PCMPGTW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpgtw(xmm0, xmm1); }};
        case M::PCMPGTD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pcmpgtd(xmm0, xmm1); }};
        case M::PADDB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddb(xmm0, xmm1); }};
        case M::PADDW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddw(xmm0, xmm1); }};
        case M::PADDD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddd(xmm0, xmm1); }};
        case M::PADDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.paddq(xmm0, xmm1); }};
        case M::PSUBB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubb(xmm0, xmm1); }};
        case M::PSUBW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubw(xmm0, xmm1); }};
        case M::PSUBD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubd(xmm0, xmm1); }};
        case M::PSUBQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.psubq(xmm0, xmm1); }};
        case M::PMINUB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pminub(xmm0, xmm1); }};
        case M::PMAXUB: return SimdInline{SimdForm::Binary, true, [](G& g) { g.pmaxub(xmm0, xmm1); }};
        case M::PUNPCKLBW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpcklbw(xmm0, xmm1); }};
        case M::PUNPCKLWD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpcklwd(xmm0, xmm1); }};
        case M::PUNPCKLDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckldq(xmm0, xmm1); }};
        case M::PUNPCKLQDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpcklqdq(xmm0, xmm1); }};
        case M::PUNPCKHBW: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhbw(xmm0, xmm1); }};
        case M::PUNPCKHWD: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhwd(xmm0, xmm1); }};
        case M::PUNPCKHDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhdq(xmm0, xmm1); }};
        case M::PUNPCKHQDQ: return SimdInline{SimdForm::Binary, true, [](G& g) { g.punpckhqdq(xmm0, xmm1); }};
        case M::MOVSD:
            return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) {
                d.isMEM() ? g.movsd(AsMem(d), AsXmm(*s)) : g.movsd(AsXmm(d), *s);
            }, 8);
        case M::MOVSS:
            return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) {
                d.isMEM() ? g.movss(AsMem(d), AsXmm(*s)) : g.movss(AsXmm(d), *s);
            }, 4);
        case M::MOVQ:
            return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) {
                d.isMEM() ? g.movq(AsMem(d), AsXmm(*s)) : g.movq(AsXmm(d), *s);
            }, 8);
        case M::MOVLPD: return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.movlpd(d, *s); }, 8);
        case M::MOVLPS: return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.movlps(d, *s); }, 8);
        case M::MOVHPD: return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.movhpd(d, *s); }, 8);
        case M::MOVHPS: return ScalarMove([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.movhps(d, *s); }, 8);
#define EMU64_SCALAR(NAME, name, size) \
    case M::NAME: return ScalarFloat([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.name(AsXmm(d), *s); }, size);
        EMU64_SCALAR(ADDSD, addsd, 8)
        EMU64_SCALAR(SUBSD, subsd, 8)
        EMU64_SCALAR(MULSD, mulsd, 8)
        EMU64_SCALAR(DIVSD, divsd, 8)
        EMU64_SCALAR(MINSD, minsd, 8)
        EMU64_SCALAR(MAXSD, maxsd, 8)
        EMU64_SCALAR(SQRTSD, sqrtsd, 8)
        EMU64_SCALAR(CVTSD2SS, cvtsd2ss, 8)
        EMU64_SCALAR(ADDSS, addss, 4)
        EMU64_SCALAR(SUBSS, subss, 4)
        EMU64_SCALAR(MULSS, mulss, 4)
        EMU64_SCALAR(DIVSS, divss, 4)
        EMU64_SCALAR(MINSS, minss, 4)
        EMU64_SCALAR(MAXSS, maxss, 4)
        EMU64_SCALAR(SQRTSS, sqrtss, 4)
        EMU64_SCALAR(CVTSS2SD, cvtss2sd, 4)
#undef EMU64_SCALAR
        case M::UCOMISD: return ScalarFloat([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.ucomisd(AsXmm(d), *s); }, 8, true);
        case M::COMISD: return ScalarFloat([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.comisd(AsXmm(d), *s); }, 8, true);
        case M::UCOMISS: return ScalarFloat([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.ucomiss(AsXmm(d), *s); }, 4, true);
        case M::COMISS: return ScalarFloat([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.comiss(AsXmm(d), *s); }, 4, true);
        case M::CVTSI2SD: return FromInt([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.cvtsi2sd(AsXmm(d), *s); });
        case M::CVTSI2SS: return FromInt([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.cvtsi2ss(AsXmm(d), *s); });
        case M::CVTTSD2SI: return ToInt([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.cvttsd2si(static_cast<const Xbyak::Reg&>(d), *s); }, 8);
        case M::CVTSD2SI: return ToInt([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.cvtsd2si(static_cast<const Xbyak::Reg&>(d), *s); }, 8);
        case M::CVTTSS2SI: return ToInt([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.cvttss2si(static_cast<const Xbyak::Reg&>(d), *s); }, 4);
        case M::CVTSS2SI: return ToInt([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.cvtss2si(static_cast<const Xbyak::Reg&>(d), *s); }, 4);
        case M::XORPS: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.xorps(AsXmm(d), *s); });
        case M::XORPD: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.xorpd(AsXmm(d), *s); });
        case M::ANDPS: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.andps(AsXmm(d), *s); });
        case M::ANDPD: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.andpd(AsXmm(d), *s); });
        case M::ANDNPS: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.andnps(AsXmm(d), *s); });
        case M::ANDNPD: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.andnpd(AsXmm(d), *s); });
        case M::ORPS: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.orps(AsXmm(d), *s); });
        case M::ORPD: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.orpd(AsXmm(d), *s); });
        case M::PSHUFB: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8) { g.pshufb(AsXmm(d), *s); });
        case M::PSLLDQ: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand*, u8 n) { g.pslldq(AsXmm(d), n); }, true);
        case M::PSRLDQ: return PackedOp([](G& g, const Xbyak::Operand& d, const Xbyak::Operand*, u8 n) { g.psrldq(AsXmm(d), n); }, true);
#define EMU64_SIMD_SHIFT(NAME, name)                                                             \
    case M::NAME:                                                                                \
        return PackedOp(                                                                         \
            [](G& g, const Xbyak::Operand& d, const Xbyak::Operand* s, u8 n) {                   \
                s != nullptr ? g.name(AsXmm(d), *s) : g.name(AsXmm(d), n);                       \
            },                                                                                   \
            true);
        EMU64_SIMD_SHIFT(PSLLW, psllw)
        EMU64_SIMD_SHIFT(PSLLD, pslld)
        EMU64_SIMD_SHIFT(PSLLQ, psllq)
        EMU64_SIMD_SHIFT(PSRLW, psrlw)
        EMU64_SIMD_SHIFT(PSRLD, psrld)
        EMU64_SIMD_SHIFT(PSRLQ, psrlq)
        EMU64_SIMD_SHIFT(PSRAW, psraw)
        EMU64_SIMD_SHIFT(PSRAD, psrad)
#undef EMU64_SIMD_SHIFT
        default: return std::nullopt;
    }
}

bool IsXmm(const simd::OperandDesc& d) { return d.type == simd::OperandType::Reg && d.cls == RegClass::Xmm; }
bool IsGpr32(const simd::OperandDesc& d) {
    return d.type == simd::OperandType::Reg && d.cls == RegClass::Gpr && d.size == 4;
}
bool IsMem(const simd::OperandDesc& d, unsigned size) { return d.type == simd::OperandType::Mem && d.size == size; }
// A GPR or memory operand of an integer conversion (its size is SimdInsn::op_size, 4 or 8).
bool IsIntOperand(const simd::OperandDesc& d, simd::OperandType type) {
    return d.type == type && (type != simd::OperandType::Reg || d.cls == RegClass::Gpr);
}
u32 XmmOffset(unsigned n) { return static_cast<u32>(offsetof(CpuState, xmm) + sizeof(Xmm) * (n & 15)); }

}  // namespace

// Runs `op` (host SSE code that must not touch rcx, rdx or the host flags' consumers) under the guest's MXCSR with its
// exception flags cleared, ORs what it raised into the guest's MXCSR and restores the host's. A guest MXCSR that
// unmasks any exception jumps to `slow` before anything changes. COMISx/UCOMISx (`comis`) also merge ZF, PF and CF and
// the cleared OF, SF and AF into RFLAGS.
void BlockEmitter::EmitUnderGuestMxcsr(Label& slow, const std::function<void()>& op, bool comis) {
    const auto guest = c_.dword[x64::kState + static_cast<u32>(offsetof(CpuState, mxcsr))];
    const auto scratch = c_.dword[x64::kCtx + static_cast<u32>(offsetof(JitContext, mxcsr_scratch))];
    constexpr u32 kMasks = 0x1F80, kFlags = 0x3F;
    c_.mov(ecx, guest);
    c_.mov(edx, ecx);
    c_.and_(edx, kMasks);
    c_.cmp(edx, kMasks);
    c_.jne(slow, Xbyak::CodeGenerator::T_NEAR);
    c_.and_(ecx, ~kFlags);
    c_.mov(scratch, ecx);
    c_.ldmxcsr(scratch);
    op();
    if (comis) {
        constexpr u32 kArith = static_cast<u32>(rflags::OF | rflags::SF | rflags::ZF | rflags::AF | rflags::PF | rflags::CF);
        CaptureFlags();  // (the operands are read: rax is free)
        MergeFlags(PendingMerge{kArith, kArith});
    }
    c_.stmxcsr(scratch);
    c_.mov(ecx, scratch);
    c_.and_(ecx, kFlags);
    c_.or_(guest, ecx);
    c_.mov(scratch, static_cast<u32>(JitContext::kHostMxcsr));
    c_.ldmxcsr(scratch);
}

bool BlockEmitter::EmitSimdInline(const Inst& i) {
    const simd::SimdInsn in = simd::SimdInsn::Unpack(i.args[1].imm());
    const auto spec = SimdInlineOf(in.mnemonic);
    if (!spec) return false;
    const simd::OperandDesc& d = in.op[0];
    const simd::OperandDesc& src = in.op[1];
    bool shape = false;
    switch (spec->form) {
        case SimdForm::Move:
            shape = (IsXmm(d) && (IsXmm(src) || IsMem(src, 16))) || (IsMem(d, 16) && IsXmm(src));
            break;
        case SimdForm::Binary:
        case SimdForm::Shuffle: shape = IsXmm(d) && (IsXmm(src) || IsMem(src, 16)); break;
        case SimdForm::MoveMask: shape = d.type == simd::OperandType::Reg && d.cls == RegClass::Gpr && IsXmm(src); break;
        case SimdForm::MoveD:
            shape = (IsXmm(d) && (IsGpr32(src) || IsMem(src, 4))) || ((IsGpr32(d) || IsMem(d, 4)) && IsXmm(src));
            break;
        case SimdForm::Generic:
            if (spec->gpr_src || spec->gpr_dst) {
                shape = in.op_size == 4 || in.op_size == 8;
            }
            if (spec->gpr_src) {
                shape = shape && IsXmm(d) &&
                        (IsIntOperand(src, simd::OperandType::Reg) || IsIntOperand(src, simd::OperandType::Mem));
            } else if (spec->gpr_dst) {
                shape = shape && IsIntOperand(d, simd::OperandType::Reg) && (IsXmm(src) || IsMem(src, spec->mem));
            } else {
                shape = (IsXmm(d) && (IsXmm(src) || IsMem(src, spec->mem) ||
                                      (spec->imm_count && src.type == simd::OperandType::None))) ||
                        (spec->store && IsMem(d, spec->mem) && IsXmm(src));
            }
            break;
    }
    if (!shape) return false;
    const bool mem_dst = d.type == simd::OperandType::Mem;
    const bool mem_src = src.type == simd::OperandType::Mem;
    const bool int_memory = spec->form == SimdForm::Generic && spec->gpr_src && mem_src;  // sized by op_size
    const unsigned mem_size = mem_dst ? d.size : int_memory ? in.op_size : mem_src ? src.size : 0;

    Label& slow = NewLabel();
    Label& resume = NewLabel();
    c_.mov(eax, c_.dword[x64::kState + static_cast<u32>(offsetof(CpuState, cr0))]);
    c_.test(eax, static_cast<u32>(cr0::EM | cr0::TS));
    c_.jnz(slow, Xbyak::CodeGenerator::T_NEAR);
    c_.test(c_.dword[x64::kState + static_cast<u32>(offsetof(CpuState, cr4))], static_cast<u32>(cr4::OSFXSR));
    c_.jz(slow, Xbyak::CodeGenerator::T_NEAR);
    LoadArg(rsi, i, 2);  // the linear address (the slow path passes it on)
    if (mem_size != 0) {
        if (info_.tlb_table == nullptr) {
            c_.jmp(slow, Xbyak::CodeGenerator::T_NEAR);
        } else {
            if (spec->aligned && mem_size == 16) {
                c_.test(sil, 15);
                c_.jnz(slow, Xbyak::CodeGenerator::T_NEAR);
            }
            EmitTlbHit(rsi, mem_size, mem_dst, slow);  // rax = host address
        }
    }
    const auto xmm_of = [&](const simd::OperandDesc& o) { return c_.xword[x64::kState + XmmOffset(o.reg)]; };
    const auto gpr_of = [&](const simd::OperandDesc& o) { return c_.qword[x64::kState + OffsetOfGpr(o.reg)]; };
    switch (spec->form) {
        case SimdForm::Move:
            c_.movdqu(xmm0, mem_src ? c_.xword[rax] : xmm_of(src));
            c_.movdqu(mem_dst ? c_.xword[rax] : xmm_of(d), xmm0);
            break;
        case SimdForm::Binary:
        case SimdForm::Shuffle:
            c_.movdqu(xmm1, mem_src ? c_.xword[rax] : xmm_of(src));
            if (spec->form == SimdForm::Shuffle) {
                c_.pshufd(xmm0, xmm1, in.imm);
            } else {
                c_.movdqu(xmm0, xmm_of(d));
                spec->op(c_);
            }
            c_.movdqu(xmm_of(d), xmm0);
            break;
        case SimdForm::Generic: {
            if (IsXmm(d)) c_.movdqu(xmm0, xmm_of(d));
            if (IsXmm(src)) c_.movdqu(xmm1, xmm_of(src));
            // An integer source goes through rdi: xbyak sizes CVTSI2Sx by a register operand, not by a memory one.
            const bool int_src = spec->gpr_src;
            const Xbyak::Address memory = c_.ptr[rax];
            const Xbyak::Reg int_source = in.op_size == 8 ? Xbyak::Reg(rdi) : Xbyak::Reg(edi);
            if (int_src) {
                const Xbyak::RegExp at = mem_src ? Xbyak::RegExp(rax) : x64::kState + OffsetOfGpr(src.reg);
                c_.mov(int_source, in.op_size == 8 ? c_.qword[at] : c_.dword[at]);
            }
            const Xbyak::Operand* source = int_src     ? static_cast<const Xbyak::Operand*>(&int_source)
                                           : IsXmm(src) ? static_cast<const Xbyak::Operand*>(&xmm1)
                                           : mem_src    ? static_cast<const Xbyak::Operand*>(&memory)
                                                        : nullptr;
            const Xbyak::Reg int_dst = in.op_size == 8 ? Xbyak::Reg(rax) : Xbyak::Reg(eax);
            const Xbyak::Operand& dst = spec->gpr_dst ? static_cast<const Xbyak::Operand&>(int_dst)
                                        : mem_dst     ? static_cast<const Xbyak::Operand&>(memory)
                                                      : xmm0;
            if (spec->mxcsr) {
                EmitUnderGuestMxcsr(slow, [&] { spec->generic(c_, dst, source, in.imm); }, spec->comis);
            } else {
                spec->generic(c_, dst, source, in.imm);
            }
            if (spec->gpr_dst) c_.mov(gpr_of(d), rax);  // a 32-bit result was zero-extended by the host
            if (IsXmm(d)) c_.movdqu(xmm_of(d), xmm0);
            break;
        }
        case SimdForm::MoveMask:
            c_.movdqu(xmm1, xmm_of(src));
            c_.pmovmskb(ecx, xmm1);
            c_.mov(gpr_of(d), rcx);  // zero-extended, as the helper's store of the mask
            break;
        case SimdForm::MoveD:
            if (IsXmm(d)) {
                c_.movd(xmm0, mem_src ? c_.dword[rax] : c_.dword[x64::kState + OffsetOfGpr(src.reg)]);
                c_.movdqu(xmm_of(d), xmm0);  // MOVD zeroes bits 127:32
            } else {
                c_.mov(ecx, c_.dword[x64::kState + XmmOffset(src.reg)]);
                if (mem_dst) {
                    c_.mov(c_.dword[rax], ecx);
                } else {
                    c_.mov(gpr_of(d), rcx);  // a 32-bit GPR write clears bits 63:32
                }
            }
            break;
    }
    c_.L(resume);
    Label& exit = ExceptionExit();
    const u64 packed = i.args[1].imm();
    const u64 rip = i.args[3].imm();
    const HelperInfoPtr helper = i.args[0].helper();
    Far([this, &slow, &resume, &exit, packed, rip, helper] {
        c_.L(slow);
        PushCallerSaved();
        c_.mov(rcx, rsi);
        c_.mov(rdi, x64::kCtx);
        c_.mov(rsi, reinterpret_cast<u64>(helper));
        c_.mov(rdx, packed);
        LoadImm(r8, rip);
        StoreFlags();  // COMISS and friends write RFLAGS
        CallC(&JitCallHelper);
        ReloadFlags();
        PopCallerSaved();
        CheckFault(exit);
        c_.jmp(resume, Xbyak::CodeGenerator::T_NEAR);
    });
    Result(rax);  // the helper's result (0); nothing reads it in practice
    return true;
}

}  // namespace emu::cpu::jit::x64
