#pragma once
// An interrupt request wire from a device to an interrupt controller input.
//
// A line carries a level. Whether the receiver latches edges or follows the level is the receiver's setting
// (the 8259's ELCR/LTIM, later the IOAPIC's redirection entry), exactly as on the board: the device only
// drives the wire. Edge-style devices use Pulse() (a rising then a falling edge); level-style devices hold
// the line with Raise() until the guest clears the cause, then Lower().
#include <functional>
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

}  // namespace emu::devices
