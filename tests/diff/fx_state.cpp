#include "tests/diff/fx_state.h"

#include <cstring>

namespace emu::diff {

namespace {
template <typename T>
T Get(const std::array<u8, kFxSize>& image, unsigned offset) {
    T v;
    std::memcpy(&v, image.data() + offset, sizeof(T));
    return v;
}
template <typename T>
void Put(std::array<u8, kFxSize>& image, unsigned offset, T v) {
    std::memcpy(image.data() + offset, &v, sizeof(T));
}
unsigned TopOf(u16 fsw) { return (fsw >> 11) & 7; }
}  // namespace

unsigned TagFromValue(const cpu::Float80& v) {
    const unsigned exponent = v.sign_exponent & 0x7FFF;
    const bool integer_bit = v.significand >> 63;
    if (exponent == 0x7FFF) return 2;
    if (exponent == 0) return v.significand == 0 ? 1 : 2;
    return integer_bit ? 0 : 2;  // unnormals are special
}

void LoadFx(const std::array<u8, kFxSize>& image, cpu::CpuState& state) {
    cpu::X87State& x = state.x87;
    x.fcw = Get<u16>(image, fx::kFcw);
    x.fsw = Get<u16>(image, fx::kFsw);
    x.fop = Get<u16>(image, fx::kFop) & 0x7FF;
    x.fip = Get<u64>(image, fx::kFip);
    x.fdp = Get<u64>(image, fx::kFdp);
    x.fcs = x.fds = 0;
    const unsigned top = TopOf(x.fsw);
    const u8 abridged = image[fx::kFtw];
    u16 ftw = 0;
    for (unsigned i = 0; i < 8; ++i) {
        const unsigned phys = (top + i) & 7;
        cpu::Float80& r = x.st[phys];
        r.significand = Get<u64>(image, fx::kSt + 16 * i);
        r.sign_exponent = Get<u16>(image, fx::kSt + 16 * i + 8);
        const unsigned tag = (abridged >> phys) & 1 ? TagFromValue(r) : 3;
        ftw = static_cast<u16>(ftw | tag << (2 * phys));
    }
    x.ftw = ftw;
    state.mxcsr = Get<u32>(image, fx::kMxcsr);
    for (unsigned i = 0; i < 16; ++i) std::memcpy(state.xmm[i].b, image.data() + fx::kXmm + 16 * i, 16);
}

void StoreFx(const cpu::CpuState& state, std::array<u8, kFxSize>& image) {
    image.fill(0);
    const cpu::X87State& x = state.x87;
    Put<u16>(image, fx::kFcw, x.fcw);
    Put<u16>(image, fx::kFsw, x.fsw);
    u8 abridged = 0;
    for (unsigned phys = 0; phys < 8; ++phys)
        if (((x.ftw >> (2 * phys)) & 3) != 3) abridged = static_cast<u8>(abridged | 1u << phys);
    image[fx::kFtw] = abridged;
    Put<u16>(image, fx::kFop, x.fop);
    Put<u64>(image, fx::kFip, x.fip);
    Put<u64>(image, fx::kFdp, x.fdp);
    Put<u32>(image, fx::kMxcsr, state.mxcsr);
    const unsigned top = TopOf(x.fsw);
    for (unsigned i = 0; i < 8; ++i) {
        const cpu::Float80& r = x.st[(top + i) & 7];
        Put<u64>(image, fx::kSt + 16 * i, r.significand);
        Put<u16>(image, fx::kSt + 16 * i + 8, r.sign_exponent);
    }
    for (unsigned i = 0; i < 16; ++i) std::memcpy(image.data() + fx::kXmm + 16 * i, state.xmm[i].b, 16);
}

}  // namespace emu::diff
