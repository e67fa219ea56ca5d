// Guest page-table walker against the Intel SDM Vol. 3 chapter 4. Each test names the section it follows; the
// expected translations and error codes are derived from the SDM's rules, written independently of walk.cpp.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "mmu/walk/walk.h"

using namespace emu;
using namespace emu::mmu;

namespace {

// Paging-structure entry bits (SDM Tables 4-4..4-20).
constexpr u64 P = 1, RW = 2, US = 4, PWT = 8, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, PAT_LARGE = 0x1000;
constexpr u64 XD = u64{1} << 63;
constexpr u64 kMiB = u64{1} << 20, kGiB = u64{1} << 30;

using Regs = PagingRegs;
constexpr u32 kP = pf_error::kPresent, kW = pf_error::kWrite, kU = pf_error::kUser, kR = pf_error::kReserved,
              kI = pf_error::kFetch;

constexpr AccessFlags kSup{};
constexpr AccessFlags kUser{true, false, false};
constexpr AccessFlags kImplicit{false, true, false};
constexpr AccessFlags kSupAc{false, false, true};

// Guest RAM of 32 MiB with an MMIO hole at [16 MiB, 17 MiB). Tables are bump-allocated from 1 MiB.
class FakePhys : public PhysMemory {
public:
    static constexpr u64 kSize = 32 * kMiB;
    static constexpr u64 kHoleBase = 16 * kMiB, kHoleEnd = 17 * kMiB;

    FakePhys() : ram_(kSize / 8) {}
    u8* HostPointer(u64 gpa) override {
        ++host_pointer_calls;
        if (hook) hook(gpa);
        if (gpa >= kSize || (gpa >= kHoleBase && gpa < kHoleEnd)) return nullptr;
        return reinterpret_cast<u8*>(ram_.data()) + gpa;
    }
    u64 Read(u64 gpa, unsigned bytes) const {
        u64 v = 0;
        std::memcpy(&v, reinterpret_cast<const u8*>(ram_.data()) + gpa, bytes);
        return v;
    }
    void Write(u64 gpa, u64 value, unsigned bytes) {
        std::memcpy(reinterpret_cast<u8*>(ram_.data()) + gpa, &value, bytes);
    }
    u64 NewTable() {
        const u64 t = next_table_;
        next_table_ += kPageSize;
        return t;
    }

    unsigned host_pointer_calls = 0;
    std::function<void(u64)> hook;

private:
    std::vector<u64> ram_;  // u64 so every entry is naturally aligned on the host
    u64 next_table_ = kMiB;
};

// A paging format, as a test builds it: shifts from the root table down to 4 KiB, and entry width.
struct Format {
    std::vector<unsigned> shifts;
    unsigned entry_bytes;
    unsigned index_bits;
};
const Format kFormat32{{22, 12}, 4, 10};
const Format kFormatPae{{30, 21, 12}, 8, 9};  // the top level is the PDPT (4 entries)
const Format kFormat4{{39, 30, 21, 12}, 8, 9};
const Format kFormat5{{48, 39, 30, 21, 12}, 8, 9};

// Guest memory plus registers for one paging mode, and a helper that maps pages.
struct Env {
    FakePhys mem;
    Regs regs;
    const Format* format = nullptr;
    u64 root = 0;

    explicit Env(PagingMode mode) {
        root = mem.NewTable();
        regs.cr3 = root;
        regs.cr0 = Regs::kCr0Pg | 1;
        switch (mode) {
            case PagingMode::Bits32: format = &kFormat32; break;
            case PagingMode::Pae: format = &kFormatPae; regs.cr4 = Regs::kCr4Pae; break;
            case PagingMode::Level4:
                format = &kFormat4;
                regs.cr4 = Regs::kCr4Pae;
                regs.efer = Regs::kEferLma | (u64{1} << 8);
                break;
            case PagingMode::Level5:
                format = &kFormat5;
                regs.cr4 = Regs::kCr4Pae | Regs::kCr4La57;
                regs.efer = Regs::kEferLma | (u64{1} << 8);
                break;
            case PagingMode::None: regs.cr0 = 1; break;
        }
    }

    // Maps `linear` with a leaf at linear bit `leaf_shift` whose value is `leaf` (address and flags). Missing
    // tables are created with `upper` flags (PAE PDPTEs get P only: their R/W and U/S bits are reserved).
    // Returns the physical address of every entry on the path, root first.
    std::vector<u64> Map(u64 linear, unsigned leaf_shift, u64 leaf, u64 upper = P | RW | US) {
        std::vector<u64> path;
        u64 table = root;
        for (unsigned shift : format->shifts) {
            const u64 index = (linear >> shift) & ((u64{1} << format->index_bits) - 1);
            const u64 entry_gpa = table + index * format->entry_bytes;
            path.push_back(entry_gpa);
            if (shift == leaf_shift) {
                mem.Write(entry_gpa, leaf, format->entry_bytes);
                break;
            }
            u64 entry = mem.Read(entry_gpa, format->entry_bytes);
            if (!(entry & P)) {
                const bool pdpte = format == &kFormatPae && shift == 30;
                entry = mem.NewTable() | (pdpte ? P : upper);
                mem.Write(entry_gpa, entry, format->entry_bytes);
            }
            table = entry & 0xFFFFFFFFFF000ull;
        }
        if (format == &kFormatPae) REQUIRE(LoadPdptes(regs, mem).ok());
        return path;
    }

    u64 Entry(u64 gpa) const { return mem.Read(gpa, format->entry_bytes); }
    void SetEntry(u64 gpa, u64 value) {
        mem.Write(gpa, value, format->entry_bytes);
        if (format == &kFormatPae && gpa >= root && gpa < root + 32) REQUIRE(LoadPdptes(regs, mem).ok());
    }
    void OrEntry(u64 gpa, u64 bits) { SetEntry(gpa, Entry(gpa) | bits); }

    WalkResult Go(u64 linear, AccessType access = AccessType::Read, AccessFlags flags = kSup) {
        return Walk(regs, linear, access, flags, mem, &stats);
    }

    WalkStats stats;
};

void RequireFault(const WalkResult& r, u32 error_code) {
    REQUIRE(r.status == WalkStatus::PageFault);
    CHECK(r.error_code == error_code);
}

void RequireOk(const WalkResult& r, u64 gpa, u64 page_size) {
    REQUIRE(r.status == WalkStatus::Ok);
    CHECK(r.gpa == gpa);
    CHECK(r.page_size == page_size);
}

}  // namespace

TEST_CASE("without paging the linear address is the physical address, truncated to 32 bits (SDM 4.1.1)",
          "[mmu][walk]") {
    Env env(PagingMode::None);
    const WalkResult r = env.Go(0x1'2345'6789, AccessType::Write, kUser);
    RequireOk(r, 0x2345'6789, kPageSize);
    CHECK(r.readable);
    CHECK(r.writable);
    CHECK(r.executable);
    CHECK(env.mem.host_pointer_calls == 0);  // no table is read
}

TEST_CASE("the paging mode follows CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57 (SDM 4.1.1, Table 4-1)",
          "[mmu][walk]") {
    CHECK(ModeOf(Env(PagingMode::None).regs) == PagingMode::None);
    CHECK(ModeOf(Env(PagingMode::Bits32).regs) == PagingMode::Bits32);
    CHECK(ModeOf(Env(PagingMode::Pae).regs) == PagingMode::Pae);
    CHECK(ModeOf(Env(PagingMode::Level4).regs) == PagingMode::Level4);
    CHECK(ModeOf(Env(PagingMode::Level5).regs) == PagingMode::Level5);
    Regs lme_only = Env(PagingMode::Pae).regs;
    lme_only.efer = u64{1} << 8;  // LME without LMA is still PAE paging
    CHECK(ModeOf(lme_only) == PagingMode::Pae);
    CHECK(Env(PagingMode::Bits32).regs.LinearBits() == 32);
    CHECK(Env(PagingMode::Level4).regs.LinearBits() == 48);
    CHECK(Env(PagingMode::Level5).regs.LinearBits() == 57);
}

TEST_CASE("32-bit paging maps 4 KiB pages; A is set on PDE and PTE, D only on a write (SDM 4.3, 4.8)",
          "[mmu][walk]") {
    Env env(PagingMode::Bits32);
    const auto path = env.Map(0xC012'3000, 12, 0x0045'6000 | P | RW);
    WalkResult r = env.Go(0xC012'3ABC);
    RequireOk(r, 0x0045'6ABC, kPageSize);
    CHECK((env.Entry(path[0]) & (A | D)) == A);
    CHECK((env.Entry(path[1]) & (A | D)) == A);
    CHECK_FALSE(r.dirty);

    r = env.Go(0xC012'3ABC, AccessType::Write);
    RequireOk(r, 0x0045'6ABC, kPageSize);
    CHECK(r.dirty);
    CHECK((env.Entry(path[0]) & D) == 0);  // D exists only in the entry that maps the page
    CHECK((env.Entry(path[1]) & (A | D)) == (A | D));
}

TEST_CASE("32-bit paging: PS maps 4 MiB pages only with CR4.PSE; PSE-36 supplies bits 39:32 (SDM 4.3, Table 4-4)",
          "[mmu][walk]") {
    Env env(PagingMode::Bits32);
    // PDE bits 31:22 = physical 31:22; bits 20:13 = physical 39:32 (MAXPHYADDR 40); bit 12 = PAT.
    const u64 pde = 0x8040'0000 | (u64{0xAB} << 13) | PAT_LARGE | PS | P | RW;
    const auto path = env.Map(0x4000'0000, 22, pde);

    env.regs.cr4 |= Regs::kCr4Pse;
    const WalkResult r = env.Go(0x4012'3456, AccessType::Write);
    RequireOk(r, (u64{0xAB} << 32) | 0x8040'0000 | 0x12'3456, 4 * kMiB);
    CHECK((env.Entry(path[0]) & (A | D)) == (A | D));

    SECTION("bit 21 is reserved when MAXPHYADDR is 40") {
        env.OrEntry(path[0], u64{1} << 21);
        RequireFault(env.Go(0x4012'3456, AccessType::Write, kUser), kP | kW | kU | kR);
    }
    SECTION("without CR4.PSE the PS bit is ignored and the PDE points at a page table") {
        env.regs.cr4 &= ~Regs::kCr4Pse;
        const u64 table = env.mem.NewTable();
        env.SetEntry(path[0], table | PS | P | RW);
        env.mem.Write(table + 0x123 * 4, 0x0077'7000 | P, 4);
        RequireOk(env.Go(0x4012'3456), 0x0077'7456, kPageSize);
    }
}

TEST_CASE("32-bit paging ignores EFER.NXE and reports I/D only with SMEP (SDM 4.6.1, 4.7)", "[mmu][walk]") {
    Env env(PagingMode::Bits32);
    env.Map(0x0040'0000, 12, 0x0010'0000 | P);
    env.regs.efer = Regs::kEferNxe;  // no XD bit exists in 32-bit entries
    RequireOk(env.Go(0x0040'0000, AccessType::Fetch, kSup), 0x0010'0000, kPageSize);
    // A user fetch from a supervisor page: P=1, U/S=1, I/D=0 because CR4.PAE=0 and SMEP is off.
    RequireFault(env.Go(0x0040'0000, AccessType::Fetch, kUser), kP | kU);
    env.regs.cr4 |= Regs::kCr4Smep;
    RequireFault(env.Go(0x0040'0000, AccessType::Fetch, kUser), kP | kU | kI);
    // Not present: P=0, the other bits still describe the access.
    RequireFault(env.Go(0x0080'0000, AccessType::Fetch, kUser), kU | kI);
}

TEST_CASE("PAE: loading PDPTEs rejects reserved bits with #GP and needs RAM (SDM 4.4.1, Table 4-8)",
          "[mmu][walk]") {
    Env env(PagingMode::Pae);
    env.regs.cr3 = env.root | 0x20;  // CR3[31:5]: the second 32-byte PDPT in the page
    const u64 pdpt = env.root + 0x20;
    env.mem.Write(pdpt, 0x0020'0000 | P | PWT, 8);
    env.mem.Write(pdpt + 8, 0x0030'0000 | RW | US, 8);  // not present: its other bits are not checked
    REQUIRE(LoadPdptes(env.regs, env.mem).ok());
    CHECK(env.regs.pdptes[0] == (0x0020'0000 | P | PWT));
    CHECK(env.regs.pdptes[1] == (0x0030'0000 | RW | US));

    const u64 good = env.regs.pdptes[0];
    for (u64 bad : {u64{1} << 1, u64{1} << 2, u64{1} << 5, u64{1} << 8, u64{1} << 40, u64{1} << 63}) {
        INFO("reserved bit mask " << std::hex << bad);
        env.mem.Write(pdpt + 24, 0x0040'0000 | P | bad, 8);
        const auto result = LoadPdptes(env.regs, env.mem);
        REQUIRE_FALSE(result.ok());
        CHECK(result.error() == PdpteError::ReservedBit);
        CHECK(env.regs.pdptes[0] == good);  // unchanged on failure
    }
    env.regs.cr3 = FakePhys::kHoleBase;
    const auto outside = LoadPdptes(env.regs, env.mem);
    REQUIRE_FALSE(outside.ok());
    CHECK(outside.error() == PdpteError::NotInRam);
}

TEST_CASE("PAE paging maps 4 KiB and 2 MiB pages through the PDPTE cache (SDM 4.4.2)", "[mmu][walk]") {
    Env env(PagingMode::Pae);
    const auto small = env.Map(0x8000'1000, 12, 0x0123'4000 | P | RW | US);
    const auto large = env.Map(0x8060'0000, 21, 0x1'4060'0000 | PAT_LARGE | PS | P | RW | US);
    RequireOk(env.Go(0x8000'1FFF, AccessType::Read, kUser), 0x0123'4FFF, kPageSize);
    RequireOk(env.Go(0x807F'FFFF, AccessType::Write, kUser), 0x1'407F'FFFF, 2 * kMiB);
    CHECK((env.Entry(small[0]) & A) == 0);  // PDPTEs have no A bit (bit 5 is reserved)
    CHECK((env.Entry(small[1]) & (A | D)) == A);
    CHECK((env.Entry(small[2]) & (A | D)) == A);
    CHECK((env.Entry(large[1]) & (A | D)) == (A | D));

    SECTION("the walk uses the cached PDPTE, not the PDPT in memory") {
        env.mem.Write(small[0], 0, 8);
        RequireOk(env.Go(0x8000'1000), 0x0123'4000, kPageSize);
        REQUIRE(LoadPdptes(env.regs, env.mem).ok());
        RequireFault(env.Go(0x8000'1000, AccessType::Write), kW);
    }
    SECTION("linear addresses are 32 bits wide outside long mode") {
        RequireOk(env.Go(0xFFFF'FFFF'8000'1000), 0x0123'4000, kPageSize);
    }
}

TEST_CASE("PAE: XD is reserved without EFER.NXE and blocks fetches with it (SDM 4.4.2, 4.6.1, 4.7)",
          "[mmu][walk]") {
    Env env(PagingMode::Pae);
    const auto path = env.Map(0x1000, 12, 0x5000 | P | RW | XD);
    RequireFault(env.Go(0x1000), kP | kR);
    RequireFault(env.Go(0x1000, AccessType::Fetch), kP | kR);  // I/D needs NXE (or SMEP)
    CHECK((env.Entry(path[2]) & A) == 0);

    env.regs.efer |= Regs::kEferNxe;
    RequireOk(env.Go(0x1000), 0x5000, kPageSize);
    RequireFault(env.Go(0x1000, AccessType::Fetch), kP | kI);
    env.SetEntry(path[2], 0x5000 | P | RW);
    env.OrEntry(path[1], XD);  // XD at a higher level blocks too
    RequireFault(env.Go(0x1000, AccessType::Fetch), kP | kI);
    RequireFault(env.Go(0x0020'0000, AccessType::Fetch), kI);  // not present, still I/D

    // Bits 62:MAXPHYADDR of PAE entries are reserved.
    env.SetEntry(path[1], env.Entry(path[1]) & ~XD);
    env.OrEntry(path[2], u64{1} << 52);
    RequireFault(env.Go(0x1000, AccessType::Write), kP | kW | kR);
}

TEST_CASE("4-level paging maps 4 KiB, 2 MiB and 1 GiB pages (SDM 4.5.4)", "[mmu][walk]") {
    Env env(PagingMode::Level4);
    env.Map(0x0000'7F12'3456'7000, 12, 0x0034'5000 | P | RW | US);
    env.Map(0xFFFF'8000'0020'0000, 21, 0xAB'CDE0'0000 | PS | P | RW);
    env.Map(0xFFFF'FFFF'C000'0000, 30, 0xFF'4000'0000 | PS | P | RW);
    RequireOk(env.Go(0x0000'7F12'3456'7123, AccessType::Read, kUser), 0x0034'5123, kPageSize);
    RequireOk(env.Go(0xFFFF'8000'003F'FFFF, AccessType::Write), 0xAB'CDFF'FFFF, 2 * kMiB);
    RequireOk(env.Go(0xFFFF'FFFF'C123'4567), 0xFF'4123'4567, kGiB);
    CHECK(env.stats.walks == 3);
    CHECK(env.stats.faults == 0);
}

TEST_CASE("5-level paging adds the PML5 and translates 57-bit addresses (SDM 4.5)", "[mmu][walk]") {
    Env env(PagingMode::Level5);
    const auto path = env.Map(0x00FF'8000'1234'5000, 12, 0x0065'4000 | P | RW);
    REQUIRE(path.size() == 5);
    RequireOk(env.Go(0x00FF'8000'1234'5008, AccessType::Write), 0x0065'4008, kPageSize);
    for (size_t i = 0; i < path.size(); ++i) CHECK((env.Entry(path[i]) & A) == A);
    env.OrEntry(path[0], PS);  // PS is reserved in a PML5E as in a PML4E
    RequireFault(env.Go(0x00FF'8000'1234'5008), kP | kR);
}

TEST_CASE("4-level reserved bits fault with P and RSVD (SDM 4.5.4 Tables 4-15..4-20, 4.7)", "[mmu][walk]") {
    Env env(PagingMode::Level4);
    const u64 va4k = 0x0000'0040'0000'1000, va2m = 0x0000'0080'0020'0000, va1g = 0x0000'00C0'4000'0000;
    const auto p4k = env.Map(va4k, 12, 0x7000 | P | RW | US);
    const auto p2m = env.Map(va2m, 21, 0x0060'0000 | PS | P | RW | US);
    const auto p1g = env.Map(va1g, 30, 0x0000'0001'4000'0000 | PS | P | RW | US);
    RequireOk(env.Go(va4k), 0x7000, kPageSize);
    RequireOk(env.Go(va2m), 0x0060'0000, 2 * kMiB);
    RequireOk(env.Go(va1g), 0x1'4000'0000, kGiB);

    struct Case {
        const char* what;
        u64 entry_gpa;
        u64 bits;
        u64 va;
    };
    const Case cases[] = {
        {"PS in the PML4E", p4k[0], PS, va4k},
        {"bit MAXPHYADDR in the PML4E", p4k[0], u64{1} << kMaxPhysAddrBits, va4k},
        {"bit 51 in the PDPTE", p4k[1], u64{1} << 51, va4k},
        {"bit MAXPHYADDR in the PTE", p4k[3], u64{1} << kMaxPhysAddrBits, va4k},
        {"XD in the PDE without NXE", p4k[2], XD, va4k},
        {"XD in the PTE without NXE", p4k[3], XD, va4k},
        {"bit 13 of a 2 MiB page", p2m[2], u64{1} << 13, va2m},
        {"bit 20 of a 2 MiB page", p2m[2], u64{1} << 20, va2m},
        {"bit 13 of a 1 GiB page", p1g[1], u64{1} << 13, va1g},
        {"bit 29 of a 1 GiB page", p1g[1], u64{1} << 29, va1g},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        const u64 saved = env.Entry(c.entry_gpa);
        env.SetEntry(c.entry_gpa, saved | c.bits);
        RequireFault(env.Go(c.va, AccessType::Write, kUser), kP | kW | kU | kR);
        RequireFault(env.Go(c.va, AccessType::Read), kP | kR);
        env.SetEntry(c.entry_gpa, saved);
    }

    SECTION("bits that are not reserved: PAT of a large page, ignored bits 62:52 and 11:9") {
        env.OrEntry(p2m[2], PAT_LARGE | (u64{0x7FF} << 52) | (u64{7} << 9));
        env.OrEntry(p4k[3], (u64{0x7FF} << 52) | PS);  // in a PTE bit 7 is PAT, not PS
        RequireOk(env.Go(va2m + 5), 0x0060'0005, 2 * kMiB);
        RequireOk(env.Go(va4k), 0x7000, kPageSize);
    }
    SECTION("a reserved bit in an upper level wins over a not-present leaf") {
        env.SetEntry(p4k[3], 0);
        env.OrEntry(p4k[1], u64{1} << 45);
        RequireFault(env.Go(va4k), kP | kR);
    }
    SECTION("a reserved-bit fault sets no A bit anywhere") {
        for (u64 gpa : p4k) env.SetEntry(gpa, env.Entry(gpa) & ~A);
        env.OrEntry(p4k[3], XD);
        RequireFault(env.Go(va4k), kP | kR);
        for (u64 gpa : p4k) CHECK((env.Entry(gpa) & A) == 0);
    }
}

TEST_CASE("a not-present entry at any level gives P=0 with W/R, U/S and I/D of the access (SDM 4.7)",
          "[mmu][walk]") {
    Env env(PagingMode::Level4);
    env.regs.efer |= Regs::kEferNxe;
    const u64 va = 0x0000'1234'5678'9000;
    const auto path = env.Map(va, 12, 0x9000 | P | RW | US);
    for (size_t level = 0; level < path.size(); ++level) {
        INFO("level " << level);
        const u64 saved = env.Entry(path[level]);
        env.SetEntry(path[level], saved & ~P);
        RequireFault(env.Go(va, AccessType::Read, kSup), 0);
        RequireFault(env.Go(va, AccessType::Write, kUser), kW | kU);
        RequireFault(env.Go(va, AccessType::Fetch, kUser), kU | kI);
        RequireFault(env.Go(va, AccessType::Write, kImplicit), kW);  // implicit supervisor: U/S = 0
        env.SetEntry(path[level], saved);
    }
}

TEST_CASE("a faulting access sets no A or D bit; a read sets A everywhere but no D (SDM 4.8, emu64 choice)",
          "[mmu][walk]") {
    Env env(PagingMode::Level4);
    const u64 va = 0x0000'0000'4020'3000;
    const auto path = env.Map(va, 12, 0x0012'3000 | P | US);  // read-only user page
    env.regs.cr0 |= Regs::kCr0Wp;
    RequireFault(env.Go(va, AccessType::Write, kUser), kP | kW | kU);
    RequireFault(env.Go(va, AccessType::Write, kSup), kP | kW);
    for (u64 gpa : path) CHECK((env.Entry(gpa) & (A | D)) == 0);
    CHECK(env.stats.ad_updates == 0);

    const WalkResult r = env.Go(va, AccessType::Read, kUser);
    RequireOk(r, 0x0012'3000, kPageSize);
    CHECK_FALSE(r.writable);
    CHECK_FALSE(r.dirty);
    for (u64 gpa : path) CHECK((env.Entry(gpa) & (A | D)) == A);
    CHECK(env.stats.ad_updates == 4);
    // Once set, nothing is rewritten.
    RequireOk(env.Go(va, AccessType::Read, kUser), 0x0012'3000, kPageSize);
    CHECK(env.stats.ad_updates == 4);
}

TEST_CASE("a page-table entry that changes under the A/D update makes the walk restart (SDM 4.8 locked update)",
          "[mmu][walk]") {
    Env env(PagingMode::Level4);
    const u64 va = 0x0000'0000'0060'1000;
    const auto path = env.Map(va, 12, 0x0044'4000 | P | RW);
    // When the walk asks for the PT (after reading the PDE), "another CPU" sets an ignored bit in the PDE.
    bool fired = false;
    const u64 pt_base = env.Entry(path[2]) & ~kPageMask;
    env.mem.hook = [&](u64 gpa) {
        if (!fired && (gpa & ~kPageMask) == pt_base) {
            fired = true;
            env.mem.Write(path[2], env.mem.Read(path[2], 8) | (u64{1} << 9), 8);
        }
    };
    RequireOk(env.Go(va, AccessType::Write), 0x0044'4000, kPageSize);
    CHECK(env.stats.retries == 1);
    CHECK((env.Entry(path[2]) & (A | (u64{1} << 9))) == (A | (u64{1} << 9)));  // both writers' bits survive
    CHECK((env.Entry(path[3]) & (A | D)) == (A | D));
}

TEST_CASE("A/D updates are atomic: concurrent locked writes to the same entry are never lost (SDM 4.8)",
          "[mmu][walk]") {
    Env env(PagingMode::Level4);
    const u64 va = 0x0000'0000'0060'1000;
    const auto path = env.Map(va, 12, 0x0044'4000 | P | RW);
    u8* pde_host = env.mem.HostPointer(path[2]);
    std::atomic_ref<u64> pde(*reinterpret_cast<u64*>(pde_host));
    constexpr unsigned kWalks = 100000;
    // "Another vCPU" toggles an ignored PDE bit with locked XORs for as long as this one walks and clears A (as
    // an OS ageing pages would). A plain load/store A update in the walker would lose some toggles.
    std::atomic<bool> done{false};
    u64 toggles = 0;
    std::thread other([&] {
        while (!done.load(std::memory_order_relaxed)) {
            pde.fetch_xor(u64{1} << 9);
            ++toggles;
        }
    });
    unsigned ok = 0;
    for (unsigned i = 0; i < kWalks; ++i) {
        ok += Walk(env.regs, va, AccessType::Write, kSup, env.mem).status == WalkStatus::Ok;
        pde.fetch_and(~A);
    }
    done = true;
    other.join();
    CHECK(ok == kWalks);
    CHECK(((pde.load() >> 9) & 1) == (toggles & 1));  // every toggle survived
}

TEST_CASE("a paging structure outside RAM stops the walk with TableNotInRam", "[mmu][walk]") {
    Env env(PagingMode::Level4);
    const u64 va = 0x0000'0000'0000'5000;
    const auto path = env.Map(va, 12, 0x5000 | P | RW);
    env.SetEntry(path[2], FakePhys::kHoleBase | P | RW);  // the PT would be in the MMIO hole
    const WalkResult r = env.Go(va);
    REQUIRE(r.status == WalkStatus::TableNotInRam);
    CHECK(r.table_gpa == FakePhys::kHoleBase + 5 * 8);
    env.regs.cr3 = 31 * kMiB + 0x1000 * 300;  // beyond RAM
    CHECK(env.Go(va).status == WalkStatus::TableNotInRam);
}

TEST_CASE("the global bit is reported only with CR4.PGE (SDM 4.10.2.4)", "[mmu][walk]") {
    Env env(PagingMode::Level4);
    env.Map(0x3000, 12, 0x3000 | P | G);
    env.Map(0x0020'0000, 21, 0x0020'0000 | P | PS);
    CHECK_FALSE(env.Go(0x3000).global);
    env.regs.cr4 |= Regs::kCr4Pge;
    CHECK(env.Go(0x3000).global);
    CHECK_FALSE(env.Go(0x0020'0000).global);
}

TEST_CASE("WP, SMEP and SMAP give the SDM's error codes (SDM 4.6.1, 4.7)", "[mmu][walk]") {
    Env env(PagingMode::Level4);
    env.regs.efer |= Regs::kEferNxe;
    env.Map(0x1000, 12, 0x1000 | P | US);       // read-only user page
    env.Map(0x2000, 12, 0x2000 | P);            // read-only supervisor page
    env.Map(0x3000, 12, 0x3000 | P | RW | US);  // writable user page

    // CR0.WP=0: supervisor writes ignore R/W and set D.
    RequireOk(env.Go(0x2000, AccessType::Write), 0x2000, kPageSize);
    RequireOk(env.Go(0x1000, AccessType::Write, kImplicit), 0x1000, kPageSize);
    env.regs.cr0 |= Regs::kCr0Wp;
    RequireFault(env.Go(0x2000, AccessType::Write), kP | kW);
    RequireFault(env.Go(0x2000, AccessType::Read, kUser), kP | kU);

    // SMEP: supervisor fetch from a user page.
    RequireOk(env.Go(0x3000, AccessType::Fetch), 0x3000, kPageSize);
    env.regs.cr4 |= Regs::kCr4Smep;
    RequireFault(env.Go(0x3000, AccessType::Fetch), kP | kI);
    RequireOk(env.Go(0x3000, AccessType::Fetch, kUser), 0x3000, kPageSize);
    RequireOk(env.Go(0x3000, AccessType::Read), 0x3000, kPageSize);  // SMEP does not restrict data

    // SMAP: supervisor data access to a user page unless explicit with AC = 1.
    env.regs.cr4 |= Regs::kCr4Smap;
    RequireFault(env.Go(0x3000, AccessType::Read), kP);
    RequireFault(env.Go(0x3000, AccessType::Write), kP | kW);
    RequireOk(env.Go(0x3000, AccessType::Write, kSupAc), 0x3000, kPageSize);
    RequireFault(env.Go(0x3000, AccessType::Read, AccessFlags{false, true, true}), kP);  // implicit ignores AC
    RequireFault(env.Go(0x1000, AccessType::Write, kSupAc), kP | kW);  // AC passes SMAP, WP still applies
    RequireOk(env.Go(0x2000, AccessType::Read), 0x2000, kPageSize);   // supervisor pages are unaffected
    const WalkResult r = env.Go(0x3000, AccessType::Read, kSupAc);
    REQUIRE(r.status == WalkStatus::Ok);
    CHECK(r.readable);
    CHECK(r.writable);
    CHECK_FALSE(r.executable);  // SMEP
    CHECK(r.user_page);
}

namespace {

// SDM 4.6.1, transcribed as its bullet list: may this access proceed, given the rights over all levels?
bool SdmAllows(AccessType access, AccessFlags f, bool user_addr, bool rw_all, bool xd_any, const Regs& regs) {
    const bool wp = regs.cr0 & Regs::kCr0Wp, nxe = regs.efer & Regs::kEferNxe;
    const bool smep = regs.cr4 & Regs::kCr4Smep, smap = regs.cr4 & Regs::kCr4Smap;
    const bool fetch_ok = !nxe || !xd_any;
    if (f.user) {
        if (!user_addr) return false;
        if (access == AccessType::Read) return true;
        if (access == AccessType::Write) return rw_all;
        return fetch_ok;
    }
    if (access == AccessType::Fetch) return (user_addr && smep) ? false : fetch_ok;
    if (user_addr && smap) {
        if (f.implicit_supervisor || !f.rflags_ac) return false;
    }
    if (access == AccessType::Read) return true;
    return !wp || rw_all;
}

}  // namespace

TEST_CASE("every combination of U/S, R/W, XD, privilege, AC, WP, NXE, SMEP and SMAP follows SDM 4.6.1 and 4.7",
          "[mmu][walk]") {
    Env env(PagingMode::Level4);
    const u64 va = 0x0000'0001'4000'5000;
    const auto path = env.Map(va, 12, 0x0055'5000 | P);
    const AccessFlags privileges[] = {kSup, kSupAc, kImplicit, AccessFlags{false, true, true}, kUser,
                                      AccessFlags{true, false, true}};
    unsigned walks = 0;
    for (unsigned bits = 0; bits < 64; ++bits) {  // U, W, XD of the PDPTE (level 1) and of the PTE (level 3)
        const bool u1 = bits & 1, w1 = bits & 2, x1 = bits & 4, u3 = bits & 8, w3 = bits & 16, x3 = bits & 32;
        for (unsigned cr = 0; cr < 16; ++cr) {
            env.regs.cr0 = Regs::kCr0Pg | 1 | ((cr & 1) ? Regs::kCr0Wp : 0);
            env.regs.efer = Regs::kEferLma | ((cr & 2) ? Regs::kEferNxe : 0);
            env.regs.cr4 = Regs::kCr4Pae | ((cr & 4) ? Regs::kCr4Smep : 0) | ((cr & 8) ? Regs::kCr4Smap : 0);
            const bool nxe = cr & 2;
            for (AccessFlags f : privileges) {
                for (AccessType access : {AccessType::Read, AccessType::Write, AccessType::Fetch}) {
                    // XD without NXE is reserved: keep those combinations for the reserved-bit test.
                    const bool x1e = x1 && nxe, x3e = x3 && nxe;
                    env.SetEntry(path[1], (env.Entry(path[1]) & ~(US | RW | XD | A)) | (u1 ? US : 0) |
                                              (w1 ? RW : 0) | (x1e ? XD : 0));
                    env.SetEntry(path[3], 0x0055'5000 | P | (u3 ? US : 0) | (w3 ? RW : 0) | (x3e ? XD : 0));
                    const bool allowed = SdmAllows(access, f, u1 && u3, w1 && w3, x1e || x3e, env.regs);
                    const WalkResult r = env.Go(va, access, f);
                    ++walks;
                    INFO("bits " << bits << " cr " << cr << " user " << f.user << " implicit "
                                 << f.implicit_supervisor << " ac " << f.rflags_ac << " access "
                                 << static_cast<int>(access));
                    if (allowed) {
                        REQUIRE(r.status == WalkStatus::Ok);
                        CHECK(r.gpa == 0x0055'5000);
                        CHECK((env.Entry(path[3]) & D) == (access == AccessType::Write ? D : 0));
                        // The rights reported for the TLB agree with the SDM for the other access kinds too.
                        CHECK(r.readable == SdmAllows(AccessType::Read, f, u1 && u3, w1 && w3, x1e || x3e, env.regs));
                        CHECK(r.writable == SdmAllows(AccessType::Write, f, u1 && u3, w1 && w3, x1e || x3e, env.regs));
                        CHECK(r.executable ==
                              SdmAllows(AccessType::Fetch, f, u1 && u3, w1 && w3, x1e || x3e, env.regs));
                    } else {
                        const bool user = f.user;
                        const u32 expected = kP | (access == AccessType::Write ? kW : 0) | (user ? kU : 0) |
                                             (access == AccessType::Fetch && ((cr & 4) || nxe) ? kI : 0);
                        RequireFault(r, expected);
                        CHECK((env.Entry(path[3]) & (A | D)) == 0);
                        CHECK((env.Entry(path[1]) & A) == 0);
                    }
                }
            }
        }
    }
    CHECK(walks == 64 * 16 * 6 * 3);
}

TEST_CASE("protection keys: PKRU's AD/WD for the leaf's key refuse user-page data accesses with PK (SDM 4.6.2, 4.7)",
          "[mmu][walk]") {
    constexpr u64 kKey1 = u64{1} << 59, kKey2 = u64{2} << 59;
    constexpr u32 kPk = 1u << 5;
    Env env(PagingMode::Level4);
    env.Map(0x1000, 12, 0x1000 | P | RW | US | kKey1);  // user page, key 1
    env.Map(0x2000, 12, 0x2000 | P | RW | kKey1);       // supervisor page, key 1
    env.Map(0x3000, 12, 0x3000 | P | RW | US | kKey2);  // user page, key 2
    env.Map(0x4000, 12, 0x4000 | P | US | kKey1);       // read-only user page, key 1
    env.regs.pkru = 0b0101;                             // AD0 and AD1 (key 0 is not used by these pages)

    // Without CR4.PKE the key is ignored.
    RequireOk(env.Go(0x1000, AccessType::Read, kUser), 0x1000, kPageSize);
    env.regs.cr4 |= Regs::kCr4Pke;
    RequireFault(env.Go(0x1000, AccessType::Read, kUser), kP | kU | kPk);
    RequireFault(env.Go(0x1000, AccessType::Write, kUser), kP | kW | kU | kPk);
    RequireFault(env.Go(0x1000, AccessType::Read), kP | kPk);  // supervisor data access to a user page
    RequireOk(env.Go(0x1000, AccessType::Fetch, kUser), 0x1000, kPageSize);  // fetches are not checked
    RequireOk(env.Go(0x2000, AccessType::Read), 0x2000, kPageSize);         // supervisor pages are not checked
    RequireOk(env.Go(0x3000, AccessType::Write, kUser), 0x3000, kPageSize);  // key 2 is allowed

    // WD1: user writes always, supervisor writes only with CR0.WP; PK stays set when R/W refuses the write too.
    env.regs.pkru = 0b1000;
    RequireOk(env.Go(0x1000, AccessType::Read, kUser), 0x1000, kPageSize);
    RequireFault(env.Go(0x1000, AccessType::Write, kUser), kP | kW | kU | kPk);
    RequireFault(env.Go(0x4000, AccessType::Write, kUser), kP | kW | kU | kPk);
    RequireOk(env.Go(0x1000, AccessType::Write), 0x1000, kPageSize);
    env.regs.cr0 |= Regs::kCr0Wp;
    RequireFault(env.Go(0x1000, AccessType::Write), kP | kW | kPk);

    // A fault for another reason, with the key allowing the access, has no PK.
    env.regs.pkru = 0;
    RequireFault(env.Go(0x4000, AccessType::Write, kUser), kP | kW | kU);

    // Keys apply to 4/5-level paging only (PAE entries have no key field).
    Env pae(PagingMode::Pae);
    pae.Map(0x1000, 12, 0x1000 | P | RW | US);
    pae.regs.cr4 |= Regs::kCr4Pke;
    pae.regs.pkru = ~0u;
    RequireOk(pae.Go(0x1000, AccessType::Write, kUser), 0x1000, kPageSize);
}
