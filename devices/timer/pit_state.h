#pragma once
// Snapshot of the 8254 and port 0x61. Times are on the machine Clock's timeline.
#include "emu/common/types.h"

namespace emu::devices {

struct PitChannelState {
    u8 mode = 0;              // power-on state is undefined; mode 0 unloaded keeps OUT (IRQ0) low
    u8 access = 3;            // pit::Access
    bool bcd = false;
    u32 reload = 0x10000;     // initial count N; 0 is written as the maximum (65536, or 10000 in BCD)
    bool loaded = false;      // a count has been written since the last control word
    bool running = false;     // the counting element advances with the clock
    bool triggered = false;   // modes 1 and 5: a gate rising edge started the count
    bool gate = true;
    bool null_count = true;   // a control word or count was written and not yet loaded
    u64 start_ns = 0;         // clock time of the last (re)start of counting
    u64 base_ticks = 0;       // ticks counted before start_ns (modes 0/4 resume after a low gate)
    u16 idle_count = 0;       // what the counter reads while no count is loaded
    // Access flip-flops and latches.
    bool write_msb_next = false;
    u8 write_lsb = 0;
    bool read_msb_next = false;
    u8 latch_bytes = 0;       // bytes of latched_count still to read (0 = no count latched)
    u16 latched_count = 0;
    bool status_latched = false;
    u8 status = 0;
};

struct PitState {
    PitChannelState channel[3];
    u8 port_b = 0;            // the writable bits of port 0x61
    bool irq_level = false;   // what we last drove on IRQ0
};

}  // namespace emu::devices
