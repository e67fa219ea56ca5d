// The vCPU run loop: fetch, decode, translate a block, optimize, run it on the interpreter, and turn
// exceptions into stops (or, later, deliveries).
#include "emu/cpu/vcpu.h"

#include <atomic>
#include <span>

#include "emu/common/log.h"
#include "emu/cpu/block_cache.h"
#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/interp/interpreter.h"
#include "emu/cpu/ir/passes/passes.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu {
namespace {

constexpr unsigned kMaxBlockInsns = 32;

u64 LinearRip(const CpuState& s, u64 rip) {
    if (s.mode() == CpuMode::Long64) return rip;
    return (s.segment(SegReg::Cs).base + rip) & 0xFFFFFFFF;
}

ExceptionInfo InfoOf(const ir::Fault& f, u64 rip) {
    return ExceptionInfo{f.vector, f.has_error_code, f.error_code, f.cr2, rip};
}

ir::Fault FaultOf(const MemFault& f) {
    return ir::Fault{f.vector, ir::HasErrorCode(f.vector), f.error_code, f.cr2, false, 0};
}

// The bytes of the instruction at `rip`, up to 15, not crossing into a page that faults unless needed.
struct Fetched {
    u8 bytes[kMaxInsnLength] = {};
    unsigned size = 0;
    std::optional<ir::Fault> fault;         // the first byte cannot be fetched
    std::optional<ir::Fault> second_fault;  // the next page cannot be fetched
};

Fetched Fetch(MemoryInterface& memory, const CpuState& s, u64 rip) {
    Fetched f;
    const u64 linear = LinearRip(s, rip);
    const bool user = s.cpl() == 3;
    const unsigned first = static_cast<unsigned>(std::min<u64>(kMaxInsnLength, kPageSize - (linear & kPageMask)));
    MemFault mf;
    if (!memory.Read(s, linear, f.bytes, first, MemAccess::Fetch, user, &mf)) {
        f.fault = FaultOf(mf);
        return f;
    }
    f.size = first;
    if (first < kMaxInsnLength) {
        if (memory.Read(s, linear + first, f.bytes + first, kMaxInsnLength - first, MemAccess::Fetch, user, &mf)) {
            f.size = kMaxInsnLength;
        } else {
            f.second_fault = FaultOf(mf);
        }
    }
    return f;
}

// --- Exception and interrupt delivery. Real mode through the IVT and 64-bit mode through 64-bit interrupt
// and trap gates. TODO(system): protected-mode gates, task gates, #DF/#TS/#NP escalation; a delivery that
// fails returns false and the run stops with the original exception.

bool ReadSys(MemoryInterface& m, const CpuState& s, u64 linear, void* dst, unsigned size) {
    MemFault f;
    return m.Read(s, linear, dst, size, MemAccess::Read, false, &f);
}

bool DeliverReal(MemoryInterface& m, CpuState& s, const ir::Fault& f) {
    const u64 entry = u64{f.vector} * 4;
    if (entry + 3 > s.idtr.limit) return false;
    u32 vector_ptr = 0;
    if (!ReadSys(m, s, s.idtr.base + entry, &vector_ptr, 4)) return false;
    const u16 sp = static_cast<u16>(s.reg(Gpr::Rsp));
    const u16 frame[3] = {static_cast<u16>(s.rip), s.segment(SegReg::Cs).selector, static_cast<u16>(s.rflags)};
    MemFault mf;
    for (unsigned i = 0; i < 3; ++i) {  // IP at the lowest address, then CS, then FLAGS
        const u64 at = s.segment(SegReg::Ss).base + static_cast<u16>(sp - 6 + 2 * i);
        if (!m.Write(s, at, &frame[i], 2, false, &mf)) return false;
    }
    s.reg(Gpr::Rsp) = (s.reg(Gpr::Rsp) & ~u64{0xFFFF}) | static_cast<u16>(sp - 6);
    s.rflags &= ~(rflags::IF | rflags::TF | rflags::AC);
    Segment& cs = s.segment(SegReg::Cs);
    cs.selector = static_cast<u16>(vector_ptr >> 16);
    cs.base = u64{cs.selector} << 4;
    s.rip = vector_ptr & 0xFFFF;
    return true;
}

bool DeliverLong(MemoryInterface& m, CpuState& s, const ir::Fault& f) {
    const u64 entry = u64{f.vector} * 16;
    u64 gate[2];
    if (entry + 15 > s.idtr.limit || !ReadSys(m, s, s.idtr.base + entry, gate, 16)) return false;
    const unsigned type = (gate[0] >> 40) & 0xF, gate_dpl = (gate[0] >> 45) & 3, ist = (gate[0] >> 32) & 7;
    if (!((gate[0] >> 47) & 1) || (type != 0xE && type != 0xF)) return false;
    if (f.software && s.cpl() > gate_dpl) return false;  // would be #GP(vector * 8 + 2)
    const u16 selector = static_cast<u16>(gate[0] >> 16);
    u64 desc = 0;
    if ((selector & 4) || !ReadSys(m, s, s.gdtr.base + (selector & ~7u), &desc, 8)) return false;
    if (!((desc >> 47) & 1) || !((desc >> 53) & 1)) return false;  // present, 64-bit code
    const unsigned new_cpl = (desc >> 45) & 3;
    const unsigned old_cpl = s.cpl();
    if (new_cpl > old_cpl) return false;
    u64 rsp = s.reg(Gpr::Rsp);
    if (ist != 0) {
        if (!ReadSys(m, s, s.tr.base + 0x24 + 8 * (ist - 1), &rsp, 8)) return false;
    } else if (new_cpl < old_cpl) {
        if (!ReadSys(m, s, s.tr.base + 4 + 8 * new_cpl, &rsp, 8)) return false;
    }
    rsp &= ~u64{15};
    const u64 frame[6] = {f.error_code, s.rip, s.segment(SegReg::Cs).selector, s.rflags, s.reg(Gpr::Rsp),
                          s.segment(SegReg::Ss).selector};
    const unsigned first = f.has_error_code ? 0 : 1;
    const unsigned bytes = (6 - first) * 8;
    MemFault mf;
    if (!m.Write(s, rsp - bytes, frame + first, bytes, new_cpl == 3, &mf)) return false;
    s.reg(Gpr::Rsp) = rsp - bytes;
    if (new_cpl != old_cpl) s.segment(SegReg::Ss) = Segment{static_cast<u16>(new_cpl), 0, 0, 1u << 16};
    const u32 attr = static_cast<u32>(((desc >> 40) & 0xFF) | (((desc >> 52) & 0xF) << 12));
    s.segment(SegReg::Cs) = Segment{static_cast<u16>((selector & ~3u) | new_cpl), 0, 0xFFFFFFFF, attr};
    s.rflags &= ~(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
    if (type == 0xE) s.rflags &= ~rflags::IF;
    s.rip = (gate[0] & 0xFFFF) | ((gate[0] >> 32) & 0xFFFF0000) | (gate[1] << 32);
    return true;
}

}  // namespace

struct Vcpu::Impl {
    MemoryInterface& memory;
    Backend backend;
    CpuState state;
    BlockCache cache;
    interp::Interpreter interpreter;
    std::atomic<bool> stop_requested{false};
    // Exceptions delivered since the last retired instruction: a handler that faults before retiring anything
    // would otherwise loop forever. TODO(system): the architectural #DF / triple-fault rules.
    unsigned deliveries_without_progress = 0;

    // Translates the block at state.rip. Returns null and sets *fault when its first instruction
    // cannot be fetched (nothing to translate).
    std::unique_ptr<ir::Block> Translate(ir::Fault* fault, unsigned max_insns);
    // Handles an exception: returns true if Run must stop.
    bool OnException(const ir::Fault& f, RunResult& result);
};

std::unique_ptr<ir::Block> Vcpu::Impl::Translate(ir::Fault* fault, unsigned max_insns) {
    const translate::BlockMode mode = translate::BlockMode::Of(state);
    auto block = std::make_unique<ir::Block>(state.rip);
    translate::Translator t(*block, mode);
    u64 rip = state.rip;
    for (unsigned n = 0; n < max_insns; ++n) {
        const Fetched f = Fetch(memory, state, rip);
        if (f.fault) {
            if (n == 0) *fault = *f.fault;
            break;  // a later instruction starts the next block and faults there
        }
        const auto decoded = Decode(std::span<const u8>(f.bytes, f.size), mode.decode);
        if (!decoded) {
            if (decoded.error() == DecodeError::Truncated && f.second_fault) {
                if (n == 0) *fault = *f.second_fault;
                break;
            }
            t.RaiseAt(rip, decoded.error() == DecodeError::TooLong ? vec::GP : vec::UD);
            break;
        }
        if (log::Enabled(log::Category::InAsm)) log::Log(log::Category::InAsm, "{:#x}: {}", rip, FormatInsn(*decoded));
        const bool more = t.Translate(*decoded, rip);
        rip += decoded->length;
        if (mode.decode != DecodeMode::Bits64) rip &= 0xFFFFFFFF;
        if (!more) break;
    }
    if (block->guest_insns() == 0) return nullptr;
    t.EndBlock(rip);
    ir::Optimize(*block);
    if (log::Enabled(log::Category::Op)) log::Log(log::Category::Op, "{}", block->ToString());
    return block;
}

bool Vcpu::Impl::OnException(const ir::Fault& f, RunResult& result) {
    const u64 rip = state.rip;
    log::Log(log::Category::Int, "exception {} error {:#x} at rip {:#x}", f.vector, f.error_code, rip);
    if (state.idtr.limit != 0) {
        const CpuMode mode = state.mode();
        bool delivered = false;
        if (mode == CpuMode::Real) delivered = DeliverReal(memory, state, f);
        if (mode == CpuMode::Long64) delivered = DeliverLong(memory, state, f);
        if (delivered && ++deliveries_without_progress > 3) {
            result.reason = StopReason::TripleFault;
            result.exception = InfoOf(f, rip);
            return true;
        }
        if (delivered) {
            if (f.vector == vec::PF) state.cr2 = f.cr2;
            state.halted = false;
            return false;
        }
        log::Log(log::Category::Int, "exception {} not delivered (unsupported mode or bad gate)", f.vector);
    }
    result.reason = StopReason::Exception;
    result.exception = InfoOf(f, rip);
    return true;
}

Vcpu::Vcpu(MemoryInterface& memory, Backend backend) : impl_(std::make_unique<Impl>(memory, backend)) {
    ResetState(impl_->state);
}

Vcpu::~Vcpu() = default;

CpuState& Vcpu::state() { return impl_->state; }
const CpuState& Vcpu::state() const { return impl_->state; }

void Vcpu::RequestStop() { impl_->stop_requested.store(true, std::memory_order_relaxed); }

void Vcpu::InvalidateAllCode() { impl_->cache.Clear(); }

RunResult Vcpu::Run(u64 max_instructions) {
    Impl& m = *impl_;
    RunResult result;
    // TODO(jit): Backend::Jit runs on the interpreter until the JIT lands.
    while (true) {
        if (m.stop_requested.exchange(false, std::memory_order_relaxed)) {
            result.reason = StopReason::Stopped;
            return result;
        }
        if (m.state.halted) {
            result.reason = StopReason::Halted;
            return result;
        }
        if (result.instructions >= max_instructions) {
            result.reason = StopReason::InstructionLimit;
            return result;
        }
        // The passes assume a block runs to its end (or an exception), so a budget smaller than a block gets a
        // block of exactly that many instructions, cached under its own key.
        const u64 remaining = max_instructions - result.instructions;
        const u32 limit = remaining < kMaxBlockInsns ? static_cast<u32>(remaining) : 0;
        const u32 mode_key = translate::BlockMode::Of(m.state).Key() | (limit << 24);
        const u64 linear = LinearRip(m.state, m.state.rip);
        const ir::Block* block = m.cache.Find(linear, mode_key);
        if (block == nullptr) {
            ir::Fault fault;
            std::unique_ptr<ir::Block> fresh = m.Translate(&fault, limit ? limit : kMaxBlockInsns);
            if (!fresh) {
                if (m.OnException(fault, result)) return result;
                continue;
            }
            block = m.cache.Insert(linear, mode_key, std::move(fresh));
        }
        m.state.interrupt_shadow = false;
        const interp::ExecResult r = m.interpreter.Execute(*block, m.state, m.memory);
        result.instructions += r.instructions;
        if (r.instructions > 0) m.deliveries_without_progress = 0;
        switch (r.kind) {
            case interp::ExitKind::Continue:
            case interp::ExitKind::InstructionLimit: break;  // (no budget is passed: not reached)
            case interp::ExitKind::Halted: result.reason = StopReason::Halted; return result;
            case interp::ExitKind::Exception:
                if (m.OnException(*r.fault, result)) return result;
                break;
        }
    }
}

void ResetState(CpuState& s) {
    s = CpuState{};
    // Real-mode segments: present, accessed, 64 KiB limit; CS is code (type 0xB), the rest data (type 0x3).
    constexpr u32 kCode = 0x9B, kData = 0x93;
    for (Segment& seg : s.seg) seg = Segment{0, 0, 0xFFFF, kData};
    s.segment(SegReg::Cs) = Segment{0xF000, 0xFFFF0000, 0xFFFF, kCode};
    s.rip = 0xFFF0;
    s.rflags = rflags::Reserved1;
    s.cr0 = cr0::ET | cr0::NW | cr0::CD;
    s.gdtr = DescriptorTable{0, 0xFFFF};
    s.idtr = DescriptorTable{0, 0xFFFF};
    s.ldtr = Segment{0, 0, 0xFFFF, 0x82};
    s.tr = Segment{0, 0, 0xFFFF, 0x8B};
    s.reg(Gpr::Rdx) = 0x000306A9;  // the processor signature, as CPUID.1:EAX reports it
}

}  // namespace emu::cpu
