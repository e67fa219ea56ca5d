#pragma once
// The PC machine's vCPUs and the two ways to run them (-accel tcg,thread=): a host thread per vCPU (QEMU's MTTCG) or
// all of them round-robin on the calling thread (QEMU's single-threaded TCG). Both apply INIT/SIPI, let halted vCPUs
// sleep until an interrupt, park for the debugger and the monitor, and end the run at -max-insns or -timeout.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "devices/irq/apic_bus.h"
#include "emu/cpu/vcpu.h"
#include "emu/debug/run_control.h"
#include "emu/machine/machine_config.h"
#include "emu/machine/pc_board.h"
#include "emu/machine/pc_machine.h"
#include "emu/machine/vcpu_memory.h"

namespace emu::machine {

// One vCPU of the machine: its memory path and CPU, and the INIT/SIPI messages its local APIC received that the
// scheduler has not applied yet.
struct MachineVcpu {
    unsigned index = 0;  // 0: the BSP
    PcCpuPort* port = nullptr;
    std::unique_ptr<VcpuMemory> memory;
    std::unique_ptr<cpu::Vcpu> vcpu;
    bool wait_for_sipi = false;  // an AP after power-on or INIT runs nothing until a SIPI (SDM Vol. 3 9.4.1)
    std::mutex startup_mutex;
    std::vector<devices::ApicMessage> startup;  // INIT and SIPI in arrival order; any thread appends
    std::atomic<bool> has_startup{false};
    // A thread per vCPU: where its thread sleeps while the vCPU is halted or waits for a SIPI.
    std::mutex sleep_mutex;
    std::condition_variable sleep_cv;
    std::atomic<u64> wakeups{0};  // bumped by every wake-up, so that one between a check and the sleep is not lost
    std::thread thread;
    std::atomic<i64> host_tid{0};  // the host thread that runs it (query-cpus-fast)
};

// The power-on (and INIT) state of a vCPU: the architectural reset state, its APIC ID, and the BSP flag only on CPU 0.
void ResetVcpuState(cpu::CpuState& state, const MachineVcpu& c, u32 apic_id);

// Whether -max-insns or -timeout is used up; if so, says which on stderr.
bool LimitReached(const MachineConfig& config, const PcRunBudget& budget);

// exit_status while the machine runs; anything else is the status it ends with.
inline constexpr int kMachineRunning = -2;

// What the runners share with the machine that built the vCPUs.
struct VcpuRunContext {
    const MachineConfig& config;
    PcRunBudget& budget;
    std::vector<std::unique_ptr<MachineVcpu>>& cpus;
    const std::vector<u32>& apic_ids;  // by vCPU index
    debug::RunControl& control;
    std::atomic<int>& exit_status;
    std::atomic<cpu::Vcpu*>& running;  // round-robin: the vCPU in its slice
    // Signalled when a halted vCPU may have become runnable or the machine ends (round-robin sleeps on it; the
    // threaded runner's watcher too).
    std::mutex& wake_mutex;
    std::condition_variable& wake_cv;
    std::function<void(int status)> stop_with;  // ends the machine with that status
    std::function<void()> stop_all;             // every vCPU leaves Run at its next block boundary
};

// Each runs until the machine ends and returns its status (kResetRequested, kPcLimitReached or the guest's).
int RunVcpuThreads(VcpuRunContext& ctx);
int RunVcpusRoundRobin(VcpuRunContext& ctx);

}  // namespace emu::machine
