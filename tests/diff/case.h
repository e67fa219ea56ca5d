#pragma once
// The data shared by both sides of the differential tester: one test case's input (code bytes, registers,
// flags, memory patches) and one machine's outcome (registers, flags, end RIP or exception, changed memory).
// Both the native runner and the emulator runner fill the same CaseResult so one comparison serves both.
#include <array>
#include <span>

#include "emu/common/types.h"

namespace emu::diff {

// Fixed linear addresses, identical in the native child and in the emulator's flat memory. The code page
// is the first page of kCodeBase; the native runner's control block lives in the page after it (the
// emulator does not map that page, and the generator never addresses it).
inline constexpr u64 kCodeBase = 0x10000000;
inline constexpr u64 kCodeSize = 0x1000;
inline constexpr u64 kDataBase = 0x20000000;
inline constexpr u64 kDataSize = 0x10000;
// The 64 KiB after the data area stay unmapped on both sides: accesses there raise #PF.
inline constexpr u64 kGuardBase = kDataBase + kDataSize;
inline constexpr u64 kGuardSize = 0x10000;

inline constexpr unsigned kMaxCodeBytes = 160;  // the snippet, without the native exit jump or the HLT
inline constexpr unsigned kMaxPatches = 4;
inline constexpr unsigned kPatchBytes = 16;
inline constexpr unsigned kMaxChanges = 4096;  // several 512-byte FXSAVE images fit

// The x87/MMX/SSE state travels as an FXSAVE64 image (SDM Vol. 1 Table 10-2): the native side loads it with
// FXRSTOR64 before the snippet and stores it with FXSAVE64 after (or takes it from the signal frame, which
// holds the same layout); the emulator side converts it to and from its CpuState fields (fx_state.h).
inline constexpr unsigned kFxSize = 512;
namespace fx {
inline constexpr unsigned kFcw = 0, kFsw = 2, kFtw = 4, kFop = 6, kFip = 8, kFdp = 16, kMxcsr = 24,
                          kMxcsrMask = 28, kSt = 32, kXmm = 160;
}  // namespace fx

// Bytes written into the data area before the case runs (on top of the pristine pattern).
struct MemPatch {
    u16 offset = 0;  // from kDataBase
    u8 length = 0;   // 1..kPatchBytes
    std::array<u8, kPatchBytes> bytes{};
};

// Gpr numbering, as in reports.
inline constexpr const char* kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                              "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

struct CaseInput {
    std::array<u64, 16> gpr{};  // Gpr numbering (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15)
    u64 rflags = 0x202;
    u8 code_length = 0;
    std::array<u8, kMaxCodeBytes> code{};
    u8 num_patches = 0;
    std::array<MemPatch, kMaxPatches> patches{};
    alignas(16) std::array<u8, kFxSize> fx{};  // x87/SSE state before the snippet (FXSAVE64 layout)

    std::span<const u8> Code() const { return {code.data(), code_length}; }
};

// A byte of the data area that differs from the pristine pattern after the case.
struct MemChange {
    u16 offset = 0;
    u8 value = 0;
    u8 pad = 0;
    friend bool operator==(const MemChange&, const MemChange&) = default;
};

enum class Outcome : u8 {
    Completed,   // ran to the end of the snippet
    Exception,   // stopped at an exception: vector, error_code, cr2 and rip describe it
    Timeout,     // native: the child hung; emulator: the instruction limit was hit
    Crashed,     // native: the child died outside the snippet (a tester bug); emulator: an unexpected stop
};

struct CaseResult {
    Outcome outcome = Outcome::Crashed;
    u8 vector = 0;
    u32 error_code = 0;
    u64 cr2 = 0;
    std::array<u64, 16> gpr{};
    u64 rflags = 0;
    u64 rip = 0;  // kCodeBase + code_length when Completed; the faulting instruction otherwise
    u16 num_changes = 0;
    bool changes_overflow = false;  // more than kMaxChanges bytes changed; only the first ones are listed
    std::array<MemChange, kMaxChanges> changes{};
    u64 changes_hash = 0;  // of every change, listed or not: lets two emulator runs compare all of memory
    alignas(16) std::array<u8, kFxSize> fx{};  // x87/SSE state at the end or at the fault (FXSAVE64 layout)
};

// Fills the data area's pristine pattern from a seed (both sides use the same pattern).
void FillPristine(u64 seed, std::span<u8> data);

// Writes the case's patches over `data` (which holds the pristine pattern).
void ApplyPatches(const CaseInput& input, std::span<u8> data);

// Lists in `result` every byte where `data` differs from `pristine`, then copies the pristine bytes back
// so `data` is ready for the next case.
void CollectChangesAndRestore(std::span<u8> data, std::span<const u8> pristine, CaseResult& result);

}  // namespace emu::diff
