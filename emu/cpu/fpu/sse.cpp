// SSE scalar helpers on top of the soft-float core. NaN rules: SDM Vol. 1 Table 4-7 (the first source's NaN
// wins, SNaNs are quieted); invalid results are the QNaN floating-point indefinite; DAZ zeroes denormal sources
// before anything else looks at them.
#include "emu/cpu/fpu/sse.h"

#include "emu/cpu/fpu/ieee.h"

namespace emu::cpu::fpu::sse {

namespace {

using core::Kind;

template <typename T>
ieee::Operand Load(T bits, u32 csr) {
    ieee::Operand o = ieee::Unpack(bits);
    if (o.denormal && (csr & mxcsr::DAZ)) {
        o.kind = Kind::Zero;
        o.denormal = false;
        o.u = {o.u.sign, 0, 0};
    }
    return o;
}

core::RoundOptions Options(u32 csr) {
    core::RoundOptions o;
    o.rc = mxcsr::Rc(csr);
    o.oe_unmasked = !(csr & (u32{status::OE} << mxcsr::kMaskShift));
    o.ue_unmasked = !(csr & (u32{status::UE} << mxcsr::kMaskShift));
    o.ftz = (csr & mxcsr::FTZ) != 0;
    return o;
}

template <typename T>
SseResult<T> Finish(const core::Wide& w, u32 csr, u32 flags) {
    const core::Rounded r = core::Round(w, ieee::Traits<T>::kFormat, Options(csr));
    return {ieee::Pack<T>(r), flags | (r.status & status::kExceptions)};
}

template <typename T>
constexpr SseResult<T> Invalid() {
    return {ieee::kDefaultNaN<T>, status::IE};
}

u32 DenormalFlags(const ieee::Operand& a, const ieee::Operand& b) {
    return (a.denormal || b.denormal) ? status::DE : 0;
}

// Unpacked operands of a two-source operation, or its result when a NaN decides it.
template <typename T>
struct Sources {
    ieee::Operand a, b;
    bool decided = false;
    SseResult<T> result{};
};

template <typename T>
Sources<T> LoadSources(T a, T b, u32 csr) {
    Sources<T> s{Load(a, csr), Load(b, csr)};
    const bool a_nan = core::IsNaN(s.a.kind), b_nan = core::IsNaN(s.b.kind);
    if (a_nan || b_nan) {
        s.decided = true;
        const u32 ie = (s.a.kind == Kind::SNaN || s.b.kind == Kind::SNaN) ? status::IE : 0;
        s.result = {(a_nan ? a : b) | ieee::kQuietBit<T>, ie};  // a NaN source suppresses DE
    }
    return s;
}

template <typename T>
SseResult<T> AddSigned(T fa, T fb, bool negate, u32 csr) {
    Sources<T> s = LoadSources(fa, fb, csr);
    if (s.decided) return s.result;
    s.b.u.sign ^= negate;
    const u32 de = DenormalFlags(s.a, s.b);
    if (s.a.kind == Kind::Inf || s.b.kind == Kind::Inf) {
        if (s.a.kind == s.b.kind && s.a.u.sign != s.b.u.sign) return Invalid<T>();
        return {ieee::Infinity<T>(s.a.kind == Kind::Inf ? s.a.u.sign : s.b.u.sign), de};
    }
    return Finish<T>(core::Add(s.a.u, s.b.u, mxcsr::Rc(csr)), csr, de);
}

}  // namespace

template <typename T>
SseResult<T> Add(T a, T b, u32 csr) {
    return AddSigned(a, b, false, csr);
}

template <typename T>
SseResult<T> Sub(T a, T b, u32 csr) {
    return AddSigned(a, b, true, csr);
}

template <typename T>
SseResult<T> Mul(T fa, T fb, u32 csr) {
    const Sources<T> s = LoadSources(fa, fb, csr);
    if (s.decided) return s.result;
    const u32 de = DenormalFlags(s.a, s.b);
    const bool sign = s.a.u.sign != s.b.u.sign;
    if (s.a.kind == Kind::Inf || s.b.kind == Kind::Inf) {
        if (s.a.kind == Kind::Zero || s.b.kind == Kind::Zero) return Invalid<T>();
        return {ieee::Infinity<T>(sign), de};
    }
    return Finish<T>(core::Mul(s.a.u, s.b.u), csr, de);
}

template <typename T>
SseResult<T> Div(T fa, T fb, u32 csr) {
    const Sources<T> s = LoadSources(fa, fb, csr);
    if (s.decided) return s.result;
    const u32 de = DenormalFlags(s.a, s.b);
    const bool sign = s.a.u.sign != s.b.u.sign;
    if (s.a.kind == Kind::Inf) {
        if (s.b.kind == Kind::Inf) return Invalid<T>();
        return {ieee::Infinity<T>(sign), de};
    }
    if (s.b.kind == Kind::Inf) return {ieee::Zero<T>(sign), de};
    if (s.b.kind == Kind::Zero) {
        if (s.a.kind == Kind::Zero) return Invalid<T>();
        return {ieee::Infinity<T>(sign), status::ZE};  // divide-by-zero suppresses DE
    }
    return Finish<T>(core::Div(s.a.u, s.b.u), csr, de);
}

template <typename T>
SseResult<T> Sqrt(T fa, u32 csr) {
    const ieee::Operand a = Load(fa, csr);
    if (core::IsNaN(a.kind)) return {fa | ieee::kQuietBit<T>, a.kind == Kind::SNaN ? status::IE : 0u};
    const u32 de = a.denormal ? status::DE : 0;
    if (a.kind == Kind::Zero) return {ieee::Zero<T>(a.u.sign), de};
    if (a.u.sign) return Invalid<T>();
    if (a.kind == Kind::Inf) return {fa, 0};
    return Finish<T>(core::Sqrt(a.u), csr, de);
}

namespace {

template <typename T>
SseResult<T> MinMax(T fa, T fb, bool is_max, u32 csr) {
    const ieee::Operand a = Load(fa, csr), b = Load(fb, csr);
    // The chosen source is returned as read, i.e. after DAZ.
    const auto as_read = [](const ieee::Operand& o, T bits) {
        return o.kind == Kind::Zero ? ieee::Zero<T>(o.u.sign) : bits;
    };
    if (core::IsNaN(a.kind) || core::IsNaN(b.kind)) return {as_read(b, fb), status::IE};
    const int cmp = core::CompareValues(a.kind, a.u, b.kind, b.u);
    const bool pick_a = is_max ? cmp > 0 : cmp < 0;
    return {pick_a ? as_read(a, fa) : as_read(b, fb), DenormalFlags(a, b)};
}

}  // namespace

template <typename T>
SseResult<T> Min(T a, T b, u32 csr) {
    return MinMax(a, b, false, csr);
}

template <typename T>
SseResult<T> Max(T a, T b, u32 csr) {
    return MinMax(a, b, true, csr);
}

template <typename T>
SseResult<T> Compare(T fa, T fb, unsigned predicate, u32 csr) {
    const ieee::Operand a = Load(fa, csr), b = Load(fb, csr);
    const bool unordered = core::IsNaN(a.kind) || core::IsNaN(b.kind);
    const u32 de = unordered ? 0 : DenormalFlags(a, b);
    const bool snan = a.kind == Kind::SNaN || b.kind == Kind::SNaN;
    // LT, LE, NLT and NLE are the signalling predicates: any NaN is invalid for them.
    const unsigned p = predicate & 7;
    const bool signalling = p == 1 || p == 2 || p == 5 || p == 6;
    const u32 ie = (snan || (unordered && signalling)) ? status::IE : 0;
    bool lt = false, eq = false;
    if (!unordered) {
        const int cmp = core::CompareValues(a.kind, a.u, b.kind, b.u);
        lt = cmp < 0;
        eq = cmp == 0;
    }
    bool truth = false;
    switch (p) {
        case 0: truth = !unordered && eq; break;
        case 1: truth = !unordered && lt; break;
        case 2: truth = !unordered && (lt || eq); break;
        case 3: truth = unordered; break;
        case 4: truth = unordered || !eq; break;
        case 5: truth = unordered || !lt; break;
        case 6: truth = unordered || !(lt || eq); break;
        default: truth = !unordered; break;
    }
    return {truth ? ~T{0} : T{0}, ie | de};
}

template <typename T>
SseResult<u32> CompareFlags(T fa, T fb, bool quiet, u32 csr) {
    constexpr u32 kCf = 1u << 0, kPf = 1u << 2, kZf = 1u << 6;
    const ieee::Operand a = Load(fa, csr), b = Load(fb, csr);
    const u32 de = DenormalFlags(a, b);
    if (core::IsNaN(a.kind) || core::IsNaN(b.kind)) {
        const bool signal = !quiet || a.kind == Kind::SNaN || b.kind == Kind::SNaN;
        return {kZf | kPf | kCf, signal ? status::IE : 0u};
    }
    const int cmp = core::CompareValues(a.kind, a.u, b.kind, b.u);
    return {cmp == 0 ? kZf : cmp < 0 ? kCf : 0u, de};
}

template <typename T>
SseResult<T> FromInt(i64 value, u32 csr) {
    const bool sign = value < 0;
    const u64 magnitude = sign ? u64{0} - static_cast<u64>(value) : static_cast<u64>(value);
    if (magnitude == 0) return {0, 0};
    return Finish<T>(core::ToWide(core::FromInteger(sign, magnitude)), csr, 0);
}

template <typename T>
SseResult<i64> ToInt(T fa, unsigned bits, bool truncate, u32 csr) {
    bits = bits == 32 ? 32 : 64;  // the only widths; anything else is treated as 64
    const i64 indefinite = static_cast<i64>(~u64{0} << (bits - 1));
    const ieee::Operand a = Load(fa, csr);
    if (a.kind == Kind::Zero) return {0, 0};
    if (a.kind != Kind::Finite) return {indefinite, status::IE};
    const core::IntegerRounding r = core::RoundToInteger(a.u, truncate ? Rounding::Zero : mxcsr::Rc(csr));
    const u64 limit = (u64{1} << (bits - 1)) - (a.u.sign ? 0 : 1);
    if (r.overflow || r.magnitude > limit) return {indefinite, status::IE};
    const i64 value = a.u.sign ? static_cast<i64>(u64{0} - r.magnitude) : static_cast<i64>(r.magnitude);
    return {value, r.inexact ? status::PE : 0u};
}

namespace {

template <typename To, typename From>
SseResult<To> ConvertFloat(From fa, u32 csr) {
    const ieee::Operand a = Load(fa, csr);
    switch (a.kind) {
        case Kind::QNaN:
        case Kind::SNaN:
            return {ieee::NaNFromPayload<To>(a.u.sign, ieee::PayloadOf(fa)), a.kind == Kind::SNaN ? status::IE : 0u};
        case Kind::Inf: return {ieee::Infinity<To>(a.u.sign), 0};
        case Kind::Zero: return {ieee::Zero<To>(a.u.sign), 0};
        default: return Finish<To>(core::ToWide(a.u), csr, a.denormal ? status::DE : 0u);
    }
}

}  // namespace

SseResult<u64> Float32ToFloat64(u32 a, u32 csr) { return ConvertFloat<u64>(a, csr); }
SseResult<u32> Float64ToFloat32(u64 a, u32 csr) { return ConvertFloat<u32>(a, csr); }

template <typename T>
SseResult<T> RoundToIntegral(T fa, u8 imm, u32 csr) {
    const ieee::Operand a = Load(fa, csr);
    if (core::IsNaN(a.kind)) return {fa | ieee::kQuietBit<T>, a.kind == Kind::SNaN ? status::IE : 0u};
    if (a.kind == Kind::Zero) return {ieee::Zero<T>(a.u.sign), 0};
    if (a.kind == Kind::Inf || a.u.exp >= static_cast<i32>(ieee::Traits<T>::kFracBits)) return {fa, 0};
    const Rounding rc = (imm & 4) ? mxcsr::Rc(csr) : static_cast<Rounding>(imm & 3);
    const core::IntegerRounding r = core::RoundToInteger(a.u, rc);
    const u32 pe = (r.inexact && !(imm & 8)) ? status::PE : 0u;
    if (r.magnitude == 0) return {ieee::Zero<T>(a.u.sign), pe};
    const core::Rounded exact =
        core::Round(core::ToWide(core::FromInteger(a.u.sign, r.magnitude)), ieee::Traits<T>::kFormat, {});
    return {ieee::Pack<T>(exact), pe};
}

// The two formats the SSE instructions use.
template SseResult<u32> Add(u32, u32, u32);
template SseResult<u64> Add(u64, u64, u32);
template SseResult<u32> Sub(u32, u32, u32);
template SseResult<u64> Sub(u64, u64, u32);
template SseResult<u32> Mul(u32, u32, u32);
template SseResult<u64> Mul(u64, u64, u32);
template SseResult<u32> Div(u32, u32, u32);
template SseResult<u64> Div(u64, u64, u32);
template SseResult<u32> Sqrt(u32, u32);
template SseResult<u64> Sqrt(u64, u32);
template SseResult<u32> Min(u32, u32, u32);
template SseResult<u64> Min(u64, u64, u32);
template SseResult<u32> Max(u32, u32, u32);
template SseResult<u64> Max(u64, u64, u32);
template SseResult<u32> Compare(u32, u32, unsigned, u32);
template SseResult<u64> Compare(u64, u64, unsigned, u32);
template SseResult<u32> CompareFlags(u32, u32, bool, u32);
template SseResult<u32> CompareFlags(u64, u64, bool, u32);
template SseResult<u32> FromInt<u32>(i64, u32);
template SseResult<u64> FromInt<u64>(i64, u32);
template SseResult<i64> ToInt(u32, unsigned, bool, u32);
template SseResult<i64> ToInt(u64, unsigned, bool, u32);
template SseResult<u32> RoundToIntegral(u32, u8, u32);
template SseResult<u64> RoundToIntegral(u64, u8, u32);

}  // namespace emu::cpu::fpu::sse
