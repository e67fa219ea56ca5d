#pragma once
// Internal to emu/cpu/simd: the execution context each op function receives, operand access, the x87
// register stack, and the per-class fault checks. Op functions return nothing; they stop early when a
// fault has been recorded (x.failed()).
#include <cstring>

#include "emu/cpu/fpu/fpu_types.h"
#include "emu/cpu/simd/simd.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::simd {

// Operand vector of up to 16 bytes with typed lanes.
struct Vec {
    alignas(16) u8 b[16] = {};

    template <typename T>
    T Get(unsigned i) const {
        T v;
        std::memcpy(&v, b + i * sizeof(T), sizeof(T));
        return v;
    }
    template <typename T>
    void Set(unsigned i, T v) {
        std::memcpy(b + i * sizeof(T), &v, sizeof(T));
    }
    u64 Q(unsigned i) const { return Get<u64>(i); }
};

struct Exec {
    ir::HelperEnv& env;
    CpuState& s;
    SimdInsn in;
    u64 linear = 0;
    u64 rip = 0;
    // An MMX register is involved: the x87-to-MMX transition is due once the operands have been read.
    bool mmx = false;

    bool failed() const { return env.fault.has_value(); }
    void Raise(u8 vector, u32 error_code = 0) { env.Raise(vector, error_code); }

    const OperandDesc& op(unsigned i) const { return in.op[i]; }
    bool IsMem(unsigned i) const { return in.op[i].type == OperandType::Mem; }
    bool IsReg(unsigned i) const { return in.op[i].type == OperandType::Reg; }
    // Width of the vector registers involved: 8 for MMX forms, 16 for XMM forms.
    unsigned width() const;

    // Reads operand i: a register's whole value (XMM 16 bytes, MMX 8, GPR at its size) or `size` bytes of
    // memory (zero-extended). `align` > 0 checks the memory alignment (#GP(0)). False after a fault.
    bool Load(unsigned i, Vec* out, unsigned align = 0);
    // Raises #GP(0)/#SS(0) unless [linear + offset, + size) is canonical (64-bit mode).
    bool Canonical(u64 offset, unsigned size);
    // Checks that [linear + offset, + size) (at most 16 bytes) could be written, raising the #PF/#GP a store
    // would, without writing: x87 stores whose unmasked exception suppresses the store still fault on the
    // address first (host behaviour: the store's translation precedes the x87 exception).
    bool ProbeWrite(u64 offset, unsigned size);
    // Reads `size` bytes of memory at linear + offset; MemAccess::Write checks write permission (the read half of
    // a read-modify-write: a fault reports a write).
    bool LoadMem(u64 offset, void* dst, unsigned size, MemAccess access = MemAccess::Read);
    bool StoreMem(u64 offset, const void* src, unsigned size);
    // Writes operand i: XMM (16 bytes), MMX (8 bytes, with the x87 tag/TOP effects), GPR (at its size: 4
    // zero-extends) or memory (`size` bytes).
    bool Store(unsigned i, const Vec& v, unsigned align = 0);
    // Full-width alignment rule of legacy SSE: a 16-byte memory operand must be 16-byte aligned.
    unsigned AlignOf(unsigned i) const;

    Vec Xmm(unsigned reg) const;
    void SetXmm(unsigned reg, const Vec& v);
    u64 Gpr(unsigned reg) const { return s.gpr[reg & 15]; }

    // MXCSR: ORs `flags` (already filtered by fpu::sse::ReportedFlags) into MXCSR; raises #XM (CR4.OSXMMEXCPT)
    // or #UD when one is unmasked. Returns false when the destination must not be written.
    bool SseFlags(u32 flags);
    // Performs the x87-to-MMX transition (TOP = 0, all tags valid) when one is due.
    void MmxTransition();
};

// --- x87 register stack (x87_stack.cpp)
namespace x87 {
inline constexpr u16 kSf = 1u << 6, kEs = 1u << 7, kBusy = 1u << 15;
inline constexpr Float80 kIndefinite{0xC000000000000000ull, 0xFFFF};
unsigned Top(const CpuState& s);
void SetTop(CpuState& s, unsigned top);
unsigned Phys(const CpuState& s, unsigned i);
bool IsEmpty(const CpuState& s, unsigned i);
Float80& St(CpuState& s, unsigned i);
// Writes ST(i) and sets its tag from the value.
void SetSt(CpuState& s, unsigned i, const Float80& v);
void SetTagPhys(CpuState& s, unsigned phys, unsigned tag);
unsigned TagOf(const Float80& v);
void Pop(CpuState& s);
// Decrements TOP and writes the new ST(0).
void Push(CpuState& s, const Float80& v);
// Merges a helper result: sticky exception flags, the condition bits the instruction defines (`defined`; the
// others keep their value, as the hardware leaves "undefined" ones) replaced, ES/B when an exception is unmasked.
void ApplyStatus(CpuState& s, u16 status, u16 defined = fpu::status::C1);
// True when every flagged exception of `status` that prevents the store (IE, DE, ZE) is masked.
bool MayStore(const CpuState& s, u16 status);
// Stack underflow/overflow: IE | SF with C1 = overflow. Returns true when masked (the caller then stores
// the indefinite as the hardware does).
bool StackFault(CpuState& s, bool overflow);
// The abridged (FXSAVE) tag byte of the full tag word and back.
u8 AbridgedTag(u16 ftw);
u16 FullTag(const CpuState& s, u8 abridged);
// FCW as loaded by FLDCW/FLDENV/FRSTOR/FXRSTOR: reserved bits 7 and 13-15 read as 0, bit 6 as 1 (host behaviour).
constexpr u16 SanitizeFcw(u16 cw) { return static_cast<u16>((cw & 0x1F3F) | 0x40); }
// Records FIP/FCS/FOP and, for a memory operand, FDP/FDS.
void UpdatePointers(Exec& x);
// The effective address (offset in its segment) of the memory operand.
u64 EffectiveAddress(const Exec& x);
}  // namespace x87

// The op functions, one per mnemonic (ops.inc names each with its file).
#define SIMD_OP(name, cls, flags, fn) void fn(Exec& x);
#include "emu/cpu/simd/ops.inc"
#undef SIMD_OP

}  // namespace emu::cpu::simd
