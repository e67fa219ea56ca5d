#pragma once
// Snapshot of one local APIC. The model keeps all of its state here, so saving is a copy. Times are on the
// machine Clock's timeline.
#include <array>

#include "devices/irq/apic_regs.h"
#include "emu/common/types.h"

namespace emu::devices {

// LVT entries in register order (0x320, 0x330, ... 0x370).
enum class Lvt : u8 { Timer = 0, Thermal = 1, Perf = 2, Lint0 = 3, Lint1 = 4, Error = 5 };
inline constexpr unsigned kNumLvt = 6;

struct LocalApicState {
    u64 base_msr = apic::kLapicBase | apic::kApicBaseEnable;  // IA32_APIC_BASE
    u8 id = 0;
    u32 tpr = 0;
    u32 ldr = 0;
    u32 dfr = 0xFFFFFFFF;     // flat model
    u32 svr = 0xFF;           // software-disabled, spurious vector 0xFF
    std::array<u32, 8> isr{};  // 256-bit registers, word i holds vectors 32i..32i+31
    std::array<u32, 8> tmr{};
    std::array<u32, 8> irr{};
    u32 esr = 0;              // what the guest reads (latched by the last ESR write)
    u32 esr_pending = 0;      // errors seen since then
    u32 icr_low = 0;
    u32 icr_high = 0;
    std::array<u32, kNumLvt> lvt{};
    u32 timer_initial = 0;
    u32 timer_divide = 0;     // the divide configuration register (bits 0, 1, 3)
    bool timer_running = false;
    u64 timer_start_ns = 0;   // start of the current period (one-shot: of the count)
    u64 tsc_deadline = 0;     // IA32_TSC_DEADLINE; 0 = disarmed
    u8 lint_levels = 0;       // bit n: LINTn input level
    bool nmi_pending = false;
    bool extint_pending = false;  // an ExtINT message: the next INTA goes to the 8259
    u32 init_received = 0;    // INIT and SIPI messages are recorded; with one vCPU nothing acts on them
    u32 sipi_received = 0;
    u8 last_sipi_vector = 0;
};

}  // namespace emu::devices
