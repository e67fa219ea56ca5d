#pragma once
// The 8042 keyboard controller at 0x60 (data) / 0x64 (status, commands) with a PS/2 keyboard and a PS/2 mouse
// attached, as on QEMU's `pc` machine, covering what Linux's i8042, atkbd and psmouse drivers do at probe:
// the command byte (0x20/0x60), self-test (0xAA -> 0x55), interface tests (0xAB/0xA9 -> 0x00), port
// enable/disable (0xAD/0xAE/0xA7/0xA8), the output port (0xD0/0xD1: bit 0 low resets the CPU, bit 1 is A20),
// 0xD2/0xD3 loopback into the output buffer (Linux's AUX IRQ test), 0xD4 to the mouse, 0xFE and the other
// 0xF0-0xFF reset pulses; keyboard reset/identify/enable/disable/LEDs/typematic/scan set/echo; mouse
// reset/identify/enable/disable/rate/resolution/status.
// IRQ1 follows "output buffer holds keyboard or controller data and CTR bit 0"; IRQ12 the same for mouse data
// and CTR bit 1. Reading the data port drops both lines before presenting the next byte, so an edge-triggered
// 8259 input sees one edge per byte (as QEMU does).
// The power-on state is what firmware leaves: CTR = 0x47 (both IRQs, SYS, translation), SYS set in the status.
// With translation on, the keyboard's ID byte 0x83 reads as 0x41, as through a real 8042. Host keys (the SDL window)
// arrive as set-1 bytes, what the OS reads with translation on; nothing translates them for a guest that turns it off.
//
// Threads: one mutex guards the state; IRQ lines are driven with it held (lock order i8042 -> PIC/I/O APIC);
// the reset and A20 callbacks run without it.
#include <functional>
#include <mutex>
#include <span>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/platform/i8042_state.h"

namespace emu::devices {

class I8042 {
public:
    // on_reset: the guest pulsed the CPU reset line. on_a20: the output port's A20 gate changed.
    I8042(IrqLine& irq1, IrqLine& irq12, std::function<void()> on_reset,
          std::function<void(bool enabled)> on_a20 = {});
    I8042(const I8042&) = delete;
    I8042& operator=(const I8042&) = delete;

    // Bus attachments: DataPort() at i8042::kDataPort, CommandPort() at i8042::kCommandPort (1 port each).
    IoDevice& DataPort() { return data_port_; }
    IoDevice& CommandPort() { return command_port_; }

    // Key presses from the host: set-1 scan code bytes, queued while the keyboard scans and its port is enabled
    // (dropped otherwise, as a real keyboard's are while the host holds it off). Any thread.
    void KeyboardInput(std::span<const u8> set1_bytes);

    void Reset();
    I8042State SaveState() const;
    void RestoreState(const I8042State& state);

private:
    enum class Action { None, Reset, A20On, A20Off };

    // All Locked functions: call with mutex_ held.
    u8 ReadDataLocked();
    u8 ReadStatusLocked() const;
    Action WriteDataLocked(u8 value);
    Action WriteCommandLocked(u8 value);
    Action WriteOutputPortLocked(u8 value);
    void KeyboardWriteLocked(u8 value);
    void MouseWriteLocked(u8 value);
    void QueueLocked(u8 value, bool aux);
    void UpdateIrqLocked();
    void Run(Action action);

    IrqLine& irq1_;
    IrqLine& irq12_;
    std::function<void()> on_reset_;
    std::function<void(bool)> on_a20_;
    mutable std::mutex mutex_;
    I8042State state_;
    u8 last_data_ = 0;
    IoDeviceThunk data_port_;
    IoDeviceThunk command_port_;
};

}  // namespace emu::devices
