#pragma once
// The emulator runner's memory front: forwards everything to the sandbox's FlatMemory, logs the data accesses
// (Read calls other than instruction fetches, and Write calls) in order, and can make the k-th of them fail
// with a #PF of a chosen error code. Fetches are neither logged nor counted: they happen when a block is
// translated, which each backend decides for itself. This front exposes no soft TLB, so the JIT calls Read/Write
// for every data access just as the interpreter does, and the two backends' logs are comparable one for one.
#include <span>
#include <vector>

#include "emu/cpu/memory_interface.h"

namespace emu::diff {

struct DataAccess {
    u64 linear = 0;
    u32 size = 0;
    cpu::MemAccess kind = cpu::MemAccess::Read;  // a Read call asking for write intent logs Write too
    bool write_call = false;                     // a Write call (kind is then Write)
    bool user = false;
    friend bool operator==(const DataAccess&, const DataAccess&) = default;
};

struct FaultInjection {
    u64 at = 0;          // 1-based index of the data access that faults; 0: none
    u32 error_code = 0;  // reported with vector 14; CR2 is the access's linear address
    // Tester self-check only: the injected access still writes its bytes before reporting the fault, as a JIT
    // that commits a store ahead of its fault check would. The comparison must catch it.
    bool torn_write = false;
};

class InjectingMemory final : public cpu::MemoryInterface {
public:
    explicit InjectingMemory(cpu::MemoryInterface& inner) : inner_(inner) {}

    // Clears the log and arms `injection` for the next run.
    void Arm(FaultInjection injection);
    std::span<const DataAccess> log() const { return log_; }
    // The armed fault was returned to the CPU.
    bool injected() const { return injected_; }

    bool Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, cpu::MemAccess access, bool user,
              cpu::MemFault* fault) override;
    bool Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
               cpu::MemFault* fault) override;
    u32 PortIn(u16 port, unsigned size) override { return inner_.PortIn(port, size); }
    void SetExitSignal(std::atomic<u32>* word) override {
        MemoryInterface::SetExitSignal(word);
        inner_.SetExitSignal(word);
    }
    void PortOut(u16 port, unsigned size, u32 value) override { inner_.PortOut(port, size, value); }
    void FlushTlb(u64 linear, bool global) override { inner_.FlushTlb(linear, global); }
    void FlushTlbRights() override { inner_.FlushTlbRights(); }
    bool LoadPdptes(u64 cr3) override { return inner_.LoadPdptes(cr3); }
    bool WritePlatformMsr(u32 index, u64 value) override { return inner_.WritePlatformMsr(index, value); }
    std::optional<u64> ReadPlatformMsr(u32 index) override { return inner_.ReadPlatformMsr(index); }
    u64 ClockNs() override { return inner_.ClockNs(); }
    void SetTscOffset(i64 offset) override { inner_.SetTscOffset(offset); }
    void SignalFerr() override { inner_.SignalFerr(); }
    bool TakeCodeWritten() override { return inner_.TakeCodeWritten(); }
    std::span<const cpu::CodeWrite> CodeWrites() const override { return inner_.CodeWrites(); }
    void ReleaseCodePage(u64 gfn) override { inner_.ReleaseCodePage(gfn); }
    bool TranslateFetch(const cpu::CpuState& state, u64 linear, bool user, u64* gpa, cpu::MemFault* fault) override {
        return inner_.TranslateFetch(state, linear, user, gpa, fault);
    }

private:
    // Logs the access; true when it is the armed one (then *fault is filled).
    bool Inject(const DataAccess& access, cpu::MemFault* fault);

    cpu::MemoryInterface& inner_;
    FaultInjection injection_;
    bool injected_ = false;
    std::vector<DataAccess> log_;
};

}  // namespace emu::diff
