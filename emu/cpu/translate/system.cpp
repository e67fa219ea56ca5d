// System instructions (emu/cpu/system): control/debug registers, MSRs, fast system calls, descriptor tables,
// LAR/LSL/VERR/VERW/ARPL, BOUND, and the protected/long-mode forms of segment loads, far transfers and IRET
// (the real-mode forms live beside them in data_move.cpp, stack.cpp and control.cpp).
//
// Each helper adapts a system:: function to the IR helper convention: a failed SysResult becomes the helper's
// fault, raised at the instruction (system functions change nothing when they fail). Instructions after
// which the next block's translation may differ (mode, CR0/CR4/EFER, SS) leave for the dispatcher.
#include <cstddef>

#include "emu/cpu/system/control.h"
#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/system/exceptions.h"
#include "emu/cpu/system/msr.h"
#include "emu/cpu/system/segments.h"
#include "emu/cpu/system/syscall.h"
#include "emu/cpu/system/task_switch.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

namespace {

u64 Fail(ir::HelperEnv& env, const system::Exception& e) {
    env.fault = ir::Fault{e.vector, e.has_error_code, e.error_code, e.cr2, false, 0};
    return 0;
}
u64 Check(ir::HelperEnv& env, const system::Status& r) { return r ? 0 : Fail(env, r.error()); }
u64 Value64(ir::HelperEnv& env, const system::SysResult<u64>& r) { return r ? *r : Fail(env, r.error()); }

// (seg | size << 8 | write << 16, offset): the limit and type checks of a data access (protected mode).
u64 SegmentCheck(ir::HelperEnv& env, u64 packed, u64 offset, u64) {
    const auto seg = static_cast<SegReg>(packed & 0xFF);
    return Check(env, system::CheckDataAccess(env.state, seg, offset, static_cast<unsigned>((packed >> 8) & 0xFF),
                                              (packed >> 16) & 1));
}
u64 LoadSeg(ir::HelperEnv& env, u64 seg, u64 selector, u64) {
    const auto r = system::LoadSegment(env.state, env.memory, static_cast<SegReg>(seg), static_cast<u16>(selector));
    if (r && seg == static_cast<u64>(SegReg::Ss)) env.state.interrupt_shadow = true;  // MOV SS / POP SS / LSS
    return Check(env, r);
}
// (offset, selector | op_size << 16 | call << 24, next_rip): far JMP or CALL; a task gate or TSS switches tasks.
u64 FarTransfer(ir::HelperEnv& env, u64 offset, u64 packed, u64 next_rip) {
    const u16 selector = static_cast<u16>(packed);
    const unsigned op_size = static_cast<unsigned>((packed >> 16) & 0xFF);
    const bool call = (packed >> 24) & 1;
    if (auto task = system::FarTaskSwitch(env.state, env.memory, selector, call, next_rip)) return Value64(env, *task);
    if (!call) return Value64(env, system::FarJump(env.state, env.memory, selector, offset, op_size));
    return Value64(env, system::FarCall(env.state, env.memory, selector, offset, op_size, next_rip));
}
u64 FarRet(ir::HelperEnv& env, u64 op_size, u64 pop_bytes, u64) {
    return Value64(env, system::FarReturn(env.state, env.memory, static_cast<unsigned>(op_size),
                                          static_cast<u16>(pop_bytes)));
}
// (op_size, next_rip): with NT = 1 outside IA-32e mode, a return to the previous task.
u64 Iret(ir::HelperEnv& env, u64 op_size, u64 next_rip, u64) {
    if ((env.state.rflags & rflags::NT) && !env.state.long_mode_active()) {
        return Value64(env, system::TaskReturn(env.state, env.memory, next_rip));
    }
    return Value64(env, system::InterruptReturn(env.state, env.memory, static_cast<unsigned>(op_size)));
}
u64 ReadCr(ir::HelperEnv& env, u64 n, u64, u64) {
    return Value64(env, system::ReadControlRegister(env.state, static_cast<unsigned>(n)));
}
u64 WriteCr(ir::HelperEnv& env, u64 n, u64 value, u64) {
    return Check(env, system::WriteControlRegister(env.state, env.memory, static_cast<unsigned>(n), value));
}
u64 ReadDr(ir::HelperEnv& env, u64 n, u64, u64) {
    return Value64(env, system::ReadDebugRegister(env.state, static_cast<unsigned>(n)));
}
u64 WriteDr(ir::HelperEnv& env, u64 n, u64 value, u64) {
    return Check(env, system::WriteDebugRegister(env.state, static_cast<unsigned>(n), value));
}
// The operand-less system instructions, privileged or not (RDPKRU and WRPKRU run at any CPL).
enum PrivOp : u64 { kClts, kLmsw, kInvlpg, kCacheInvalidate, kSwapgs, kUmip, kRdpkru, kWrpkru };
u64 Privileged(ir::HelperEnv& env, u64 op, u64 arg, u64) {
    switch (op) {
        case kRdpkru: return Check(env, system::Rdpkru(env.state));
        case kWrpkru: return Check(env, system::Wrpkru(env.state, env.memory));
        case kClts: return Check(env, system::Clts(env.state));
        case kLmsw: return Check(env, system::Lmsw(env.state, env.memory, static_cast<u16>(arg)));
        case kInvlpg: return Check(env, system::Invlpg(env.state, env.memory, arg));
        case kSwapgs: return Check(env, system::Swapgs(env.state));
        case kUmip: return Check(env, system::CheckUmip(env.state));
        default: return Check(env, system::CacheInvalidate(env.state));
    }
}
u64 InvalidatePcid(ir::HelperEnv& env, u64 type, u64 descriptor, u64) {
    if (const auto allowed = system::InvpcidAllowed(env.state); !allowed) return Fail(env, allowed.error());
    u64 desc[2];
    if (!env.Read(descriptor, desc, sizeof desc)) return 0;
    return Check(env, system::Invpcid(env.state, env.memory, type, desc[0], desc[1]));
}
u64 Rdmsr(ir::HelperEnv& env, u64, u64, u64) {
    CpuState& s = env.state;
    const auto r = system::ReadMsr(s, env.memory, static_cast<u32>(s.reg(Gpr::Rcx)));
    if (!r) return Fail(env, r.error());
    s.reg(Gpr::Rax) = *r & 0xFFFFFFFF;
    s.reg(Gpr::Rdx) = *r >> 32;
    return 0;
}
u64 Wrmsr(ir::HelperEnv& env, u64, u64, u64) {
    CpuState& s = env.state;
    const u64 value = (s.reg(Gpr::Rdx) << 32) | (s.reg(Gpr::Rax) & 0xFFFFFFFF);
    return Check(env, system::WriteMsr(s, env.memory, static_cast<u32>(s.reg(Gpr::Rcx)), value));
}
enum FastCall : u64 { kSyscall, kSysret, kSysenter, kSysexit };
u64 FastSystemCall(ir::HelperEnv& env, u64 which, u64 arg, u64) {
    switch (which) {
        case kSyscall: return Value64(env, system::Syscall(env.state, arg));
        case kSysret: return Value64(env, system::Sysret(env.state, static_cast<unsigned>(arg)));
        case kSysenter: return Value64(env, system::Sysenter(env.state));
        default: return Value64(env, system::Sysexit(env.state, static_cast<unsigned>(arg)));
    }
}
// (linear, table | store << 8, op_size): LGDT LIDT SGDT SIDT.
u64 DescriptorTableOp(ir::HelperEnv& env, u64 linear, u64 how, u64 op_size) {
    const auto table = static_cast<system::Table>(how & 0xFF);
    if (how >> 8) return Check(env, system::StoreDescriptorTable(env.state, env.memory, table, linear));
    return Check(env, system::LoadDescriptorTable(env.state, env.memory, table, linear, static_cast<unsigned>(op_size)));
}
u64 SystemSegment(ir::HelperEnv& env, u64 is_tr, u64 selector, u64) {
    const u16 sel = static_cast<u16>(selector);
    return Check(env, is_tr ? system::LoadTaskRegister(env.state, env.memory, sel)
                            : system::LoadLdt(env.state, env.memory, sel));
}
// (seg | write << 8 | op_size << 16, value): RD/WR FS/GS BASE; a read returns the base.
u64 SegmentBase(ir::HelperEnv& env, u64 packed, u64 value, u64) {
    const auto seg = static_cast<SegReg>(packed & 0xFF);
    if (!((packed >> 8) & 1)) return Value64(env, system::ReadSegmentBase(env.state, seg));
    return Check(env, system::WriteSegmentBase(env.state, seg, value, static_cast<unsigned>(packed >> 16)));
}
// -> value | valid << 32.
u64 Query(ir::HelperEnv& env, u64 kind, u64 selector, u64) {
    const auto r = system::QuerySegment(env.state, env.memory, static_cast<system::SegmentQuery>(kind),
                                        static_cast<u16>(selector));
    if (!r) return Fail(env, r.error());
    return r->value | (u64{r->valid} << 32);
}

const ir::HelperInfo kSegmentCheckHelper{"SegmentCheck", &SegmentCheck};
const ir::HelperInfo kLoadSegHelper{"LoadSegment", &LoadSeg};
const ir::HelperInfo kFarTransferHelper{"FarTransfer", &FarTransfer};
const ir::HelperInfo kFarRetHelper{"FarReturn", &FarRet};
const ir::HelperInfo kIretHelper{"InterruptReturn", &Iret};
const ir::HelperInfo kReadCrHelper{"ReadCr", &ReadCr};
const ir::HelperInfo kWriteCrHelper{"WriteCr", &WriteCr};
const ir::HelperInfo kReadDrHelper{"ReadDr", &ReadDr};
const ir::HelperInfo kWriteDrHelper{"WriteDr", &WriteDr};
const ir::HelperInfo kPrivilegedHelper{"Privileged", &Privileged};
const ir::HelperInfo kInvpcidHelper{"Invpcid", &InvalidatePcid};
const ir::HelperInfo kRdmsrHelper{"Rdmsr", &Rdmsr};
const ir::HelperInfo kWrmsrHelper{"Wrmsr", &Wrmsr};
const ir::HelperInfo kFastCallHelper{"FastSystemCall", &FastSystemCall};
const ir::HelperInfo kDescriptorTableHelper{"DescriptorTable", &DescriptorTableOp};
const ir::HelperInfo kSystemSegmentHelper{"SystemSegment", &SystemSegment};
const ir::HelperInfo kQueryHelper{"QuerySegment", &Query};
const ir::HelperInfo kSegmentBaseHelper{"SegmentBase", &SegmentBase};

constexpr u32 kCr0Offset = static_cast<u32>(offsetof(CpuState, cr0));
constexpr u32 kLdtrSelector = static_cast<u32>(offsetof(CpuState, ldtr) + offsetof(Segment, selector));
constexpr u32 kTrSelector = static_cast<u32>(offsetof(CpuState, tr) + offsetof(Segment, selector));

}  // namespace

// --- Protected/long-mode forms called by the real-mode handlers.

void Translator::LoadSegmentProtected(unsigned seg, Value selector) {
    ir_.CallHelper(kLoadSegHelper, ir::Emitter::Imm64(seg), selector);
}

void Translator::CheckSegment(unsigned seg, Value offset, unsigned size, bool write) {
    if (!(mode_.checked_segments & (1u << seg)) || size == 0) return;
    const u64 packed = seg | (u64{size} << 8) | (u64{write} << 16);
    ir_.CallHelper(kSegmentCheckHelper, ir::Emitter::Imm64(packed), offset);  // zero-extended by CallHelper
}

bool Translator::SegmentLoaded(unsigned seg) {
    // Outside 64-bit mode the next instruction's checks depend on the new segment (BlockMode::checked_segments).
    if (seg != static_cast<unsigned>(SegReg::Ss) && mode_.flat) return true;
    ir_.ExitToDispatcher(next_rip_);
    return false;
}

// Indirect far JMP/CALL with REX.W take an m16:64 pointer on Intel; AMD ignores REX.W there and reads m16:32 (AMD APM
// Vol. 3 JMP (Far) and CALL (Far): "the operand size is 32 bits" for the far pointer in 64-bit mode).
bool Translator::FarTransferProtected(const DecodedInsn& insn, bool call) {
    const bool amd_m16_32 = insn.op_size == 8 && system::CpuVendor() == system::Vendor::Amd;
    const unsigned size = amd_m16_32 ? 4 : insn.op_size;
    Value offset, selector;
    LoadFarPointer(insn.operands[0], &offset, &selector, size);
    const Value packed =
        ir_.Or(ir_.ZeroExtend(selector, Type::U64), ir::Emitter::Imm64(u64{size} << 16 | u64{call} << 24));
    ir_.ExitIndirect(ir_.CallHelper(kFarTransferHelper, offset, packed, ir::Emitter::Imm64(next_rip_)));
    return false;
}

bool Translator::FarReturnProtected(const DecodedInsn& insn, bool iret) {
    if (iret) {
        const unsigned size = insn.data_size ? insn.data_size : insn.op_size;
        ir_.ExitIndirect(ir_.CallHelper(kIretHelper, ir::Emitter::Imm64(size), ir::Emitter::Imm64(next_rip_)));
        return false;
    }
    const u64 pop = insn.num_operands > 0 ? insn.operands[0].imm & 0xFFFF : 0;
    ir_.ExitIndirect(ir_.CallHelper(kFarRetHelper, ir::Emitter::Imm64(insn.op_size), ir::Emitter::Imm64(pop)));
    return false;
}

// --- Control and debug registers.

bool Translator::MOV_CR(const DecodedInsn& insn) {
    const Operand& dst = insn.operands[0];
    const Operand& src = insn.operands[1];
    if (dst.reg_class == RegClass::Cr) {
        ir_.CallHelper(kWriteCrHelper, ir::Emitter::Imm64(dst.reg), Read(src));
        ir_.ExitToDispatcher(next_rip_);  // paging and mode bits: later blocks depend on them
        return false;
    }
    Write(dst, ir_.Resize(ir_.CallHelper(kReadCrHelper, ir::Emitter::Imm64(src.reg)), TypeOf(dst)));
    return true;
}

bool Translator::MOV_DR(const DecodedInsn& insn) {
    const Operand& dst = insn.operands[0];
    const Operand& src = insn.operands[1];
    if (dst.reg_class == RegClass::Dr) {
        ir_.CallHelper(kWriteDrHelper, ir::Emitter::Imm64(dst.reg), Read(src));
        ir_.ExitToDispatcher(next_rip_);  // a breakpoint enabled in DR7 applies from the next instruction
        return false;
    }
    Write(dst, ir_.Resize(ir_.CallHelper(kReadDrHelper, ir::Emitter::Imm64(src.reg)), TypeOf(dst)));
    return true;
}

bool Translator::CLTS(const DecodedInsn&) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kClts));
    return true;
}

bool Translator::LMSW(const DecodedInsn& insn) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kLmsw), Read(insn.operands[0]));
    ir_.ExitToDispatcher(next_rip_);  // may enter protected mode
    return false;
}

// SMSW, SLDT and STR read CpuState fields inline; CR4.UMIP is checked at run time first (SGDT/SIDT in their helper).
void Translator::CheckUmip() { ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kUmip)); }

bool Translator::SMSW(const DecodedInsn& insn) {
    CheckUmip();
    Write(insn.operands[0], ir_.Resize(ir_.GetField(kCr0Offset, Type::U64), TypeOf(insn.operands[0])));
    return true;
}

// INVLPG is serializing: the next instruction is fetched through the new translation (code that remaps its own page
// continues on the new page), so the block ends here and the next one is looked up afresh.
bool Translator::INVLPG(const DecodedInsn& insn) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kInvlpg), LinearAddress(insn.operands[0]));
    ir_.ExitToDispatcher(next_rip_);
    return false;
}

// INVPCID: the type from the register, the descriptor read by the helper; ends the block as INVLPG does.
bool Translator::INVPCID(const DecodedInsn& insn) {
    ir_.CallHelper(kInvpcidHelper, Read(insn.operands[0]), LinearAddress(insn.operands[1]));
    ir_.ExitToDispatcher(next_rip_);
    return false;
}

bool Translator::INVD(const DecodedInsn&) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kCacheInvalidate));
    return true;
}

bool Translator::WBINVD(const DecodedInsn& insn) { return INVD(insn); }

// RDPKRU/WRPKRU: the helper checks CR4.PKE and ECX/EDX; translated code sees PKRU only through the TLB, which a
// changed value flushes, so the block goes on.
bool Translator::RDPKRU(const DecodedInsn&) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kRdpkru));
    return true;
}

bool Translator::WRPKRU(const DecodedInsn&) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kWrpkru));
    return true;
}

bool Translator::SWAPGS(const DecodedInsn&) {
    ir_.CallHelper(kPrivilegedHelper, ir::Emitter::Imm64(kSwapgs));
    return true;
}

// --- MSRs and fast system calls.

bool Translator::RDMSR(const DecodedInsn&) {
    ir_.CallHelper(kRdmsrHelper);
    return true;
}

bool Translator::WRMSR(const DecodedInsn&) {
    ir_.CallHelper(kWrmsrHelper);
    ir_.ExitToDispatcher(next_rip_);  // EFER and segment bases
    return false;
}

bool Translator::FastCall(u64 which, u64 arg) {
    ir_.ExitIndirect(ir_.CallHelper(kFastCallHelper, ir::Emitter::Imm64(which), ir::Emitter::Imm64(arg)));
    return false;
}

bool Translator::SYSCALL(const DecodedInsn&) { return FastCall(kSyscall, next_rip_); }
bool Translator::SYSRET(const DecodedInsn& insn) { return FastCall(kSysret, insn.op_size); }
bool Translator::SYSENTER(const DecodedInsn&) { return FastCall(kSysenter, 0); }
bool Translator::SYSEXIT(const DecodedInsn& insn) { return FastCall(kSysexit, insn.op_size); }

// --- Descriptor tables and selectors.

bool Translator::TableOp(const DecodedInsn& insn, unsigned table, bool store) {
    const Value linear = LinearAddress(insn.operands[0]);
    ir_.CallHelper(kDescriptorTableHelper, linear, ir::Emitter::Imm64(table | (u64{store} << 8)),
                   ir::Emitter::Imm64(insn.op_size));
    return true;
}

bool Translator::LGDT(const DecodedInsn& insn) { return TableOp(insn, 0, false); }
bool Translator::LIDT(const DecodedInsn& insn) { return TableOp(insn, 1, false); }
bool Translator::SGDT(const DecodedInsn& insn) { return TableOp(insn, 0, true); }
bool Translator::SIDT(const DecodedInsn& insn) { return TableOp(insn, 1, true); }

bool Translator::LLDT(const DecodedInsn& insn) {
    if (mode_.real_segments) return Undefined();
    ir_.CallHelper(kSystemSegmentHelper, ir::Emitter::Imm64(0), Read(insn.operands[0]));
    return true;
}

bool Translator::LTR(const DecodedInsn& insn) {
    if (mode_.real_segments) return Undefined();
    ir_.CallHelper(kSystemSegmentHelper, ir::Emitter::Imm64(1), Read(insn.operands[0]));
    return true;
}

// SLDT / STR: a register destination is zero-extended (P6 and later), memory takes 16 bits.
bool Translator::SLDT(const DecodedInsn& insn) {
    if (mode_.real_segments) return Undefined();
    CheckUmip();
    Write(insn.operands[0], ir_.Resize(ir_.GetField(kLdtrSelector, Type::U16), TypeOf(insn.operands[0])));
    return true;
}

bool Translator::STR(const DecodedInsn& insn) {
    if (mode_.real_segments) return Undefined();
    CheckUmip();
    Write(insn.operands[0], ir_.Resize(ir_.GetField(kTrSelector, Type::U16), TypeOf(insn.operands[0])));
    return true;
}

// RD/WR FS/GS BASE. A write ends the block, as WRMSR FS_BASE does: what follows is translated with the new base.
bool Translator::SegmentBaseOp(const DecodedInsn& insn, SegReg seg, bool write) {
    const Operand& op = insn.operands[0];
    const u64 packed = static_cast<u64>(seg) | (u64{write} << 8) | (u64{insn.op_size} << 16);
    if (!write) {
        Write(op, ir_.Resize(ir_.CallHelper(kSegmentBaseHelper, ir::Emitter::Imm64(packed)), TypeOf(op)));
        return true;
    }
    ir_.CallHelper(kSegmentBaseHelper, ir::Emitter::Imm64(packed), Read(op));  // zero-extended by CallHelper
    ir_.ExitToDispatcher(next_rip_);
    return false;
}

bool Translator::RDFSBASE(const DecodedInsn& insn) { return SegmentBaseOp(insn, SegReg::Fs, false); }
bool Translator::RDGSBASE(const DecodedInsn& insn) { return SegmentBaseOp(insn, SegReg::Gs, false); }
bool Translator::WRFSBASE(const DecodedInsn& insn) { return SegmentBaseOp(insn, SegReg::Fs, true); }
bool Translator::WRGSBASE(const DecodedInsn& insn) { return SegmentBaseOp(insn, SegReg::Gs, true); }

// LAR LSL VERR VERW: ZF reports validity; LAR/LSL write the destination only when valid.
bool Translator::QuerySelector(const DecodedInsn& insn, unsigned kind, bool has_dest) {
    if (mode_.real_segments) return Undefined();
    const Operand& sel_op = insn.operands[has_dest ? 1 : 0];
    const Value r = ir_.CallHelper(kQueryHelper, ir::Emitter::Imm64(kind), ir_.Resize(Read(sel_op), Type::U16));
    const Value valid = ir_.CmpNe(ir_.Shr(r, ir::Emitter::Imm8(32)), ir::Emitter::Imm64(0));
    if (has_dest) {
        const Operand& dst = insn.operands[0];
        WriteRegUnless(dst, ir_.NotU1(valid), ir_.Resize(r, TypeOf(dst)));
    }
    ir_.SetFlag(rflags::ZF, valid);
    return true;
}

bool Translator::LAR(const DecodedInsn& insn) { return QuerySelector(insn, 0, true); }
bool Translator::LSL(const DecodedInsn& insn) { return QuerySelector(insn, 1, true); }
bool Translator::VERR(const DecodedInsn& insn) { return QuerySelector(insn, 2, false); }
bool Translator::VERW(const DecodedInsn& insn) { return QuerySelector(insn, 3, false); }

// ARPL: raises the destination selector's RPL to the source's (ZF = 1 when it changed).
bool Translator::ARPL(const DecodedInsn& insn) {
    if (mode_.real_segments) return Undefined();
    const Operand& dst = insn.operands[0];
    const Value d = Read(dst);
    const Value src_rpl = ir_.And(Read(insn.operands[1]), ir::Emitter::Imm16(3));
    const Value adjust = ir_.CmpULt(ir_.And(d, ir::Emitter::Imm16(3)), src_rpl);
    Write(dst, ir_.Select(adjust, ir_.Or(ir_.And(d, ir::Emitter::Imm16(0xFFFC)), src_rpl), d));
    ir_.SetFlag(rflags::ZF, adjust);
    return true;
}

// BOUND: #BR unless lower <= index <= upper (signed), the bounds being a pair in memory.
bool Translator::BOUND(const DecodedInsn& insn) {
    const Operand& mem = insn.operands[1];
    if (mem.kind != OperandKind::Mem) return Undefined();
    const Type t = TypeOf(insn.operands[0]);
    const Value addr = LinearAddress(mem);
    const Value lower = ir_.Load(addr, t);
    const Value upper = ir_.Load(ir_.Add(addr, ir::Emitter::Imm64(insn.operands[0].size)), t);
    const Value index = Read(insn.operands[0]);
    ir_.RaiseExceptionIf(ir_.OrU1(ir_.CmpSLt(index, lower), ir_.CmpSLt(upper, index)), vec::BR, 0);
    return true;
}

}  // namespace emu::cpu::translate
