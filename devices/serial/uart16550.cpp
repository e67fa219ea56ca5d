#include "devices/serial/uart16550.h"

#include <algorithm>

#include "devices/serial/regs.h"
#include "emu/common/log.h"

namespace emu::devices {
namespace {

// With loopback off, the modem inputs are the host side's: a connected, ready terminal (CTS, DSR, DCD).
constexpr u8 kHostModemInputs = uart::kMsrCts | uart::kMsrDsr | uart::kMsrDcd;

// Loopback wiring (datasheet, MCR bit 4): RTS -> CTS, DTR -> DSR, OUT1 -> RI, OUT2 -> DCD.
u8 LoopbackModemInputs(u8 mcr) {
    u8 msr = 0;
    if (mcr & uart::kMcrRts) msr |= uart::kMsrCts;
    if (mcr & uart::kMcrDtr) msr |= uart::kMsrDsr;
    if (mcr & uart::kMcrOut1) msr |= uart::kMsrRi;
    if (mcr & uart::kMcrOut2) msr |= uart::kMsrDcd;
    return msr;
}

// Bits on the wire per character: start + data + parity + stop (1.5 stop bits counted as 2).
unsigned BitsPerChar(u8 lcr) {
    return 1 + 5 + (lcr & uart::kLcrWordLength) + ((lcr & uart::kLcrParity) ? 1 : 0) +
           ((lcr & uart::kLcrTwoStop) ? 2 : 1);
}

}  // namespace

Uart16550::Uart16550(TimerQueue& timers, IrqLine& irq, CharBackend& backend)
    : timers_(timers), irq_(irq), backend_(backend) {
    Reset();
    backend_.SetReceiver([this](std::span<const u8> bytes) { Receive(bytes); });
}

Uart16550::~Uart16550() {
    backend_.SetReceiver(nullptr);
    std::lock_guard lock(mutex_);
    timers_.Cancel(timeout_timer_);
    ++timeout_generation_;
}

void Uart16550::Reset() {
    std::lock_guard lock(mutex_);
    state_ = UartState{};
    state_.msr = kHostModemInputs;
    host_input_.clear();
    UpdateIrqLocked();
}

UartState Uart16550::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Uart16550::RestoreState(const UartState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    state_.rx_head %= uart::kFifoSize;
    state_.rx_count = static_cast<u8>(std::min<unsigned>(state_.rx_count, uart::kFifoSize));
    irq_.SetLevel(state_.irq_level);
    UpdateIrqLocked();
}

bool Uart16550::FifoEnabled() const { return state_.fcr & uart::kFcrEnable; }
unsigned Uart16550::RxCapacity() const { return FifoEnabled() ? uart::kFifoSize : 1; }

void Uart16550::Read(u64 offset, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) data[i] = ReadLocked(static_cast<u8>((offset + i) & 7));
    UpdateIrqLocked();
}

void Uart16550::Write(u64 offset, std::span<const u8> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) WriteLocked(static_cast<u8>((offset + i) & 7), data[i]);
    UpdateIrqLocked();
}

void Uart16550::Receive(std::span<const u8> bytes) {
    std::lock_guard lock(mutex_);
    const size_t room = kMaxHostInput - std::min(kMaxHostInput, host_input_.size());
    if (bytes.size() > room) log::Log(log::Category::GuestErrors, "uart: host input queue full, dropping bytes");
    host_input_.insert(host_input_.end(), bytes.begin(), bytes.begin() + std::min(room, bytes.size()));
    DrainHostInputLocked();
    UpdateIrqLocked();
}

u8 Uart16550::ReadLocked(u8 reg) {
    const bool dlab = state_.lcr & uart::kLcrDlab;
    switch (reg) {
    case uart::kRbrThr:
        if (dlab) return static_cast<u8>(state_.divisor);
        return PopRxLocked();
    case uart::kIer:
        if (dlab) return static_cast<u8>(state_.divisor >> 8);
        return state_.ier;
    case uart::kIirFcr: {
        const u8 iir = IirLocked();
        // Reading IIR while it reports THRE clears that interrupt (datasheet table IV).
        if ((iir & 0x0F) == uart::kIirThre) state_.thre_pending = false;
        return iir;
    }
    case uart::kLcr: return state_.lcr;
    case uart::kMcr: return state_.mcr;
    case uart::kLsr: {
        const u8 lsr = state_.lsr;
        // Reading LSR clears the error bits (and with them the line status interrupt).
        state_.lsr &= ~(uart::kLsrErrors | uart::kLsrFifoError);
        return lsr;
    }
    case uart::kMsr: {
        const u8 msr = state_.msr;
        state_.msr &= ~uart::kMsrDeltas;
        return msr;
    }
    default: return state_.scr;
    }
}

void Uart16550::WriteLocked(u8 reg, u8 value) {
    const bool dlab = state_.lcr & uart::kLcrDlab;
    switch (reg) {
    case uart::kRbrThr:
        if (dlab) {
            state_.divisor = static_cast<u16>((state_.divisor & 0xFF00) | value);
        } else {
            TransmitLocked(value);
        }
        break;
    case uart::kIer:
        if (dlab) {
            state_.divisor = static_cast<u16>((state_.divisor & 0x00FF) | (value << 8));
        } else {
            const bool thre_enabled = !(state_.ier & uart::kIerThre) && (value & uart::kIerThre);
            state_.ier = value & uart::kIerMask;
            // Enabling ETBEI with THR empty raises the THRE interrupt at once.
            if (thre_enabled && (state_.lsr & uart::kLsrThre)) state_.thre_pending = true;
        }
        break;
    case uart::kIirFcr: {
        const bool was_enabled = FifoEnabled();
        const bool enable = value & uart::kFcrEnable;
        // Changing the FIFO enable resets both FIFOs; the clear bits reset one each (TX is always empty here).
        if (enable != was_enabled || (value & uart::kFcrClearRx)) ClearRxLocked();
        state_.fcr = value & (uart::kFcrEnable | (3u << uart::kFcrTriggerShift));
        if (!enable) state_.fcr = 0;
        DrainHostInputLocked();
        break;
    }
    case uart::kLcr: state_.lcr = value; break;
    case uart::kMcr: {
        state_.mcr = value & uart::kMcrMask;
        SetModemInputsLocked((state_.mcr & uart::kMcrLoop) ? LoopbackModemInputs(state_.mcr) : kHostModemInputs);
        DrainHostInputLocked();
        break;
    }
    case uart::kLsr:
    case uart::kMsr: break;  // read-only (factory test writes are not modelled)
    default: state_.scr = value; break;
    }
}

void Uart16550::TransmitLocked(u8 byte) {
    if (state_.mcr & uart::kMcrLoop) {
        ReceiveByteLocked(byte);
    } else {
        backend_.Write(std::span<const u8>(&byte, 1));
    }
    // The shift register takes the byte at once, so THR is empty again and the THRE interrupt re-arms.
    state_.lsr |= uart::kLsrThre | uart::kLsrTemt;
    state_.thre_pending = true;
}

void Uart16550::ReceiveByteLocked(u8 byte) {
    if (state_.rx_count >= RxCapacity()) {
        state_.lsr |= uart::kLsrOe;
        if (FifoEnabled()) return;  // FIFO full: the new character is lost, the FIFO keeps its contents
        // Without FIFOs the new character overwrites the unread one in RBR.
        state_.rx_fifo[state_.rx_head] = byte;
        return;
    }
    state_.rx_fifo[(state_.rx_head + state_.rx_count) % uart::kFifoSize] = byte;
    ++state_.rx_count;
    state_.lsr |= uart::kLsrDr;
    RestartTimeoutLocked();
}

u8 Uart16550::PopRxLocked() {
    state_.timeout_pending = false;
    if (state_.rx_count == 0) return state_.rx_fifo[state_.rx_head];  // RBR keeps the last character
    const u8 byte = state_.rx_fifo[state_.rx_head];
    --state_.rx_count;
    if (state_.rx_count != 0) state_.rx_head = static_cast<u8>((state_.rx_head + 1) % uart::kFifoSize);
    DrainHostInputLocked();
    if (state_.rx_count == 0) state_.lsr &= ~uart::kLsrDr;
    RestartTimeoutLocked();
    return byte;
}

void Uart16550::ClearRxLocked() {
    state_.rx_count = 0;
    state_.rx_head = 0;
    state_.timeout_pending = false;
    state_.lsr &= ~uart::kLsrDr;
}

void Uart16550::DrainHostInputLocked() {
    if (state_.mcr & uart::kMcrLoop) return;
    while (!host_input_.empty() && state_.rx_count < RxCapacity()) {
        ReceiveByteLocked(host_input_.front());
        host_input_.pop_front();
    }
}

void Uart16550::SetModemInputsLocked(u8 inputs) {
    const u8 old = state_.msr;
    const u8 changed = old ^ inputs;
    u8 deltas = old & uart::kMsrDeltas;
    if (changed & uart::kMsrCts) deltas |= uart::kMsrDcts;
    if (changed & uart::kMsrDsr) deltas |= uart::kMsrDdsr;
    if ((old & uart::kMsrRi) && !(inputs & uart::kMsrRi)) deltas |= uart::kMsrTeri;  // trailing edge of RI
    if (changed & uart::kMsrDcd) deltas |= uart::kMsrDdcd;
    state_.msr = static_cast<u8>((inputs & 0xF0) | deltas);
}

u8 Uart16550::IirLocked() const {
    const u8 fifo_bits = FifoEnabled() ? uart::kIirFifoEnabled : 0;
    const u8 ier = state_.ier;
    const unsigned trigger = FifoEnabled() ? uart::kRxTrigger[state_.fcr >> uart::kFcrTriggerShift] : 1;
    u8 id = uart::kIirNone;
    if ((ier & uart::kIerRls) && (state_.lsr & uart::kLsrErrors)) {
        id = uart::kIirRls;
    } else if ((ier & uart::kIerRda) && state_.rx_count >= trigger) {
        id = uart::kIirRda;
    } else if ((ier & uart::kIerRda) && state_.timeout_pending && state_.rx_count != 0) {
        id = uart::kIirTimeout;
    } else if ((ier & uart::kIerThre) && state_.thre_pending) {
        id = uart::kIirThre;
    } else if ((ier & uart::kIerMsi) && (state_.msr & uart::kMsrDeltas)) {
        id = uart::kIirMsi;
    }
    return fifo_bits | id;
}

void Uart16550::UpdateIrqLocked() {
    const bool level = !(IirLocked() & uart::kIirNone);
    if (level == state_.irq_level) return;
    state_.irq_level = level;
    irq_.SetLevel(level);
}

void Uart16550::RestartTimeoutLocked() {
    timers_.Cancel(timeout_timer_);
    timeout_timer_ = kNoTimer;
    const u64 generation = ++timeout_generation_;
    if (!FifoEnabled() || state_.rx_count == 0) return;
    // Four character times at the programmed rate: divisor * 16 clocks per bit.
    const u64 divisor = state_.divisor == 0 ? 0x10000 : state_.divisor;
    const u64 clocks = 4 * BitsPerChar(state_.lcr) * 16 * divisor;
    const u64 deadline = timers_.clock().NowNs() + NsForTicks(clocks, uart::kInputClockHz);
    timeout_timer_ = timers_.ScheduleAt(deadline, [this, generation] { OnTimeout(generation); });
}

void Uart16550::OnTimeout(u64 generation) {
    std::lock_guard lock(mutex_);
    if (generation != timeout_generation_) return;
    timeout_timer_ = kNoTimer;
    if (state_.rx_count != 0) state_.timeout_pending = true;
    UpdateIrqLocked();
}

}  // namespace emu::devices
