// The vCPU run loop: fetch, decode, translate a block, optimize, run it on the interpreter, and turn
// exceptions into stops (or, later, deliveries).
#include "emu/cpu/vcpu.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <span>
#include <utility>

#include "emu/common/disasm.h"
#include "emu/common/log.h"
#include "emu/cpu/block_cache.h"
#include "emu/cpu/decoder/decoder.h"
#include "emu/cpu/interp/interpreter.h"
#include "emu/cpu/jit/jit.h"
#include "emu/cpu/system/cpu_model.h"
#include "emu/cpu/system/debug.h"
#include "emu/cpu/system/exceptions.h"
#include "emu/cpu/ir/passes/passes.h"
#include "emu/cpu/translate/translator.h"

namespace emu::cpu {
namespace {

constexpr unsigned kMaxBlockInsns = 128;

u64 LinearRip(const CpuState& s, u64 rip) {
    if (s.mode() == CpuMode::Long64) return rip;
    return (s.segment(SegReg::Cs).base + rip) & 0xFFFFFFFF;
}

// The linear address of the page after the one holding `linear` (it wraps at 4 GiB outside 64-bit mode).
u64 NextPage(const CpuState& s, u64 linear) {
    const u64 next = (linear & ~kPageMask) + kPageSize;
    return s.mode() == CpuMode::Long64 ? next : next & 0xFFFFFFFF;
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

// What the debug step needs to know about an instruction before running it (SDM Vol. 3 18.3.1.4, 6.8.3).
struct DebugTraits {
    bool loads_ss = false;  // MOV SS / POP SS: debug traps wait for the next instruction
    bool syscall = false;   // SYSCALL: no single-step trap when SFMASK cleared TF
};

DebugTraits TraitsOf(MemoryInterface& memory, const CpuState& s, DecodeMode mode) {
    DebugTraits t;
    const Fetched f = Fetch(memory, s, s.rip);
    if (f.fault) return t;
    const auto d = Decode(std::span<const u8>(f.bytes, f.size), mode);
    if (!d) return t;
    const Operand& dst = d->operands[0];
    t.loads_ss = (d->mnemonic == Mnemonic::MOV || d->mnemonic == Mnemonic::POP) &&
                 dst.kind == OperandKind::Reg && dst.reg_class == RegClass::Seg &&
                 dst.reg == static_cast<u8>(SegReg::Ss);
    t.syscall = d->mnemonic == Mnemonic::SYSCALL;
    return t;
}

}  // namespace

struct Vcpu::Impl {
    Impl(MemoryInterface& m, Backend b, JitOptions options)
        : memory(m), backend(b), jit_options(options), cache(options.block_cache_bytes) {
        jit_ctx.state = &state;
        jit_ctx.memory = &memory;
        jit_ctx.tlb_supervisor = memory.InlineTlb(false);
        jit_ctx.tlb_user = memory.InlineTlb(true);
        memory.SetExitSignal(&jit_ctx.exit_request);
    }
    ~Impl() {
        memory.SetExitSignal(nullptr);
        if (jit && log::Enabled(log::Category::Exec)) {
            log::Log(log::Category::Exec,
                     "jit: {} blocks compiled ({} KiB host code), {} code-buffer flushes, {} dispatcher entries "
                     "({} exits to link, {} chained), {} interpreted blocks; code writes: {} ranges, {} blocks "
                     "dropped, {} full drops",
                     stats.compiled, stats.code_bytes / 1024, jit->flushes(), stats.entries, stats.link_exits,
                     stats.links, stats.interpreted, stats.code_writes, stats.dropped_blocks, stats.full_drops);
        }
    }
    struct Stats {
        u64 compiled = 0, code_bytes = 0, entries = 0, link_exits = 0, links = 0, interpreted = 0;
        u64 code_writes = 0, dropped_blocks = 0, full_drops = 0;
    } stats;
    std::vector<u64> emptied_pages;  // DropWrittenCode's scratch list

    MemoryInterface& memory;
    Backend backend;
    JitOptions jit_options;
    CpuState state;
    std::unique_ptr<jit::Jit> jit;  // made at the first block the JIT runs; outlives the blocks, which patch its code
    BlockCache cache;
    interp::Interpreter interpreter;
    // A mapping of its own, so that it lands among the other large allocations' mappings, the soft TLB's tables
    // included, and translated code reaches those tables relative to it (within 2 GiB; far away, each access
    // loads the table's address instead).
    struct UnmapContext {
        void operator()(jit::JitContext* c) const {
            c->~JitContext();
            munmap(c, sizeof(jit::JitContext));
        }
    };
    static jit::JitContext* MapContext() {
        void* p = mmap(nullptr, sizeof(jit::JitContext), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        return new (p) jit::JitContext();
    }
    std::unique_ptr<jit::JitContext, UnmapContext> jit_ctx_owner{MapContext()};
    jit::JitContext& jit_ctx = *jit_ctx_owner;
    // The direct exit the last block left through unchained, and cache.removals() then (the slot's block may
    // have been dropped since).
    jit::ExitSlot* pending_link = nullptr;
    u64 pending_link_removals = 0;
    std::atomic<bool> stop_requested{false};
    InterruptSource* interrupts = nullptr;
    // Whether the interrupt source must be polled at the next block boundary. Polling takes the controllers' locks,
    // so it is skipped while nothing can have changed: the flag is set by a kick (a device raised a line), a port or
    // MMIO access (EOI, TPR, masks), a block that left for the dispatcher (CR8 writes and other state changes), and
    // any interpreted block; it is cleared only by a poll that finds nothing pending (so an interrupt held back by
    // RFLAGS.IF, a shadow or NMI blocking is polled for until it is delivered).
    bool poll_interrupts = true;
    // Exceptions delivered since the last retired instruction: a handler whose first instruction faults (its
    // page is missing, say) would otherwise loop until its stack runs out. The #DF and triple-fault rules of
    // faults *during* delivery are system::DeliverEvent's.
    unsigned deliveries_without_progress = 0;
    // Debug traps held back by a MOV SS / POP SS for one instruction: DR6 B0-B3 hits and BS.
    u32 pending_debug_hits = 0;
    u64 pending_debug_status = 0;
    // An external debugger's breakpoints and watchpoints (debugger_targets.h), the breakpoint the next run starts
    // at and must not stop at, and whether external interrupts wait (a debugger's single step).
    DebuggerTargets debugger;
    std::optional<u64> skip_breakpoint;
    bool stepping = false;

    // Translates the block at state.rip. Returns null and sets *fault when its first instruction
    // cannot be fetched (nothing to translate). *span: how many bytes from state.rip the translation read.
    std::unique_ptr<ir::Block> Translate(ir::Fault* fault, unsigned max_insns, u64* span);
    // The cached block at state.rip of at most `limit` instructions (0: no limit), translated if missing. Returns
    // null and sets *fault when its first instruction cannot be fetched.
    CachedBlock* FindOrTranslate(u32 limit, ir::Fault* fault);
    // The block's host code, compiling it on first use; null if the JIT cannot run it (the interpreter then does).
    // Sets *flushed when the code buffer filled up and every block was dropped (the caller looks the block up again).
    jit::CompiledBlock* Compiled(CachedBlock& b, bool* flushed);
    // Runs translated code from `b`: returns true if Run must stop.
    bool RunJit(jit::CompiledBlock& b, u64 budget, RunResult& result);
    // Chains the exit the previous block left through to `target`, when that is safe (see jit.h).
    void LinkPending(jit::CompiledBlock& target);
    // Whether a cached block's bytes are still what RIP's linear pages map to (`linear`: RIP's linear address).
    bool StillMapped(const CachedBlock& b, u64 linear);
    bool SecondPageStillMapped(const CachedBlock& b, u64 linear);
    // Self-modifying code: drops the translations made from pages the memory path saw written.
    void DropWrittenCode();
    // Handles an exception: returns true if Run must stop.
    bool OnException(const ir::Fault& f, RunResult& result);
    bool OnEvent(const system::Event& event, RunResult& result);
    // Runs one instruction with the debug checks (system/debug.h) around it: returns true if Run must stop.
    bool DebugStep(RunResult& result);
    // After DebugStep's instruction: the guest's data-breakpoint `hits` and single-step become a #DB trap (held for
    // one instruction after MOV SS). Returns true if Run must stop.
    bool GuestDebugTraps(const interp::ExecResult& r, const DebugTraits& traits, bool single_step, u32 hits,
                         RunResult& result);
    // Whether a debugger breakpoint is at RIP now (the one being resumed from excepted, once).
    bool AtDebuggerBreakpoint();
    // Whether a block starting at `rip` may be entered other than through the dispatcher (chains, the jump cache).
    bool MayEnterDirectly(u64 rip) const {
        return debugger.breakpoints.empty() || !debugger.IsBreakpoint(LinearRip(state, rip));
    }
    // Delivers a pending NMI or maskable interrupt, if any: returns true if Run must stop (triple fault).
    bool PollInterrupts(RunResult& result);
    bool InterruptPending() const;
    bool DeliverExternal(u8 vector, RunResult& result);
};

std::unique_ptr<ir::Block> Vcpu::Impl::Translate(ir::Fault* fault, unsigned max_insns, u64* span) {
    const translate::BlockMode mode = translate::BlockMode::Of(state);
    auto block = std::make_unique<ir::Block>(state.rip);
    translate::Translator t(*block, mode);
    u64 rip = state.rip;
    *span = 0;
    for (unsigned n = 0; n < max_insns; ++n) {
        // A debugger breakpoint starts a block of its own: the dispatcher checks it before running that block.
        if (n > 0 && !debugger.breakpoints.empty() && debugger.IsBreakpoint(LinearRip(state, rip))) break;
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
            *span += f.size;  // the exception depends on every byte looked at
            break;
        }
        *span += decoded->length;
        if (log::Enabled(log::Category::InAsm)) {
            const unsigned bits = mode.decode == DecodeMode::Bits64 ? 64 : mode.decode == DecodeMode::Bits32 ? 32 : 16;
            log::Log(log::Category::InAsm, "{:#x}: {}", rip,
                     DisassembleOne(std::span<const u8>(f.bytes, decoded->length), rip, bits));
        }
        const bool more = t.Translate(*decoded, rip);
        rip = translate::WrapIp(rip + decoded->length, mode.decode);
        if (!more) break;
        // A block stops at the end of its first page, as QEMU's: only an instruction that straddles the boundary
        // puts bytes of a block on a second page, so almost every block can be chained to and found by the JIT's
        // jump cache, which check one page.
        if (((LinearRip(state, rip) ^ LinearRip(state, state.rip)) & ~kPageMask) != 0) break;
    }
    if (block->guest_insns() == 0) return nullptr;
    t.EndBlock(rip);
    ir::Optimize(*block);
    // The block is kept as long as it is cached (by the interpreter, or until the JIT compiles it): give back what
    // the instruction vector's growth left over, the cache counts capacity.
    block->insts().shrink_to_fit();
    if (log::Enabled(log::Category::Op)) log::Log(log::Category::Op, "{}", block->ToString());
    return block;
}

bool Vcpu::Impl::OnException(const ir::Fault& f, RunResult& result) {
    if (f.restart) return false;  // RIP is still the instruction's: it runs again
    const auto kind = f.icebp ? system::EventKind::Icebp
                      : f.software ? system::EventKind::SoftwareInt
                                   : system::EventKind::Exception;
    // Faults push RF = 1. The only #DB raised by IR code is general detect, a fault.
    const bool fault = !f.software && (system::IsFaultVector(f.vector) || f.vector == vec::DB);
    return OnEvent(system::Event{f.vector, kind, f.has_error_code && !f.software, f.error_code, f.cr2, fault,
                                 f.insn_rip},
                   result);
}

bool Vcpu::Impl::OnEvent(const system::Event& event, RunResult& result) {
    const u64 rip = state.rip;
    const ExceptionInfo info{event.vector, event.has_error_code, event.error_code, event.cr2, rip};
    log::Log(log::Category::Int, "exception {} error {:#x} at rip {:#x}", event.vector, event.error_code, rip);
    // IDTR.limit == 0 means "no IDT": bare runs and unit tests stop at the first exception. (After reset the
    // real-mode IVT has limit 0xFFFF, so firmware-style real-mode code delivers normally.)
    if (state.idtr.limit == 0) {
        result.reason = StopReason::Exception;
        result.exception = info;
        return true;
    }
    if (++deliveries_without_progress > 3 ||
        system::DeliverEvent(state, memory, event) == system::DeliveryResult::TripleFault) {
        log::Log(log::Category::Int, "triple fault delivering exception {}", event.vector);
        result.reason = StopReason::TripleFault;
        result.exception = info;
        return true;
    }
    state.halted = false;
    return false;
}

bool Vcpu::Impl::StillMapped(const CachedBlock& b, u64 linear) {
    u64 gpa = 0;
    MemFault ignored;
    return memory.TranslateFetch(state, linear, state.cpl() == 3, &gpa, &ignored) && gpa == b.gpa &&
           SecondPageStillMapped(b, linear);
}

// A block found by the physical address of its first byte still has to check the page its bytes run into.
bool Vcpu::Impl::SecondPageStillMapped(const CachedBlock& b, u64 linear) {
    if (b.page2_gpa == kNoPage) return true;
    u64 gpa = 0;
    MemFault ignored;
    return memory.TranslateFetch(state, NextPage(state, linear), state.cpl() == 3, &gpa, &ignored) &&
           (gpa & ~kPageMask) == b.page2_gpa;
}

CachedBlock* Vcpu::Impl::FindOrTranslate(u32 limit, ir::Fault* fault) {
    // CPL is in the key because JIT code reads the soft-TLB table of its privilege inline.
    const u32 mode_key = translate::BlockMode::Of(state).Key() | (u32{state.cpl()} << 20) | (limit << 24);
    const u64 linear = LinearRip(state, state.rip);
    if (CachedBlock* hit = cache.FindByRip(state.rip, mode_key); hit != nullptr && StillMapped(*hit, linear)) {
        return hit;
    }
    // The key: where RIP's bytes are now. A fault here is the one the first fetch would raise.
    u64 gpa = 0;
    MemFault mf;
    if (!memory.TranslateFetch(state, linear, state.cpl() == 3, &gpa, &mf)) {
        *fault = FaultOf(mf);
        return nullptr;
    }
    if (CachedBlock* hit = cache.Find(gpa, state.rip, mode_key); hit != nullptr && SecondPageStillMapped(*hit, linear)) {
        cache.Remember(hit);
        return hit;
    }
    CachedBlock fresh;
    u64 span = 0;
    fresh.block = Translate(fault, limit ? limit : kMaxBlockInsns, &span);
    if (!fresh.block) return nullptr;
    fresh.gpa = gpa;
    fresh.rip = state.rip;
    fresh.mode = mode_key;
    fresh.span = std::max<u64>(span, 1);
    // Bytes in the next linear page make the block depend on that page's mapping too (at most two pages: a
    // block is far shorter than a page). The fetches that read them succeeded, so this translation should too;
    // if it does not, the block keeps a page address that never matches and is translated again next time.
    if ((linear & kPageMask) + span > kPageSize) {
        u64 gpa2 = 0;
        const bool mapped = memory.TranslateFetch(state, NextPage(state, linear), state.cpl() == 3, &gpa2, &mf);
        fresh.page2_gpa = mapped ? gpa2 & ~kPageMask : kPageMask;
    }
    return cache.Insert(std::move(fresh));
}

void Vcpu::Impl::DropWrittenCode() {
    const std::span<const CodeWrite> writes = memory.CodeWrites();
    if (writes.empty()) {
        ++stats.full_drops;
        cache.Clear();
        return;
    }
    stats.code_writes += writes.size();
    emptied_pages.clear();
    for (const CodeWrite& w : writes) stats.dropped_blocks += cache.InvalidateRange(w.gpa, w.size, &emptied_pages);
    for (const u64 gfn : emptied_pages) memory.ReleaseCodePage(gfn);
}

bool Vcpu::Impl::DebugStep(RunResult& result) {
    CpuState& s = state;
    // RF suppresses the instruction breakpoints of one instruction and is cleared as it starts (SDM 18.3.1.1).
    const bool resume = s.rflags & rflags::RF;
    s.rflags &= ~rflags::RF;
    if (!resume) {
        if (const u32 hits = system::InstructionBreakpointHits(s, LinearRip(s, s.rip))) {
            // A fault: the saved RIP is the instruction, RF is pushed as it is (0); the handler sets RF in the
            // frame to resume past the breakpoint.
            system::ReportDebug(s, hits, 0);
            return OnEvent(system::Event{vec::DB, system::EventKind::Exception, false, 0, 0, false}, result);
        }
    }
    const DebugTraits traits = TraitsOf(memory, s, translate::BlockMode::Of(s).decode);
    const bool single_step = s.rflags & rflags::TF;  // TF as the instruction starts: POPF setting it does not trap
    ir::Fault fault;
    const CachedBlock* found = FindOrTranslate(1, &fault);
    const ir::Block* block = found ? found->block.get() : nullptr;
    if (block == nullptr) return OnException(fault, result);
    s.interrupt_shadow = false;
    system::WatchMemory watch(memory);
    if (!debugger.watchpoints.empty()) watch.SetDebuggerWatchpoints(&debugger);
    const bool watching = system::DataBreakpoints(s) != 0 || !debugger.watchpoints.empty();
    const interp::ExecResult r = interpreter.Execute(*block, s, watching ? static_cast<MemoryInterface&>(watch) : memory);
    result.instructions += r.instructions;
    if (r.instructions > 0) deliveries_without_progress = 0;
    // An exception or INT n ends the instruction without a trap; delivery cleared TF (the trap of the handler's
    // IRET target comes from the restored TF).
    if (r.kind == interp::ExitKind::Exception) return OnException(*r.fault, result);
    // The instruction completed: a debugger watchpoint stops the run after the guest's own traps are delivered.
    const std::optional<DebuggerWatchpoint> watched = watch.TakeDebuggerHit();
    const bool stop = GuestDebugTraps(r, traits, single_step, watch.TakeHits(), result);
    if (watched && !stop) {
        result.reason = StopReason::Watchpoint;
        result.watchpoint = watched;
        return true;
    }
    return stop;
}

bool Vcpu::Impl::GuestDebugTraps(const interp::ExecResult& r, const DebugTraits& traits, bool single_step, u32 hits,
                                 RunResult& result) {
    CpuState& s = state;
    u64 status = 0;
    if (single_step && !(traits.syscall && !(s.rflags & rflags::TF))) status |= system::dr6::BS;
    if (traits.loads_ss) {  // held for one instruction (SDM Vol. 3 6.8.3)
        pending_debug_hits |= hits;
        pending_debug_status |= status;
        hits = 0;
        status = 0;
    } else {
        hits |= std::exchange(pending_debug_hits, 0);
        status |= std::exchange(pending_debug_status, 0);
    }
    if (hits == 0 && status == 0) {
        if (r.kind != interp::ExitKind::Halted) return false;
        result.reason = StopReason::Halted;
        return true;
    }
    // A trap: the saved RIP is the next instruction (after a HLT too: the handler returns past it).
    system::ReportDebug(s, hits, status);
    return OnEvent(system::Event{vec::DB, system::EventKind::Exception, false, 0, 0, false}, result);
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

bool Vcpu::Impl::AtDebuggerBreakpoint() {
    const std::optional<u64> skip = std::exchange(skip_breakpoint, std::nullopt);
    if (debugger.breakpoints.empty()) return false;
    const u64 linear = LinearRip(state, state.rip);
    return linear != skip && debugger.IsBreakpoint(linear);
}

bool Vcpu::Impl::InterruptPending() const {
    return interrupts != nullptr && (interrupts->HasInterrupt() || interrupts->HasNmi());
}

bool Vcpu::Impl::PollInterrupts(RunResult& result) {
    if (!poll_interrupts || stepping) return false;
    if (!InterruptPending()) {
        poll_interrupts = false;
        jit_ctx.masked_interrupt = 0;
        return false;
    }
    jit_ctx.masked_interrupt = 1;  // cleared by the poll that finds nothing left
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

Vcpu::Vcpu(MemoryInterface& memory, Backend backend, JitOptions jit)
    : impl_(std::make_unique<Impl>(memory, backend, jit)) {
    ResetState(impl_->state);
}

Vcpu::~Vcpu() = default;

CpuState& Vcpu::state() { return impl_->state; }
const CpuState& Vcpu::state() const { return impl_->state; }

void Vcpu::RequestStop() {
    impl_->stop_requested.store(true, std::memory_order_relaxed);
    impl_->jit_ctx.exit_request.fetch_or(exit_bit::kStop | exit_bit::kInterrupt, std::memory_order_relaxed);
}

void Vcpu::Kick() { impl_->jit_ctx.exit_request.fetch_or(jit::exit_bit::kInterrupt, std::memory_order_relaxed); }

Backend Vcpu::backend() const { return impl_->backend; }

void Vcpu::InvalidateAllCode() { impl_->cache.Clear(); }

size_t Vcpu::BlockCacheBytes() const { return impl_->cache.bytes(); }

void Vcpu::SetInterruptSource(InterruptSource* source) { impl_->interrupts = source; }

void Vcpu::SetDebuggerTargets(DebuggerTargets targets) {
    impl_->debugger = std::move(targets);
    // Blocks made before may run past a new breakpoint, and chains or jump-cache entries may lead into one.
    impl_->pending_link = nullptr;
    impl_->cache.Clear();
}

void Vcpu::SkipBreakpointOnce() { impl_->skip_breakpoint = LinearRip(impl_->state, impl_->state.rip); }

RunResult Vcpu::Step() {
    impl_->stepping = true;
    const RunResult r = Run(1);
    impl_->stepping = false;
    return r;
}

namespace {

// A run is in guest mode from start to end (MemoryInterface::EnterGuest): other threads wait for it to leave before
// they rely on a flush of its TLB.
class GuestMode {
public:
    explicit GuestMode(MemoryInterface& memory) : memory_(memory) { memory_.EnterGuest(); }
    ~GuestMode() { memory_.LeaveGuest(); }
    GuestMode(const GuestMode&) = delete;
    GuestMode& operator=(const GuestMode&) = delete;

private:
    MemoryInterface& memory_;
};

}  // namespace

RunResult Vcpu::Run(u64 max_instructions, bool overshoot) {
    Impl& m = *impl_;
    RunResult result;
    const GuestMode guest_mode(m.memory);
    m.poll_interrupts = true;  // the machine may have changed anything between runs
    while (true) {
        // Cleared before polling: a Kick from now on makes translated code leave at its next block entry. (Acquire: a
        // kicking thread's request, posted before its kick, is visible to the safe point below.)
        if (m.jit_ctx.exit_request.exchange(0, std::memory_order_acquire) & exit_bit::kInterrupt) {
            m.poll_interrupts = true;
        }
        m.memory.SafePoint();  // another thread may wait for this vCPU to apply a flush
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
        // Blocks are keyed by the physical address of their code (block_cache.h), so they survive CR3 switches;
        // those made from a page the memory path saw written are dropped here, at block boundaries
        // (self-modifying code, text_poke, a page reused for another program's code).
        if (m.memory.TakeCodeWritten()) m.DropWrittenCode();
        // Single-step and breakpoints run one instruction at a time; otherwise RF (left by IRET after a fault)
        // only needs clearing as the next instruction starts.
        if (m.AtDebuggerBreakpoint()) {
            result.reason = StopReason::Breakpoint;
            return result;
        }
        if (system::DebugActive(m.state) || m.pending_debug_status != 0 || m.pending_debug_hits != 0 ||
            !m.debugger.watchpoints.empty()) {
            m.poll_interrupts = true;
            m.pending_link = nullptr;
            if (m.DebugStep(result)) return result;
            continue;
        }
        m.state.rflags &= ~rflags::RF;
        // With nothing pending, the shadow cannot hold an interrupt back: one that arrives from now on may as well
        // have arrived after the next block.
        if (m.state.interrupt_shadow && !m.InterruptPending()) m.state.interrupt_shadow = false;
        const u64 remaining = max_instructions - result.instructions;
        // The instruction after STI or MOV SS / POP SS runs alone: an interrupt held back by the shadow is taken right
        // after it (SDM Vol. 3 6.8.3), not at the end of a longer block. A one-instruction block is interpreted on
        // both backends (the JIT runs only unlimited blocks).
        const u32 limit = m.state.interrupt_shadow                  ? 1
                          : !overshoot && remaining < kMaxBlockInsns ? static_cast<u32>(remaining)
                                                                     : 0;
        ir::Fault fault;
        CachedBlock* found = m.FindOrTranslate(limit, &fault);
        if (found == nullptr) {
            if (m.OnException(fault, result)) return result;
            continue;
        }
        m.state.interrupt_shadow = false;
        // The JIT runs blocks without an instruction limit; the last few instructions of a budget run below.
        if (m.backend == Backend::Jit && limit == 0) {
            bool flushed = false;
            if (jit::CompiledBlock* compiled = m.Compiled(*found, &flushed)) {
                const u64 budget = overshoot ? remaining + std::min<u64>(kMaxBlockInsns - 1, ~remaining) : remaining;
                if (m.RunJit(*compiled, budget, result)) return result;
                continue;
            }
            if (flushed) continue;
        }
        m.pending_link = nullptr;
        m.poll_interrupts = true;
        ++m.stats.interpreted;
        const interp::ExecResult r =
            m.interpreter.Execute(*found->block, m.state, m.memory, ~u64{0}, &m.jit_ctx.exit_request);
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

jit::CompiledBlock* Vcpu::Impl::Compiled(CachedBlock& b, bool* flushed) {
    if (b.compiled) return b.compiled.get();
    if (b.jit_failed) return nullptr;
    if (!jit) {
        jit = std::make_unique<jit::Jit>(jit_options.code_cache_bytes, jit_options.perf_map, jit_ctx.tlb_supervisor,
                                         jit_ctx.tlb_user);
    }
    jit::CompileInfo info;
    info.key = b.mode;
    info.linear_page = LinearRip(state, b.rip) & ~kPageMask;
    info.single_page = b.page2_gpa == kNoPage;
    info.user = state.cpl() == 3;
    info.tlb_table = memory.InlineTlb(info.user);
    info.probe_indirect = state.mode() == CpuMode::Long64;
    info.ctx = &jit_ctx;
    b.compiled = jit->Compile(*b.block, info);
    if (b.compiled) {
        ++stats.compiled;
        stats.code_bytes += b.compiled->code_size;
        b.compiled->gpa_page = b.gpa & ~kPageMask;
        // The host code is all that runs from now on (instruction-limited and single-step runs use blocks of their
        // own keys): the IR can go.
        b.block.reset();
        cache.Recount(b);
        return b.compiled.get();
    }
    if (!jit->Full()) {
        b.jit_failed = true;
        return nullptr;
    }
    // The code buffer is full: drop every block (their chains go with them) and start again, as QEMU's tb_flush.
    pending_link = nullptr;
    cache.Clear();
    jit->Flush();
    log::Log(log::Category::Exec, "JIT code buffer full: flushed ({} flushes)", jit->flushes());
    *flushed = true;
    return nullptr;
}

void Vcpu::Impl::LinkPending(jit::CompiledBlock& target) {
    jit::ExitSlot* slot = std::exchange(pending_link, nullptr);
    if (slot == nullptr || pending_link_removals != cache.removals() || !MayEnterDirectly(target.rip)) return;
    const jit::CompiledBlock& from = *slot->owner;
    // A chain skips the dispatcher's check that RIP's page still maps the block's bytes; it is only safe within
    // one linear page (mapped by one translation, so both blocks' bytes are where that mapping points) and one
    // mode key, into a block whose bytes are all on that page.
    if (target.rip != slot->target_rip) return;
    if (target.key != from.key || !target.single_page || target.linear_page != from.linear_page ||
        target.gpa_page != from.gpa_page) {
        jit::Jit::ProbeInstead(*slot);  // asking again would be refused again: probe the jump cache instead
        return;
    }
    jit::Jit::Link(*slot, target);
    ++stats.links;
}

bool Vcpu::Impl::RunJit(jit::CompiledBlock& b, u64 budget, RunResult& result) {
    LinkPending(b);
    // The dispatcher just checked that RIP maps the block's bytes, so the code TLB entry says where they are.
    if ((b.jump_entry == nullptr || b.jump_entry->entry != b.entry) && MayEnterDirectly(b.rip)) {
        jit->Remember(b, memory.InlineTlb(state.cpl() == 3));
    }
    jit_ctx.budget = budget;
    ++stats.entries;
    const jit::JitExit exit = jit->Enter(jit_ctx, b);
    u64 retired = budget - jit_ctx.budget;
    switch (exit) {
        case jit::JitExit::Continue:
        case jit::JitExit::Entry: break;
        case jit::JitExit::Dispatcher: poll_interrupts = true; break;
        case jit::JitExit::Link:
            pending_link = jit_ctx.exit_slot;
            ++stats.link_exits;
            pending_link_removals = cache.removals();
            break;
        case jit::JitExit::Halted:
            result.instructions += retired;
            result.reason = StopReason::Halted;
            return true;
        case jit::JitExit::Exception: {
            const ir::Fault fault = *jit_ctx.fault;
            jit_ctx.fault.reset();
            jit_ctx.fault_pending = 0;
            if (fault.software) {
                state.rip = fault.next_rip;  // INT n retires: the handler returns after it
                ++retired;
            }
            result.instructions += retired;
            if (retired > 0) deliveries_without_progress = 0;
            return OnException(fault, result);
        }
    }
    result.instructions += retired;
    if (retired > 0) deliveries_without_progress = 0;
    return false;
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
    s.reg(Gpr::Rdx) = system::SelectedCpuModel().signature;  // the processor signature, as CPUID.1:EAX reports it
}

}  // namespace emu::cpu
