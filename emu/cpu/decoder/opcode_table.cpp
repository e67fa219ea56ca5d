// Builds the opcode lookup from the .inc rows: X8/X16 rows are expanded, rows are grouped per (map, opcode) and
// ordered most specific first. Built once, on first use.
#include "emu/cpu/decoder/opcode_table.h"

#include <algorithm>
#include <vector>

namespace emu::cpu::tables {
namespace {

constexpr OpSpecInfo kSpecs[] = {
#define EMU64_OPERAND(name, source, reg_class, size, alt, fixed) \
    {OperandSource::source, RegClass::reg_class, SizeRule::size, SizeRule::alt, fixed, #name},
#include "emu/cpu/decoder/tables/operands.inc"
#undef EMU64_OPERAND
};
static_assert(std::size(kSpecs) == static_cast<size_t>(OpSpec::Count), "operands.inc and OpSpec disagree");

#define EMU64_OP(opcode, mnemonic, a, b, c, attrs) \
    Row{kMap, opcode, Mnemonic::mnemonic, {OpSpec::a, OpSpec::b, OpSpec::c}, attrs},

namespace map0 {
constexpr u8 kMap = 0;
constexpr Row kRows[] = {
#include "emu/cpu/decoder/tables/map_00.inc"
#include "emu/cpu/decoder/tables/x87.inc"
};
}  // namespace map0
namespace map1 {
constexpr u8 kMap = 1;
constexpr Row kRows[] = {
#include "emu/cpu/decoder/tables/map_0f.inc"
#include "emu/cpu/decoder/tables/map_0f_sse.inc"
};
}  // namespace map1
namespace map2 {
constexpr u8 kMap = 2;
constexpr Row kRows[] = {
#include "emu/cpu/decoder/tables/map_0f38.inc"
#include "emu/cpu/decoder/tables/map_0f38_sse.inc"
};
}  // namespace map2
namespace map3 {
constexpr u8 kMap = 3;
constexpr Row kRows[] = {
#include "emu/cpu/decoder/tables/map_0f3a.inc"
};
}  // namespace map3
#undef EMU64_OP

bool UsesModrm(const Row& row) {
    if (row.attrs & (attr::kRegMask | attr::kModMask | attr::kRmMask)) return true;
    return std::any_of(row.ops.begin(), row.ops.end(), [](OpSpec s) {
        const OperandSource src = SpecInfo(s).source;
        return src == OperandSource::Rm || src == OperandSource::RmMem || src == OperandSource::RmReg ||
               src == OperandSource::Reg;
    });
}

struct Tables {
    std::vector<Row> rows;
    std::vector<const Row*> ordered;
    std::array<OpcodeEntry, 4 * 256> entries{};

    Tables() {
        auto add = [&](std::span<const Row> src) {
            for (const Row& r : src) {
                const unsigned count = (r.attrs & X16) ? 16 : (r.attrs & X8) ? 8 : 1;
                for (unsigned i = 0; i < count; ++i) {
                    Row e = r;
                    e.opcode = static_cast<u8>(r.opcode + i);
                    if (r.attrs & X16) e.attrs = (e.attrs & ~attr::kCcMask) | CC(i);
                    rows.push_back(e);
                }
            }
        };
        add(map0::kRows);
        add(map1::kRows);
        add(map2::kRows);
        add(map3::kRows);
        for (const Row& r : rows) ordered.push_back(&r);
        std::stable_sort(ordered.begin(), ordered.end(), [](const Row* a, const Row* b) {
            if (a->map != b->map) return a->map < b->map;
            if (a->opcode != b->opcode) return a->opcode < b->opcode;
            return Specificity(a->attrs) > Specificity(b->attrs);
        });
        for (size_t i = 0; i < ordered.size();) {
            size_t j = i;
            bool modrm = false;
            while (j < ordered.size() && ordered[j]->map == ordered[i]->map &&
                   ordered[j]->opcode == ordered[i]->opcode) {
                modrm |= UsesModrm(*ordered[j]);
                ++j;
            }
            OpcodeEntry& e = entries[ordered[i]->map * 256u + ordered[i]->opcode];
            e.rows = std::span<const Row* const>(ordered.data() + i, j - i);
            e.has_modrm = modrm;
            i = j;
        }
    }
};

const Tables& GetTables() {
    static const Tables tables;
    return tables;
}

// Field of the key, 0 meaning "any".
constexpr unsigned Field(Attr a, Attr mask, unsigned shift) { return static_cast<unsigned>((a & mask) >> shift); }

}  // namespace

const OpSpecInfo& SpecInfo(OpSpec spec) { return kSpecs[static_cast<size_t>(spec)]; }

bool RowMatches(const Row& row, const MatchKey& key) {
    const Attr a = row.attrs;
    const unsigned mod = key.modrm >> 6, reg = (key.modrm >> 3) & 7, rm = key.modrm & 7;
    if (const unsigned r = Field(a, attr::kRegMask, attr::kRegShift); r && (!key.has_modrm || r - 1 != reg))
        return false;
    if (const unsigned m = Field(a, attr::kModMask, attr::kModShift); m && (m == 1) != (mod != 3)) return false;
    if (const unsigned r = Field(a, attr::kRmMask, attr::kRmShift); r && r - 1 != rm) return false;
    if (const unsigned p = Field(a, attr::kPfxMask, attr::kPfxShift); p && p - 1 != key.prefix_class) return false;
    if (const unsigned w = Field(a, attr::kWMask, attr::kWShift); w && (w == 2) != key.rex_w) return false;
    if ((a & RB0) && key.rex_b) return false;
    const unsigned mode = Field(a, attr::kModeMask, attr::kModeShift);
    if (mode && (mode == 2) != (key.mode == DecodeMode::Bits64)) return false;
    return true;
}

const OpcodeEntry& Lookup(u8 map, u8 opcode) { return GetTables().entries[map * 256u + opcode]; }

std::span<const Row> AllRows() { return GetTables().rows; }

}  // namespace emu::cpu::tables
