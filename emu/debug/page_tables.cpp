// Paging structures per SDM Vol. 3 4.3 (32-bit), 4.4 (PAE) and 4.5 (4-level): P bit 0, R/W bit 1, U/S bit 2, PS bit 7,
// XD bit 63 (PAE and 4-level only).
#include "emu/debug/page_tables.h"

#include <cstring>

namespace emu::debug {
namespace {

struct Format {
    unsigned levels;       // tables below CR3 (PAE's PDPT counted)
    unsigned entry_bytes;  // 4 or 8
    unsigned index_bits;   // 10 or 9
    u64 address_mask;      // the table/page address bits of an entry
    bool large_pages;      // PS makes a directory entry a leaf (always but in 32-bit paging without CR4.PSE)
};

struct Walker {
    const GuestView& view;
    const Format& format;
    size_t limit;
    std::vector<Mapping> out;

    u64 Entry(u64 table, unsigned index) const {
        u64 value = 0;
        std::vector<u8> bytes(format.entry_bytes);
        if (!view.ReadPhysical(table + u64{index} * format.entry_bytes, bytes)) return 0;
        std::memcpy(&value, bytes.data(), format.entry_bytes);
        return value;
    }

    // `level`: 1 is the page table; the entries of a table at level L map 2^(12 + index_bits * (L - 1)) bytes each.
    void Walk(u64 table, unsigned level, unsigned entries, u64 linear_base, bool user, bool writable, bool exec,
              bool pae_pdpt) {
        const unsigned shift = 12 + format.index_bits * (level - 1);
        for (unsigned i = 0; i < entries && out.size() < limit; ++i) {
            const u64 e = Entry(table, i);
            if (!(e & 1)) continue;
            const u64 linear = linear_base + (u64{i} << shift);
            // PAE's PDPTEs have no R/W, U/S or XD bits.
            const bool u = pae_pdpt ? user : user && (e & 4);
            const bool w = pae_pdpt ? writable : writable && (e & 2);
            const bool x = pae_pdpt ? exec : exec && !(format.entry_bytes == 8 && (e >> 63));
            const bool leaf = level == 1 || (format.large_pages && !pae_pdpt && level <= 3 && (e & 0x80));
            if (leaf) {
                const u64 size = u64{1} << shift;
                // A 4 MiB page of 32-bit paging keeps physical bits 39:32 in entry bits 20:13: shown as 31:22 only.
                out.push_back({linear, e & format.address_mask & ~(size - 1), size, u, w, x});
            } else {
                Walk(e & format.address_mask & ~u64{0xFFF}, level - 1, 1u << format.index_bits, linear, u, w, x, false);
            }
        }
    }
};

u64 Canonical(u64 linear) { return (linear & (u64{1} << 47)) ? linear | 0xFFFF000000000000ull : linear; }

}  // namespace

std::vector<Mapping> ListMappings(const cpu::CpuState& state, const GuestView& view, size_t limit) {
    if (!(state.cr0 & cpu::cr0::PG)) return {};
    const bool pae = state.cr4 & cpu::cr4::PAE;
    const bool long_mode = state.efer & cpu::efer::LMA;
    const Format format = long_mode ? Format{4, 8, 9, 0x000FFFFFFFFFF000ull, true}
                          : pae     ? Format{3, 8, 9, 0x000FFFFFFFFFF000ull, true}
                                    : Format{2, 4, 10, 0xFFFFF000ull, (state.cr4 & cpu::cr4::PSE) != 0};
    Walker w{view, format, limit, {}};
    if (long_mode) {
        w.Walk(state.cr3 & format.address_mask, 4, 512, 0, true, true, true, false);
        for (Mapping& m : w.out) m.linear = Canonical(m.linear);
    } else if (pae) {
        w.Walk(state.cr3 & 0xFFFFFFE0, 3, 4, 0, true, true, true, true);
    } else {
        w.Walk(state.cr3 & format.address_mask, 2, 1024, 0, true, true, true, false);
    }
    return w.out;
}

std::vector<Mapping> MergeMappings(const std::vector<Mapping>& leaves) {
    std::vector<Mapping> ranges;
    for (const Mapping& m : leaves) {
        if (!ranges.empty()) {
            Mapping& last = ranges.back();
            if (last.linear + last.size == m.linear && last.user == m.user && last.writable == m.writable &&
                last.executable == m.executable) {
                last.size += m.size;
                continue;
            }
        }
        ranges.push_back(m);
    }
    return ranges;
}

}  // namespace emu::debug
