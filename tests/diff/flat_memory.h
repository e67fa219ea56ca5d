#pragma once
// The emulator's view of the sandbox: the code page and the data area at the same linear addresses as in
// the native child, and nothing else. Any other access raises #PF with an error code built like the
// hardware's (P=0 not present, W for writes, U for CPL 3, I for fetches); a fetch from the data area is a
// protection fault (P=1, I) because the native data area is not executable. A store into the code page is reported
// as the machine's memory path reports one (TakeCodeWritten, CodeWrites, the kCodeWritten exit bit), so that both
// backends see self-modifying code as the architecture says, rather than whichever stale translation each keeps.
#include <span>
#include <vector>

#include "emu/cpu/memory_interface.h"
#include "tests/diff/case.h"

namespace emu::diff {

class FlatMemory final : public cpu::MemoryInterface {
public:
    FlatMemory();

    std::span<u8> code() { return code_; }
    std::span<u8> data() { return data_; }

    bool Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, cpu::MemAccess access, bool user,
              cpu::MemFault* fault) override;
    bool Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
               cpu::MemFault* fault) override;
    u32 PortIn(u16 port, unsigned size) override;
    void PortOut(u16 port, unsigned size, u32 value) override;
    bool TakeCodeWritten() override;
    std::span<const cpu::CodeWrite> CodeWrites() const override { return taken_code_writes_; }

private:
    // The host bytes behind [linear, linear+size), or nullptr with *fault filled.
    u8* Map(u64 linear, unsigned size, cpu::MemAccess access, bool user, cpu::MemFault* fault);

    std::vector<u8> code_;
    std::vector<u8> data_;
    std::vector<cpu::CodeWrite> code_writes_, taken_code_writes_;
};

}  // namespace emu::diff
