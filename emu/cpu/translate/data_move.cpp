// Data movement: MOV MOVZX MOVSX MOVSXD LEA XCHG XADD CMPXCHG CMPXCHG8B CMPXCHG16B BSWAP CBW CWD CMOVcc SETcc
// XLAT MOVBE.
#include "emu/common/host_atomic.h"
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::FlagOp;
using ir::Type;
using ir::Value;

namespace {
constexpr unsigned kRax = 0, kRcx = 1, kRdx = 2, kRbx = 3;

// A locked instruction's store: compare-exchange `size` bytes at linear with what its load read. The TLB's plain RAM
// entry gives the host bytes directly; anything else (a miss, a watched page, MMIO, a split lock) goes through the
// memory, which keeps it atomic. On a mismatch the instruction restarts.
u64 LockedStore(ir::HelperEnv& env, u64 linear, const void* expected, const void* desired, unsigned size) {
    if (u8* host = env.TlbHit(linear, size, true); host != nullptr && (linear & (size - 1)) == 0) {
        if (!HostCompareExchange(host, size, expected, desired)) env.fault = ir::RestartFault();
        return 0;
    }
    MemFault f;
    switch (env.memory.CompareExchange(env.state, linear, size, expected, desired, env.user(), &f)) {
        case CasResult::Swapped: break;
        case CasResult::Mismatch: env.fault = ir::RestartFault(); break;
        case CasResult::Fault: env.fault = ir::Fault{f.vector, ir::HasErrorCode(f.vector), f.error_code, f.cr2}; break;
    }
    return 0;
}

template <unsigned kSize>
u64 CompareExchangeN(ir::HelperEnv& env, u64 linear, u64 expected, u64 desired) {
    return LockedStore(env, linear, &expected, &desired, kSize);  // the low kSize bytes (little-endian)
}

// LOCK CMPXCHG16B: RCX:RBX replaces the 16 bytes if they held RDX:RAX; otherwise they are written back unchanged.
u64 CompareExchange16(ir::HelperEnv& env, u64 linear, u64 old_lo, u64 old_hi) {
    const CpuState& s = env.state;
    const bool equal = old_lo == s.reg(Gpr::Rax) && old_hi == s.reg(Gpr::Rdx);
    const u64 expected[2] = {old_lo, old_hi};
    const u64 desired[2] = {equal ? s.reg(Gpr::Rbx) : old_lo, equal ? s.reg(Gpr::Rcx) : old_hi};
    return LockedStore(env, linear, expected, desired, 16);
}

const ir::HelperInfo kCompareExchange1Helper{"CompareExchange1", &CompareExchangeN<1>};
const ir::HelperInfo kCompareExchange2Helper{"CompareExchange2", &CompareExchangeN<2>};
const ir::HelperInfo kCompareExchange4Helper{"CompareExchange4", &CompareExchangeN<4>};
const ir::HelperInfo kCompareExchange8Helper{"CompareExchange8", &CompareExchangeN<8>};
}  // namespace

const ir::HelperInfo kCompareExchange16Helper{"CompareExchange16", &CompareExchange16};

const ir::HelperInfo& CompareExchangeHelper(unsigned size) {
    switch (size) {
        case 1: return kCompareExchange1Helper;
        case 2: return kCompareExchange2Helper;
        case 4: return kCompareExchange4Helper;
        default: return kCompareExchange8Helper;
    }
}

// MOVNTI m32/m64, r: a store; the non-temporal hint changes nothing an emulator can observe.
bool Translator::MOVNTI(const DecodedInsn& insn) {
    Write(insn.operands[0], Read(insn.operands[1]));
    return true;
}

bool Translator::MOV(const DecodedInsn& insn) {
    const Operand& dst = insn.operands[0];
    const Operand& src = insn.operands[1];
    if (dst.kind == OperandKind::Reg && dst.reg_class == RegClass::Seg) {
        if (dst.reg == static_cast<u8>(SegReg::Cs)) return Undefined();
        if (!mode_.real_segments) {
            LoadSegmentProtected(dst.reg, ir_.Resize(Read(src), Type::U16));
            return SegmentLoaded(dst.reg);
        }
        LoadRealSegment(dst.reg, ir_.Resize(Read(src), Type::U16));
        return true;
    }
    Write(dst, Read(src));
    return true;
}

bool Translator::MOVZX(const DecodedInsn& insn) {
    Write(insn.operands[0], ir_.ZeroExtend(Read(insn.operands[1]), TypeOf(insn.operands[0])));
    return true;
}

bool Translator::MOVSX(const DecodedInsn& insn) {
    Write(insn.operands[0], ir_.SignExtend(Read(insn.operands[1]), TypeOf(insn.operands[0])));
    return true;
}

bool Translator::MOVSXD(const DecodedInsn& insn) {
    const Type to = TypeOf(insn.operands[0]);
    const Value v = Read(insn.operands[1]);
    Write(insn.operands[0], ir::BitsOf(v.type()) < ir::BitsOf(to) ? ir_.SignExtend(v, to) : ir_.Truncate(v, to));
    return true;
}

bool Translator::LEA(const DecodedInsn& insn) {
    if (insn.operands[1].kind != OperandKind::Mem) return Undefined();
    Write(insn.operands[0], EffectiveAddress(insn.operands[1].mem));
    return true;
}

bool Translator::XCHG(const DecodedInsn& insn) {
    const Operand& x = insn.operands[0];
    const Operand& y = insn.operands[1];
    const Value a = Read(x, true);
    const Value b = Read(y, true);
    // The memory operand is written first so that a fault leaves the register untouched.
    if (y.kind == OperandKind::Mem) {
        Write(y, a);
        Write(x, b);
    } else {
        Write(x, b);
        Write(y, a);
    }
    return true;
}

bool Translator::XADD(const DecodedInsn& insn) {
    const Value d = Read(insn.operands[0], true);
    const Value s = Read(insn.operands[1]);
    const Value sum = ir_.Add(d, s);
    // Memory is written first (a fault leaves the register alone) and once: a second store after LOCK XADD's
    // compare-exchange would overwrite other CPUs' updates. A register destination is written after the source, so
    // that XADD r, r with one register keeps the sum.
    if (insn.operands[0].kind == OperandKind::Mem) {
        Write(insn.operands[0], sum);
        Write(insn.operands[1], d);
    } else {
        Write(insn.operands[1], d);
        Write(insn.operands[0], sum);
    }
    ir_.SetFlags(FlagOp::Add, d, s, sum);
    return true;
}

bool Translator::CMPXCHG(const DecodedInsn& insn) {
    const Operand& dst = insn.operands[0];
    const Value d = Read(dst, true);
    const Value s = Read(insn.operands[1]);
    const Value acc = ir_.GetGpr(kRax, dst.size);
    const Value equal = ir_.CmpEq(acc, d);
    // A memory destination is written either way (SDM; first, for precise faults). A register destination
    // changes only on a match (on a mismatch Intel hardware leaves even bits 63:32 of a 32-bit one), and is
    // written last so that CMPXCHG with the accumulator as destination ends with the source in it. The
    // accumulator changes only on a mismatch (a 32-bit accumulator keeps RAX[63:32] when equal).
    if (dst.kind == OperandKind::Mem) Write(dst, ir_.Select(equal, s, d));
    if (dst.size == 4) {
        const Value rax = ir_.GetGpr(kRax, 8);
        ir_.SetGpr(kRax, 8, ir_.Select(equal, rax, ir_.ZeroExtend(d, Type::U64)));
    } else {
        ir_.SetGpr(kRax, dst.size, ir_.Select(equal, acc, d));
    }
    if (dst.kind != OperandKind::Mem) WriteRegUnless(dst, ir_.NotU1(equal), s);
    ir_.SetFlags(FlagOp::Sub, acc, d, ir_.Sub(acc, d));
    return true;
}

bool Translator::CMPXCHG8B(const DecodedInsn& insn) {
    const Operand& m = insn.operands[0];
    if (m.kind != OperandKind::Mem) return Undefined();
    if (insn.op_size == 8) return CMPXCHG16B(insn);
    const Value addr = LinearAddress(m);
    const u8 flags = MemFlagsOf(m);
    const Value old = LoadForUpdate(addr, Type::U64, flags);
    auto pair = [&](unsigned hi, unsigned lo) {
        return ir_.Or(ir_.Shl(ir_.GetGpr(hi, 8), ir::Emitter::Imm8(32)), ir_.ZeroExtend(ir_.GetGpr(lo, 4), Type::U64));
    };
    const Value equal = ir_.CmpEq(old, pair(kRdx, kRax));
    StoreUpdate(addr, ir_.Select(equal, pair(kRcx, kRbx), old), flags);
    const Value rax = ir_.GetGpr(kRax, 8), rdx = ir_.GetGpr(kRdx, 8);
    const Value lo = ir_.ZeroExtend(ir_.Truncate(old, Type::U32), Type::U64);
    ir_.SetGpr(kRax, 8, ir_.Select(equal, rax, lo));
    ir_.SetGpr(kRdx, 8, ir_.Select(equal, rdx, ir_.Shr(old, ir::Emitter::Imm8(32))));
    ir_.SetFlag(rflags::ZF, equal);
    return true;
}

bool Translator::CMPXCHG16B(const DecodedInsn& insn) {
    const Operand& m = insn.operands[0];
    if (m.kind != OperandKind::Mem) return Undefined();
    const Value lo_addr = LinearAddress(m);
    ir_.RaiseExceptionIf(ir_.CmpNe(ir_.And(lo_addr, ir::Emitter::Imm64(15)), ir::Emitter::Imm64(0)), vec::GP, 0);
    // Aligned to 16, both halves share a page: the second access cannot fault after the first succeeded.
    const Value hi_addr = ir_.Add(lo_addr, ir::Emitter::Imm64(8));
    const u8 flags = MemFlagsOf(m);
    const Value old_lo = ir_.Load(lo_addr, Type::U64, flags | ir::mem_flags::WriteIntent);
    const Value old_hi = ir_.Load(hi_addr, Type::U64, flags | ir::mem_flags::WriteIntent);
    const Value rax = ir_.GetGpr(kRax, 8), rdx = ir_.GetGpr(kRdx, 8);
    const Value equal = ir_.AndU1(ir_.CmpEq(old_lo, rax), ir_.CmpEq(old_hi, rdx));
    if (atomic_) {
        // One 16-byte compare-exchange (two 8-byte ones would not be atomic together).
        ir_.CallHelper(kCompareExchange16Helper, lo_addr, old_lo, old_hi);
    } else {
        ir_.Store(lo_addr, ir_.Select(equal, ir_.GetGpr(kRbx, 8), old_lo), flags);
        ir_.Store(hi_addr, ir_.Select(equal, ir_.GetGpr(kRcx, 8), old_hi), flags);
    }
    ir_.SetGpr(kRax, 8, ir_.Select(equal, rax, old_lo));
    ir_.SetGpr(kRdx, 8, ir_.Select(equal, rdx, old_hi));
    ir_.SetFlag(rflags::ZF, equal);
    return true;
}

bool Translator::BSWAP(const DecodedInsn& insn) {
    const Operand& r = insn.operands[0];
    // BSWAP r16 is undefined; Intel and AMD hardware clear the register, and so do we.
    Write(r, r.size == 2 ? ir::Emitter::Imm16(0) : ir_.ByteSwap(Read(r)));
    return true;
}

// CBW / CWDE / CDQE: sign-extend the lower half of the accumulator into all of it.
bool Translator::CBW(const DecodedInsn& insn) {
    const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
    ir_.SetGpr(kRax, size, ir_.SignExtend(ir_.GetGpr(kRax, size / 2), ir::IntTypeOfSize(size)));
    return true;
}

// CWD / CDQ / CQO: fill rDX with the accumulator's sign.
bool Translator::CWD(const DecodedInsn& insn) {
    const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
    const Value acc = ir_.GetGpr(kRax, size);
    ir_.SetGpr(kRdx, size, ir_.Sar(acc, ir::Emitter::Imm8(size * 8 - 1)));
    return true;
}

bool Translator::CMOVCC(const DecodedInsn& insn) {
    const Value s = Read(insn.operands[1]);  // the source is read (and may fault) even if the condition fails
    const Value d = Read(insn.operands[0]);
    Write(insn.operands[0], ir_.Select(ir_.GetCond(insn.cond), s, d));
    return true;
}

bool Translator::SETCC(const DecodedInsn& insn) {
    Write(insn.operands[0], ir_.ZeroExtend(ir_.GetCond(insn.cond), Type::U8));
    return true;
}

bool Translator::XLAT(const DecodedInsn& insn) {
    const Type t = ir::IntTypeOfSize(insn.addr_size);
    const Value ea = ir_.Add(ir_.GetGpr(kRbx, insn.addr_size), ir_.ZeroExtend(ir_.GetGpr(kRax, 1), t));
    const unsigned seg = insn.seg_override != kNoReg ? insn.seg_override : static_cast<unsigned>(SegReg::Ds);
    ir_.SetGpr(kRax, 1, ir_.Load(LinearOf(seg, ir_.ZeroExtend(ea, Type::U64)), Type::U8));
    return true;
}

bool Translator::MOVBE(const DecodedInsn& insn) {
    Write(insn.operands[0], ir_.ByteSwap(Read(insn.operands[1])));
    return true;
}

// LDS LES LFS LGS LSS: a register and a segment from a far pointer in memory (real mode only for now).
bool Translator::LoadFarRegister(const DecodedInsn& insn, SegReg seg) {
    if (insn.operands[1].kind != OperandKind::Mem) return Undefined();
    Value offset, selector;
    LoadFarPointer(insn.operands[1], &offset, &selector, insn.op_size);
    if (!mode_.real_segments) {  // the segment first: a faulting load leaves the register unchanged
        LoadSegmentProtected(static_cast<unsigned>(seg), selector);
        Write(insn.operands[0], offset);
        return SegmentLoaded(static_cast<unsigned>(seg));
    }
    LoadRealSegment(static_cast<unsigned>(seg), selector);
    Write(insn.operands[0], offset);
    return true;
}

bool Translator::LDS(const DecodedInsn& insn) { return LoadFarRegister(insn, SegReg::Ds); }
bool Translator::LES(const DecodedInsn& insn) { return LoadFarRegister(insn, SegReg::Es); }
bool Translator::LFS(const DecodedInsn& insn) { return LoadFarRegister(insn, SegReg::Fs); }
bool Translator::LGS(const DecodedInsn& insn) { return LoadFarRegister(insn, SegReg::Gs); }
bool Translator::LSS(const DecodedInsn& insn) { return LoadFarRegister(insn, SegReg::Ss); }

}  // namespace emu::cpu::translate
