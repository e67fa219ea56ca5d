#pragma once
// Test environment for CPU unit tests: flat guest memory (linear == physical, no paging) starting at
// linear 0, with #PF for anything outside it, and helpers that put a vCPU in 64-bit, 32-bit or real mode.
#include <cstring>
#include <vector>

#include "emu/cpu/memory_interface.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::test {

class FlatMemory : public MemoryInterface {
public:
    explicit FlatMemory(size_t size = 1 << 20) : bytes_(size, 0) {}

    bool Read(const CpuState&, u64 linear, void* dst, unsigned size, MemAccess access, bool user,
              MemFault* fault) override {
        if (!InRange(linear, size)) {
            const u32 code = access == MemAccess::Fetch ? 0x10 : access == MemAccess::Write ? 0x2 : 0;
            return Fault(linear, size, code, user, fault);
        }
        std::memcpy(dst, bytes_.data() + linear, size);
        return true;
    }
    bool Write(const CpuState&, u64 linear, const void* src, unsigned size, bool user, MemFault* fault) override {
        if (!InRange(linear, size)) return Fault(linear, size, 0x2, user, fault);
        std::memcpy(bytes_.data() + linear, src, size);
        ++writes;
        return true;
    }
    u32 PortIn(u16, unsigned) override { return ~u32{0}; }
    void PortOut(u16, unsigned, u32) override {}

    void Put(u64 at, std::initializer_list<u8> code) { std::copy(code.begin(), code.end(), bytes_.begin() + at); }
    template <typename T>
    T Get(u64 at) const {
        T v;
        std::memcpy(&v, bytes_.data() + at, sizeof v);
        return v;
    }
    template <typename T>
    void Set(u64 at, T v) {
        std::memcpy(bytes_.data() + at, &v, sizeof v);
    }
    u8* data() { return bytes_.data(); }
    size_t size() const { return bytes_.size(); }

    unsigned writes = 0;

private:
    bool InRange(u64 linear, unsigned size) const { return linear < bytes_.size() && bytes_.size() - linear >= size; }
    // A not-present #PF at the first missing byte (error code: W/R bit, U/S bit, I/D bit as given).
    bool Fault(u64 linear, unsigned, u32 code, bool user, MemFault* fault) const {
        fault->vector = 14;
        fault->error_code = code | (user ? 0x4 : 0);
        fault->cr2 = linear < bytes_.size() ? bytes_.size() : linear;
        return false;
    }

    std::vector<u8> bytes_;
};

// 64-bit mode at `cpl`, RIP = rip, RSP = rsp, IDTR.limit = 0 (exceptions stop the run).
inline void Enter64(CpuState& s, u64 rip, u64 rsp, unsigned cpl = 0) {
    s.cr0 = cr0::PE | cr0::PG | cr0::ET;
    s.cr4 = cr4::PAE;
    s.efer = efer::LME | efer::LMA;
    const u32 dpl = cpl << 5;
    s.segment(SegReg::Cs) = Segment{static_cast<u16>(0x8 | cpl), 0, 0xFFFFFFFF, 0x9B | dpl | (1u << 13) | (1u << 15)};
    for (SegReg r : {SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs}) {
        s.segment(r) = Segment{static_cast<u16>(0x10 | cpl), 0, 0xFFFFFFFF, 0x93 | dpl | (1u << 14) | (1u << 15)};
    }
    s.idtr = DescriptorTable{0, 0};
    s.rip = rip;
    s.reg(Gpr::Rsp) = rsp;
    s.rflags = rflags::Reserved1;
    s.halted = false;
}

// 32-bit protected mode, flat segments, CPL 0.
inline void Enter32(CpuState& s, u64 rip, u64 esp) {
    Enter64(s, rip, esp);
    s.efer = 0;
    s.cr0 = cr0::PE | cr0::ET;
    s.segment(SegReg::Cs).attr = 0x9B | (1u << 14) | (1u << 15);
}

// The selectors of CS and SS, the descriptor tables and TR a test's GDT describes (the segment caches stay as
// Enter64/Enter32 made them).
struct Tables {
    u16 cs = 0, ss = 0;
    DescriptorTable gdtr, idtr;
    Segment tr;
};
inline void UseTables(CpuState& s, const Tables& t) {
    s.segment(SegReg::Cs).selector = t.cs;
    s.segment(SegReg::Ss).selector = t.ss;
    s.gdtr = t.gdtr;
    s.idtr = t.idtr;
    s.tr = t.tr;
}

// Real mode with all segments at 0.
inline void EnterReal(CpuState& s, u64 ip, u64 sp) {
    ResetState(s);
    for (Segment& seg : s.seg) seg = Segment{0, 0, 0xFFFF, 0x93};
    s.segment(SegReg::Cs).attr = 0x9B;
    s.idtr = DescriptorTable{0, 0};
    s.rip = ip;
    s.reg(Gpr::Rsp) = sp;
}

}  // namespace emu::cpu::test
