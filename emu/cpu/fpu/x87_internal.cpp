// x87 operand classification, NaN selection and result packing.
#include "emu/cpu/fpu/x87_internal.h"

namespace emu::cpu::fpu::x87 {

Operand Classify(const Float80& f) {
    Operand o;
    o.raw = f;
    o.u.sign = (f.sign_exponent >> 15) != 0;
    const u16 exp = f.sign_exponent & kMaxExp;
    const u64 sig = f.significand;
    if (exp == kMaxExp) {
        if (!(sig & kIntegerBit))
            o.kind = Kind::Unsupported;
        else if ((sig << 1) == 0)
            o.kind = Kind::Inf;
        else
            o.kind = (sig & kQuietBit) ? Kind::QNaN : Kind::SNaN;
        return o;
    }
    if (exp != 0 && !(sig & kIntegerBit)) {
        o.kind = Kind::Unsupported;  // unnormal
        return o;
    }
    if (sig == 0) {
        o.kind = Kind::Zero;
        return o;
    }
    o.kind = Kind::Finite;
    // Denormals and pseudo-denormals both have the exponent of biased 1.
    o.denormal = exp == 0;
    const i32 e = (exp == 0 ? 1 : exp) - kBias;
    const int lz = std::countl_zero(sig);
    o.u.exp = e - lz;
    o.u.sig = sig << lz;
    return o;
}

Float80 Pack(const core::Rounded& r) {
    if (r.inf) return Infinity(r.sign);
    if (r.sig == 0) return Zero(r.sign);
    if (!(r.sig & kIntegerBit)) return MakeFloat80(r.sign, 0, r.sig);
    return MakeFloat80(r.sign, static_cast<u16>((r.exp + kBias) & kMaxExp), r.sig);
}

Float80 PackExact(const core::Unpacked& u) { return Pack(core::Round(core::ToWide(u), core::kExtended, {})); }

Early HandleNaNs(const Operand& a, const Operand& b) {
    if (a.kind == Kind::Unsupported || b.kind == Kind::Unsupported) return {true, Invalid()};
    const bool a_nan = IsNaN(a.kind), b_nan = IsNaN(b.kind);
    if (!a_nan && !b_nan) return {};
    const u16 st = (a.kind == Kind::SNaN || b.kind == Kind::SNaN) ? status::IE : 0;
    if (!b_nan) return {true, {Quiet(a.raw), st}};
    if (!a_nan) return {true, {Quiet(b.raw), st}};
    // An SNaN and a QNaN: the QNaN. Two of a kind: the larger significand; equal significands: the positive one.
    if (a.kind != b.kind) return {true, {a.kind == Kind::QNaN ? a.raw : b.raw, st}};
    const u64 sa = a.raw.significand | kQuietBit, sb = b.raw.significand | kQuietBit;
    if (sa != sb) return {true, {Quiet(sa > sb ? a.raw : b.raw), st}};
    return {true, {Quiet(a.u.sign ? b.raw : a.raw), st}};
}

Early HandleNaN(const Operand& a) {
    if (a.kind == Kind::Unsupported) return {true, Invalid()};
    if (IsNaN(a.kind)) return {true, {Quiet(a.raw), a.kind == Kind::SNaN ? status::IE : u16{0}}};
    return {};
}

core::Format PrecisionFormat(u16 fcw) {
    switch ((fcw >> fcw::kPcShift) & 3) {
        case 0: return {24, core::kExtended.emin, core::kExtended.emax};
        case 2: return {53, core::kExtended.emin, core::kExtended.emax};
        default: return core::kExtended;
    }
}

core::RoundOptions Options(u16 fcw) {
    core::RoundOptions o;
    o.rc = fcw::Rc(fcw);
    o.oe_unmasked = !(fcw & status::OE);
    o.ue_unmasked = !(fcw & status::UE);
    o.bias_adjust = 24576;
    return o;
}

X87Result RoundTo(const core::Wide& w, const core::Format& f, u16 fcw, u16 status) {
    // An unmasked pre-computation exception (here: a denormal operand) aborts the instruction before rounding.
    if (const u16 fault = status & ~fcw & status::DE) return {{}, fault};
    const core::Rounded r = core::Round(w, f, Options(fcw));
    return {Pack(r), static_cast<u16>(status | r.status)};
}

}  // namespace emu::cpu::fpu::x87
