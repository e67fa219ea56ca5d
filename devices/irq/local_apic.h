#pragma once
// The local APIC (Intel SDM Vol. 3, chapter 11), one per vCPU: memory-mapped at IA32_APIC_BASE (0xFEE00000 at
// reset) in xAPIC mode, MSRs 0x800-0x8FF in x2APIC mode (11.12: 32-bit ID, LDR derived from it and read-only,
// no DFR or APR, ICR as one 64-bit register, SELF IPI; the MMIO window is not decoded).
//
// Registers: ID, version 0x50014 (as QEMU: 6 LVT entries, no CMCI, no EOI-broadcast suppression), TPR, APR,
// PPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR (write-to-latch), ICR, LVT timer/thermal/perf/LINT0/LINT1/error,
// and the timer's initial/current count and divide configuration.
// Timer: one-shot, periodic and TSC-deadline. The APIC timer's input clock (the "bus clock" before the divider)
// is 1 GHz, as in KVM and QEMU, so a count of N at divide-by-1 lasts N ns. The counter is not ticked: the
// current count is computed from the Clock and expiry is one TimerQueue event. A periodic timer that falls
// behind delivers one interrupt and keeps its phase.
// TSC-deadline: IA32_TSC_DEADLINE is this APIC's MSR; the TSC is TicksIn(clock ns, tsc_hz) + tsc_offset, the
// mapping the CPU's RDTSC uses (its clock is the same Clock, its offset is forwarded with SetTscOffset).
// Not modelled: CMCI, thermal/perf sources, focus processor checking,
// level-triggered LINT inputs with Remote IRR (LINT edges are accepted), SMI.
// INIT and SIPI messages are counted (InitCount/SipiCount, LastSipiVector), passed to the startup handler and wake the
// vCPU; the machine resets (InitReset) and starts the vCPU from them.
//
// Threads: one mutex guards the state. Messages to other APICs (ICR writes) and the EOI broadcast are sent
// after it is released; Accept() may be called from any thread. The wakeup callback runs without the lock.
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/irq/apic_bus.h"
#include "devices/irq/irq_line.h"
#include "devices/irq/local_apic_state.h"
#include "devices/irq/pic.h"
#include "devices/timer/timer_queue.h"
#include "emu/common/types.h"

namespace emu::devices {

class LocalApic final : public IoDevice {
public:
    struct Config {
        u8 apic_id = 0;
        bool bsp = true;                 // the BSP flag of IA32_APIC_BASE; the BSP's LINT0 starts as ExtINT
        u64 tsc_hz = 1'000'000'000;      // TSC rate for the TSC-deadline mode
    };

    // ipi_bus carries ICR messages (may be null: then only self-IPIs work). eoi_broadcast receives the vector of
    // each EOI of a level-triggered interrupt (the machine wires it to Ioapic::Eoi).
    LocalApic(TimerQueue& timers, const Config& config, ApicBus* ipi_bus = nullptr,
              std::function<void(u8 vector)> eoi_broadcast = {});
    // Cancels its timer. Destroy only once no thread runs TimerQueue::RunDue() any more.
    ~LocalApic();
    LocalApic(const LocalApic&) = delete;
    LocalApic& operator=(const LocalApic&) = delete;

    // MMIO: insert at Base(), apic::kLapicSize bytes. 32-bit accesses at 16-byte aligned offsets; narrower or
    // unaligned writes are ignored (logged), wider reads see zeros above the register.
    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    // IA32_APIC_BASE, owned by the CPU's MSR code, which checks the x2APIC state transitions: SetBase returns false
    // for a value the CPU must refuse with #GP (reserved bits). The machine moves the MMIO range when Base() changes
    // and removes it in x2APIC mode.
    bool SetBase(u64 msr_value);
    u64 BaseMsr() const;
    u64 Base() const;      // the physical address of the register page
    bool Enabled() const;  // the global enable bit
    bool X2apic() const;   // x2APIC mode (EXTD)
    u8 Id() const;

    // RDMSR/WRMSR of the x2APIC registers (in x2APIC mode) and IA32_TSC_DEADLINE: nullopt / false for #GP (a
    // reserved or write-only register read, a read-only register written, reserved bits set, not in x2APIC mode).
    std::optional<u64> ReadMsr(u32 index);
    bool WriteMsr(u32 index, u64 value);

    // IA32_TSC_DEADLINE (MSR 0x6E0). Writes are ignored unless the LVT timer is in TSC-deadline mode.
    void SetTscDeadline(u64 tsc);
    u64 TscDeadline() const;
    void SetTscOffset(i64 offset);

    // Delivers an interrupt message (from the ApicBus, or internally). Thread-safe.
    void Accept(const ApicMessage& msg);
    // True if msg's destination selects this APIC (physical ID, or logical flat/cluster against LDR/DFR; in x2APIC
    // mode logical is always cluster: ID bits 31:16, member bitmap 15:0).
    bool MatchesDestination(const ApicMessage& msg) const;
    bool MatchesDestination(u8 dest, bool logical) const {
        return MatchesDestination(ApicMessage{.dest = dest, .logical = logical});
    }
    // LINT0/LINT1 input pins: a rising edge delivers through the LVT entry (fixed vector, NMI); ExtINT on
    // LINT0 is handled by InterruptController polling the 8259.
    IrqLine& Lint(unsigned n) { return lint_[n & 1]; }

    // The CPU's interface.
    bool HasPendingInterrupt() const;  // highest IRR vector above the PPR priority class
    u8 Acknowledge();                  // moves it to ISR and returns it; the spurious vector if there is none
    bool TakeNmi();                    // returns and clears a pending NMI
    // The 8259's INTR reaches the CPU: APIC globally disabled, LINT0 unmasked in ExtINT mode, or an ExtINT
    // message pending. ConsumeExtInt clears the latter once the 8259 has been acknowledged.
    bool PicPassThrough() const;
    void ConsumeExtInt();
    u8 Ppr() const;
    u32 InitCount() const;
    u32 SipiCount() const;
    u8 LastSipiVector() const;

    // Called (without the lock) when an interrupt or NMI may have become deliverable: kicks a halted vCPU.
    void SetWakeup(std::function<void()> wakeup);
    // Called (without the lock, before the wakeup) with each INIT or SIPI message Accept() receives, in arrival
    // order: the machine resets or starts the vCPU (SDM Vol. 3 9.4.4: INIT puts an AP into wait-for-SIPI).
    void SetStartupHandler(std::function<void(const ApicMessage&)> handler);

    void Reset();
    // The INIT reset of a processor entering wait-for-SIPI: the registers as after Reset(), but the APIC ID and
    // IA32_APIC_BASE (x2APIC mode included) are kept.
    void InitReset();
    LocalApicState SaveState() const;
    void RestoreState(const LocalApicState& state);

private:
    class LintPin final : public IrqLine {
    public:
        void Bind(LocalApic* apic, unsigned n) {
            apic_ = apic;
            n_ = n;
        }
        void SetLevel(bool asserted) override { apic_->SetLint(n_, asserted); }

    private:
        LocalApic* apic_ = nullptr;
        unsigned n_ = 0;
    };

    // What a register write asks to happen after the lock is released.
    struct PostWrite {
        int eoi_vector = -1;
        bool send_ipi = false;
        ApicMessage ipi;
        bool wake = false;
    };

    void SetLint(unsigned n, bool level);
    void ResetLocked(bool init);
    void FinishWrite(const PostWrite& post);  // what a register write asked for, after the lock
    std::optional<u64> ReadX2apicLocked(u32 reg, u64 now) const;
    bool WriteX2apicLocked(u32 reg, u64 value, u64 now, PostWrite& post);
    // All Locked functions: call with mutex_ held.
    u32 ReadRegisterLocked(u32 reg, u64 now) const;
    void WriteRegisterLocked(u32 reg, u32 value, u64 now, PostWrite& post);
    bool AcceptLocked(const ApicMessage& msg);  // returns true if the vCPU should be woken
    bool AcceptFixedLocked(u8 vector, bool level);
    void SignalErrorLocked(u32 esr_bits);
    void SendIcrLocked(PostWrite& post);
    int PendingVectorLocked() const;
    u8 PprLocked() const;
    bool SoftwareEnabledLocked() const;
    void MaskAllLvtLocked();
    apic::TimerMode TimerModeLocked() const;
    u64 TimerPeriodNsLocked() const;  // initial count * divisor
    u32 CurrentCountLocked(u64 now) const;
    void StartTimerLocked(u64 now);
    void StopTimerLocked();
    void ScheduleTimerLocked();
    void OnTimer(u64 generation);
    void Wake();

    TimerQueue& timers_;
    const Config config_;
    ApicBus* ipi_bus_;
    std::function<void(u8)> eoi_broadcast_;
    mutable std::mutex mutex_;
    LocalApicState state_;
    i64 tsc_offset_ = 0;
    TimerId timer_ = kNoTimer;
    u64 generation_ = 0;
    std::function<void()> wakeup_;
    std::function<void(const ApicMessage&)> startup_handler_;
    LintPin lint_[2];
};

// The standard ApicBus: delivers messages to a set of local APICs by destination (what the machine wires the
// I/O APIC and the APICs' ICRs to). Lowest-priority messages go to the first matching APIC.
class ApicRouter final : public ApicBus {
public:
    void Add(LocalApic& apic) { apics_.push_back(&apic); }
    void DeliverInterrupt(const ApicMessage& msg) override;

private:
    std::vector<LocalApic*> apics_;  // fixed after machine construction: no lock
};

// What a vCPU polls: the local APIC's interrupts plus the 8259's, which reach the CPU through LINT0 in ExtINT
// (virtual wire) mode or while the APIC is disabled. Installs the 8259 output callback and the APIC wakeup, and
// forwards both to the wakeup given here (to wake HLT).
class InterruptController {
public:
    // pic is the 8259 pair for the BSP, nullptr for other vCPUs.
    InterruptController(LocalApic& apic, Pic* pic);
    // A maskable interrupt is ready (the CPU checks RFLAGS.IF and interrupt shadows itself).
    bool HasInterrupt() const;
    // The vector of the interrupt the CPU takes now (INTA cycle). Call only after HasInterrupt().
    u8 AcknowledgeInterrupt();
    bool TakeNmi() { return apic_.TakeNmi(); }
    void SetWakeup(std::function<void()> wakeup);

private:
    LocalApic& apic_;
    Pic* pic_;
    std::mutex wakeup_mutex_;
    std::function<void()> wakeup_;
};

}  // namespace emu::devices
