#pragma once
// The PC's pair of Intel 8259A programmable interrupt controllers: master at 0x20/0x21, slave at 0xA0/0xA1
// cascaded on master IR2, and the PIIX edge/level control registers (ELCR) at 0x4D0/0x4D1.
//
// Implemented from the 8259A datasheet: the ICW1-ICW4 init sequence, OCW1 (IMR), OCW2 (non-specific and
// specific EOI, rotation, set priority), OCW3 (read IRR/ISR, poll, special mask mode), AEOI, fully nested
// priority with rotation, edge vs level inputs and the spurious IR7/IR15 vectors. Not modelled: special fully
// nested mode, buffered mode, 8080/8085 call vectors.
//
// Threads: one mutex guards both chips. Input pins may be driven from any thread (device code, the I/O
// thread); the vCPU calls HasPendingInterrupt/Acknowledge. The output callback runs after the lock is released.
#include <array>
#include <functional>
#include <mutex>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "devices/irq/pic_state.h"
#include "emu/common/types.h"

namespace emu::devices {

class Pic {
public:
    static constexpr unsigned kNumIrqs = 16;

    Pic();
    Pic(const Pic&) = delete;
    Pic& operator=(const Pic&) = delete;

    // The input pin for ISA IRQ n (0-15). IRQ2 is the cascade input and is not wired to a device.
    IrqLine& Input(unsigned irq) { return pins_[irq % kNumIrqs]; }
    void SetIrq(unsigned irq, bool level);

    // Bus attachments: insert MasterPorts() at pic::kMasterBase (2 ports), SlavePorts() at pic::kSlaveBase (2),
    // ElcrPorts() at pic::kElcrBase (2).
    IoDevice& MasterPorts() { return master_ports_; }
    IoDevice& SlavePorts() { return slave_ports_; }
    IoDevice& ElcrPorts() { return elcr_ports_; }

    // The CPU's view: INTR asserted, and the INTA cycle that returns the vector (and updates ISR/IRR). With
    // nothing to deliver, INTA returns the spurious vector of IR7 (master base + 7), as the 8259A does.
    bool HasPendingInterrupt() const;
    u8 Acknowledge();

    // Called with the new INTR level whenever it changes (the machine kicks a halted vCPU on true).
    void SetOutputCallback(std::function<void(bool)> callback);

    // Power-on state: both chips uninitialized with all inputs unmasked, ELCR = 0 (edge).
    void Reset();
    PicState SaveState() const;
    void RestoreState(const PicState& state);

private:
    class Pin final : public IrqLine {
    public:
        void Bind(Pic* pic, unsigned irq) {
            pic_ = pic;
            irq_ = irq;
        }
        void SetLevel(bool asserted) override { pic_->SetIrq(irq_, asserted); }

    private:
        Pic* pic_ = nullptr;
        unsigned irq_ = 0;
    };

    // All Locked functions: call with mutex_ held.
    void WriteLocked(unsigned chip, u64 port, u8 value);
    u8 ReadLocked(unsigned chip, u64 port);
    void SetInputLocked(unsigned chip, unsigned irq, bool level);
    // Recomputes the cascade wire (slave INT -> master IR2) and returns the new INTR level.
    bool UpdateLocked();
    void NotifyIfChanged(bool intr);  // call without the lock

    void ReadChip(unsigned chip, u64 offset, std::span<u8> data);
    void WriteChip(unsigned chip, u64 offset, std::span<const u8> data);
    void ReadElcr(u64 offset, std::span<u8> data);
    void WriteElcr(u64 offset, std::span<const u8> data);

    // Byte-wise dispatch shared by the three port ranges: a 16-bit access is two 8-bit ISA cycles.
    template <typename Fn>
    void ForEachByte(u64 offset, size_t len, Fn&& fn);

    mutable std::mutex mutex_;
    PicState state_;
    bool intr_ = false;
    std::function<void(bool)> output_callback_;
    std::array<Pin, kNumIrqs> pins_;
    IoDeviceThunk master_ports_;
    IoDeviceThunk slave_ports_;
    IoDeviceThunk elcr_ports_;
};

}  // namespace emu::devices
