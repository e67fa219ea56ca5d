#pragma once
// Runs one instruction natively on the host (x86-64 Linux) from a given FXSAVE image, GPRs, flags and data
// buffer, and captures the same afterwards: the oracle of simd_test.cpp. A fault in the instruction (SIGFPE for
// #MF/#XM, SIGSEGV/SIGBUS for #GP, SIGILL for #UD) is caught and execution resumes after it, so the captured
// state is the state at the fault.
#include <array>
#include <span>

#include "emu/common/types.h"

namespace emu::cpu::test {

struct alignas(64) NativeState {
    std::array<u8, 512> fx{};          // FXSAVE64 image
    std::array<u64, 6> gpr{};          // RAX RCX RDX RBX RSI RDI (RSI/RDI hold data addresses)
    u64 rflags = 0x202;
};

// Result of one native run: the state after it and the signal (0 = none).
struct NativeResult {
    NativeState state;
    int signal = 0;
};

class NativeRunner {
public:
    NativeRunner();
    ~NativeRunner();
    NativeRunner(const NativeRunner&) = delete;
    NativeRunner& operator=(const NativeRunner&) = delete;

    // Runs `code` (one instruction) with `in`; RSI/RDI in `in` must point into data().
    NativeResult Run(std::span<const u8> code, const NativeState& in);
    // Host address of the instruction (FIP) and of the data buffer (FDP, RSI/RDI).
    u64 code_address() const { return reinterpret_cast<u64>(code_); }
    u8* data() { return data_; }
    static constexpr unsigned kDataSize = 1024;

private:
    u8* code_ = nullptr;
    u8* data_ = nullptr;
};

}  // namespace emu::cpu::test
