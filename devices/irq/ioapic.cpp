#include "devices/irq/ioapic.h"

#include "emu/common/log.h"

namespace emu::devices {
namespace {

bool IsLevel(u64 rte) { return rte & apic::kRteLevel; }
bool IsMasked(u64 rte) { return rte & apic::kRteMasked; }
apic::DeliveryMode Mode(u64 rte) { return static_cast<apic::DeliveryMode>((rte >> apic::kRteDeliveryShift) & 7); }
// Remote IRR only tracks level-triggered fixed and lowest-priority interrupts: those are the ones the local
// APIC puts in TMR and answers with an EOI broadcast.
bool UsesRemoteIrr(u64 rte) {
    const auto mode = Mode(rte);
    return IsLevel(rte) && (mode == apic::DeliveryMode::Fixed || mode == apic::DeliveryMode::LowestPriority);
}

}  // namespace

Ioapic::Ioapic(ApicBus& bus) : bus_(bus) {
    for (unsigned i = 0; i < kNumPins; ++i) pins_[i].Bind(this, i);
    Reset();
}

void Ioapic::Reset() {
    std::lock_guard lock(mutex_);
    const u32 levels = state_.levels;  // the wires keep their level across a reset
    state_ = IoapicState{};
    state_.redirection.fill(apic::kRteMasked);
    state_.levels = levels;
}

IoapicState Ioapic::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Ioapic::RestoreState(const IoapicState& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    ServiceLocked();
}

IrqLine& Ioapic::Input(unsigned pin) {
    if (pin >= kNumPins) return dead_pin_;
    return pins_[pin];
}

u64 Ioapic::Redirection(unsigned pin) const {
    std::lock_guard lock(mutex_);
    return pin < kNumPins ? state_.redirection[pin] : 0;
}

void Ioapic::SetIrq(unsigned pin, bool level) {
    if (pin >= kNumPins) return;
    std::lock_guard lock(mutex_);
    const u32 bit = 1u << pin;
    const bool was = state_.levels & bit;
    state_.levels = level ? (state_.levels | bit) : (state_.levels & ~bit);
    if (IsLevel(state_.redirection[pin])) {
        state_.irr = level ? (state_.irr | bit) : (state_.irr & ~bit);
    } else if (level && !was) {
        state_.irr |= bit;  // rising edge
    }
    ServiceLocked();
}

void Ioapic::ServiceLocked() {
    for (unsigned pin = 0; pin < kNumPins; ++pin) {
        const u32 bit = 1u << pin;
        u64& rte = state_.redirection[pin];
        if (!(state_.irr & bit) || IsMasked(rte)) continue;
        if (UsesRemoteIrr(rte)) {
            if (rte & apic::kRteRemoteIrr) continue;  // the previous one is not EOIed yet
            rte |= apic::kRteRemoteIrr;
        }
        if (!IsLevel(rte)) state_.irr &= ~bit;  // an edge is consumed by its delivery
        bus_.DeliverInterrupt(ApicMessage{
            .dest = static_cast<u8>(rte >> apic::kRteDestShift),
            .logical = (rte & apic::kRteDestLogical) != 0,
            .vector = static_cast<u8>(rte & apic::kRteVector),
            .mode = Mode(rte),
            .level = UsesRemoteIrr(rte),
        });
    }
}

void Ioapic::Eoi(u8 vector) {
    std::lock_guard lock(mutex_);
    EoiLocked(vector);
}

void Ioapic::EoiLocked(u8 vector) {
    for (u64& rte : state_.redirection) {
        if ((rte & apic::kRteVector) == vector && IsLevel(rte)) rte &= ~apic::kRteRemoteIrr;
    }
    ServiceLocked();  // a level input still asserted is delivered again
}

u32 Ioapic::ReadRegisterLocked(u8 index) const {
    switch (index) {
    case apic::kIoapicId:
    case apic::kIoapicArb: return u32{state_.id} << 24;
    case apic::kIoapicVer: return ((kNumPins - 1) << 16) | apic::kIoapicVersion;
    default: break;
    }
    if (index >= apic::kIoredtbl && index < apic::kIoredtbl + 2 * kNumPins) {
        const u64 rte = state_.redirection[(index - apic::kIoredtbl) / 2];
        return static_cast<u32>((index & 1) ? rte >> 32 : rte);
    }
    return 0xFFFFFFFF;  // unimplemented indirect registers float high
}

void Ioapic::WriteRegisterLocked(u8 index, u32 value) {
    if (index == apic::kIoapicId) {
        state_.id = (value >> 24) & 0xF;
        return;
    }
    if (index < apic::kIoredtbl || index >= apic::kIoredtbl + 2 * kNumPins) {
        if (log::Enabled(log::Category::GuestErrors))
            log::Log(log::Category::GuestErrors, "ioapic: write {:#x} to read-only/unknown register {:#x}", value,
                     index);
        return;
    }
    const unsigned pin = (index - apic::kIoredtbl) / 2;
    u64& rte = state_.redirection[pin];
    const u64 shift = (index & 1) ? 32 : 0;
    u64 next = (rte & ~(u64{0xFFFFFFFF} << shift)) | (u64{value} << shift);
    next = (next & apic::kRteWritable) | (rte & apic::kRteReadOnly);
    if (!IsLevel(next)) next &= ~apic::kRteRemoteIrr;
    rte = next;
    // Re-derive the request from the wire: a level entry requests while the input is asserted.
    const u32 bit = 1u << pin;
    if (IsLevel(rte)) state_.irr = (state_.levels & bit) ? (state_.irr | bit) : (state_.irr & ~bit);
    ServiceLocked();
}

void Ioapic::Read(u64 offset, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    u32 value = 0xFFFFFFFF;
    const u64 reg = offset & ~u64{3};
    if (reg == apic::kIoregsel) {
        value = state_.ioregsel;
    } else if (reg == apic::kIowin) {
        value = ReadRegisterLocked(state_.ioregsel);
    }
    // Narrow reads see the addressed bytes of the 32-bit register.
    StoreLe(data, offset - reg + data.size() <= 4 ? value >> (8 * (offset - reg)) : value);
}

void Ioapic::Write(u64 offset, std::span<const u8> data) {
    std::lock_guard lock(mutex_);
    const u64 value = LoadLe(data);
    if (offset == apic::kIoregsel) {
        state_.ioregsel = static_cast<u8>(value);
    } else if (offset == apic::kIowin && data.size() >= 4) {
        WriteRegisterLocked(state_.ioregsel, static_cast<u32>(value));
    } else if (offset == apic::kIoapicEoi) {
        EoiLocked(static_cast<u8>(value));
    } else if (log::Enabled(log::Category::GuestErrors)) {
        log::Log(log::Category::GuestErrors, "ioapic: ignored {}-byte write at offset {:#x}", data.size(), offset);
    }
}

}  // namespace emu::devices
