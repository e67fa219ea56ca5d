#include "devices/irq/pic.h"

#include "devices/irq/regs.h"
#include "emu/common/log.h"

namespace emu::devices {
namespace {

constexpr unsigned kMaster = 0;
constexpr unsigned kSlave = 1;
constexpr int kNone = -1;

bool IsLevel(const PicChipState& c, unsigned irq) { return c.ltim || ((c.elcr >> irq) & 1); }

// Priority 0 is the highest. Fully nested mode with rotation: the IR after lowest_priority has priority 0.
unsigned PriorityOf(const PicChipState& c, unsigned irq) { return (irq - (c.lowest_priority + 1u)) & 7u; }

// The highest-priority IR set in bits, or kNone.
int Highest(const PicChipState& c, u8 bits) {
    if (bits == 0) return kNone;
    for (unsigned p = 0; p < 8; ++p) {
        const unsigned irq = (c.lowest_priority + 1u + p) & 7u;
        if ((bits >> irq) & 1) return static_cast<int>(irq);
    }
    return kNone;
}

// The IR the chip would present on INTA: the highest unmasked request whose priority beats every in-service
// level. In special mask mode, masked in-service levels do not block lower ones.
int PendingIrq(const PicChipState& c) {
    const int request = Highest(c, c.irr & ~c.imr);
    if (request == kNone) return kNone;
    const u8 blocking = c.special_mask ? (c.isr & ~c.imr) : c.isr;
    const int serving = Highest(c, blocking);
    if (serving != kNone && PriorityOf(c, serving) <= PriorityOf(c, request)) return kNone;
    return request;
}

// The INTA effect on one chip: the request moves to service (unless AEOI). Level inputs keep IRR, which
// follows the wire.
void AckLocked(PicChipState& c, unsigned irq) {
    const u8 mask = static_cast<u8>(1u << irq);
    if (!IsLevel(c, irq)) c.irr &= ~mask;
    if (c.aeoi) {
        if (c.rotate_on_aeoi) c.lowest_priority = static_cast<u8>(irq);
    } else {
        c.isr |= mask;
    }
}

void Ocw2Locked(PicChipState& c, u8 value) {
    const auto command = static_cast<pic::Ocw2>(value >> 5);
    const unsigned level = value & 7;
    switch (command) {
    case pic::Ocw2::RotateAeoiClear: c.rotate_on_aeoi = false; break;
    case pic::Ocw2::RotateAeoiSet: c.rotate_on_aeoi = true; break;
    case pic::Ocw2::Nop: break;
    case pic::Ocw2::NonSpecificEoi:
    case pic::Ocw2::RotateNonSpecificEoi: {
        const int irq = Highest(c, c.isr);
        if (irq == kNone) break;
        c.isr &= static_cast<u8>(~(1u << irq));
        if (command == pic::Ocw2::RotateNonSpecificEoi) c.lowest_priority = static_cast<u8>(irq);
        break;
    }
    case pic::Ocw2::SpecificEoi:
    case pic::Ocw2::RotateSpecificEoi:
        c.isr &= static_cast<u8>(~(1u << level));
        if (command == pic::Ocw2::RotateSpecificEoi) c.lowest_priority = static_cast<u8>(level);
        break;
    case pic::Ocw2::SetPriority: c.lowest_priority = static_cast<u8>(level); break;
    }
}

void Ocw3Locked(PicChipState& c, u8 value) {
    if (value & pic::kOcw3Rr) c.read_isr = value & pic::kOcw3Ris;
    c.poll = value & pic::kOcw3Poll;
    if (value & pic::kOcw3Esmm) c.special_mask = value & pic::kOcw3Smm;
}

void Icw1Locked(PicChipState& c, u8 value) {
    // ICW1 resets the edge-sense latches (an edge input must go low-to-high again), clears IMR and ISR,
    // gives IR7 the lowest priority, clears special mask mode and selects IRR for reads.
    u8 level_inputs = 0;
    c.ltim = value & pic::kIcw1Ltim;
    for (unsigned irq = 0; irq < 8; ++irq)
        if (IsLevel(c, irq)) level_inputs |= static_cast<u8>(1u << irq);
    c.irr = c.lines & level_inputs;
    c.isr = 0;
    c.imr = 0;
    c.lowest_priority = 7;
    c.special_mask = false;
    c.read_isr = false;
    c.poll = false;
    c.aeoi = false;
    c.rotate_on_aeoi = false;
    c.icw4_needed = value & pic::kIcw1Ic4;
    c.single = value & pic::kIcw1Sngl;
    c.init_step = 2;
}

}  // namespace

Pic::Pic()
    : master_ports_([this](u64 o, std::span<u8> d) { ReadChip(kMaster, o, d); },
                    [this](u64 o, std::span<const u8> d) { WriteChip(kMaster, o, d); }),
      slave_ports_([this](u64 o, std::span<u8> d) { ReadChip(kSlave, o, d); },
                   [this](u64 o, std::span<const u8> d) { WriteChip(kSlave, o, d); }),
      elcr_ports_([this](u64 o, std::span<u8> d) { ReadElcr(o, d); },
                  [this](u64 o, std::span<const u8> d) { WriteElcr(o, d); }) {
    for (unsigned irq = 0; irq < kNumIrqs; ++irq) pins_[irq].Bind(this, irq);
    Reset();
}

void Pic::ReadChip(unsigned chip, u64 offset, std::span<u8> data) {
    ForEachByte(offset, data.size(), [&](u64 port, size_t i) { data[i] = ReadLocked(chip, port); });
}

void Pic::WriteChip(unsigned chip, u64 offset, std::span<const u8> data) {
    ForEachByte(offset, data.size(), [&](u64 port, size_t i) { WriteLocked(chip, port, data[i]); });
}

void Pic::ReadElcr(u64 offset, std::span<u8> data) {
    ForEachByte(offset, data.size(), [&](u64 port, size_t i) { data[i] = state_.chip[port & 1].elcr; });
}

void Pic::WriteElcr(u64 offset, std::span<const u8> data) {
    ForEachByte(offset, data.size(), [&](u64 port, size_t i) {
        PicChipState& c = state_.chip[port & 1];
        c.elcr = data[i] & pic::kElcrMask[port & 1];
        // A level input's IRR follows its wire from now on.
        c.irr = static_cast<u8>((c.irr & ~c.elcr) | (c.lines & c.elcr));
    });
}

template <typename Fn>
void Pic::ForEachByte(u64 offset, size_t len, Fn&& fn) {
    bool intr;
    {
        std::lock_guard lock(mutex_);
        for (size_t i = 0; i < len; ++i) fn(offset + i, i);
        intr = UpdateLocked();
    }
    NotifyIfChanged(intr);
}

void Pic::Reset() {
    bool intr;
    {
        std::lock_guard lock(mutex_);
        for (PicChipState& c : state_.chip) {
            const u8 lines = c.lines;  // the wires keep their levels across a reset
            c = PicChipState{};
            c.lines = lines;
        }
        intr = UpdateLocked();
    }
    NotifyIfChanged(intr);
}

PicState Pic::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Pic::RestoreState(const PicState& state) {
    bool intr;
    {
        std::lock_guard lock(mutex_);
        state_ = state;
        intr = UpdateLocked();
    }
    NotifyIfChanged(intr);
}

void Pic::SetOutputCallback(std::function<void(bool)> callback) {
    std::lock_guard lock(mutex_);
    output_callback_ = std::move(callback);
}

void Pic::SetIrq(unsigned irq, bool level) {
    // IRQ2 is the cascade input, driven only by the slave (the ISA slot's IRQ2 pin is rerouted to IRQ9).
    if (irq >= kNumIrqs || irq == pic::kCascadeIrq) return;
    bool intr;
    {
        std::lock_guard lock(mutex_);
        SetInputLocked(irq / 8, irq % 8, level);
        intr = UpdateLocked();
    }
    NotifyIfChanged(intr);
}

void Pic::SetInputLocked(unsigned chip, unsigned irq, bool level) {
    PicChipState& c = state_.chip[chip];
    const u8 mask = static_cast<u8>(1u << irq);
    const bool was = c.lines & mask;
    c.lines = level ? (c.lines | mask) : (c.lines & ~mask);
    if (IsLevel(c, irq)) {
        c.irr = level ? (c.irr | mask) : (c.irr & ~mask);
    } else if (level && !was) {
        // Edge: the rising edge latches the request; it stays latched when the wire drops (a Pulse()).
        c.irr |= mask;
    }
}

bool Pic::UpdateLocked() {
    SetInputLocked(kMaster, pic::kCascadeIrq, PendingIrq(state_.chip[kSlave]) != kNone);
    return PendingIrq(state_.chip[kMaster]) != kNone;
}

void Pic::NotifyIfChanged(bool intr) {
    std::function<void(bool)> callback;
    {
        std::lock_guard lock(mutex_);
        if (intr == intr_) return;
        intr_ = intr;
        callback = output_callback_;
    }
    if (callback) callback(intr);
}

bool Pic::HasPendingInterrupt() const {
    std::lock_guard lock(mutex_);
    return PendingIrq(state_.chip[kMaster]) != kNone;
}

u8 Pic::Acknowledge() {
    u8 vector;
    bool intr;
    {
        std::lock_guard lock(mutex_);
        PicChipState& master = state_.chip[kMaster];
        PicChipState& slave = state_.chip[kSlave];
        const int irq = PendingIrq(master);
        if (irq == kNone) {
            // The request went away before INTA: the 8259A answers with IR7's vector and sets no ISR bit.
            vector = master.vector_base | 7;
            log::Log(log::Category::Int, "pic: spurious IRQ7");
        } else {
            AckLocked(master, static_cast<unsigned>(irq));
            if (static_cast<unsigned>(irq) == pic::kCascadeIrq) {
                const int slave_irq = PendingIrq(slave);
                if (slave_irq == kNone) {
                    // Master IR2 stays in service (the OS must EOI the master); the slave answers IR7 = IRQ15.
                    vector = slave.vector_base | 7;
                    log::Log(log::Category::Int, "pic: spurious IRQ15");
                } else {
                    AckLocked(slave, static_cast<unsigned>(slave_irq));
                    vector = static_cast<u8>(slave.vector_base + slave_irq);
                }
            } else {
                vector = static_cast<u8>(master.vector_base + irq);
            }
        }
        intr = UpdateLocked();
    }
    NotifyIfChanged(intr);
    return vector;
}

void Pic::WriteLocked(unsigned chip, u64 port, u8 value) {
    PicChipState& c = state_.chip[chip];
    if ((port & 1) == 0) {
        if (value & pic::kIcw1Select) {
            Icw1Locked(c, value);
        } else if (value & pic::kOcw3Select) {
            Ocw3Locked(c, value);
        } else {
            Ocw2Locked(c, value);
        }
        return;
    }
    switch (c.init_step) {
    case 2:
        c.vector_base = value & 0xF8;
        c.init_step = c.single ? (c.icw4_needed ? 4 : 0) : 3;
        break;
    case 3:  // ICW3: the cascade wiring is fixed on the PC board (slave on IR2), so only the sequence matters.
        c.init_step = c.icw4_needed ? 4 : 0;
        break;
    case 4:
        c.aeoi = value & pic::kIcw4Aeoi;
        c.init_step = 0;
        break;
    default:  // OCW1
        c.imr = value;
        break;
    }
}

u8 Pic::ReadLocked(unsigned chip, u64 port) {
    PicChipState& c = state_.chip[chip];
    if (port & 1) return c.imr;
    if (c.poll) {
        // A poll read is an INTA without the vector: it acknowledges the highest request.
        c.poll = false;
        const int irq = PendingIrq(c);
        if (irq == kNone) return 0;
        AckLocked(c, static_cast<unsigned>(irq));
        return static_cast<u8>(pic::kPollPending | irq);
    }
    return c.read_isr ? c.isr : c.irr;
}

}  // namespace emu::devices
