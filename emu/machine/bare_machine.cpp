#include "emu/machine/bare_machine.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "devices/backends/char_backend.h"
#include "devices/backends/file_backend.h"
#include "devices/backends/stdio_backend.h"
#include "devices/bus/bus.h"
#include "devices/irq/irq_line.h"
#include "devices/platform/regs.h"
#include "devices/platform/simple_ports.h"
#include "devices/serial/uart16550.h"
#include "devices/timer/clock.h"
#include "devices/timer/timer_queue.h"
#include "emu/common/log.h"
#include "emu/cpu/vcpu.h"
#include "emu/machine/boot/start_state.h"
#include "emu/machine/guest_memory.h"
#include "emu/machine/host_file.h"
#include "emu/machine/memslot_test_port.h"
#include "emu/machine/serial_backend.h"
#include "emu/machine/state_dump.h"
#include "emu/machine/vcpu_memory.h"
#include "mmu/memslots/guest_ram.h"
#include "mmu/memslots/memslots.h"

namespace emu::machine {

namespace {

// The runner's own structures live below the default load address: GDT and TSS at 0x1000, page tables from
// 0x2000, the ring-0 stack (TSS RSP0) ending at 0xF000.
constexpr StartLayout kBareLayout{0x1000, 0x2000, 0xE000, 0xF000};
constexpr u64 kBootAreaStart = 0x1000, kBootAreaEnd = 0x10000;
constexpr u64 kSliceInstructions = 200000;  // timers run between slices

int Fail(const std::string& message) {
    std::fprintf(stderr, "emu64: %s\n", message.c_str());
    return bare_exit::kConfigError;
}

cpu::CpuState InitialState(const BareConfig& bare) {
    cpu::CpuState state;
    for (unsigned i = 0; i < 16; ++i) state.gpr[i] = bare.gpr[i].value_or(0);
    state.rflags = bare.rflags.value_or(0x202);
    return state;
}

// HLT above ring 0 raises #GP(0). A bare run ends at the first HLT from any ring, so a #GP(0) whose
// instruction is HLT (F4) ends it like a ring-0 HLT.
bool IsUserHlt(cpu::Vcpu& vcpu, VcpuMemory& memory, const cpu::ExceptionInfo& e) {
    const cpu::CpuState& state = vcpu.state();
    if (e.vector != cpu::vec::GP || e.error_code != 0 || state.cpl() == 0) return false;
    u8 opcode = 0;
    cpu::MemFault fault;
    const u64 linear = state.segment(cpu::SegReg::Cs).base + e.rip;
    return memory.Read(state, linear, &opcode, 1, cpu::MemAccess::Fetch, true, &fault) && opcode == 0xF4;
}

}  // namespace

int RunBare(const MachineConfig& config) {
    const BareConfig& bare = *config.bare;
    const auto read = ReadHostFile(bare.binary);
    if (!read) return Fail("-bare: " + read.error());
    const std::vector<u8>& image = *read;
    // Nothing to run: the first fetch would execute whatever RAM holds (zeros), not the user's program.
    if (image.empty()) return Fail("-bare: " + bare.binary + " is empty");

    GuestMemory memory;
    if (auto error = memory.AddRam(0, config.ram_bytes)) return Fail(*error);
    for (const MemMap& map : bare.maps) {
        if (auto error = memory.AddRam(map.base.value(), map.size)) return Fail(*error);
    }
    if (bare.start_mode != StartMode::Real && config.ram_bytes < kBootAreaEnd) {
        return Fail("-bare needs at least 64 KiB of RAM at address 0 for its GDT, TSS and page tables");
    }
    const u64 load = bare.load_address;
    if (bare.start_mode != StartMode::Real && load < kBootAreaEnd && load + image.size() > kBootAreaStart) {
        return Fail("the binary would overlap the runner's boot area 0x1000-0xffff; load it at 0x10000 or above");
    }
    if (!memory.WritePhys(load, image)) return Fail("the binary does not fit in guest memory at its load address");

    cpu::CpuState state = InitialState(bare);
    StartOptions start;
    start.mode = bare.start_mode;
    start.cpl = bare.cpl;
    start.identity_map = memory.ranges();
    start.entry = bare.rip.value_or(load);
    start.stack_pointer = state.reg(cpu::Gpr::Rsp);
    if (auto r = PrepareStartState(memory, kBareLayout, start, state); !r) return Fail(StartErrorMessage(r.error()));

    devices::HostClock clock;
    devices::TimerQueue timers(clock);
    devices::Bus pio, mmio;
    devices::NullIrqLine no_irq;  // the bare machine has no interrupt controller
    const SerialBackend serial = MakeCom1Backend(config);
    if (!serial.backend) return Fail("cannot open the -serial file " + config.serials.front().path);
    devices::Uart16550 com1(timers, no_irq, *serial.backend);

    std::atomic<int> exit_status{-1};
    cpu::Vcpu* running = nullptr;
    auto stop_with = [&](int status) {
        int expected = -1;
        exit_status.compare_exchange_strong(expected, status);
        if (running) running->RequestStop();
    };
    devices::DebugExit debug_exit(stop_with);
    devices::PcTestdev testdev;
    devices::BochsShutdownPort shutdown([&] { stop_with(0); });
    devices::PostPort post;
    (void)pio.Insert(0x3F8, 8, com1);
    (void)pio.Insert(devices::platform::kDebugExitPort, devices::platform::kDebugExitSize, debug_exit);
    (void)pio.Insert(devices::platform::kTestdevLatchPort, devices::platform::kTestdevLatchSize, testdev.LatchPorts());
    (void)pio.Insert(devices::platform::kTestdevFlushPort, devices::platform::kTestdevFlushSize, testdev.FlushPort());
    (void)mmio.Insert(devices::platform::kTestdevIomemBase, devices::platform::kTestdevIomemSize, testdev.Iomem());
    (void)pio.Insert(devices::platform::kBochsShutdownPort, 1, shutdown);
    (void)pio.Insert(devices::platform::kPostPort, 1, post);

    // Page tracking, in both MMU modes: the shadow MMU, the vCPU memory path's self-modifying-code watch and the
    // memslot test port's client use it. It is created before the vCPU's memory path and outlives it.
    mmu::PageTrack page_track(memory.slots());
    std::unique_ptr<MemslotTestPort> memslot_port;
    if (bare.test_memslot_port) {
        auto port = MemslotTestPort::Create(memory.slots(), page_track);
        if (!port) return Fail("-test-memslot-port: cannot register its page-track client");
        memslot_port = std::move(*port);
        (void)pio.Insert(kMemslotTestPort, kMemslotTestPortSize, *memslot_port);
    }
    VcpuMemory vcpu_memory(memory.slots(), &page_track, mmio, pio, config.mmu);
    // The port's memslot changes run between the OUT that asks for them and the next instruction.
    if (memslot_port) vcpu_memory.SetAfterPortWrite([&] { memslot_port->RunPending(); });
    cpu::Vcpu vcpu(vcpu_memory, config.backend, config.jit);
    vcpu.state() = state;
    running = &vcpu;

    // -timeout: a watchdog asks the vCPU to stop; the run loop then reports the limit.
    std::mutex watchdog_mutex;
    std::condition_variable watchdog_cv;
    bool finished = false;
    std::atomic<bool> timed_out{false};
    std::thread watchdog;
    if (config.timeout_seconds > 0) {
        watchdog = std::thread([&] {
            std::unique_lock lock(watchdog_mutex);
            const auto limit = std::chrono::duration<double>(config.timeout_seconds);
            if (!watchdog_cv.wait_for(lock, limit, [&] { return finished; })) {
                timed_out = true;
                vcpu.RequestStop();
            }
        });
    }

    int status = bare_exit::kHalted;
    u64 retired = 0;
    for (;;) {
        u64 slice = kSliceInstructions;
        if (config.max_insns) slice = std::min(slice, config.max_insns - retired);
        const cpu::RunResult result = vcpu.Run(slice);
        retired += result.instructions;
        timers.RunDue();
        if (exit_status.load() >= 0) {
            status = exit_status.load();
            break;
        }
        if (result.reason == cpu::StopReason::Halted) break;
        if (result.reason == cpu::StopReason::Exception && IsUserHlt(vcpu, vcpu_memory, *result.exception)) {
            vcpu.state().rip += 1;  // as if HLT had retired, like a ring-0 HLT
            break;
        }
        if (result.reason == cpu::StopReason::Exception) {
            const cpu::ExceptionInfo& e = *result.exception;
            std::fprintf(stderr, "emu64: %s\n", ExceptionText::Describe(e.vector, e.error_code, e.rip, e.cr2).c_str());
            status = bare_exit::kException;
            break;
        }
        if (result.reason == cpu::StopReason::TripleFault) {
            std::fprintf(stderr, "emu64: triple fault at rip=%#llx\n", (unsigned long long)vcpu.state().rip);
            status = bare_exit::kTripleFault;
            break;
        }
        if (timed_out || (config.max_insns && retired >= config.max_insns)) {
            std::fprintf(stderr, "emu64: stopped after %llu instructions (%s)\n", (unsigned long long)retired,
                         timed_out ? "-timeout" : "-max-insns");
            status = bare_exit::kLimit;
            break;
        }
    }
    {
        std::lock_guard lock(watchdog_mutex);
        finished = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
    running = nullptr;
    log::Log(log::Category::Exec, "bare run: {} instructions retired", retired);

    if (!config.dump_state.empty()) {
        if (auto r = WriteStateJson(vcpu.state(), config.dump_state); !r) {
            std::fprintf(stderr, "emu64: cannot write %s: %s\n", config.dump_state.c_str(),
                         std::string(Message(r.error())).c_str());
            return bare_exit::kConfigError;
        }
    }
    return status;
}

}  // namespace emu::machine
