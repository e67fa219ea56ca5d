#include "emu/machine/boot/start_state.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include "emu/common/bits.h"
#include "mmu/walk/pte.h"

namespace emu::machine {

using cpu::CpuState;
using cpu::SegReg;

namespace {

// Descriptor attributes in CpuState's format: access byte in bits 7:0, G/DB/L/AVL in bits 15:12.
constexpr u32 kAttrCode64 = 0xA09B;
constexpr u32 kAttrCode32 = 0xC09B;
constexpr u32 kAttrData = 0xC093;
constexpr u32 kAttrUserCode64 = 0xA0FB;
constexpr u32 kAttrUserCode32 = 0xC0FB;
constexpr u32 kAttrUserData = 0xC0F3;
constexpr u32 kAttrTssBusy64 = 0x008B;  // type 11: busy 64-bit TSS (also the busy 32-bit TSS type)
constexpr u32 kTssSize = 104;

constexpr u64 kPtePresent = mmu::pte::kPresent, kPteWritable = mmu::pte::kWritable, kPteUser = mmu::pte::kUser,
              kPteLarge = mmu::pte::kLarge;
constexpr u64 k2M = u64{1} << 21, k1G = u64{1} << 30;

u64 EncodeDescriptor(u32 base, u32 limit, u32 attr) {
    u64 d = limit & 0xFFFF;
    d |= u64{base & 0xFFFFFF} << 16;
    d |= u64{attr & 0xFF} << 40;
    d |= u64{(limit >> 16) & 0xF} << 48;
    d |= u64{(attr >> 12) & 0xF} << 52;
    d |= u64{base >> 24} << 56;
    return d;
}

cpu::Segment FlatSegment(u16 sel, u32 attr) { return cpu::Segment{sel, 0, 0xFFFFFFFF, attr}; }

bool WriteU64s(PhysWriter& memory, u64 gpa, const u64* words, size_t count) {
    return memory.WritePhys(gpa, std::span<const u8>(reinterpret_cast<const u8*>(words), count * sizeof(u64)));
}

// Builds identity-mapping 4-level tables: 1 GiB pages where a whole aligned GiB is covered, else 2 MiB pages.
class TableBuilder {
public:
    TableBuilder(u64 first, u64 limit) : next_(first), limit_(limit) { root_ = Allocate(); }

    bool Map(PhysRange range) {
        u64 addr = AlignDown(range.base, k2M);
        const u64 end = AlignUp(range.base + range.size, k2M);
        while (addr < end) {
            const bool giant = IsAligned(addr, k1G) && end - addr >= k1G;
            if (!MapOne(addr, giant)) return false;
            addr += giant ? k1G : k2M;
        }
        return true;
    }

    u64 root() const { return root_; }
    bool overflowed() const { return overflowed_; }
    const std::map<u64, std::array<u64, 512>>& pages() const { return pages_; }

private:
    u64 Allocate() {
        if (next_ + kPageSize > limit_) {
            overflowed_ = true;
            return 0;
        }
        const u64 page = next_;
        next_ += kPageSize;
        pages_[page].fill(0);
        return page;
    }

    // Returns the table the entry points to, creating it if needed.
    u64 Descend(u64 table, unsigned index) {
        u64& entry = pages_[table][index];
        if (!(entry & kPtePresent)) {
            const u64 child = Allocate();
            if (overflowed_) return 0;
            pages_[table][index] = child | kPtePresent | kPteWritable | kPteUser;
            return child;
        }
        return entry & ~kPageMask & LowMask(52);
    }

    bool MapOne(u64 addr, bool giant) {
        const u64 pdpt = Descend(root_, Bits(addr, 47, 39));
        if (overflowed_) return false;
        const u64 flags = kPtePresent | kPteWritable | kPteUser | kPteLarge;
        if (giant) {
            pages_[pdpt][Bits(addr, 38, 30)] = addr | flags;
            return true;
        }
        u64& pdpte = pages_[pdpt][Bits(addr, 38, 30)];
        if ((pdpte & kPtePresent) && (pdpte & kPteLarge)) return true;  // already inside a 1 GiB page
        const u64 pd = Descend(pdpt, Bits(addr, 38, 30));
        if (overflowed_) return false;
        pages_[pd][Bits(addr, 29, 21)] = addr | flags;
        return true;
    }

    u64 next_, limit_;
    u64 root_ = 0;
    bool overflowed_ = false;
    std::map<u64, std::array<u64, 512>> pages_;
};

Result<void, StartError> WriteGdtAndTss(PhysWriter& memory, const StartLayout& layout, StartMode mode) {
    const bool long64 = mode == StartMode::Long64;
    const u64 tss_gpa = layout.gdt_gpa + 0x100;
    std::array<u64, 10> gdt{};
    gdt[selector::KernelCode32 / 8] = EncodeDescriptor(0, 0xFFFFF, kAttrCode32);
    gdt[selector::KernelCode / 8] = EncodeDescriptor(0, 0xFFFFF, long64 ? kAttrCode64 : kAttrCode32);
    gdt[selector::KernelData / 8] = EncodeDescriptor(0, 0xFFFFF, kAttrData);
    gdt[selector::UserCode32 / 8] = EncodeDescriptor(0, 0xFFFFF, kAttrUserCode32);
    gdt[selector::UserData / 8] = EncodeDescriptor(0, 0xFFFFF, kAttrUserData);
    gdt[selector::UserCode64 / 8] = EncodeDescriptor(0, 0xFFFFF, kAttrUserCode64);
    gdt[selector::Tss / 8] = EncodeDescriptor(static_cast<u32>(tss_gpa), kTssSize - 1, kAttrTssBusy64);
    gdt[selector::Tss / 8 + 1] = tss_gpa >> 32;  // upper half of the 16-byte system descriptor in long mode
    if (!WriteU64s(memory, layout.gdt_gpa, gdt.data(), gdt.size())) return Err{StartError::WriteFailed};

    std::array<u8, kTssSize> tss{};
    if (long64) {
        std::memcpy(&tss[4], &layout.kernel_stack_top, 8);  // RSP0
    } else {
        const u32 esp0 = static_cast<u32>(layout.kernel_stack_top);
        const u16 ss0 = selector::KernelData;
        std::memcpy(&tss[4], &esp0, 4);
        std::memcpy(&tss[8], &ss0, 2);
    }
    const u16 iomap_base = kTssSize;  // no I/O permission bitmap
    std::memcpy(&tss[0x66], &iomap_base, 2);
    if (!memory.WritePhys(tss_gpa, tss)) return Err{StartError::WriteFailed};
    return {};
}

void SetDescriptorTables(const StartLayout& layout, CpuState& state) {
    const u64 tss_gpa = layout.gdt_gpa + 0x100;
    state.gdtr = {layout.gdt_gpa, 10 * 8 - 1};
    state.idtr = {0, 0};  // no IDT: the first exception ends a bare run
    state.tr = cpu::Segment{selector::Tss, tss_gpa, kTssSize - 1, kAttrTssBusy64};
    state.ldtr = cpu::Segment{0, 0, 0, 1u << 16};  // unusable
}

void SetFlatSegments(CpuState& state, u16 code_sel, u32 code_attr, u16 data_sel, u32 data_attr) {
    for (unsigned i = 0; i < cpu::kNumSegRegs; ++i) state.seg[i] = FlatSegment(data_sel, data_attr);
    state.segment(SegReg::Cs) = FlatSegment(code_sel, code_attr);
}

}  // namespace

const char* StartErrorMessage(StartError e) {
    switch (e) {
        case StartError::TablesTooLarge: return "the identity page tables do not fit in the boot area";
        case StartError::WriteFailed: return "a boot structure lies outside guest RAM";
        case StartError::BadCpl: return "the starting CPL must be 0 or 3";
        case StartError::RealModeCpl: return "real mode cannot start at CPL 3";
        case StartError::RealModeEntry: return "real mode cannot start above 0x10ffef (FFFF:FFFF)";
    }
    return "unknown start error";
}

Result<void, StartError> PrepareStartState(PhysWriter& memory, const StartLayout& layout, const StartOptions& options,
                                           CpuState& state) {
    if (options.cpl != 0 && options.cpl != 3) return Err{StartError::BadCpl};
    if (options.mode == StartMode::Real) {
        if (options.cpl != 0) return Err{StartError::RealModeCpl};
        // CS:IP = (entry >> 4):(entry & 15), data segments sharing CS's paragraph. Above 1 MiB only FFFF:xxxx
        // reaches (the high memory area, A20 on); a truncated paragraph would start somewhere else entirely.
        if (options.entry > kRealModeTop) return Err{StartError::RealModeEntry};
        const u16 paragraph = static_cast<u16>(std::min<u64>(options.entry >> 4, 0xFFFF));
        for (auto& s : state.seg) s = cpu::Segment{paragraph, u64{paragraph} << 4, 0xFFFF, 0x93};
        state.segment(SegReg::Cs).attr = 0x9B;
        state.rip = options.entry - (u64{paragraph} << 4);
        state.reg(cpu::Gpr::Rsp) = options.stack_pointer;
        state.cr0 = cpu::cr0::ET;
        return {};
    }

    if (auto r = WriteGdtAndTss(memory, layout, options.mode); !r) return r;
    SetDescriptorTables(layout, state);
    const bool user = options.cpl == 3;
    state.rip = options.entry;
    state.reg(cpu::Gpr::Rsp) = options.stack_pointer;

    if (options.mode == StartMode::Prot32) {
        state.cr0 = cpu::cr0::PE | cpu::cr0::ET | cpu::cr0::NE;
        state.cr4 = cpu::cr4::OSFXSR | cpu::cr4::OSXMMEXCPT;
        state.efer = 0;
        if (user) SetFlatSegments(state, selector::UserCode32, kAttrUserCode32, selector::UserData, kAttrUserData);
        else SetFlatSegments(state, selector::KernelCode, kAttrCode32, selector::KernelData, kAttrData);
        return {};
    }

    TableBuilder tables(layout.tables_gpa, layout.tables_limit);
    for (const PhysRange& range : options.identity_map) {
        if (!tables.Map(range)) return Err{StartError::TablesTooLarge};
    }
    for (const auto& [gpa, entries] : tables.pages()) {
        if (!WriteU64s(memory, gpa, entries.data(), entries.size())) return Err{StartError::WriteFailed};
    }
    state.cr3 = tables.root();
    state.cr0 = cpu::cr0::PE | cpu::cr0::MP | cpu::cr0::ET | cpu::cr0::NE | cpu::cr0::WP | cpu::cr0::PG;
    state.cr4 = cpu::cr4::PAE | cpu::cr4::OSFXSR | cpu::cr4::OSXMMEXCPT;
    state.efer = cpu::efer::SCE | cpu::efer::LME | cpu::efer::LMA | cpu::efer::NXE;
    if (user) SetFlatSegments(state, selector::UserCode64, kAttrUserCode64, selector::UserData, kAttrUserData);
    else SetFlatSegments(state, selector::KernelCode, kAttrCode64, selector::KernelData, kAttrData);
    return {};
}

}  // namespace emu::machine
