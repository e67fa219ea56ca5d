#pragma once
// How a vCPU reaches memory and I/O ports. The CPU core sees linear addresses only; the machine supplies
// an implementation that applies paging (walk or shadow MMU, soft TLB), memslots and MMIO dispatch.
// Tests supply flat implementations.
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>

#include "emu/common/types.h"
#include "emu/cpu/exit_request.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::mmu {
struct TlbEntry;
}

namespace emu::cpu {

enum class MemAccess : u8 { Read, Write, Fetch };

// Guest-physical bytes [gpa, gpa + size) written on a page instruction fetches read (self-modifying code).
struct CodeWrite {
    u64 gpa = 0;
    u32 size = 0;
};

// What MemoryInterface::CompareExchange did.
enum class CasResult : u8 { Swapped, Mismatch, Fault };

// A fault raised by the memory path (normally #PF). cr2 is meaningful for #PF only.
struct MemFault {
    u8 vector = 14;
    u32 error_code = 0;
    u64 cr2 = 0;
};

class MemoryInterface {
public:
    virtual ~MemoryInterface() = default;

    // Reads `size` bytes (1..4096, may cross a page) at linear address `linear`. `user` is the effective
    // privilege of the access: CPL 3 and not an implicit supervisor access (descriptor-table reads).
    // Returns false and fills *fault if the access faults; nothing is read then.
    virtual bool Read(const CpuState& state, u64 linear, void* dst, unsigned size, MemAccess access, bool user,
                      MemFault* fault) = 0;

    // Writes `size` bytes. A write that crosses a page checks both pages before writing either, so a
    // fault leaves memory unchanged.
    virtual bool Write(const CpuState& state, u64 linear, const void* src, unsigned size, bool user,
                       MemFault* fault) = 0;

    // A LOCK-prefixed read-modify-write's store: if the `size` bytes at `linear` (1, 2, 4, 8 or 16) still equal
    // `expected`, they become `desired`, atomically with respect to every other vCPU and device (x86-TSO: a locked
    // operation is a full barrier). Mismatch leaves memory unchanged. The default, for single-threaded users, is a
    // Read, a compare and a Write.
    virtual CasResult CompareExchange(const CpuState& state, u64 linear, unsigned size, const void* expected,
                                      const void* desired, bool user, MemFault* fault);

    // A host thread per vCPU (the machine's VcpuGate): Run is "in guest mode" between EnterGuest and LeaveGuest, where
    // it reads the soft TLB without asking; other threads that change what the TLB caches queue their flush and wait
    // for the vCPU to leave guest mode. SafePoint, at every block boundary, leaves and re-enters when something waits.
    // The defaults are a memory no other thread changes.
    virtual void EnterGuest() {}
    virtual void LeaveGuest() {}
    virtual void SafePoint() {}
    // PAUSE: the guest spins waiting for another vCPU, which may need this host core to get on (KVM's pause-loop
    // exiting). The default does nothing.
    virtual void SpinPause() {}

    // Port I/O; unclaimed ports read as all ones.
    virtual u32 PortIn(u16 port, unsigned size) = 0;
    virtual void PortOut(u16 port, unsigned size, u32 value) = 0;

    // The guest changed CR0/CR3/CR4/EFER or ran INVLPG: cached translations may be stale.
    // `linear` is the page for INVLPG, or ~0 for a full flush; `global` also drops global entries.
    virtual void FlushTlb(u64 linear, bool global) { (void)linear; (void)global; }
    // PKRU changed: TLB entries, which cache whether each access kind is allowed, may now allow what a protection
    // key denies (or the reverse). Translations themselves (shadow pages) stay valid: they keep the page's key.
    virtual void FlushTlbRights() { FlushTlb(~u64{0}, true); }

    // PAE paging (SDM Vol. 3 4.4.1): a MOV to CR0/CR3/CR4 that leaves PAE paging in use loads the four PDPTEs
    // from the PDPT at cr3[31:5], and translations use these copies until the next load (a later store to the
    // PDPT changes nothing). The CPU calls this once the write passed its other checks, with the new CR3. Returns
    // false, keeping the previous copies, if a present PDPTE has a reserved bit set (or the PDPT is not in RAM):
    // the CPU then raises #GP(0) and leaves the register unchanged. The default is a memory without paging.
    virtual bool LoadPdptes(u64 cr3) {
        (void)cr3;
        return true;
    }

    // WRMSR of an MSR that a platform device acts on: IA32_APIC_BASE, which moves, enables or disables the local
    // APIC (or switches it to x2APIC mode), the x2APIC registers and IA32_TSC_DEADLINE. The CPU has validated the
    // value and keeps the architectural copy of IA32_APIC_BASE for RDMSR; returning false refuses the value with #GP
    // (the copy is then unchanged). The default is a machine without such a device.
    virtual bool WritePlatformMsr(u32 index, u64 value) {
        (void)index;
        (void)value;
        return true;
    }

    // RDMSR of an MSR a platform device owns (the x2APIC registers 0x800-0x8FF, IA32_TSC_DEADLINE): its value, or
    // nullopt for #GP. The CPU has checked the privilege and the feature. The default is a machine without them.
    virtual std::optional<u64> ReadPlatformMsr(u32 index) {
        (void)index;
        return std::nullopt;
    }

    // The platform's clock in nanoseconds, the timeline its timer devices schedule on. The CPU's TSC counts it (plus
    // CpuState::tsc_offset, system::GuestTsc), so a TSC-deadline computed from RDTSC fires when the local APIC's
    // timer reaches it. The default is the host's monotonic clock.
    virtual u64 ClockNs() {
        return static_cast<u64>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
    }
    // The CPU's TSC offset changed (WRMSR IA32_TSC, loadvm): the platform's TSC-deadline timer maps TSC values to
    // ClockNs() with it.
    virtual void SetTscOffset(i64 offset) { (void)offset; }

    // FERR#: a waiting x87 instruction found an unmasked exception pending while CR0.NE = 0, so the CPU signals the
    // error on its pin instead of raising #MF (SDM Vol. 1 8.7; the PC routes FERR# to IRQ13, which software clears
    // by writing port F0h). The default is a machine that leaves the pin unconnected.
    virtual void SignalFerr() {}

    // Self-modifying code: true once since the last call if something (a CPU store, a device, the debugger) wrote to a
    // page that instruction fetches read from (the CPU then drops the translations with a byte in what was written).
    // Implementations that cannot tell return false.
    virtual bool TakeCodeWritten() { return false; }
    // After TakeCodeWritten() returned true: the guest-physical ranges written, until the next call. Empty means
    // unknown (the CPU drops every translation). Writes to a page are reported until the CPU releases it.
    virtual std::span<const CodeWrite> CodeWrites() const { return {}; }
    // The CPU holds no translation made from guest-physical page gfn any more: writes to it need not be reported
    // until an instruction fetch reads it again.
    virtual void ReleaseCodePage(u64 gfn) { (void)gfn; }

    // The soft-TLB table translated code may read inline for accesses of this privilege (mmu/softtlb/softtlb.h), or
    // null: every access then goes through Read and Write. An implementation that returns a table must keep its
    // entries exact: stores to pages that code was translated from, MMIO, tracked and dirty-logged pages must miss.
    virtual mmu::TlbEntry* InlineTlb(bool user) {
        (void)user;
        return nullptr;
    }

    // The CPU's exit-request word (exit_request.h; the CPU installs it): an implementation sets kCodeWritten when
    // a store hits a page that code was fetched from, so that running translated code stops at the next instruction
    // boundary, and kInterrupt after port or MMIO accesses, which may change what the interrupt controllers deliver
    // (EOI, TPR, masks), so that the CPU polls them again.
    // A wrapper around another memory forwards it (the inner one signals too).
    virtual void SetExitSignal(std::atomic<u32>* word) { exit_signal_ = word; }

    // The guest-physical address an instruction fetch at `linear` reads (the CPU keys its translations by it), or
    // false with *fault when that fetch faults. The default is a memory without paging: physical = linear.
    virtual bool TranslateFetch(const CpuState& state, u64 linear, bool user, u64* gpa, MemFault* fault) {
        (void)state;
        (void)user;
        (void)fault;
        *gpa = linear;
        return true;
    }

protected:
    void SignalCodeWrite() { Signal(exit_bit::kCodeWritten); }
    void SignalDeviceAccess() { Signal(exit_bit::kInterrupt); }

private:
    void Signal(u32 bit) {
        if (exit_signal_ != nullptr) exit_signal_->fetch_or(bit, std::memory_order_relaxed);
    }
    std::atomic<u32>* exit_signal_ = nullptr;
};

inline CasResult MemoryInterface::CompareExchange(const CpuState& state, u64 linear, unsigned size,
                                                 const void* expected, const void* desired, bool user,
                                                 MemFault* fault) {
    u8 current[16];
    if (!Read(state, linear, current, size, MemAccess::Read, user, fault)) return CasResult::Fault;
    if (std::memcmp(current, expected, size) != 0) return CasResult::Mismatch;
    return Write(state, linear, desired, size, user, fault) ? CasResult::Swapped : CasResult::Fault;
}

// Every write of PKRU (WRPKRU, XRSTOR): a changed value drops the TLB entries whose cached rights it decided.
inline void SetPkru(CpuState& s, MemoryInterface& m, u32 value) {
    if (value == s.pkru) return;
    s.pkru = value;
    m.FlushTlbRights();
}

}  // namespace emu::cpu
