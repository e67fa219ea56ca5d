// The two vCPU runners of the PC machine (vcpu_runner.h).
#include "emu/machine/vcpu_runner.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "devices/irq/apic_regs.h"
#include "emu/common/log.h"
#include "emu/machine/guest_memory.h"

namespace emu::machine {

namespace {

// A round-robin slice: short enough that the other vCPUs' timers and IPIs are not held up long.
constexpr u64 kSliceInstructions = 100000;

}  // namespace

// Whether -max-insns or -timeout is used up; if so, says which on stderr.
bool LimitReached(const MachineConfig& config, const PcRunBudget& budget) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - budget.started).count();
    const bool timed_out = config.timeout_seconds > 0 && elapsed >= config.timeout_seconds;
    if (!timed_out && !(config.max_insns && budget.retired >= config.max_insns)) return false;
    std::fprintf(stderr, "emu64: stopped after %llu instructions (%s)\n", static_cast<unsigned long long>(budget.retired),
                 timed_out ? "-timeout" : "-max-insns");
    return true;
}

// The power-on (and INIT) state of a vCPU: the architectural reset state, its APIC ID, and the BSP flag only on CPU 0.
void ResetVcpuState(cpu::CpuState& state, const MachineVcpu& c, u32 apic_id) {
    cpu::ResetState(state);
    state.initial_apic_id = apic_id;
    if (c.index != 0) state.apic_base &= ~u64{devices::apic::kApicBaseBsp};
}

namespace {

// Applies the INIT and SIPI messages c received, in order (SDM Vol. 3 9.4.4 and 11.6.1): INIT puts an AP into
// wait-for-SIPI; a SIPI with vector VV starts a waiting AP in real mode at VV00:0000 and is ignored otherwise. INIT
// to the BSP is not modelled (it would restart the firmware, which this machine does not have). Scheduler thread.
void ApplyStartupMessages(MachineVcpu& c, u32 apic_id) {
    if (!c.has_startup.load(std::memory_order_acquire)) return;
    std::vector<devices::ApicMessage> messages;
    {
        std::lock_guard lock(c.startup_mutex);
        messages.swap(c.startup);
        c.has_startup.store(false, std::memory_order_relaxed);
    }
    for (const devices::ApicMessage& msg : messages) {
        if (c.index == 0) {
            log::Log(log::Category::Unimp, "INIT/SIPI to the BSP ignored");
            continue;
        }
        cpu::CpuState& state = c.vcpu->state();
        if (msg.mode == devices::apic::DeliveryMode::Init) {
            ResetVcpuState(state, c, apic_id);
            c.port->lapic().InitReset();
            state.apic_base = c.port->lapic().BaseMsr();  // INIT keeps IA32_APIC_BASE (x2APIC mode too)
            c.wait_for_sipi = true;
        } else if (c.wait_for_sipi) {
            constexpr u32 kRealModeCode = 0x9B;
            state.segment(cpu::SegReg::Cs) =
                cpu::Segment{static_cast<u16>(msg.vector << 8), u64{msg.vector} << 12, 0xFFFF, kRealModeCode};
            state.rip = 0;
            c.wait_for_sipi = false;
            log::Log(log::Category::Int, "CPU {} started by SIPI at {:#x}", c.index, u64{msg.vector} << 12);
        }
    }
}

// Whether the scheduler should give c a time slice: not waiting for a SIPI, and not halted unless an interrupt or NMI
// is pending for it (HLT ends on either; Vcpu::Run delivers it).
bool Runnable(MachineVcpu& c, u32 apic_id) {
    ApplyStartupMessages(c, apic_id);
    if (c.wait_for_sipi) return false;
    return !c.vcpu->state().halted || c.port->HasInterrupt() || c.port->HasNmi();
}

// The machine's end that a run's result asks for, if any: an exception the guest could not take ends it with status 1
// (the message on stderr), a triple fault resets it.
std::optional<int> EndingStatus(const cpu::RunResult& result, const MachineVcpu& c, size_t vcpu_count) {
    if (result.reason == cpu::StopReason::Exception) {
        const cpu::ExceptionInfo& e = *result.exception;
        if (vcpu_count > 1) log::Log(log::Category::Int, "undeliverable exception on CPU {}", c.index);
        std::fprintf(stderr, "emu64: %s\n", ExceptionText::Describe(e.vector, e.error_code, e.rip, e.cr2).c_str());
        return 1;
    }
    if (result.reason == cpu::StopReason::TripleFault) {
        log::Log(log::Category::Int, "triple fault on CPU {} at rip={:#x}: machine reset", c.index,
                 c.vcpu->state().rip);
        return kResetRequested;
    }
    return std::nullopt;
}

}  // namespace

int RunVcpuThreads(VcpuRunContext& ctx) {
    // A host thread per vCPU (QEMU's MTTCG). Each runs its vCPU until it halts, stops or the machine ends; this
    // thread watches the limits and parks every vCPU for the monitor (stop, savevm, ...).
    std::atomic<bool> pause_all{false};
    std::mutex pause_mutex;
    std::condition_variable pause_cv;
    unsigned parked = 0;  // under pause_mutex
    std::atomic<u64> retired_total{ctx.budget.retired};
    auto ended = [&] { return ctx.exit_status.load() != kMachineRunning; };
    auto vcpu_loop = [&](MachineVcpu& c) {
        c.host_tid = gettid();
        while (!ended()) {
            if (pause_all.load()) {
                std::unique_lock lock(pause_mutex);
                ++parked;
                pause_cv.notify_all();
                pause_cv.wait(lock, [&] { return !pause_all.load() || ended(); });
                --parked;
                continue;
            }
            const u64 wakeups = c.wakeups.load(std::memory_order_seq_cst);
            if (!Runnable(c, ctx.apic_ids[c.index])) {
                std::unique_lock lock(c.sleep_mutex);
                c.sleep_cv.wait_for(lock, std::chrono::milliseconds(50), [&] {
                    return ended() || pause_all.load() || c.wakeups.load() != wakeups;
                });
                continue;
            }
            c.memory->SyncShared();
            const cpu::RunResult result = c.vcpu->Run(~u64{0}, /*overshoot=*/true);
            retired_total.fetch_add(result.instructions, std::memory_order_relaxed);
            if (const std::optional<int> status = EndingStatus(result, c, ctx.cpus.size())) ctx.stop_with(*status);
        }
    };
    if (ctx.control.PauseRequested()) pause_all.store(true);  // -S: no vCPU runs an instruction before `cont`
    for (auto& c : ctx.cpus) c->thread = std::thread([&vcpu_loop, raw = c.get()] { vcpu_loop(*raw); });
    while (!ended()) {
        {
            std::unique_lock lock(ctx.wake_mutex);
            ctx.wake_cv.wait_for(lock, std::chrono::milliseconds(50),
                                 [&] { return ended() || ctx.control.PauseRequested(); });
        }
        ctx.budget.retired = retired_total.load(std::memory_order_relaxed);
        if (ended()) break;
        if (LimitReached(ctx.config, ctx.budget)) {
            ctx.stop_with(kPcLimitReached);
            break;
        }
        if (!ctx.control.PauseRequested()) continue;
        // Park every vCPU, then this thread parks for them until the monitor resumes (stepping is the gdb
        // stub's, which runs the vCPUs on one thread).
        pause_all.store(true);
        ctx.stop_all();
        {
            std::unique_lock lock(pause_mutex);
            pause_cv.wait(lock, [&] { return parked == ctx.cpus.size() || ended(); });
        }
        if (!ended()) (void)ctx.control.Park(debug::StopEvent{});
        {
            std::lock_guard lock(pause_mutex);
            pause_all.store(false);
        }
        pause_cv.notify_all();
    }
    {
        std::lock_guard lock(pause_mutex);  // a vCPU between its check and its wait sees the end
    }
    pause_cv.notify_all();
    for (auto& c : ctx.cpus) c->thread.join();
    ctx.budget.retired = retired_total.load(std::memory_order_relaxed);
    return ctx.exit_status.load();
}

int RunVcpusRoundRobin(VcpuRunContext& ctx) {
    int status = 0;
    // A stop to park the vCPU at before the next run.
    std::optional<debug::StopEvent> park;
    size_t next_cpu = 0;  // round-robin position
    for (auto& c : ctx.cpus) c->host_tid = gettid();
    unsigned last_cpu = 0;  // the vCPU that ran the last slice: a pause stops "on" it
    for (;;) {
        if (!park && ctx.control.PauseRequested()) park = debug::StopEvent{.cpu = last_cpu};
        debug::ResumeMode mode = debug::ResumeMode::Continue;
        unsigned step_cpu = 0;
        if (park) {
            const unsigned stopped = park->cpu;
            mode = ctx.control.Park(*std::exchange(park, std::nullopt), &step_cpu);
            // Going on from a breakpoint runs the instruction there (as it does after any stop).
            ctx.cpus[stopped]->vcpu->SkipBreakpointOnce();
        }
        const bool step = mode == debug::ResumeMode::Step;
        // The debugger steps the vCPU it chose, alone; otherwise the next runnable vCPU after the last one gets the
        // slice.
        MachineVcpu* c = step ? ctx.cpus[std::min<size_t>(step_cpu, ctx.cpus.size() - 1)].get() : nullptr;
        for (size_t n = 0; c == nullptr && n < ctx.cpus.size(); ++n) {
            MachineVcpu& candidate = *ctx.cpus[(next_cpu + n) % ctx.cpus.size()];
            if (Runnable(candidate, ctx.apic_ids[candidate.index])) c = &candidate;
        }
        if (c == nullptr) {
            // Every vCPU is halted or waiting for a SIPI: sleep until an interrupt, an INIT/SIPI or the machine's end.
            std::unique_lock lock(ctx.wake_mutex);
            ctx.wake_cv.wait_for(lock, std::chrono::milliseconds(50), [&] {
                if (ctx.exit_status.load() != kMachineRunning || ctx.control.PauseRequested()) return true;
                for (auto& candidate : ctx.cpus) {
                    if (Runnable(*candidate, ctx.apic_ids[candidate->index])) return true;
                }
                return false;
            });
            lock.unlock();
            if (ctx.exit_status.load() != kMachineRunning) {
                status = ctx.exit_status.load();
                break;
            }
            if (LimitReached(ctx.config, ctx.budget)) {
                status = kPcLimitReached;
                break;
            }
            continue;
        }
        next_cpu = c->index + 1;
        last_cpu = c->index;
        u64 slice = kSliceInstructions;
        // (retired < max_insns here)
        if (ctx.config.max_insns) slice = std::min(slice, ctx.config.max_insns - ctx.budget.retired);
        c->memory->SyncShared();
        ctx.running = c->vcpu.get();
        // Slices only pace the timers: they end exactly only when -max-insns asks for an exact count.
        const cpu::RunResult result = ctx.exit_status.load() != kMachineRunning ? cpu::RunResult{}
                                      : step ? c->vcpu->Step()
                                             : c->vcpu->Run(slice, /*overshoot=*/ctx.config.max_insns == 0);
        ctx.running = nullptr;
        ctx.budget.retired += result.instructions;
        if (ctx.exit_status.load() != kMachineRunning) {
            status = ctx.exit_status.load();
            break;
        }
        if (step) park = debug::StopEvent{debug::StopCause::Stepped, std::nullopt, c->index};
        if (result.reason == cpu::StopReason::Breakpoint) {
            park = debug::StopEvent{debug::StopCause::Breakpoint, {}, c->index};
        }
        if (result.reason == cpu::StopReason::Watchpoint) {
            park = debug::StopEvent{debug::StopCause::Watchpoint, result.watchpoint, c->index};
        }
        if (const std::optional<int> ending = EndingStatus(result, *c, ctx.cpus.size())) {
            status = *ending;
            break;
        }
        if (LimitReached(ctx.config, ctx.budget)) {
            status = kPcLimitReached;
            break;
        }
    }
    return status;
}

}  // namespace emu::machine
