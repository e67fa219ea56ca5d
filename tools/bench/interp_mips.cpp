// Guest MIPS of the IR interpreter on a loop-heavy 64-bit snippet (information, not a test):
//   interp_mips [iterations]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "emu/cpu/vcpu.h"

using namespace emu;
using namespace emu::cpu;

namespace {

class FlatMemory : public MemoryInterface {
public:
    std::vector<u8> bytes = std::vector<u8>(1 << 20);
    bool Read(const CpuState&, u64 a, void* d, unsigned n, MemAccess, bool, MemFault* f) override {
        if (a + n > bytes.size()) return Fail(a, f);
        std::memcpy(d, bytes.data() + a, n);
        return true;
    }
    bool Write(const CpuState&, u64 a, const void* s, unsigned n, bool, MemFault* f) override {
        if (a + n > bytes.size()) return Fail(a, f);
        std::memcpy(bytes.data() + a, s, n);
        return true;
    }
    u32 PortIn(u16, unsigned) override { return ~u32{0}; }
    void PortOut(u16, unsigned, u32) override {}

private:
    static bool Fail(u64 a, MemFault* f) {
        *f = MemFault{14, 0, a};
        return false;
    }
};

// A checksum loop over a 4 KiB buffer: loads, ALU ops with flags, a shift, a store, compare and branch.
constexpr u8 kLoop[] = {
    0x31, 0xC0,                    // xor eax, eax
    0x31, 0xDB,                    // xor ebx, ebx
    // outer:
    0x31, 0xF6,                    // xor esi, esi
    // inner:
    0x8B, 0x94, 0xB7, 0x00, 0x20, 0x00, 0x00,  // mov edx, [rdi+rsi*4+0x2000]  (rdi = 0)
    0x01, 0xD0,                    // add eax, edx
    0xC1, 0xC0, 0x05,              // rol eax, 5
    0x31, 0xD0,                    // xor eax, edx
    0x89, 0x84, 0xB7, 0x00, 0x30, 0x00, 0x00,  // mov [rdi+rsi*4+0x3000], eax
    0x48, 0xFF, 0xC6,              // inc rsi
    0x48, 0x81, 0xFE, 0x00, 0x04, 0x00, 0x00,  // cmp rsi, 1024
    0x75, 0xDF,                    // jne inner
    0xFF, 0xC3,                    // inc ebx
    0x39, 0xCB,                    // cmp ebx, ecx
    0x72, 0xD7,                    // jb outer
    0xF4,                          // hlt
};

}  // namespace

int main(int argc, char** argv) {
    const u64 iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 200;
    FlatMemory memory;
    std::memcpy(memory.bytes.data() + 0x1000, kLoop, sizeof kLoop);
    for (u32 i = 0; i < 1024; ++i) {  // the input buffer at 0x2000: a fixed pseudo-random pattern
        const u32 v = i * 2654435761u;
        std::memcpy(memory.bytes.data() + 0x2000 + 4 * i, &v, 4);
    }
    Vcpu vcpu(memory);
    CpuState& s = vcpu.state();
    s.cr0 = cr0::PE | cr0::PG;
    s.efer = efer::LME | efer::LMA;
    s.segment(SegReg::Cs).attr = 0x9B | (1u << 13);
    s.idtr.limit = 0;
    s.rip = 0x1000;
    s.reg(Gpr::Rsp) = 0x8000;
    s.reg(Gpr::Rcx) = iterations;
    const auto start = std::chrono::steady_clock::now();
    const RunResult r = vcpu.Run();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.reason != StopReason::Halted) {
        std::fprintf(stderr, "interp_mips: the loop did not halt (reason %d)\n", static_cast<int>(r.reason));
        return 1;
    }
    std::printf("%llu guest instructions in %.3f s: %.1f MIPS (checksum %#llx)\n",
                static_cast<unsigned long long>(r.instructions), seconds, r.instructions / seconds / 1e6,
                static_cast<unsigned long long>(s.reg(Gpr::Rax)));
    return 0;
}
