#pragma once
// An interrupt request wire from a device to an interrupt controller input.
//
// A line carries a level. Whether the receiver latches edges or follows the level is the receiver's setting
// (the 8259's ELCR/LTIM, later the IOAPIC's redirection entry), exactly as on the board: the device only
// drives the wire. Edge-style devices use Pulse() (a rising then a falling edge); level-style devices hold
// the line with Raise() until the guest clears the cause, then Lower().
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace emu::devices {

class IrqLine {
public:
    virtual ~IrqLine() = default;
    virtual void SetLevel(bool asserted) = 0;

    void Raise() { SetLevel(true); }
    void Lower() { SetLevel(false); }
    void Pulse() {
        SetLevel(true);
        SetLevel(false);
    }
};

// A line that goes nowhere (a device whose interrupt is not wired).
class NullIrqLine final : public IrqLine {
public:
    void SetLevel(bool) override {}
};

// A line driving a callable; the machine uses it to route one device pin to a controller input.
class CallbackIrqLine final : public IrqLine {
public:
    explicit CallbackIrqLine(std::function<void(bool)> fn) : fn_(std::move(fn)) {}
    void SetLevel(bool asserted) override { fn_(asserted); }

private:
    std::function<void(bool)> fn_;
};

// Drives several controller inputs from one device pin (an ISA IRQ reaches both the 8259 and the IOAPIC).
class FanoutIrqLine final : public IrqLine {
public:
    void Connect(IrqLine& target) { targets_.push_back(&target); }
    void SetLevel(bool asserted) override {
        for (IrqLine* t : targets_) t->SetLevel(asserted);
    }

private:
    std::vector<IrqLine*> targets_;
};

// A line that a switch can cut between a device and its target: the HPET's legacy replacement mode takes IRQ0
// from the PIT and IRQ8 from the RTC this way. While closed the target sees the line low; opening it again
// passes the device's current level through.
//
// Threads: its own mutex serialises the device's and the switch's updates; the target is driven with it held
// (lock order: device -> gate -> controller).
class GatedIrqLine final : public IrqLine {
public:
    explicit GatedIrqLine(IrqLine& target) : target_(target) {}
    void SetLevel(bool asserted) override {
        std::lock_guard lock(mutex_);
        level_ = asserted;
        if (open_) target_.SetLevel(asserted);
    }
    void SetOpen(bool open) {
        std::lock_guard lock(mutex_);
        if (open == open_) return;
        open_ = open;
        if (level_) target_.SetLevel(open);
    }
    bool IsOpen() const {
        std::lock_guard lock(mutex_);
        return open_;
    }

private:
    IrqLine& target_;
    mutable std::mutex mutex_;
    bool open_ = true;
    bool level_ = false;
};

}  // namespace emu::devices
