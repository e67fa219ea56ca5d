#pragma once
// IEEE binary32/binary64 encodings (x87 FLD/FST m32fp/m64fp and every SSE operation). Internal to emu/cpu/fpu.
#include "emu/cpu/fpu/core.h"

namespace emu::cpu::fpu::ieee {

template <typename T>
struct Traits;
template <>
struct Traits<u32> {
    static constexpr u32 kFracBits = 23;
    static constexpr core::Format kFormat = core::kSingle;
};
template <>
struct Traits<u64> {
    static constexpr u32 kFracBits = 52;
    static constexpr core::Format kFormat = core::kDouble;
};

template <typename T>
inline constexpr u32 kBits = sizeof(T) * 8;
template <typename T>
inline constexpr u32 kExpBits = kBits<T> - 1 - Traits<T>::kFracBits;
template <typename T>
inline constexpr T kExpMax = (T{1} << kExpBits<T>)-1;
template <typename T>
inline constexpr T kFracMask = (T{1} << Traits<T>::kFracBits) - 1;
template <typename T>
inline constexpr T kSignBit = T{1} << (kBits<T> - 1);
template <typename T>
inline constexpr T kQuietBit = T{1} << (Traits<T>::kFracBits - 1);
template <typename T>
inline constexpr i32 kBias = (1 << (kExpBits<T> - 1)) - 1;
// The x86 "QNaN floating-point indefinite": sign set, quiet bit set, zero payload.
template <typename T>
inline constexpr T kDefaultNaN = kSignBit<T> | (kExpMax<T> << Traits<T>::kFracBits) | kQuietBit<T>;

struct Operand {
    core::Kind kind = core::Kind::Zero;
    bool denormal = false;
    core::Unpacked u;  // sign always valid; exp/sig for Finite
};

template <typename T>
constexpr Operand Unpack(T bits) {
    Operand o;
    o.u.sign = (bits & kSignBit<T>) != 0;
    const T exp = (bits >> Traits<T>::kFracBits) & kExpMax<T>;
    const T frac = bits & kFracMask<T>;
    if (exp == kExpMax<T>) {
        o.kind = frac == 0 ? core::Kind::Inf : (frac & kQuietBit<T>) ? core::Kind::QNaN : core::Kind::SNaN;
        return o;
    }
    if (exp == 0 && frac == 0) return o;
    o.kind = core::Kind::Finite;
    o.denormal = exp == 0;
    const u64 sig = (u64{frac} << (63 - Traits<T>::kFracBits)) | (exp ? u64{1} << 63 : 0);
    const int lz = std::countl_zero(sig);
    o.u.exp = (exp ? static_cast<i32>(exp) : 1) - kBias<T> - lz;
    o.u.sig = sig << lz;
    return o;
}

template <typename T>
constexpr T Pack(const core::Rounded& r) {
    const T sign = r.sign ? kSignBit<T> : 0;
    if (r.inf) return sign | (kExpMax<T> << Traits<T>::kFracBits);
    if (r.sig == 0) return sign;
    const T frac = static_cast<T>(r.sig >> (63 - Traits<T>::kFracBits)) & kFracMask<T>;
    const T exp = (r.sig >> 63) ? static_cast<T>(r.exp + kBias<T>) : 0;
    return sign | (exp << Traits<T>::kFracBits) | frac;
}

template <typename T>
constexpr T Infinity(bool sign) {
    return (sign ? kSignBit<T> : 0) | (kExpMax<T> << Traits<T>::kFracBits);
}

template <typename T>
constexpr T Zero(bool sign) {
    return sign ? kSignBit<T> : 0;
}

// NaN payload conversion between formats keeps the top fraction bits (SDM Vol. 1 4.8.3.5); the result is quiet.
// `frac64` holds the source fraction left-aligned below an (absent) integer bit: bit 62 = quiet bit.
template <typename T>
constexpr T NaNFromPayload(bool sign, u64 frac64) {
    const T frac = static_cast<T>(frac64 >> (63 - Traits<T>::kFracBits)) & kFracMask<T>;
    return (sign ? kSignBit<T> : 0) | (kExpMax<T> << Traits<T>::kFracBits) | frac | kQuietBit<T>;
}

template <typename T>
constexpr u64 PayloadOf(T nan) {
    return (u64{nan & kFracMask<T>} << (63 - Traits<T>::kFracBits));
}

}  // namespace emu::cpu::fpu::ieee
