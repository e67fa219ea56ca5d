#include "devices/irq/local_apic.h"

#include <bit>

#include "emu/common/log.h"

namespace emu::devices {
namespace {

using apic::DeliveryMode;

constexpr u64 kApicTimerHz = 1'000'000'000;  // timer input clock before the divider (KVM/QEMU: 1 GHz)

// Writable bits of each LVT entry (SDM figure 11-8), in Lvt order.
constexpr u32 kLvtWritable[kNumLvt] = {
    0x000700FF,  // timer: vector, mask, timer mode
    0x000107FF,  // thermal: vector, delivery mode, mask
    0x000107FF,  // perf
    0x0001A7FF,  // LINT0: vector, delivery mode, polarity, trigger, mask
    0x0001A7FF,  // LINT1
    0x000100FF,  // error: vector, mask
};

int HighestBit(const std::array<u32, 8>& reg) {
    for (int word = 7; word >= 0; --word) {
        if (reg[word]) return word * 32 + 31 - std::countl_zero(reg[word]);
    }
    return -1;
}

bool TestBit(const std::array<u32, 8>& reg, u8 v) { return (reg[v / 32] >> (v % 32)) & 1; }
void SetBit(std::array<u32, 8>& reg, u8 v, bool on) {
    if (on) {
        reg[v / 32] |= 1u << (v % 32);
    } else {
        reg[v / 32] &= ~(1u << (v % 32));
    }
}

// Divide configuration bits 0, 1, 3 -> divisor 2, 4, 8, 16, 32, 64, 128, 1 (SDM figure 11-10).
u64 Divisor(u32 dcr) {
    const u32 code = (dcr & 3) | ((dcr >> 1) & 4);
    return u64{1} << ((code + 1) & 7);
}

DeliveryMode LvtMode(u32 lvt) { return static_cast<DeliveryMode>((lvt >> apic::kLvtDeliveryShift) & 7); }

}  // namespace

LocalApic::LocalApic(TimerQueue& timers, const Config& config, ApicBus* ipi_bus,
                     std::function<void(u8)> eoi_broadcast)
    : timers_(timers), config_(config), ipi_bus_(ipi_bus), eoi_broadcast_(std::move(eoi_broadcast)) {
    lint_[0].Bind(this, 0);
    lint_[1].Bind(this, 1);
    Reset();
}

LocalApic::~LocalApic() {
    std::lock_guard lock(mutex_);
    StopTimerLocked();
}

void LocalApic::Reset() {
    std::lock_guard lock(mutex_);
    ResetLocked(false);
}

void LocalApic::InitReset() {
    std::lock_guard lock(mutex_);
    ResetLocked(true);
}

void LocalApic::ResetLocked(bool init) {
    StopTimerLocked();
    const LocalApicState old = state_;
    state_ = LocalApicState{};
    state_.lint_levels = old.lint_levels;
    state_.lvt.fill(apic::kLvtMasked);
    if (init) {
        // SDM Vol. 3 11.4.7.3: as after power-up, except the APIC ID (and IA32_APIC_BASE, with the x2APIC mode and
        // the logical ID it implies); the INIT/SIPI record is the machine's, kept too.
        state_.id = old.id;
        state_.base_msr = old.base_msr;
        if (old.base_msr & apic::kApicBaseX2apic) state_.ldr = old.ldr;
        state_.init_received = old.init_received;
        state_.sipi_received = old.sipi_received;
        state_.last_sipi_vector = old.last_sipi_vector;
        return;
    }
    state_.id = config_.apic_id;
    state_.base_msr = apic::kLapicBase | apic::kApicBaseEnable | (config_.bsp ? apic::kApicBaseBsp : 0);
    // Firmware leaves the BSP's LINT0 in ExtINT mode so the 8259 keeps working (virtual wire mode); QEMU sets
    // it at reset for the same reason, and so do we since the machine boots kernels without firmware.
    if (config_.bsp) state_.lvt[static_cast<unsigned>(Lvt::Lint0)] = u32{7} << apic::kLvtDeliveryShift;
}

LocalApicState LocalApic::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void LocalApic::RestoreState(const LocalApicState& state) {
    std::lock_guard lock(mutex_);
    StopTimerLocked();
    state_ = state;
    ScheduleTimerLocked();
}

// ---- IA32_APIC_BASE and identity ----

bool LocalApic::SetBase(u64 msr_value) {
    constexpr u64 kValid =
        apic::kApicBaseAddrMask | apic::kApicBaseEnable | apic::kApicBaseX2apic | apic::kApicBaseBsp;
    if (msr_value & ~kValid) return false;  // reserved bits: #GP
    std::lock_guard lock(mutex_);
    const bool was_enabled = state_.base_msr & apic::kApicBaseEnable;
    if ((msr_value & apic::kApicBaseX2apic) && !(state_.base_msr & apic::kApicBaseX2apic)) {
        // Entering x2APIC mode sets the logical ID from the x2APIC ID (SDM 11.12.10.2): cluster ID[19:4] in bits
        // 31:16, one bit for ID[3:0] in bits 15:0.
        const u32 id = state_.id;
        state_.ldr = ((id >> 4) << 16) | (1u << (id & 0xF));
    }
    // The BSP flag is read-only: it reflects the processor's role.
    state_.base_msr = (msr_value & ~apic::kApicBaseBsp) | (state_.base_msr & apic::kApicBaseBsp);
    if (was_enabled && !(msr_value & apic::kApicBaseEnable)) {
        // Globally disabling behaves like a software disable (as QEMU): the LVTs mask and stay masked.
        state_.svr &= ~apic::kSvrEnable;
        MaskAllLvtLocked();
        StopTimerLocked();
    }
    return true;
}

u64 LocalApic::BaseMsr() const {
    std::lock_guard lock(mutex_);
    return state_.base_msr;
}
u64 LocalApic::Base() const { return BaseMsr() & apic::kApicBaseAddrMask; }
bool LocalApic::Enabled() const { return BaseMsr() & apic::kApicBaseEnable; }
bool LocalApic::X2apic() const { return BaseMsr() & apic::kApicBaseX2apic; }
u8 LocalApic::Id() const {
    std::lock_guard lock(mutex_);
    return state_.id;
}

bool LocalApic::MatchesDestination(const ApicMessage& msg) const {
    std::lock_guard lock(mutex_);
    if (!(state_.base_msr & apic::kApicBaseEnable)) return false;
    if (IsBroadcast(msg)) return true;
    if (!msg.logical) return msg.dest == state_.id;
    if (state_.base_msr & apic::kApicBaseX2apic) {
        return (msg.dest >> 16) == (state_.ldr >> 16) && (msg.dest & state_.ldr & 0xFFFF) != 0;
    }
    const u8 dest = static_cast<u8>(msg.dest);
    const u8 ldr = static_cast<u8>(state_.ldr >> 24);
    if ((state_.dfr >> 28) == apic::kDfrFlat) return (ldr & dest) != 0;
    // Cluster model: bits 7-4 select the cluster, bits 3-0 the members.
    return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xF) != 0;
}

// ---- interrupt acceptance ----

bool LocalApic::SoftwareEnabledLocked() const { return state_.svr & apic::kSvrEnable; }

void LocalApic::MaskAllLvtLocked() {
    for (u32& lvt : state_.lvt) lvt |= apic::kLvtMasked;
}

void LocalApic::SignalErrorLocked(u32 esr_bits) {
    state_.esr_pending |= esr_bits;
    const u32 lvt = state_.lvt[static_cast<unsigned>(Lvt::Error)];
    const u8 vector = static_cast<u8>(lvt & apic::kLvtVector);
    // An error vector below 16 is itself illegal: record it without recursing.
    if (!(lvt & apic::kLvtMasked) && vector >= 16) SetBit(state_.irr, vector, true);
}

bool LocalApic::AcceptFixedLocked(u8 vector, bool level) {
    if (!(state_.base_msr & apic::kApicBaseEnable) || !SoftwareEnabledLocked()) return false;  // as KVM: dropped
    if (vector < 16) {
        SignalErrorLocked(apic::kEsrReceiveIllegalVector);
        return PendingVectorLocked() >= 0;
    }
    SetBit(state_.irr, vector, true);
    SetBit(state_.tmr, vector, level);
    return PendingVectorLocked() >= 0;
}

bool LocalApic::AcceptLocked(const ApicMessage& msg) {
    switch (msg.mode) {
    case DeliveryMode::Fixed:
    case DeliveryMode::LowestPriority: return AcceptFixedLocked(msg.vector, msg.level);
    case DeliveryMode::Nmi: state_.nmi_pending = true; return true;
    case DeliveryMode::ExtInt: state_.extint_pending = true; return true;
    // INIT and SIPI are counted for the machine, which acts on them between the vCPU's time slices: wake it.
    case DeliveryMode::Init: ++state_.init_received; return true;
    case DeliveryMode::StartUp:
        ++state_.sipi_received;
        state_.last_sipi_vector = msg.vector;
        return true;
    default:
        if (log::Enabled(log::Category::Unimp))
            log::Log(log::Category::Unimp, "lapic: delivery mode {} not implemented", static_cast<int>(msg.mode));
        return false;
    }
}

void LocalApic::Accept(const ApicMessage& msg) {
    bool wake;
    std::function<void(const ApicMessage&)> startup;
    {
        std::lock_guard lock(mutex_);
        wake = AcceptLocked(msg);
        if (msg.mode == DeliveryMode::Init || msg.mode == DeliveryMode::StartUp) startup = startup_handler_;
    }
    if (startup) startup(msg);
    if (wake) Wake();
}

void LocalApic::SetStartupHandler(std::function<void(const ApicMessage&)> handler) {
    std::lock_guard lock(mutex_);
    startup_handler_ = std::move(handler);
}

void LocalApic::SetLint(unsigned n, bool level) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        const u8 bit = static_cast<u8>(1u << n);
        const bool rising = level && !(state_.lint_levels & bit);
        state_.lint_levels = level ? (state_.lint_levels | bit) : (state_.lint_levels & ~bit);
        const u32 lvt = state_.lvt[static_cast<unsigned>(n == 0 ? Lvt::Lint0 : Lvt::Lint1)];
        if (!rising || (lvt & apic::kLvtMasked)) return;
        const DeliveryMode mode = LvtMode(lvt);
        if (mode == DeliveryMode::ExtInt) return;  // polled through PicPassThrough()
        wake = AcceptLocked(ApicMessage{.vector = static_cast<u8>(lvt & apic::kLvtVector), .mode = mode});
    }
    if (wake) Wake();
}

u8 LocalApic::PprLocked() const {
    const int isrv = HighestBit(state_.isr);
    const u32 isr_class = isrv < 0 ? 0 : static_cast<u32>(isrv) & 0xF0;
    // SDM 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] with a zero sub-class.
    return static_cast<u8>((state_.tpr & 0xF0) >= isr_class ? state_.tpr & 0xFF : isr_class);
}

int LocalApic::PendingVectorLocked() const {
    if (!(state_.base_msr & apic::kApicBaseEnable)) return -1;
    const int irrv = HighestBit(state_.irr);
    if (irrv < 0) return -1;
    if ((static_cast<u32>(irrv) & 0xF0) <= (PprLocked() & 0xF0u)) return -1;
    return irrv;
}

bool LocalApic::HasPendingInterrupt() const {
    std::lock_guard lock(mutex_);
    return PendingVectorLocked() >= 0;
}

u8 LocalApic::Acknowledge() {
    std::lock_guard lock(mutex_);
    const int vector = PendingVectorLocked();
    if (vector < 0) return static_cast<u8>(state_.svr & 0xFF);  // the spurious-interrupt vector
    SetBit(state_.irr, static_cast<u8>(vector), false);
    SetBit(state_.isr, static_cast<u8>(vector), true);
    return static_cast<u8>(vector);
}

bool LocalApic::TakeNmi() {
    std::lock_guard lock(mutex_);
    const bool pending = state_.nmi_pending;
    state_.nmi_pending = false;
    return pending;
}

bool LocalApic::PicPassThrough() const {
    std::lock_guard lock(mutex_);
    if (!(state_.base_msr & apic::kApicBaseEnable) || state_.extint_pending) return true;
    const u32 lint0 = state_.lvt[static_cast<unsigned>(Lvt::Lint0)];
    return !(lint0 & apic::kLvtMasked) && LvtMode(lint0) == DeliveryMode::ExtInt;
}

void LocalApic::ConsumeExtInt() {
    std::lock_guard lock(mutex_);
    state_.extint_pending = false;
}

u8 LocalApic::Ppr() const {
    std::lock_guard lock(mutex_);
    return PprLocked();
}
u32 LocalApic::InitCount() const {
    std::lock_guard lock(mutex_);
    return state_.init_received;
}
u32 LocalApic::SipiCount() const {
    std::lock_guard lock(mutex_);
    return state_.sipi_received;
}
u8 LocalApic::LastSipiVector() const {
    std::lock_guard lock(mutex_);
    return state_.last_sipi_vector;
}

void LocalApic::SetWakeup(std::function<void()> wakeup) {
    std::lock_guard lock(mutex_);
    wakeup_ = std::move(wakeup);
}

void LocalApic::Wake() {
    std::function<void()> wakeup;
    {
        std::lock_guard lock(mutex_);
        wakeup = wakeup_;
    }
    if (wakeup) wakeup();
}

// ---- timer ----

apic::TimerMode LocalApic::TimerModeLocked() const {
    const u32 lvt = state_.lvt[static_cast<unsigned>(Lvt::Timer)];
    return static_cast<apic::TimerMode>((lvt >> apic::kLvtTimerModeShift) & 3);
}

u64 LocalApic::TimerPeriodNsLocked() const {
    return NsForTicks(u64{state_.timer_initial} * Divisor(state_.timer_divide), kApicTimerHz);
}

u32 LocalApic::CurrentCountLocked(u64 now) const {
    if (!state_.timer_running || TimerModeLocked() == apic::TimerMode::TscDeadline) return 0;
    const u64 ticks = TicksIn(now - state_.timer_start_ns, kApicTimerHz) / Divisor(state_.timer_divide);
    if (TimerModeLocked() == apic::TimerMode::Periodic) {
        return static_cast<u32>(state_.timer_initial - ticks % state_.timer_initial);
    }
    return ticks >= state_.timer_initial ? 0 : static_cast<u32>(state_.timer_initial - ticks);
}

void LocalApic::StopTimerLocked() {
    if (timer_ != kNoTimer) timers_.Cancel(timer_);
    timer_ = kNoTimer;
    ++generation_;
}

void LocalApic::StartTimerLocked(u64 now) {
    state_.timer_running = state_.timer_initial != 0;
    state_.timer_start_ns = now;
    ScheduleTimerLocked();
}

void LocalApic::ScheduleTimerLocked() {
    StopTimerLocked();
    u64 deadline;
    if (TimerModeLocked() == apic::TimerMode::TscDeadline) {
        if (state_.tsc_deadline == 0) return;
        const i64 tsc = static_cast<i64>(state_.tsc_deadline) - tsc_offset_;
        deadline = tsc <= 0 ? 0 : NsForTicks(static_cast<u64>(tsc), config_.tsc_hz);
    } else {
        if (!state_.timer_running) return;
        deadline = state_.timer_start_ns + TimerPeriodNsLocked();
    }
    const u64 generation = generation_;
    timer_ = timers_.ScheduleAt(deadline, [this, generation] { OnTimer(generation); });
}

void LocalApic::OnTimer(u64 generation) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (generation != generation_) return;
        timer_ = kNoTimer;
        const u64 now = timers_.clock().NowNs();
        const u32 lvt = state_.lvt[static_cast<unsigned>(Lvt::Timer)];
        if (!(lvt & apic::kLvtMasked)) wake = AcceptFixedLocked(static_cast<u8>(lvt & apic::kLvtVector), false);
        switch (TimerModeLocked()) {
        case apic::TimerMode::Periodic: {
            // Keep the phase; periods missed while the host was busy coalesce into this one interrupt.
            const u64 period = std::max<u64>(TimerPeriodNsLocked(), 1);
            state_.timer_start_ns += period * ((now - state_.timer_start_ns) / period);
            ScheduleTimerLocked();
            break;
        }
        case apic::TimerMode::TscDeadline: state_.tsc_deadline = 0; break;
        default: state_.timer_running = false; break;
        }
    }
    if (wake) Wake();
}

void LocalApic::SetTscDeadline(u64 tsc) {
    std::lock_guard lock(mutex_);
    if (TimerModeLocked() != apic::TimerMode::TscDeadline) return;
    state_.tsc_deadline = tsc;
    ScheduleTimerLocked();
}

u64 LocalApic::TscDeadline() const {
    std::lock_guard lock(mutex_);
    return TimerModeLocked() == apic::TimerMode::TscDeadline ? state_.tsc_deadline : 0;
}

void LocalApic::SetTscOffset(i64 offset) {
    std::lock_guard lock(mutex_);
    tsc_offset_ = offset;
    if (TimerModeLocked() == apic::TimerMode::TscDeadline) ScheduleTimerLocked();
}

// ---- registers ----

u32 LocalApic::ReadRegisterLocked(u32 reg, u64 now) const {
    auto word = [reg](u32 base) { return (reg - base) / 0x10; };
    if (reg >= apic::kRegIsr && reg < apic::kRegIsr + 0x80) return state_.isr[word(apic::kRegIsr)];
    if (reg >= apic::kRegTmr && reg < apic::kRegTmr + 0x80) return state_.tmr[word(apic::kRegTmr)];
    if (reg >= apic::kRegIrr && reg < apic::kRegIrr + 0x80) return state_.irr[word(apic::kRegIrr)];
    if (reg >= apic::kRegLvtTimer && reg <= apic::kRegLvtError) return state_.lvt[word(apic::kRegLvtTimer)];
    switch (reg) {
    case apic::kRegId: return u32{state_.id} << 24;
    case apic::kRegVersion: return apic::kLapicVersion;
    case apic::kRegTpr: return state_.tpr;
    case apic::kRegApr: {
        // SDM 11.6.2.1 (P6 family): the priority an arbitration for lowest-priority delivery would use.
        const int irrv = HighestBit(state_.irr);
        const int isrv = HighestBit(state_.isr);
        const u32 irr_class = irrv < 0 ? 0 : static_cast<u32>(irrv) & 0xF0;
        const u32 isr_class = isrv < 0 ? 0 : static_cast<u32>(isrv) & 0xF0;
        if ((state_.tpr & 0xF0) >= irr_class && (state_.tpr & 0xF0) > isr_class) return state_.tpr;
        return std::max({state_.tpr & 0xF0, isr_class, irr_class});
    }
    case apic::kRegPpr: return PprLocked();
    case apic::kRegLdr: return state_.ldr;
    case apic::kRegDfr: return state_.dfr;
    case apic::kRegSvr: return state_.svr;
    case apic::kRegEsr: return state_.esr;
    case apic::kRegIcrLow: return state_.icr_low & ~apic::kIcrDeliveryStatus;  // sends complete at once
    case apic::kRegIcrHigh: return state_.icr_high;
    case apic::kRegTimerInitial: return state_.timer_initial;
    case apic::kRegTimerCurrent: return CurrentCountLocked(now);
    case apic::kRegTimerDivide: return state_.timer_divide;
    default: return 0;  // EOI and RRD read 0; reserved offsets too
    }
}

void LocalApic::WriteRegisterLocked(u32 reg, u32 value, u64 now, PostWrite& post) {
    if (reg >= apic::kRegLvtTimer && reg <= apic::kRegLvtError) {
        const unsigned index = (reg - apic::kRegLvtTimer) / 0x10;
        const auto old_mode = TimerModeLocked();
        u32 next = (value & kLvtWritable[index]) | (state_.lvt[index] & ~kLvtWritable[index]);
        if (!SoftwareEnabledLocked()) next |= apic::kLvtMasked;  // SDM 11.4.7.2: masks stay set while disabled
        state_.lvt[index] = next;
        if (index == static_cast<unsigned>(Lvt::Timer) && old_mode != TimerModeLocked()) {
            // Switching to or from TSC-deadline mode disarms the timer (SDM 11.5.4.1).
            if (old_mode == apic::TimerMode::TscDeadline || TimerModeLocked() == apic::TimerMode::TscDeadline) {
                state_.timer_running = false;
                state_.tsc_deadline = 0;
                StopTimerLocked();
            } else {
                ScheduleTimerLocked();
            }
        }
        // LINT0 entering ExtINT mode opens the 8259's path: let a halted vCPU look again.
        post.wake = index == static_cast<unsigned>(Lvt::Lint0);
        return;
    }
    switch (reg) {
    case apic::kRegId: state_.id = static_cast<u8>(value >> 24); break;
    case apic::kRegTpr:
        state_.tpr = value & 0xFF;
        post.wake = PendingVectorLocked() >= 0;
        break;
    case apic::kRegEoi: {
        const int vector = HighestBit(state_.isr);
        if (vector < 0) break;  // an EOI with nothing in service is ignored
        SetBit(state_.isr, static_cast<u8>(vector), false);
        if (TestBit(state_.tmr, static_cast<u8>(vector))) post.eoi_vector = vector;
        post.wake = PendingVectorLocked() >= 0;
        break;
    }
    case apic::kRegLdr: state_.ldr = value & 0xFF000000; break;
    case apic::kRegDfr: state_.dfr = value | 0x0FFFFFFF; break;
    case apic::kRegSvr:
        state_.svr = value & (0xFF | apic::kSvrEnable | apic::kSvrFocusDisable);
        if (!SoftwareEnabledLocked()) MaskAllLvtLocked();
        post.wake = PendingVectorLocked() >= 0;
        break;
    case apic::kRegEsr:
        // Write-to-latch: a write makes the errors seen so far readable and clears the accumulator.
        state_.esr = state_.esr_pending;
        state_.esr_pending = 0;
        break;
    case apic::kRegIcrHigh: state_.icr_high = value & 0xFF000000; break;
    case apic::kRegIcrLow:
        state_.icr_low = value & ~apic::kIcrDeliveryStatus;
        SendIcrLocked(post);
        break;
    case apic::kRegTimerInitial:
        if (TimerModeLocked() == apic::TimerMode::TscDeadline) break;  // ignored in TSC-deadline mode
        state_.timer_initial = value;
        StartTimerLocked(now);
        break;
    case apic::kRegTimerDivide: {
        // Keep the count: rebase the start so the ticks already counted stay counted at the new rate.
        const u64 old_div = Divisor(state_.timer_divide);
        state_.timer_divide = value & 0xB;
        if (state_.timer_running && TimerModeLocked() != apic::TimerMode::TscDeadline) {
            const u64 ticks = TicksIn(now - state_.timer_start_ns, kApicTimerHz) / old_div;
            state_.timer_start_ns = now - NsForTicks(ticks * Divisor(state_.timer_divide), kApicTimerHz);
            ScheduleTimerLocked();
        }
        break;
    }
    default:
        SignalErrorLocked(apic::kEsrIllegalRegister);
        if (log::Enabled(log::Category::GuestErrors))
            log::Log(log::Category::GuestErrors, "lapic: write {:#x} to read-only/reserved register {:#x}", value,
                     reg);
        break;
    }
}

void LocalApic::SendIcrLocked(PostWrite& post) {
    const u32 icr = state_.icr_low;
    const auto mode = static_cast<DeliveryMode>((icr >> 8) & 7);
    const auto shorthand = static_cast<apic::Shorthand>((icr >> apic::kIcrShorthandShift) & 3);
    const u8 vector = static_cast<u8>(icr & 0xFF);
    // An INIT level de-assert is a no-op synchronisation message on P6-era buses.
    if (mode == DeliveryMode::Init && !(icr & apic::kIcrLevelAssert) && (icr & apic::kIcrLevel)) return;
    if ((mode == DeliveryMode::Fixed || mode == DeliveryMode::LowestPriority) && vector < 16) {
        SignalErrorLocked(apic::kEsrSendIllegalVector);
        return;
    }
    const bool x2apic = state_.base_msr & apic::kApicBaseX2apic;  // ICR bits 63:32 are the whole destination
    const u32 broadcast = x2apic ? apic::kX2apicBroadcast : apic::kBroadcast;
    ApicMessage msg{.dest = x2apic ? state_.icr_high : state_.icr_high >> 24,
                    .x2apic = x2apic,
                    .logical = (icr & apic::kIcrDestLogical) != 0,
                    .vector = vector,
                    .mode = mode,
                    .level = false};  // IPIs are edge-triggered
    switch (shorthand) {
    case apic::Shorthand::Self:
        post.wake = AcceptLocked(msg);
        return;
    case apic::Shorthand::AllIncludingSelf:
        msg.dest = broadcast;
        msg.logical = false;
        break;
    case apic::Shorthand::AllExcludingSelf:
        msg.dest = broadcast;
        msg.logical = false;
        msg.exclude_id = state_.id;
        break;
    case apic::Shorthand::None: break;
    }
    if (ipi_bus_ == nullptr) {
        // No bus: only this APIC exists.
        const bool to_self =
            msg.exclude_id != state_.id && (IsBroadcast(msg) || (!msg.logical && msg.dest == state_.id));
        if (to_self) post.wake = AcceptLocked(msg);
        return;
    }
    post.send_ipi = true;
    post.ipi = msg;
}

void LocalApic::Read(u64 offset, std::span<u8> data) {
    const u32 reg = static_cast<u32>(offset & 0xFF0);
    const u64 byte = offset & 0xF;
    u32 value;
    {
        std::lock_guard lock(mutex_);
        value = ReadRegisterLocked(reg, timers_.clock().NowNs());
    }
    // Bytes 4-15 of each 16-byte slot are reserved and read as zero.
    const u64 wide = byte < 4 ? u64{value} >> (8 * byte) : 0;
    StoreLe(data, wide);
}

void LocalApic::Write(u64 offset, std::span<const u8> data) {
    if ((offset & 0xF) != 0 || data.size() < 4) {
        if (log::Enabled(log::Category::GuestErrors))
            log::Log(log::Category::GuestErrors, "lapic: ignored {}-byte write at offset {:#x}", data.size(), offset);
        return;
    }
    PostWrite post;
    {
        std::lock_guard lock(mutex_);
        WriteRegisterLocked(static_cast<u32>(offset & 0xFF0), static_cast<u32>(LoadLe(data.first(4))),
                            timers_.clock().NowNs(), post);
    }
    FinishWrite(post);
}

void LocalApic::FinishWrite(const PostWrite& post) {
    if (post.eoi_vector >= 0 && eoi_broadcast_) eoi_broadcast_(static_cast<u8>(post.eoi_vector));
    if (post.send_ipi) ipi_bus_->DeliverInterrupt(post.ipi);
    if (post.wake) Wake();
}

// ---- x2APIC registers and IA32_TSC_DEADLINE (MSRs) ----

std::optional<u64> LocalApic::ReadX2apicLocked(u32 reg, u64 now) const {
    const bool in_range = [reg] {
        if (reg >= apic::kRegIsr && reg < apic::kRegIrr + 0x80) return true;  // ISR, TMR, IRR
        if (reg >= apic::kRegLvtTimer && reg <= apic::kRegTimerCurrent) return true;
        switch (reg) {
        case apic::kRegId: case apic::kRegVersion: case apic::kRegTpr: case apic::kRegPpr: case apic::kRegLdr:
        case apic::kRegSvr: case apic::kRegEsr: case apic::kRegIcrLow: case apic::kRegTimerDivide: return true;
        default: return false;  // APR, EOI, RRD, DFR, ICR high, CMCI, SELF IPI and reserved offsets
        }
    }();
    if (!in_range) return std::nullopt;
    if (reg == apic::kRegId) return u64{state_.id};  // the 32-bit x2APIC ID
    if (reg == apic::kRegIcrLow) return (u64{state_.icr_high} << 32) | state_.icr_low;
    return ReadRegisterLocked(reg, now);
}

bool LocalApic::WriteX2apicLocked(u32 reg, u64 value, u64 now, PostWrite& post) {
    if (reg == apic::kRegIcrLow) {
        state_.icr_high = static_cast<u32>(value >> 32);
        state_.icr_low = static_cast<u32>(value) & ~apic::kIcrDeliveryStatus;
        SendIcrLocked(post);
        return true;
    }
    if (value >> 32) return false;  // bits 63:32 are reserved in every other register
    const u32 v = static_cast<u32>(value);
    switch (reg) {
    case apic::kRegEoi:
    case apic::kRegEsr:
        if (v != 0) return false;  // both take only 0 in x2APIC mode
        break;
    case apic::kRegSelfIpi: {
        if (v & ~apic::kLvtVector) return false;
        const u8 vector = static_cast<u8>(v);
        if (vector < 16) {
            SignalErrorLocked(apic::kEsrSendIllegalVector);
        } else {
            post.wake = AcceptFixedLocked(vector, false);
        }
        return true;
    }
    case apic::kRegTpr:
    case apic::kRegSvr:
    case apic::kRegTimerInitial:
    case apic::kRegTimerDivide: break;
    default:
        if (reg >= apic::kRegLvtTimer && reg <= apic::kRegLvtError) break;
        return false;  // read-only (ID, version, PPR, LDR, ISR/TMR/IRR, current count) or not present
    }
    WriteRegisterLocked(reg, v, now, post);
    return true;
}

std::optional<u64> LocalApic::ReadMsr(u32 index) {
    if (index == apic::kMsrTscDeadline) return TscDeadline();
    if (index < apic::kMsrX2apicFirst || index > apic::kMsrX2apicLast) return std::nullopt;
    std::lock_guard lock(mutex_);
    if (!(state_.base_msr & apic::kApicBaseX2apic)) return std::nullopt;
    return ReadX2apicLocked((index - apic::kMsrX2apicFirst) << 4, timers_.clock().NowNs());
}

bool LocalApic::WriteMsr(u32 index, u64 value) {
    if (index == apic::kMsrTscDeadline) {
        SetTscDeadline(value);
        return true;
    }
    if (index < apic::kMsrX2apicFirst || index > apic::kMsrX2apicLast) return false;
    PostWrite post;
    {
        std::lock_guard lock(mutex_);
        if (!(state_.base_msr & apic::kApicBaseX2apic)) return false;
        if (!WriteX2apicLocked((index - apic::kMsrX2apicFirst) << 4, value, timers_.clock().NowNs(), post)) {
            return false;
        }
    }
    FinishWrite(post);
    return true;
}

// ---- ApicRouter ----

void ApicRouter::DeliverInterrupt(const ApicMessage& msg) {
    for (LocalApic* apic : apics_) {
        if (msg.exclude_id >= 0 && apic->Id() == msg.exclude_id) continue;
        if (!apic->MatchesDestination(msg)) continue;
        apic->Accept(msg);
        if (msg.mode == DeliveryMode::LowestPriority) return;
    }
}

// ---- InterruptController ----

InterruptController::InterruptController(LocalApic& apic, Pic* pic) : apic_(apic), pic_(pic) {
    auto wake = [this] {
        std::function<void()> wakeup;
        {
            std::lock_guard lock(wakeup_mutex_);
            wakeup = wakeup_;
        }
        if (wakeup) wakeup();
    };
    apic_.SetWakeup(wake);
    if (pic_ != nullptr) {
        pic_->SetOutputCallback([wake](bool level) {
            if (level) wake();
        });
    }
}

void InterruptController::SetWakeup(std::function<void()> wakeup) {
    std::lock_guard lock(wakeup_mutex_);
    wakeup_ = std::move(wakeup);
}

bool InterruptController::HasInterrupt() const {
    if (apic_.HasPendingInterrupt()) return true;
    return pic_ != nullptr && apic_.PicPassThrough() && pic_->HasPendingInterrupt();
}

u8 InterruptController::AcknowledgeInterrupt() {
    // The APIC first, as QEMU does; the 8259 answers the INTA cycle only when its INTR reaches the CPU.
    if (apic_.HasPendingInterrupt() || pic_ == nullptr || !apic_.PicPassThrough()) return apic_.Acknowledge();
    apic_.ConsumeExtInt();
    return pic_->Acknowledge();
}

}  // namespace emu::devices
