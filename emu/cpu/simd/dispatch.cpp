// The SIMD helper: unpacks the instruction, applies the fault checks of its class (SDM Vol. 3 2.5 CR0.EM/TS,
// Vol. 1 Tables 13-1/13-2 for SSE enabling, 8.7 for x87 #MF), then runs the op function from ops.inc.
#include <array>
#include <utility>

#include "emu/common/bits.h"
#include "emu/cpu/simd/exec.h"

namespace emu::cpu::simd {
namespace {

enum class OpClass : u8 { X87, X87Ctl, X87NoWait, Vec, Sse, Mmx, Fxsr, Xsave };
constexpr u8 kUnaligned = 1;
// The CPUID extension a mnemonic belongs to, when a model may lack it (SSE and SSE2 are in every x86-64 CPU).
constexpr u8 kSse41 = 2;
constexpr u8 kSse42 = 4;
constexpr u8 kSse3 = 8;
constexpr u8 kSsse3 = 16;

struct Entry {
    OpClass cls = OpClass::X87;
    u8 flags = 0;
    void (*fn)(Exec&) = nullptr;
};

constexpr unsigned kNumMnemonics = static_cast<unsigned>(Mnemonic::Count);

constexpr std::array<Entry, kNumMnemonics> MakeTable() {
    std::array<Entry, kNumMnemonics> t{};
#define SIMD_OP(name, cls, flags, fn) t[static_cast<unsigned>(Mnemonic::name)] = Entry{OpClass::cls, flags, &fn};
#include "emu/cpu/simd/ops.inc"
#undef SIMD_OP
    return t;
}
const std::array<Entry, kNumMnemonics> kTable = MakeTable();

// --- packing: op descriptor = type 2 | class 3 | reg 4 | size code 3 bits
constexpr u8 kSizes[8] = {0, 1, 2, 4, 8, 10, 16, 0};
u64 SizeCode(u8 size) {
    for (u64 i = 0; i < 7; ++i) {
        if (kSizes[i] == size) return i;
    }
    return 0;
}
u64 PackOp(const OperandDesc& d) {
    return static_cast<u64>(d.type) | (static_cast<u64>(d.cls) << 2) | (u64{d.reg} << 5) | (SizeCode(d.size) << 9);
}
OperandDesc UnpackOp(u64 v) {
    return OperandDesc{static_cast<OperandType>(v & 3), static_cast<RegClass>((v >> 2) & 7),
                       static_cast<u8>((v >> 5) & 15), kSizes[(v >> 9) & 7]};
}
u64 BytesCode(u8 n) { return n == 2 ? 0 : n == 4 ? 1 : 2; }
u8 CodeBytes(u64 c) { return c == 0 ? 2 : c == 1 ? 4 : 8; }

bool HasClass(const Exec& x, RegClass c) {
    return (x.IsReg(0) && x.op(0).cls == c) || (x.IsReg(1) && x.op(1).cls == c);
}

// A pending unmasked x87 exception is reported at the next waiting instruction: #MF with CR0.NE = 1; with
// CR0.NE = 0 the CPU signals FERR# (the PC's IRQ13) and the instruction goes on, as with IGNNE# asserted
// (SDM Vol. 1 8.7, Vol. 3 "MS-DOS compatibility sub-mode"; QEMU does the same).
bool PendingX87(Exec& x) {
    if (!(x.s.x87.fsw & x87::kEs)) return false;
    if (!(x.s.cr0 & cr0::NE)) {
        x.env.memory.SignalFerr();
        return false;
    }
    x.Raise(vec::MF);
    return true;
}

bool CheckMmx(Exec& x) {
    if (x.s.cr0 & cr0::EM) return x.Raise(vec::UD), false;
    if (x.s.cr0 & cr0::TS) return x.Raise(vec::NM), false;
    return !PendingX87(x);
}

bool CheckSse(Exec& x) {
    if ((x.s.cr0 & cr0::EM) || !(x.s.cr4 & cr4::OSFXSR)) return x.Raise(vec::UD), false;
    if (x.s.cr0 & cr0::TS) return x.Raise(vec::NM), false;
    return true;
}

bool Check(Exec& x, OpClass cls) {
    const u64 cr0 = x.s.cr0;
    switch (cls) {
        case OpClass::X87:
        case OpClass::X87Ctl:
        case OpClass::X87NoWait:
            if (x.in.mnemonic == Mnemonic::FWAIT) {
                if ((cr0 & cr0::TS) && (cr0 & cr0::MP)) return x.Raise(vec::NM), false;
                return !PendingX87(x);
            }
            if (cr0 & (cr0::EM | cr0::TS)) return x.Raise(vec::NM), false;
            return cls == OpClass::X87NoWait || !PendingX87(x);
        case OpClass::Mmx: return CheckMmx(x);
        case OpClass::Sse: return CheckSse(x);
        case OpClass::Vec:
            if (HasClass(x, RegClass::Xmm) && !CheckSse(x)) return false;
            // CVTPI2PS/PD with a memory source touch no MMX register and make no x87 transition.
            if (HasClass(x, RegClass::Mmx) && !CheckMmx(x)) return false;
            return true;
        case OpClass::Fxsr:
            if (cr0 & (cr0::EM | cr0::TS)) return x.Raise(vec::NM), false;
            return true;
        case OpClass::Xsave:
            if (!(x.s.cr4 & cr4::OSXSAVE)) return x.Raise(vec::UD), false;
            if ((cr0 & cr0::TS) && x.in.mnemonic != Mnemonic::XGETBV && x.in.mnemonic != Mnemonic::XSETBV) {
                return x.Raise(vec::NM), false;
            }
            return true;
    }
    return true;
}

u64 Execute(ir::HelperEnv& env, u64 packed, u64 linear, u64 rip) {
    Exec x{env, env.state, SimdInsn::Unpack(packed), linear, rip};
    const unsigned m = static_cast<unsigned>(x.in.mnemonic);
    if (m >= kNumMnemonics || kTable[m].fn == nullptr) return env.Raise(vec::UD);
    const Entry& e = kTable[m];
    // DB E0/E1/E4 (FENI/FDISI/FSETPM of the 8087/287, FNOP on later FPUs) are non-waiting control instructions.
    const bool legacy_control = x.in.mnemonic == Mnemonic::FNOP && x.in.opcode_low == 3;
    const OpClass cls = legacy_control ? OpClass::X87NoWait : e.cls;
    if (!Check(x, cls)) return 0;
    // The x87-to-MMX transition follows the operand reads: a #GP/#PF prevents it, an #XM does not (host behaviour).
    x.mmx = e.cls == OpClass::Vec && HasClass(x, RegClass::Mmx);
    e.fn(x);
    if (x.failed()) return 0;
    x.MmxTransition();
    if (cls == OpClass::X87) x87::UpdatePointers(x);
    return 0;
}

}  // namespace

u64 SimdInsn::Pack() const {
    return static_cast<u64>(mnemonic) | (PackOp(op[0]) << 10) | (PackOp(op[1]) << 22) | (u64{imm} << 34) |
           (u64{opcode_low & 7u} << 42) | (u64{seg & 7u} << 45) | (BytesCode(addr_size) << 48) |
           (BytesCode(op_size) << 50) | (u64{amd} << 52);
}

SimdInsn SimdInsn::Unpack(u64 v) {
    SimdInsn in;
    in.mnemonic = static_cast<Mnemonic>(v & 0x3FF);
    in.op[0] = UnpackOp((v >> 10) & 0xFFF);
    in.op[1] = UnpackOp((v >> 22) & 0xFFF);
    in.imm = static_cast<u8>(v >> 34);
    in.opcode_low = static_cast<u8>((v >> 42) & 7);
    in.seg = static_cast<u8>((v >> 45) & 7);
    in.addr_size = CodeBytes((v >> 48) & 3);
    in.op_size = CodeBytes((v >> 50) & 3);
    in.amd = (v >> 52) & 1;
    return in;
}

static_assert(kNumMnemonics <= 1024, "SimdInsn packs the mnemonic in 10 bits");

bool Handles(Mnemonic m) {
    const unsigned i = static_cast<unsigned>(m);
    return i < kNumMnemonics && kTable[i].fn != nullptr;
}

const char* RequiredFeature(Mnemonic m) {
    if (!Handles(m)) return nullptr;
    const u8 flags = kTable[static_cast<unsigned>(m)].flags;
    constexpr std::array<std::pair<u8, const char*>, 4> kFeatures{
        {{kSse3, "sse3"}, {kSsse3, "ssse3"}, {kSse41, "sse4_1"}, {kSse42, "sse4_2"}}};
    for (const auto& [bit, name] : kFeatures) {
        if (flags & bit) return name;
    }
    return nullptr;
}

bool ImplicitDiOperand(Mnemonic m) { return m == Mnemonic::MASKMOVQ || m == Mnemonic::MASKMOVDQU; }

const ir::HelperInfo kSimdHelper{"Simd", &Execute};

// --- Exec

unsigned Exec::width() const {
    if (HasClass(*this, RegClass::Xmm)) return 16;
    return HasClass(*this, RegClass::Mmx) ? 8 : 16;
}

unsigned Exec::AlignOf(unsigned i) const {
    const unsigned m = static_cast<unsigned>(in.mnemonic);
    if (op(i).size != 16 || (kTable[m].flags & kUnaligned)) return 0;
    return 16;
}

Vec Exec::Xmm(unsigned reg) const {
    Vec v;
    std::memcpy(v.b, s.xmm[reg & 15].b, 16);
    return v;
}

void Exec::SetXmm(unsigned reg, const Vec& v) { std::memcpy(s.xmm[reg & 15].b, v.b, 16); }

// The whole operand must be canonical, not just its first byte (a 512-byte FXSAVE image can straddle the
// boundary): #SS(0) for an SS-based operand, #GP(0) otherwise (SDM Vol. 3 6.15, #SS and #GP in 64-bit mode).
bool Exec::Canonical(u64 offset, unsigned size) {
    if (s.mode() != CpuMode::Long64 || size == 0) return true;
    const u64 first = linear + offset, last = first + size - 1;
    if (SignExtend(first, 48) == first && SignExtend(last, 48) == last) return true;
    Raise(in.seg == static_cast<u8>(SegReg::Ss) ? vec::SS : vec::GP, 0);
    return false;
}
bool Exec::ProbeWrite(u64 offset, unsigned size) {
    u8 scratch[16];
    return size > sizeof scratch || LoadMem(offset, scratch, size, MemAccess::Write);
}
bool Exec::LoadMem(u64 offset, void* dst, unsigned size, MemAccess access) {
    if (!Canonical(offset, size)) return false;
    if (access == MemAccess::Read) return env.Read(linear + offset, dst, size);
    MemFault f;
    if (env.memory.Read(s, linear + offset, dst, size, access, env.user(), &f)) return true;
    env.fault = ir::Fault{f.vector, ir::HasErrorCode(f.vector), f.error_code, f.cr2, false, 0};
    return false;
}
bool Exec::StoreMem(u64 offset, const void* src, unsigned size) {
    return Canonical(offset, size) && env.Write(linear + offset, src, size);
}

bool Exec::Load(unsigned i, Vec* out, unsigned align) {
    const OperandDesc& d = op(i);
    *out = Vec{};
    if (d.type == OperandType::Mem) {
        if (align && !IsAligned(linear, align)) return Raise(vec::GP, 0), false;
        return LoadMem(0, out->b, d.size);
    }
    switch (d.cls) {
        case RegClass::Xmm: *out = Xmm(d.reg); break;
        case RegClass::Mmx: out->Set<u64>(0, s.x87.st[d.reg & 7].significand); break;
        case RegClass::Gpr: out->Set<u64>(0, s.gpr[d.reg & 15] & LowMask(d.size * 8)); break;
        default: break;
    }
    return true;
}

bool Exec::Store(unsigned i, const Vec& v, unsigned align) {
    const OperandDesc& d = op(i);
    if (d.type == OperandType::Mem) {
        if (align && !IsAligned(linear, align)) return Raise(vec::GP, 0), false;
        return StoreMem(0, v.b, d.size);
    }
    switch (d.cls) {
        case RegClass::Xmm: SetXmm(d.reg, v); break;
        case RegClass::Mmx:
            s.x87.st[d.reg & 7].significand = v.Q(0);
            s.x87.st[d.reg & 7].sign_exponent = 0xFFFF;  // MMX writes set the exponent field to all ones
            break;
        case RegClass::Gpr: {
            u64& r = s.gpr[d.reg & 15];
            const u64 value = v.Q(0);
            if (d.size >= 4) r = d.size == 4 ? (value & 0xFFFFFFFF) : value;
            else r = (r & ~LowMask(d.size * 8)) | (value & LowMask(d.size * 8));
            break;
        }
        default: break;
    }
    return true;
}

// Any instruction that touches an MMX register sets TOP = 0 and tags every register valid (SDM Vol. 1 9.5.1).
void Exec::MmxTransition() {
    if (!mmx) return;
    x87::SetTop(s, 0);
    s.x87.ftw = 0;
}

bool Exec::SseFlags(u32 flags) {
    s.mxcsr |= flags & fpu::status::kExceptions;
    const u32 unmasked = flags & ~(s.mxcsr >> fpu::mxcsr::kMaskShift) & fpu::status::kExceptions;
    if (!unmasked) return true;
    MmxTransition();
    Raise((s.cr4 & cr4::OSXMMEXCPT) ? vec::XM : vec::UD);
    return false;
}

}  // namespace emu::cpu::simd
