#include "emu/machine/pc_machine.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "devices/backends/char_backend.h"
#include "devices/backends/file_backend.h"
#include "devices/backends/stdio_backend.h"
#include "devices/irq/apic_regs.h"
#include "devices/timer/clock.h"
#include "devices/timer/timer_queue.h"
#include "emu/common/log.h"
#include "emu/cpu/system/msr.h"
#include "emu/cpu/system/topology.h"
#include "emu/cpu/vcpu.h"
#include "emu/debug/gdb_server.h"
#include "emu/debug/guest_view.h"
#include "emu/debug/monitor.h"
#include "emu/debug/monitor_stdio.h"
#include "emu/debug/qmp_server.h"
#include "emu/debug/run_control.h"
#include "emu/machine/boot/linux_loader.h"
#include "emu/machine/boot/multiboot_loader.h"
#include "emu/machine/display_devices.h"
#include "emu/machine/guest_memory.h"
#include "emu/machine/host_file.h"
#include "emu/machine/memslot_test_port.h"
#include "emu/machine/pc_board.h"
#include "emu/machine/pc_snapshot.h"
#include "emu/machine/serial_backend.h"
#include "emu/machine/shared_mmu.h"
#include "emu/machine/state_dump.h"
#include "emu/machine/vcpu_memory.h"
#include "emu/machine/vcpu_runner.h"
#include "emu/machine/virtio_devices.h"
#include "mmu/page_track/page_track.h"

namespace emu::machine {

namespace {

constexpr u64 kLowMemLimit = 0xC0000000;       // RAM above this goes above 4 GiB (the PCI hole below)
constexpr u64 kConventionalTop = 0x9FC00;      // below the EBDA, as the BIOS reports it
constexpr u64 kBiosAreaBase = 0xC0000;         // option ROMs and BIOS area: RAM, reserved in E820
constexpr u64 kHighMemBase = u64{1} << 32;

int Fail(const std::string& message) {
    std::fprintf(stderr, "emu64: %s\n", message.c_str());
    return 2;
}

// RAM slots and the E820 map for `ram` bytes, laid out as QEMU's pc machine does (simplified).
struct MemoryLayout {
    std::vector<PhysRange> ram;
    std::vector<E820Entry> e820;
    u64 below_4g = 0, above_4g = 0;
};

MemoryLayout LayoutFor(u64 ram) {
    MemoryLayout layout;
    layout.below_4g = std::min(ram, kLowMemLimit);
    layout.above_4g = ram - layout.below_4g;
    layout.ram.push_back({0, 0xA0000});
    layout.ram.push_back({kBiosAreaBase, 0x100000 - kBiosAreaBase});
    if (layout.below_4g > 0x100000) layout.ram.push_back({0x100000, layout.below_4g - 0x100000});
    if (layout.above_4g) layout.ram.push_back({kHighMemBase, layout.above_4g});
    layout.e820.push_back({0, kConventionalTop, 1});
    layout.e820.push_back({kConventionalTop, 0xA0000 - kConventionalTop, 2});
    layout.e820.push_back({0xE0000, 0x20000, 2});  // ACPI tables and the RSDP live here
    if (layout.below_4g > 0x100000) layout.e820.push_back({0x100000, layout.below_4g - 0x100000, 1});
    if (layout.above_4g) layout.e820.push_back({kHighMemBase, layout.above_4g, 1});
    return layout;
}

// Runs timers and console input on its own thread, so that guest time advances without polling in the CPU
// loop. The vCPU thread only calls into devices for its own I/O.
class EventLoop {
public:
    EventLoop(devices::TimerQueue& timers, devices::StdioBackend* console) : timers_(timers), console_(console) {
        if (pipe(wake_) != 0) wake_[0] = wake_[1] = -1;
        timers_.SetWakeup([this] { Wake(); });
        thread_ = std::thread([this] { Loop(); });
    }
    ~EventLoop() {
        stop_ = true;
        Wake();
        thread_.join();
        timers_.SetWakeup({});
        if (wake_[0] >= 0) close(wake_[0]);
        if (wake_[1] >= 0) close(wake_[1]);
    }

private:
    void Wake() {
        const char byte = 1;
        if (wake_[1] >= 0) (void)!write(wake_[1], &byte, 1);
    }

    void Loop() {
        while (!stop_) {
            timers_.RunDue();
            int timeout_ms = 100;
            if (auto next = timers_.NextDeadline()) {
                const u64 now = timers_.clock().NowNs();
                timeout_ms = *next <= now ? 0 : static_cast<int>(std::min<u64>((*next - now) / 1000000 + 1, 100));
            }
            pollfd fds[2] = {{wake_[0], POLLIN, 0}, {console_ ? console_->InputFd() : -1, POLLIN, 0}};
            const int n = poll(fds, console_ && console_input_open_ ? 2 : 1, timeout_ms);
            if (n <= 0) continue;
            if (fds[0].revents & POLLIN) {
                char drain[64];
                (void)!read(wake_[0], drain, sizeof drain);
            }
            if (console_ && (fds[1].revents & (POLLIN | POLLHUP))) console_input_open_ = console_->OnReadable();
        }
    }

    devices::TimerQueue& timers_;
    devices::StdioBackend* console_;
    bool console_input_open_ = true;
    int wake_[2] = {-1, -1};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace

int RunPc(const MachineConfig& config, PcRunBudget& budget) {
    // Checked before each boot too: a guest that resets within its first slice never reaches the loop's check.
    if (LimitReached(config, budget)) return kPcLimitReached;
    auto kernel = ReadHostFile(config.kernel);
    if (!kernel) return Fail("-kernel: " + kernel.error());
    std::vector<u8> initrd;
    if (!config.initrd.empty()) {
        auto data = ReadHostFile(config.initrd);
        if (!data) return Fail("-initrd: " + data.error());
        initrd = std::move(*data);
    }

    const MemoryLayout layout = LayoutFor(config.ram_bytes);
    GuestMemory memory;
    for (const PhysRange& r : layout.ram) {
        if (auto error = memory.AddRam(r.base, r.size)) return Fail(*error);
    }
    for (const MemMap& map : config.maps) {  // test RAM that the memslot test port can move or delete
        if (auto error = memory.AddRam(map.base.value(), map.size)) return Fail("-map: " + *error);
    }

    devices::HostClock clock;
    devices::TimerQueue timers(clock);
    const SerialBackend serial = MakeSerialBackend(config, 0);
    if (!serial.backend) return Fail("cannot open the -serial file " + config.serials[0].path);
    const SerialBackend serial2 = MakeSerialBackend(config, 1);
    if (!serial2.backend) return Fail("cannot open the -serial file " + config.serials[1].path);
    // One terminal, one reader: QEMU refuses stdio on two character devices too.
    if (serial.console && serial2.console) return Fail("-serial stdio: only one serial port can use the terminal");
    devices::StdioBackend* console = serial.console ? serial.console : serial2.console;

    std::atomic<int> exit_status{kMachineRunning};
    std::atomic<cpu::Vcpu*> running{nullptr};
    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    // QEMU's MTTCG: a host thread per vCPU, unless one thread was asked for or something needs the vCPUs to run in
    // a fixed order: the gdb stub (it drives the BSP only) and -max-insns (an exact count).
    const bool threaded = config.vcpu_threads == VcpuThreads::Multi && config.smp > 1 && !config.gdb &&
                          config.max_insns == 0;
    // The vCPUs (owned below, after the MMU they use); this list is emptied before they go.
    std::vector<MachineVcpu*> vcpu_list;
    // A CPU's board port calls this when an interrupt, NMI, INIT or SIPI may have become pending for `target`: a
    // halted vCPU wakes up, the running one leaves translated code to poll its interrupt source. With several vCPUs
    // on this one thread, an event for another vCPU than the running one ends the running one's slice, so that the
    // scheduler turns to the target (a woken AP, an IPI's receiver) without waiting a whole slice. `running` is set
    // only during a slice (the event loop, the other thread that gets here, is joined before the vCPUs go). With a
    // thread per vCPU, the target's own thread is kicked or woken.
    auto wake = [&](MachineVcpu* target) {
        if (threaded) {
            if (target == nullptr) return;
            target->vcpu->Kick();
            target->wakeups.fetch_add(1, std::memory_order_seq_cst);
            { std::lock_guard lock(target->sleep_mutex); }
            target->sleep_cv.notify_all();
            return;
        }
        if (cpu::Vcpu* v = running.load()) {
            if (target != nullptr && v == target->vcpu.get()) {
                v->Kick();
            } else {
                v->RequestStop();
            }
        }
        { std::lock_guard lock(wake_mutex); }
        wake_cv.notify_all();
    };
    // Every vCPU leaves Run at its next block boundary (the machine's end, a pause).
    auto stop_all = [&] {
        if (threaded) {
            for (MachineVcpu* c : vcpu_list) {
                c->vcpu->RequestStop();
                wake(c);
            }
        } else if (cpu::Vcpu* v = running.load()) {
            v->RequestStop();
        }
        { std::lock_guard lock(wake_mutex); }
        wake_cv.notify_all();
    };
    // Stops and resumes from the gdb stub and the monitor (a parked vCPU returns when the machine ends).
    debug::RunControl control;
    auto stop_with = [&](int status) {
        int expected = kMachineRunning;
        exit_status.compare_exchange_strong(expected, status);
        stop_all();
        control.Shutdown();
        wake(nullptr);
    };
    if (console) console->SetQuitCallback([&] { stop_with(0); });

    PcBoardConfig board_config;
    board_config.ram_bytes = config.ram_bytes;
    board_config.below_4g = layout.below_4g;
    board_config.above_4g = layout.above_4g;
    board_config.cmdline = config.append;
    board_config.com1 = serial.backend.get();
    board_config.com2 = serial2.backend.get();
    board_config.on_exit = stop_with;
    board_config.on_reset = [&] { stop_with(kResetRequested); };
    const cpu::system::CpuTopology topology{config.sockets, config.cores, config.threads};
    cpu::system::SelectCpuTopology(topology);
    board_config.apic_ids.clear();
    for (u32 i = 0; i < config.smp; ++i) board_config.apic_ids.push_back(cpu::system::ApicIdOf(topology, i));
    if (board_config.apic_ids.back() >= devices::apic::kBroadcast) {
        return Fail("-smp: this topology needs APIC IDs above 254, which xAPIC cannot address");
    }
    PcBoard board(timers, board_config);
    // Page tracking in both MMU modes: the shadow MMU write-protects guest page tables through it, and the vCPU's
    // memory path watches the pages translated code was made from (self-modifying code), so that every writer of
    // guest RAM reaches both. It outlives the vCPU's memory path.
    mmu::PageTrack page_track(memory.slots());
    // The display first: it takes slot 2, where QEMU puts its VGA.
    auto display = DisplayDevices::Create(config, board, memory.slots(), &page_track, [&] { stop_with(0); });
    if (!display) return Fail(display.error());
    // Device DMA goes through the same page-track as CPU stores (self-modifying code, shadowed page tables).
    // Devices come before the kernel is loaded so that a bad -drive is reported first, as a command-line error.
    auto virtio = VirtioDevices::Create(config, board, memory.slots(), &page_track);
    if (!virtio) return Fail(virtio.error());
    if ((*virtio)->console()) {
        if (console) return Fail("-chardev stdio: the terminal is already a serial port's (add -serial null)");
        console = (*virtio)->console();
        console->SetQuitCallback([&] { stop_with(0); });
    }
    // The memslot test port (as on the bare runner): tests change the slots under devices such as the GPU engine.
    std::unique_ptr<MemslotTestPort> memslot_port;
    if (config.test_memslot_port) {
        auto port = MemslotTestPort::Create(memory.slots(), page_track);
        if (!port) return Fail("-test-memslot-port: cannot register its page-track client");
        memslot_port = std::move(*port);
        if (!board.pio().Insert(kMemslotTestPort, kMemslotTestPortSize, *memslot_port).ok()) {
            return Fail("-test-memslot-port: its ports are taken");
        }
    }
    const u64 rsdp = board.InstallAcpiTables(memory);
    if (rsdp == 0) return Fail("internal error: the ACPI tables do not fit in guest RAM");

    cpu::CpuState state;
    cpu::ResetState(state);
    if (HasMultibootHeader(*kernel)) {
        MultibootConfig mb;
        mb.cmdline = config.append.empty() ? config.kernel : config.kernel + " " + config.append;
        mb.module = initrd;
        mb.module_name = config.initrd;
        mb.memory_map = layout.e820;
        mb.ram = layout.ram;
        auto plan = LoadMultiboot(memory, *kernel, mb, state);
        if (!plan) return Fail(std::string("-kernel: ") + MultibootErrorMessage(plan.error()));
    } else {
        auto image = ParseBzImage(*kernel);
        if (!image) return Fail(std::string("-kernel: ") + LinuxErrorMessage(image.error()));
        LinuxBootConfig boot;
        boot.cmdline = config.append;
        boot.initrd = initrd;
        boot.e820 = layout.e820;
        boot.ram = layout.ram;
        boot.acpi_rsdp = rsdp;
        auto plan = LoadLinux(memory, *image, boot, state);
        if (!plan) return Fail(std::string("-kernel: ") + LinuxErrorMessage(plan.error()));
    }

    // The vCPUs, scheduled round-robin on this thread (as QEMU's single-threaded TCG): each runs a time slice, then
    // the next runnable one. They share the MMU state; each has its own TLB, translated code and local APIC.
    SharedMmu shared_mmu(memory.slots(), &page_track, config.mmu);
    std::vector<std::unique_ptr<MachineVcpu>> cpus;
    struct ListGuard {
        std::vector<MachineVcpu*>& list;
        ~ListGuard() { list.clear(); }
    } list_guard{vcpu_list};
    for (unsigned i = 0; i < board.cpu_count(); ++i) {
        auto c = std::make_unique<MachineVcpu>();
        c->index = i;
        c->port = &board.cpu(i);
        c->memory = std::make_unique<VcpuMemory>(memory.slots(), &page_track, board.mmio(), board.pio(), shared_mmu);
        c->memory->SetAfterPortWrite([&] {
            board.RunDeferred();
            if (memslot_port) memslot_port->RunPending();
        });
        PcCpuPort* port = c->port;
        c->memory->SetPlatform(VcpuMemory::Platform{
            .write_msr = [port](u32 index, u64 value) { return port->WritePlatformMsr(index, value); },
            .read_msr = [port](u32 index) { return port->ReadPlatformMsr(index); },
            .set_tsc_offset = [port](i64 offset) { port->SetTscOffset(offset); },
            .clock = &clock,
            .local_apic = &port->lapic(),
            .local_apic_window = [port] { return port->LapicWindow(); }});
        c->memory->SetFpuErrorHandler([&board] { board.SignalFpuError(); });
        c->memory->SetYieldOnPause(threaded);
        c->vcpu = std::make_unique<cpu::Vcpu>(*c->memory, config.backend, config.jit);
        ResetVcpuState(c->vcpu->state(), *c, board_config.apic_ids[i]);
        c->wait_for_sipi = i != 0;
        c->vcpu->SetInterruptSource(port);
        MachineVcpu* raw = c.get();
        port->SetWakeup([&wake, raw] { wake(raw); });
        port->lapic().SetStartupHandler([raw, threaded, &wake](const devices::ApicMessage& msg) {
            {
                std::lock_guard lock(raw->startup_mutex);
                raw->startup.push_back(msg);
                raw->has_startup.store(true, std::memory_order_release);
            }
            // A running AP on its own thread has no slice end to notice INIT at: it leaves Run now.
            if (threaded) raw->vcpu->RequestStop();
            wake(raw);
        });
        vcpu_list.push_back(c.get());
        cpus.push_back(std::move(c));
    }
    // The BSP starts at the boot entry the loader chose.
    state.initial_apic_id = board_config.apic_ids[0];
    cpus[0]->vcpu->state() = state;
    cpu::Vcpu& vcpu = *cpus[0]->vcpu;  // the debugger's, the monitor's and snapshots' vCPU
    VcpuMemory& vcpu_memory = *cpus[0]->memory;
    PcSnapshotTarget snapshot{&config, &memory.slots(), &page_track, &board, &vcpu, &vcpu_memory, &clock,
                              virtio->get(), display->get()};
    for (size_t i = 1; i < cpus.size(); ++i) {
        MachineVcpu* c = cpus[i].get();
        snapshot.aps.push_back(PcSnapshotAp{c->vcpu.get(), c->memory.get(), [c] { return c->wait_for_sipi; },
                                            [c](bool waiting) {
                                                std::lock_guard lock(c->startup_mutex);
                                                c->startup.clear();
                                                c->has_startup.store(false, std::memory_order_relaxed);
                                                c->wait_for_sipi = waiting;
                                            }});
    }
    if (!config.loadvm.empty() && !std::exchange(budget.loadvm_done, true)) {
        if (auto error = LoadPcSnapshot(snapshot, SnapshotPath(config, config.loadvm))) {
            std::fprintf(stderr, "emu64: -loadvm: %s\n", error->c_str());
            (*virtio)->Shutdown();
            running = nullptr;
            return 1;
        }
    }
    control.SetStopper(stop_all);
    // -S: parked before the first instruction; asked for before the monitor and the stub start, which report it.
    if (config.start_stopped) control.RequestPause();
    debug::GuestView guest_view(memory.slots(), &page_track);
    // gdb's `monitor CMD` (qRcmd) reaches the monitor: the stub is declared after it, so it is destroyed first.
    std::unique_ptr<debug::Monitor> monitor;
    std::unique_ptr<debug::GdbServer> gdb;
    if (config.gdb) {
        auto address = debug::ParseGdbDevice(*config.gdb);
        if (!address) return Fail(address.error());
        std::vector<cpu::Vcpu*> gdb_vcpus;
        std::vector<cpu::MemoryInterface*> gdb_memories;
        for (auto& c : cpus) {
            gdb_vcpus.push_back(c->vcpu.get());
            gdb_memories.push_back(c->memory.get());
        }
        auto server = debug::GdbServer::Start(
            *address, debug::GdbTarget{std::move(gdb_vcpus), std::move(gdb_memories), &guest_view, &control,
                                       [&] { stop_with(0); },
                                       [&monitor](const std::string& line) {
                                           return monitor ? monitor->Human(line) : std::string("no monitor yet\n");
                                       }});
        if (!server) return Fail(server.error());
        gdb = std::move(*server);
    }
    // The monitor's faces; the SHUTDOWN event says why the machine ended (a monitor command sets the reason first).
    std::string shutdown_reason;
    std::unique_ptr<debug::QmpServer> qmp;
    std::unique_ptr<debug::StdioMonitor> hmp;
    std::unique_ptr<debug::TerminalMonitor> mux_monitor;
    // A terminal console gets the monitor on its Ctrl-A c, as QEMU's -nographic mux.
    if (config.qmp || config.monitor.value_or("none") == "stdio" || console || config.gdb) {
        if (config.monitor == "stdio" && console) {
            return Fail("-monitor stdio: the terminal is already a serial port's (add -serial null or -serial file:...)");
        }
        debug::MonitorTarget target{&vcpu, &guest_view, &control, &memory.slots(), &page_track,
                                    [&vcpu_memory] { return vcpu_memory.MmuStatsString(); },
                                    [&] { shutdown_reason = "host-qmp-quit"; stop_with(0); },
                                    [&] { shutdown_reason = "host-qmp-system-reset"; stop_with(kResetRequested); },
                                    [&board] { board.PressPowerButton(); },
                                    [&](const std::string& name) {
                                        return SavePcSnapshot(snapshot, SnapshotPath(config, name));
                                    },
                                    [&](const std::string& name) {
                                        return LoadPcSnapshot(snapshot, SnapshotPath(config, name));
                                    }};
        if ((*display)->gpu()) {
            target.screendump = [&display](const std::string& path) { return (*display)->Screendump(path); };
        }
        target.cpus = [&cpus, topology] {
            std::vector<debug::MonitorCpu> list;
            for (const auto& c : cpus) {
                list.push_back(debug::MonitorCpu{c->index, c->index / topology.ThreadsPerSocket(),
                                                 c->index / topology.threads % topology.cores,
                                                 c->index % topology.threads, c->host_tid.load()});
            }
            return list;
        };
        monitor = std::make_unique<debug::Monitor>(std::move(target));
        if (config.qmp) {
            auto server = debug::QmpServer::Start(*config.qmp, *monitor);
            if (!server) return Fail(server.error());
            qmp = std::move(*server);
        }
        if (config.monitor == "stdio") hmp = std::make_unique<debug::StdioMonitor>(*monitor);
        if (console) {
            auto out = [console](const std::string& text) {
                std::string crlf;  // the terminal is in raw mode
                for (const char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
                console->Write(std::span<const u8>(reinterpret_cast<const u8*>(crlf.data()), crlf.size()));
            };
            mux_monitor = std::make_unique<debug::TerminalMonitor>(*monitor, out, true);
            console->SetMonitorInput([&mux_monitor](std::span<const u8> bytes) { mux_monitor->Input(bytes); });
            bool in_monitor = false;
            console->SetMonitorCallback([&mux_monitor, in_monitor, out]() mutable {
                in_monitor = !in_monitor;
                if (in_monitor) mux_monitor->Enter();
                else out("\n");
            });
        }
    }
    EventLoop events(timers, console);

    VcpuRunContext run_context{config, budget, cpus, board_config.apic_ids, control, exit_status, running,
                               wake_mutex, wake_cv, stop_with, stop_all};
    const int status = threaded ? RunVcpuThreads(run_context) : RunVcpusRoundRobin(run_context);
    control.Shutdown();
    if (gdb) gdb->Exited(status == kResetRequested ? 0 : status);
    gdb.reset();
    if (monitor) {
        if (shutdown_reason.empty()) shutdown_reason = status == kResetRequested ? "guest-reset" : "guest-shutdown";
        monitor->Shutdown(shutdown_reason, shutdown_reason.starts_with("guest"));
    }
    hmp.reset();
    qmp.reset();  // sends SHUTDOWN; the monitor itself lives on while the event loop may still feed the terminal
    // Device threads may still complete requests and wake the vCPU: stop them while it exists.
    (*virtio)->Shutdown();
    (*display)->CloseWindow();
    running = nullptr;
    // The last boot's state: a reset ends the run only with -no-reboot.
    if ((status != kResetRequested || config.no_reboot) && !config.dump_state.empty()) {
        if (auto r = WriteStateJson(vcpu.state(), config.dump_state); !r) {
            return Fail("cannot write " + config.dump_state + ": " + std::string(Message(r.error())));
        }
    }
    if ((status != kResetRequested || config.no_reboot) && !config.screendump_on_exit.empty()) {
        if (auto error = (*display)->Screendump(config.screendump_on_exit)) return Fail("-screendump-on-exit: " + *error);
    }
    return status;
}

}  // namespace emu::machine
