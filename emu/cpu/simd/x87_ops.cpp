// x87 data and arithmetic instructions (SDM Vol. 2 FLD..FYL2XP1) over the register stack of x87_stack.cpp,
// computing with emu/cpu/fpu. Stack faults follow SDM Vol. 1 8.5.1.1: with IE masked the destination gets the
// QNaN indefinite; unmasked, nothing but FSW changes.
#include "emu/cpu/fpu/x87.h"
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {

using namespace x87;
namespace st = fpu::status;

namespace {

u16 Fcw(const Exec& x) { return x.s.x87.fcw; }

// Reads the memory operand as a signed integer of its size (2, 4 or 8 bytes).
bool ReadInt(Exec& x, i64* out) {
    const unsigned size = x.op(0).size;
    u64 raw = 0;
    if (!x.LoadMem(0, &raw, size)) return false;
    *out = static_cast<i64>(raw << (64 - 8 * size)) >> (64 - 8 * size);
    return true;
}

// The memory operand as an x87 operand: m32fp/m64fp widened, or an integer for the FI* forms.
bool ReadMemOperand(Exec& x, bool integer, fpu::X87Operand* out) {
    if (integer) {
        i64 v = 0;
        if (!ReadInt(x, &v)) return false;
        *out = fpu::X87Operand(fpu::FromInt(v));
        return true;
    }
    if (x.op(0).size == 4) {
        u32 v = 0;
        if (!x.LoadMem(0, &v, 4)) return false;
        *out = fpu::WidenFloat32(v);
        return true;
    }
    u64 v = 0;
    if (!x.LoadMem(0, &v, 8)) return false;
    *out = fpu::WidenFloat64(v);
    return true;
}

// A push needs ST(7) empty; otherwise a stack overflow. Returns false when the push must not happen.
bool PushWithCheck(Exec& x, Float80 v, u16 status, u16 blocking = st::IE | st::DE | st::ZE) {
    if (!IsEmpty(x.s, 7)) {
        if (!StackFault(x.s, true)) return false;
        v = kIndefinite;
        status = static_cast<u16>(st::IE | kSf | st::C1);
    }
    if (status & blocking & ~x.s.x87.fcw) {
        ApplyStatus(x.s, status);
        return false;
    }
    ApplyStatus(x.s, status);
    Push(x.s, v);
    return true;
}

bool EndsWithP(Mnemonic m) {
    switch (m) {
        case Mnemonic::FSTP: case Mnemonic::FISTP: case Mnemonic::FISTTP: case Mnemonic::FADDP: case Mnemonic::FSUBP:
        case Mnemonic::FSUBRP: case Mnemonic::FMULP: case Mnemonic::FDIVP: case Mnemonic::FDIVRP: case Mnemonic::FCOMP:
        case Mnemonic::FUCOMP: case Mnemonic::FICOMP: case Mnemonic::FCOMIP: case Mnemonic::FUCOMIP:
        case Mnemonic::FFREEP: return true;
        default: return false;
    }
}

}  // namespace

void Fld(Exec& x) {
    Float80 v{};
    u16 status = 0;
    if (x.IsMem(0)) {
        if (x.op(0).size == 10) {
            u8 raw[10];
            if (!x.LoadMem(0, raw, 10)) return;
            std::memcpy(&v.significand, raw, 8);
            std::memcpy(&v.sign_exponent, raw + 8, 2);
        } else if (x.op(0).size == 4) {
            u32 raw = 0;
            if (!x.LoadMem(0, &raw, 4)) return;
            const fpu::X87Result r = fpu::FromFloat32(raw);
            v = r.value, status = r.status;
        } else {
            u64 raw = 0;
            if (!x.LoadMem(0, &raw, 8)) return;
            const fpu::X87Result r = fpu::FromFloat64(raw);
            v = r.value, status = r.status;
        }
    } else if (IsEmpty(x.s, x.op(0).reg)) {
        // Underflow is reported (C1 = 0) even when ST(7) is also full.
        if (StackFault(x.s, false)) Push(x.s, kIndefinite);
        return;
    } else {
        v = St(x.s, x.op(0).reg);
    }
    // An unmasked denormal-operand exception does not stop the load (host behaviour).
    PushWithCheck(x, v, status, static_cast<u16>(st::IE | st::ZE));
}

void Fst(Exec& x) {
    const bool pop = EndsWithP(x.in.mnemonic);
    const bool empty = IsEmpty(x.s, 0);
    // D9 D8+i (the undocumented FSTP1 alias) is FSTPNCE: no stack fault; an empty ST(0) stays empty.
    if (x.IsReg(0) && x.in.opcode_low == 1) {
        if (!empty) SetSt(x.s, x.op(0).reg, St(x.s, 0));
        ApplyStatus(x.s, 0);
        Pop(x.s);
        return;
    }
    if (x.IsMem(0) && !x.ProbeWrite(0, x.op(0).size)) return;
    if (empty && !(Fcw(x) & st::IE)) {
        StackFault(x.s, false);
        return;
    }
    const Float80 src = empty ? kIndefinite : St(x.s, 0);
    u16 status = empty ? static_cast<u16>(st::IE | kSf) : 0;
    if (x.IsMem(0)) {
        u8 out[10];
        if (x.op(0).size == 10) {
            std::memcpy(out, &src.significand, 8);
            std::memcpy(out + 8, &src.sign_exponent, 2);
        } else if (x.op(0).size == 4) {
            const fpu::X87Out<u32> r = fpu::ToFloat32(src, Fcw(x));
            std::memcpy(out, &r.value, 4);
            status |= r.status;
        } else {
            const fpu::X87Out<u64> r = fpu::ToFloat64(src, Fcw(x));
            std::memcpy(out, &r.value, 8);
            status |= r.status;
        }
        // Unmasked overflow/underflow on a store to memory also leaves the destination alone (SDM Vol. 1 8.5.4).
        const u16 blocking = st::IE | st::DE | st::ZE | st::OE | st::UE;
        if (status & blocking & ~Fcw(x)) {
            ApplyStatus(x.s, status);
            return;
        }
        if (!x.StoreMem(0, out, x.op(0).size)) return;
    } else {
        SetSt(x.s, x.op(0).reg, src);
    }
    ApplyStatus(x.s, status);
    if (pop) Pop(x.s);
}

void Fild(Exec& x) {
    i64 v = 0;
    if (!ReadInt(x, &v)) return;
    PushWithCheck(x, fpu::FromInt(v), 0);
}

void Fist(Exec& x) {
    if (!x.ProbeWrite(0, x.op(0).size)) return;
    const bool empty = IsEmpty(x.s, 0);
    if (empty && !(Fcw(x) & st::IE)) {
        StackFault(x.s, false);
        return;
    }
    const unsigned size = x.op(0).size;
    fpu::X87Out<i64> r{};
    if (empty) {
        r.value = static_cast<i64>(u64{1} << (8 * size - 1));
        r.status = static_cast<u16>(st::IE | kSf);
    } else {
        r = fpu::ToInt(St(x.s, 0), Fcw(x), 8 * size, x.in.mnemonic == Mnemonic::FISTTP);
    }
    if (!MayStore(x.s, r.status)) {
        ApplyStatus(x.s, r.status);
        return;
    }
    if (!x.StoreMem(0, &r.value, size)) return;
    ApplyStatus(x.s, r.status);
    if (EndsWithP(x.in.mnemonic)) Pop(x.s);
}

void Fbld(Exec& x) {
    fpu::Bcd bcd{};
    if (!x.LoadMem(0, bcd.data(), 10)) return;
    PushWithCheck(x, fpu::FromBcd(bcd), 0);
}

void Fbstp(Exec& x) {
    if (!x.ProbeWrite(0, 10)) return;
    const bool empty = IsEmpty(x.s, 0);
    if (empty && !(Fcw(x) & st::IE)) {
        StackFault(x.s, false);
        return;
    }
    fpu::X87Out<fpu::Bcd> r{};
    if (empty) {
        r.value = fpu::Bcd{0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF};  // the packed BCD indefinite
        r.status = static_cast<u16>(st::IE | kSf);
    } else {
        r = fpu::ToBcd(St(x.s, 0), Fcw(x));
    }
    if (!MayStore(x.s, r.status)) {
        ApplyStatus(x.s, r.status);
        return;
    }
    if (!x.StoreMem(0, r.value.data(), 10)) return;
    ApplyStatus(x.s, r.status);
    Pop(x.s);
}

namespace {

enum class ArithOp : u8 { Add, Sub, SubR, Mul, Div, DivR };

ArithOp ArithOf(Mnemonic m) {
    switch (m) {
        case Mnemonic::FADD: case Mnemonic::FADDP: case Mnemonic::FIADD: return ArithOp::Add;
        case Mnemonic::FSUB: case Mnemonic::FSUBP: case Mnemonic::FISUB: return ArithOp::Sub;
        case Mnemonic::FSUBR: case Mnemonic::FSUBRP: case Mnemonic::FISUBR: return ArithOp::SubR;
        case Mnemonic::FMUL: case Mnemonic::FMULP: case Mnemonic::FIMUL: return ArithOp::Mul;
        case Mnemonic::FDIV: case Mnemonic::FDIVP: case Mnemonic::FIDIV: return ArithOp::Div;
        default: return ArithOp::DivR;
    }
}

bool IsIntegerForm(Mnemonic m) {
    switch (m) {
        case Mnemonic::FIADD: case Mnemonic::FISUB: case Mnemonic::FISUBR: case Mnemonic::FIMUL:
        case Mnemonic::FIDIV: case Mnemonic::FIDIVR: case Mnemonic::FICOM: case Mnemonic::FICOMP: return true;
        default: return false;
    }
}

fpu::X87Result Compute(ArithOp op, const fpu::X87Operand& a, const fpu::X87Operand& b, u16 fcw) {
    switch (op) {
        case ArithOp::Add: return fpu::Add(a, b, fcw);
        case ArithOp::Sub: return fpu::Sub(a, b, fcw);
        case ArithOp::SubR: return fpu::Sub(b, a, fcw);
        case ArithOp::Mul: return fpu::Mul(a, b, fcw);
        case ArithOp::Div: return fpu::Div(a, b, fcw);
        case ArithOp::DivR: return fpu::Div(b, a, fcw);
    }
    return {};
}

}  // namespace

void Farith(Exec& x) {
    const Mnemonic m = x.in.mnemonic;
    const bool pop = EndsWithP(m);
    unsigned dst = 0;
    unsigned src = 0;
    fpu::X87Operand b(Float80{});
    if (x.IsMem(0)) {
        if (!ReadMemOperand(x, IsIntegerForm(m), &b)) return;
    } else {
        dst = x.op(0).reg;
        src = x.op(1).reg;
    }
    if (IsEmpty(x.s, dst) || (!x.IsMem(0) && IsEmpty(x.s, src))) {
        if (!StackFault(x.s, false)) return;
        SetSt(x.s, dst, kIndefinite);
        if (pop) Pop(x.s);
        return;
    }
    if (!x.IsMem(0)) b = fpu::X87Operand(St(x.s, src));
    const fpu::X87Result r = Compute(ArithOf(m), fpu::X87Operand(St(x.s, dst)), b, Fcw(x));
    const bool store = MayStore(x.s, r.status);
    if (store) SetSt(x.s, dst, r.value);
    ApplyStatus(x.s, r.status);
    if (store && pop) Pop(x.s);
}

namespace {

// Condition bits C3 C2 C0 of an unordered compare.
constexpr u16 kUnordered = st::C3 | st::C2 | st::C0;

// The second operand of a compare: ST(i), memory, or +0.0 for FTST; `pops` is how many pops follow.
struct CompareSpec {
    bool quiet = false;
    unsigned pops = 0;
};

CompareSpec CompareOf(Mnemonic m) {
    switch (m) {
        case Mnemonic::FCOMP: case Mnemonic::FICOMP: return {false, 1};
        case Mnemonic::FCOMPP: return {false, 2};
        case Mnemonic::FUCOM: return {true, 0};
        case Mnemonic::FUCOMP: return {true, 1};
        case Mnemonic::FUCOMPP: return {true, 2};
        case Mnemonic::FCOMIP: return {false, 1};
        case Mnemonic::FUCOMI: return {true, 0};
        case Mnemonic::FUCOMIP: return {true, 1};
        default: return {false, 0};
    }
}

// Compares ST(0) with the instruction's second operand. Returns false when the instruction must stop (fault
// or unmasked stack fault); *status gets the helper's status (conditions C3 C2 C0 and exceptions).
bool CompareOperands(Exec& x, u16* status) {
    const Mnemonic m = x.in.mnemonic;
    fpu::X87Operand b(Float80{});
    unsigned src = 1;
    if (x.IsMem(0)) {
        if (!ReadMemOperand(x, IsIntegerForm(m), &b)) return false;
    } else if (m == Mnemonic::FCOMI || m == Mnemonic::FCOMIP || m == Mnemonic::FUCOMI || m == Mnemonic::FUCOMIP) {
        src = x.op(1).reg;
    } else if (x.IsReg(0)) {
        src = x.op(0).reg;
    }
    const bool ftst = m == Mnemonic::FTST;
    if (IsEmpty(x.s, 0) || (!x.IsMem(0) && !ftst && IsEmpty(x.s, src))) {
        // Reported as unordered whether or not IE is masked.
        *status = static_cast<u16>(st::IE | kSf | kUnordered);
        return true;
    }
    if (ftst) b = fpu::X87Operand(Float80{});
    else if (!x.IsMem(0)) b = fpu::X87Operand(St(x.s, src));
    *status = fpu::Compare(fpu::X87Operand(St(x.s, 0)), b, CompareOf(m).quiet);
    return true;
}

void PopTimes(Exec& x, unsigned n) {
    for (unsigned i = 0; i < n; ++i) Pop(x.s);
}

}  // namespace

void Fcom(Exec& x) {
    u16 status = 0;
    if (!CompareOperands(x, &status)) return;
    ApplyStatus(x.s, status, st::kConditions);
    if (MayStore(x.s, status)) PopTimes(x, CompareOf(x.in.mnemonic).pops);
}

void Fcomi(Exec& x) {
    u16 status = 0;
    if (!CompareOperands(x, &status)) return;
    // FCOMI reports in ZF PF CF; in FSW only C1 (cleared) and the exception flags change.
    // FSW's condition bits are left alone (C1 included) except by a stack fault, which clears C1.
    ApplyStatus(x.s, static_cast<u16>(status & ~st::kConditions), (status & kSf) ? st::C1 : 0);
    u64 f = x.s.rflags & ~rflags::Arith;
    if (status & st::C3) f |= rflags::ZF;
    if (status & st::C2) f |= rflags::PF;
    if (status & st::C0) f |= rflags::CF;
    x.s.rflags = f;
    if (MayStore(x.s, status)) PopTimes(x, CompareOf(x.in.mnemonic).pops);
}

void Fxam(Exec& x) {
    const u16 sign = (St(x.s, 0).sign_exponent & 0x8000) ? st::C1 : 0;
    const u16 status = IsEmpty(x.s, 0) ? static_cast<u16>(st::C3 | st::C0 | sign) : fpu::Examine(St(x.s, 0));
    ApplyStatus(x.s, status, st::kConditions);
}

void Fsign(Exec& x) {
    if (IsEmpty(x.s, 0)) {
        if (StackFault(x.s, false)) SetSt(x.s, 0, kIndefinite);
        return;
    }
    Float80 v = St(x.s, 0);
    v.sign_exponent = x.in.mnemonic == Mnemonic::FCHS ? static_cast<u16>(v.sign_exponent ^ 0x8000)
                                                       : static_cast<u16>(v.sign_exponent & 0x7FFF);
    SetSt(x.s, 0, v);
    ApplyStatus(x.s, 0);
}

void Funary(Exec& x) {
    const bool trig = x.in.mnemonic == Mnemonic::FSIN || x.in.mnemonic == Mnemonic::FCOS;
    if (IsEmpty(x.s, 0)) {
        // FSIN/FCOS clear C2 (no range reduction pending) on a stack underflow too (host behaviour).
        if (trig) x.s.x87.fsw &= static_cast<u16>(~st::C2);
        if (StackFault(x.s, false)) SetSt(x.s, 0, kIndefinite);
        return;
    }
    const Float80 a = St(x.s, 0);
    const u16 fcw = Fcw(x);
    fpu::X87Result r{};
    switch (x.in.mnemonic) {
        case Mnemonic::FSQRT: r = fpu::Sqrt(a, fcw); break;
        case Mnemonic::FRNDINT: r = fpu::RoundToInteger(a, fcw); break;
        case Mnemonic::FSIN: r = fpu::Sin(a, fcw); break;
        case Mnemonic::FCOS: r = fpu::Cos(a, fcw); break;
        default: r = fpu::Exp2M1(a, fcw); break;
    }
    if (MayStore(x.s, r.status)) SetSt(x.s, 0, r.value);
    ApplyStatus(x.s, r.status, trig ? static_cast<u16>(st::C1 | st::C2) : st::C1);
}

void Fbinary(Exec& x) {
    const Mnemonic m = x.in.mnemonic;
    const bool pops = m == Mnemonic::FPATAN || m == Mnemonic::FYL2X || m == Mnemonic::FYL2XP1;
    const unsigned dst = pops ? 1 : 0;
    const bool prem = m == Mnemonic::FPREM || m == Mnemonic::FPREM1;
    if (IsEmpty(x.s, 0) || IsEmpty(x.s, 1)) {
        if (prem) x.s.x87.fsw &= static_cast<u16>(~st::C2);  // no partial remainder pending
        if (!StackFault(x.s, false)) return;
        SetSt(x.s, dst, kIndefinite);
        if (pops) Pop(x.s);
        return;
    }
    const Float80 st0 = St(x.s, 0);
    const Float80 st1 = St(x.s, 1);
    const u16 fcw = Fcw(x);
    fpu::X87Result r{};
    switch (m) {
        case Mnemonic::FSCALE: r = fpu::Scale(st0, st1, fcw, x.in.amd); break;
        case Mnemonic::FPREM: r = fpu::PartialRemainder(st0, st1, fcw, x.in.amd); break;
        case Mnemonic::FPREM1: r = fpu::PartialRemainderIeee(st0, st1, fcw, x.in.amd); break;
        case Mnemonic::FPATAN: r = fpu::Atan2(st1, st0, fcw); break;
        case Mnemonic::FYL2X: r = fpu::YLog2X(st1, st0, fcw); break;
        default: r = fpu::YLog2XP1(st1, st0, fcw); break;
    }
    const bool store = MayStore(x.s, r.status);
    if (store) SetSt(x.s, dst, r.value);
    // An FPREM with a NaN result (invalid, or a NaN operand) or an unmasked exception produces no quotient bits: it leaves C0 and C3 alone
    // (host behaviour) and clears C1 and C2.
    const bool nan = (r.value.sign_exponent & 0x7FFF) == 0x7FFF && (r.value.significand << 1) != 0;
    const bool no_quotient = (r.status & st::IE) || nan || !store;
    const u16 prem_defined = no_quotient ? static_cast<u16>(st::C1 | st::C2) : st::kConditions;
    ApplyStatus(x.s, r.status, prem ? prem_defined : st::C1);
    if (store && pops) Pop(x.s);
}

void Fpair(Exec& x) {
    const bool empty = IsEmpty(x.s, 0);
    const bool full = !IsEmpty(x.s, 7);
    if (empty || full) {
        // FPTAN/FSINCOS clear C2 (range reduction complete) on a stack fault too (host behaviour).
        if (x.in.mnemonic != Mnemonic::FXTRACT) x.s.x87.fsw &= static_cast<u16>(~st::C2);
        if (!StackFault(x.s, !empty)) return;
        SetSt(x.s, 0, kIndefinite);
        Push(x.s, kIndefinite);
        return;
    }
    const Float80 a = St(x.s, 0);
    const u16 fcw = Fcw(x);
    fpu::X87Pair r{};
    switch (x.in.mnemonic) {
        case Mnemonic::FXTRACT: r = fpu::Extract(a, fcw); break;
        case Mnemonic::FPTAN: r = fpu::Tan(a, fcw); break;
        default: r = fpu::SinCos(a, fcw); break;
    }
    const bool store = MayStore(x.s, r.status);
    ApplyStatus(x.s, r.status, x.in.mnemonic == Mnemonic::FXTRACT ? st::C1 : static_cast<u16>(st::C1 | st::C2));
    if (!store || (r.status & st::C2)) return;  // C2: operand out of range, left unchanged
    SetSt(x.s, 0, r.first);
    Push(x.s, r.second);
}

void Fconst(Exec& x) {
    fpu::Constant c = fpu::Constant::Zero;
    switch (x.in.mnemonic) {
        case Mnemonic::FLD1: c = fpu::Constant::One; break;
        case Mnemonic::FLDL2T: c = fpu::Constant::Log2Ten; break;
        case Mnemonic::FLDL2E: c = fpu::Constant::Log2E; break;
        case Mnemonic::FLDPI: c = fpu::Constant::Pi; break;
        case Mnemonic::FLDLG2: c = fpu::Constant::Log10Two; break;
        case Mnemonic::FLDLN2: c = fpu::Constant::LnTwo; break;
        default: break;
    }
    PushWithCheck(x, fpu::LoadConstant(c, Fcw(x)), 0);
}

void Fxch(Exec& x) {
    const unsigned i = x.op(0).reg;
    if (IsEmpty(x.s, 0) || IsEmpty(x.s, i)) {
        if (!StackFault(x.s, false)) return;
        if (IsEmpty(x.s, 0)) SetSt(x.s, 0, kIndefinite);
        if (IsEmpty(x.s, i)) SetSt(x.s, i, kIndefinite);
    } else {
        ApplyStatus(x.s, 0);
    }
    const Float80 a = St(x.s, 0);
    const Float80 b = St(x.s, i);
    SetSt(x.s, 0, b);
    SetSt(x.s, i, a);
}

namespace {
bool Condition(const CpuState& s, unsigned cc) {
    const bool cf = s.rflags & rflags::CF, zf = s.rflags & rflags::ZF, pf = s.rflags & rflags::PF;
    bool r = false;
    switch (cc & 0xE) {
        case 0x2: r = cf; break;
        case 0x4: r = zf; break;
        case 0x6: r = cf || zf; break;
        default: r = pf; break;  // 0xA: unordered
    }
    return (cc & 1) ? !r : r;
}
}  // namespace

void Fcmov(Exec& x) {
    const unsigned i = x.op(1).reg;
    if (IsEmpty(x.s, 0) || IsEmpty(x.s, i)) {
        if (StackFault(x.s, false)) SetSt(x.s, 0, kIndefinite);
        return;
    }
    // DA /0-/3: B E BE U; DB /0-/3: the negations (condition-code numbering as in Jcc).
    static constexpr u8 kBase[4] = {0x2, 0x4, 0x6, 0xA};
    const unsigned cc = kBase[(x.in.imm >> 3) & 3] | (x.in.opcode_low == 3 ? 1u : 0u);
    if (Condition(x.s, cc)) SetSt(x.s, 0, St(x.s, i));
}

void Ffree(Exec& x) {
    ApplyStatus(x.s, 0);  // C1 cleared (host behaviour)
    SetTagPhys(x.s, Phys(x.s, x.op(0).reg), 3);
    if (x.in.mnemonic == Mnemonic::FFREEP) Pop(x.s);
}

void Fstp(Exec& x) {
    SetTop(x.s, Top(x.s) + (x.in.mnemonic == Mnemonic::FINCSTP ? 1 : 7));
    x.s.x87.fsw &= static_cast<u16>(~st::C1);
}

void Fnop(Exec&) {}

}  // namespace emu::cpu::simd
