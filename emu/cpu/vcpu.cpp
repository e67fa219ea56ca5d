// The vCPU run loop: fetch, decode, translate a block, optimize, run it on the interpreter, and turn
// exceptions into stops (or, later, deliveries).
#include "emu/cpu/vcpu.h"

#include <atomic>
#include <span>

#include "emu/common/disasm.h"
#include "emu/common/log.h"
#include "emu/cpu/block_cache.h"
#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/interp/interpreter.h"
#include "emu/cpu/system/exceptions.h"
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

}  // namespace

struct Vcpu::Impl {
    MemoryInterface& memory;
    Backend backend;
    CpuState state;
    BlockCache cache;
    // The address space the cached blocks were translated in (see DropCodeOnAddressSpaceChange).
    u64 code_space = ~u64{0};
    interp::Interpreter interpreter;
    std::atomic<bool> stop_requested{false};
    InterruptSource* interrupts = nullptr;
    // Exceptions delivered since the last retired instruction: a handler whose first instruction faults (its
    // page is missing, say) would otherwise loop until its stack runs out. The #DF and triple-fault rules of
    // faults *during* delivery are system::DeliverEvent's.
    unsigned deliveries_without_progress = 0;

    // Translates the block at state.rip. Returns null and sets *fault when its first instruction
    // cannot be fetched (nothing to translate).
    std::unique_ptr<ir::Block> Translate(ir::Fault* fault, unsigned max_insns);
    // Handles an exception: returns true if Run must stop.
    bool OnException(const ir::Fault& f, RunResult& result);
    // Delivers a pending NMI or maskable interrupt, if any: returns true if Run must stop (triple fault).
    bool PollInterrupts(RunResult& result);
    bool DeliverExternal(u8 vector, RunResult& result);
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
        if (log::Enabled(log::Category::InAsm)) {
            const unsigned bits = mode.decode == DecodeMode::Bits64 ? 64 : mode.decode == DecodeMode::Bits32 ? 32 : 16;
            log::Log(log::Category::InAsm, "{:#x}: {}", rip,
                     DisassembleOne(std::span<const u8>(f.bytes, decoded->length), rip, bits));
        }
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
    // IDTR.limit == 0 means "no IDT": bare runs and unit tests stop at the first exception. (After reset the
    // real-mode IVT has limit 0xFFFF, so firmware-style real-mode code delivers normally.)
    if (state.idtr.limit == 0) {
        result.reason = StopReason::Exception;
        result.exception = InfoOf(f, rip);
        return true;
    }
    const system::Event event{f.vector, f.software ? system::EventKind::SoftwareInt : system::EventKind::Exception,
                              f.has_error_code && !f.software, f.error_code, f.cr2};
    if (++deliveries_without_progress > 3 ||
        system::DeliverEvent(state, memory, event) == system::DeliveryResult::TripleFault) {
        log::Log(log::Category::Int, "triple fault delivering exception {}", f.vector);
        result.reason = StopReason::TripleFault;
        result.exception = InfoOf(f, rip);
        return true;
    }
    state.halted = false;
    return false;
}

bool Vcpu::Impl::DeliverExternal(u8 vector, RunResult& result) {
    log::Log(log::Category::Int, "interrupt {} at rip {:#x}", vector, state.rip);
    state.halted = false;  // the return address is after the HLT
    const system::Event event{vector, system::EventKind::External, false, 0, 0};
    if (system::DeliverEvent(state, memory, event) == system::DeliveryResult::TripleFault) {
        result.reason = StopReason::TripleFault;
        return true;
    }
    return false;
}

bool Vcpu::Impl::PollInterrupts(RunResult& result) {
    if (interrupts == nullptr) return false;
    if (!state.nmi_blocked && interrupts->HasNmi()) {
        interrupts->AcknowledgeNmi();
        state.nmi_blocked = true;
        return DeliverExternal(vec::NMI, result);
    }
    if ((state.rflags & rflags::IF) && !state.interrupt_shadow && interrupts->HasInterrupt()) {
        return DeliverExternal(interrupts->Acknowledge(), result);
    }
    return false;
}

Vcpu::Vcpu(MemoryInterface& memory, Backend backend) : impl_(std::make_unique<Impl>(memory, backend)) {
    ResetState(impl_->state);
}

Vcpu::~Vcpu() = default;

CpuState& Vcpu::state() { return impl_->state; }
const CpuState& Vcpu::state() const { return impl_->state; }

void Vcpu::RequestStop() { impl_->stop_requested.store(true, std::memory_order_relaxed); }

void Vcpu::InvalidateAllCode() { impl_->cache.Clear(); }

void Vcpu::SetInterruptSource(InterruptSource* source) { impl_->interrupts = source; }

RunResult Vcpu::Run(u64 max_instructions) {
    Impl& m = *impl_;
    RunResult result;
    // TODO(jit): Backend::Jit runs on the interpreter until the JIT lands.
    while (true) {
        if (m.stop_requested.exchange(false, std::memory_order_relaxed)) {
            result.reason = StopReason::Stopped;
            return result;
        }
        if (m.PollInterrupts(result)) return result;
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
        // Blocks are keyed by linear address, so every translation is dropped when the address space changes
        // (a CR3 switch: another process, or Linux's text_poke through a temporary mm; a paging-mode change)
        // and when the memory path saw a write to a page code was fetched from (self-modifying code, checked
        // at block boundaries). Correct, at the price of re-translating; a physically indexed cache with
        // per-page invalidation through page-track is the planned refinement.
        const u64 space = m.state.cr3 ^ ((m.state.cr0 & cr0::PG) << 32) ^ ((m.state.cr4 & (cr4::PAE | cr4::LA57)) << 40);
        if (space != m.code_space || m.memory.TakeCodeWritten()) {
            m.cache.Clear();
            m.code_space = space;
        }
        const u64 remaining = max_instructions - result.instructions;
        const u32 limit = remaining < kMaxBlockInsns ? static_cast<u32>(remaining) : 0;
        const u32 mode_key = translate::BlockMode::Of(m.state).Key() | (limit << 24);
        const u64 linear = LinearRip(m.state, m.state.rip);
        const ir::Block* block = m.cache.Find(linear, m.state.rip, mode_key);
        if (block == nullptr) {
            ir::Fault fault;
            std::unique_ptr<ir::Block> fresh = m.Translate(&fault, limit ? limit : kMaxBlockInsns);
            if (!fresh) {
                if (m.OnException(fault, result)) return result;
                continue;
            }
            block = m.cache.Insert(linear, m.state.rip, mode_key, std::move(fresh));
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
