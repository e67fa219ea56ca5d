#pragma once
// A 16550A UART (COM port) over a CharBackend.
//
// Implemented from the PC16550D datasheet: RBR/THR, IER, IIR with the four interrupt priorities (line status,
// received data / character timeout, THR empty, modem status), FCR with 16-byte receive FIFO and trigger
// levels, LCR with the DLAB divisor latch, MCR including loopback (TX to RX, outputs to modem inputs), LSR,
// MSR and SCR. Transmission is instantaneous (THR is empty again as soon as it is written), so THRE and TEMT
// read 1 and the THRE interrupt re-arms after each write. Host input waits in an unbounded host-side queue
// and enters the FIFO as room frees up, so pasting into the console loses nothing; the guest still sees
// overrun in loopback. The character timeout uses the TimerQueue (four character times at the programmed
// baud rate). The interrupt output is not gated by MCR OUT2 (as in QEMU; guests that forget OUT2 still work).
//
// Threads: one mutex guards the state. The backend's Write and the IRQ line are called with it held (lock
// order UART -> backend, UART -> PIC); input from the backend arrives on the I/O thread.
#include <deque>
#include <mutex>

#include "devices/backends/char_backend.h"
#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/serial/uart_state.h"
#include "devices/timer/timer_queue.h"

namespace emu::devices {

class Uart16550 final : public IoDevice {
public:
    // Installs itself as backend's receiver. Insert at a COM base (uart::kCom1Base, 8 ports).
    Uart16550(TimerQueue& timers, IrqLine& irq, CharBackend& backend);
    // Cancels its timer. Destroy only once no thread runs TimerQueue::RunDue() any more: a callback already
    // taken off the queue would otherwise run on a dead object.
    ~Uart16550() override;
    Uart16550(const Uart16550&) = delete;
    Uart16550& operator=(const Uart16550&) = delete;

    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    // Host input (what the backend delivers).
    void Receive(std::span<const u8> bytes);

    void Reset();
    UartState SaveState() const;
    void RestoreState(const UartState& state);

private:
    u8 ReadLocked(u8 reg);
    void WriteLocked(u8 reg, u8 value);
    void TransmitLocked(u8 byte);
    // One character arriving at the receiver (from the host or from loopback).
    void ReceiveByteLocked(u8 byte);
    u8 PopRxLocked();
    void ClearRxLocked();
    // Moves queued host input into the receiver while it has room (not in loopback: the pin is cut off).
    void DrainHostInputLocked();
    void SetModemInputsLocked(u8 inputs);
    u8 IirLocked() const;
    void UpdateIrqLocked();
    void RestartTimeoutLocked();
    void OnTimeout(u64 generation);
    bool FifoEnabled() const;
    unsigned RxCapacity() const;

    static constexpr size_t kMaxHostInput = 1 << 20;  // beyond this, host input is dropped

    TimerQueue& timers_;
    IrqLine& irq_;
    CharBackend& backend_;
    mutable std::mutex mutex_;
    UartState state_;
    std::deque<u8> host_input_;
    TimerId timeout_timer_ = kNoTimer;
    u64 timeout_generation_ = 0;
};

}  // namespace emu::devices
