#pragma once
// The APIC bus: how an I/O APIC (or an IPI from a local APIC, or later an MSI write) reaches local APICs.
// The machine owns the implementation that knows the vCPUs; ApicRouter (local_apic.h) is the standard one.
#include "devices/irq/apic_regs.h"
#include "emu/common/types.h"

namespace emu::devices {

struct ApicMessage {
    u32 dest = 0;          // physical APIC ID, or a logical MDA when `logical`; 0xFF (x2APIC: 0xFFFFFFFF) broadcasts
    bool x2apic = false;   // sent by an APIC in x2APIC mode: 32-bit destination
    bool logical = false;  // destination mode
    u8 vector = 0;
    apic::DeliveryMode mode = apic::DeliveryMode::Fixed;
    bool level = false;    // trigger mode: level-triggered interrupts set TMR and send an EOI broadcast
    int exclude_id = -1;   // an APIC ID not to deliver to (ICR shorthand "all excluding self"); -1 = none
};

inline bool IsBroadcast(const ApicMessage& msg) {
    return msg.x2apic ? msg.dest == apic::kX2apicBroadcast : msg.dest == apic::kBroadcast;
}

class ApicBus {
public:
    virtual ~ApicBus() = default;
    // Delivers msg to every local APIC the destination selects (lowest-priority picks one of them).
    // Called with the sender's lock held (lock order: I/O APIC -> local APIC); must not call back into it.
    virtual void DeliverInterrupt(const ApicMessage& msg) = 0;
};

}  // namespace emu::devices
