#pragma once
// The I/O APIC at 0xFEC00000 (Intel 82093AA datasheet), version 0x20 with 24 pins as in QEMU's `pc`:
// IOREGSEL/IOWIN indirect access, the ID/version/arbitration registers, 24 redirection entries and the
// version-0x20 EOI register at offset 0x40.
//
// Inputs are IrqLines that carry "asserted" (the board's inverters are folded in), so the polarity bit is kept
// for the guest to read back but does not invert the input: QEMU and KVM behave the same way.
// Edge-triggered pins latch a rising edge even while masked and deliver it when unmasked (QEMU/KVM behaviour;
// on the 82093AA a masked edge is lost). Level-triggered pins deliver while asserted and Remote IRR is clear;
// Remote IRR is set on delivery and cleared by an EOI broadcast from a local APIC (Eoi()) or a write to the EOI
// register, after which a still-asserted input is delivered again.
//
// Threads: one mutex guards the state; messages go to the ApicBus with it held (lock order I/O APIC -> local
// APIC), so a local APIC calls Eoi() only after releasing its own lock.
#include <array>
#include <mutex>

#include "devices/bus/io_device.h"
#include "devices/irq/apic_bus.h"
#include "devices/irq/ioapic_state.h"
#include "devices/irq/irq_line.h"
#include "emu/common/types.h"

namespace emu::devices {

class Ioapic final : public IoDevice {
public:
    static constexpr unsigned kNumPins = apic::kIoapicPins;

    explicit Ioapic(ApicBus& bus);
    Ioapic(const Ioapic&) = delete;
    Ioapic& operator=(const Ioapic&) = delete;

    // MMIO: insert at apic::kIoapicBase, apic::kIoapicSize bytes.
    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    // The input pin for GSI n (0-23); out-of-range pins go to a dead line.
    IrqLine& Input(unsigned pin);
    void SetIrq(unsigned pin, bool level);
    // An EOI broadcast for vector from a local APIC: clears Remote IRR of level entries with that vector.
    void Eoi(u8 vector);

    // The redirection entry of a pin (tests, debugging).
    u64 Redirection(unsigned pin) const;

    // Power-on state: ID 0, every entry masked, edge, vector 0.
    void Reset();
    IoapicState SaveState() const;
    void RestoreState(const IoapicState& state);

private:
    class Pin final : public IrqLine {
    public:
        void Bind(Ioapic* ioapic, unsigned pin) {
            ioapic_ = ioapic;
            pin_ = pin;
        }
        void SetLevel(bool asserted) override { ioapic_->SetIrq(pin_, asserted); }

    private:
        Ioapic* ioapic_ = nullptr;
        unsigned pin_ = 0;
    };

    // Call with mutex_ held.
    u32 ReadRegisterLocked(u8 index) const;
    void WriteRegisterLocked(u8 index, u32 value);
    void ServiceLocked();  // delivers every pending, unmasked request
    void EoiLocked(u8 vector);

    ApicBus& bus_;
    mutable std::mutex mutex_;
    IoapicState state_;
    std::array<Pin, kNumPins> pins_;
    NullIrqLine dead_pin_;
};

}  // namespace emu::devices
