// gdb's x86-64 register set: one table gives each register's name, size, type, feature and where it lives in
// CpuState. Field order and names follow gdb's features/i386/64bit-{core,sse,segments}.xml, which gdb's amd64 code
// checks by name; the system feature is our own (gdb shows its registers as it shows any other: `p $cr3`).
#include "emu/debug/gdb_registers.h"

#include <array>
#include <cstring>
#include <span>
#include <type_traits>

#include "emu/debug/hex.h"

namespace emu::debug {
namespace {

using cpu::CpuState;
using cpu::Gpr;
using cpu::SegReg;

enum class Feature : u8 { Core, Sse, Segments, System };
// Where a register lives: a kind plus an index within it.
enum class Kind : u8 { Gpr, Rip, Eflags, Selector, St, Fctrl, Fstat, Ftag, Fiseg, Fioff, Foseg, Fooff, Fop, Xmm, Mxcsr,
                       SegBase, Cr0, Cr2, Cr3, Cr4, Cr8, Efer, KernelGsBase, Pkru };

struct Reg {
    const char* name;
    unsigned bits;
    const char* type;
    Feature feature;
    Kind kind;
    unsigned index = 0;
};

constexpr unsigned G(Gpr r) { return static_cast<unsigned>(r); }
constexpr unsigned S(SegReg r) { return static_cast<unsigned>(r); }

constexpr Reg kRegs[] = {
    {"rax", 64, "int64", Feature::Core, Kind::Gpr, G(Gpr::Rax)},
    {"rbx", 64, "int64", Feature::Core, Kind::Gpr, G(Gpr::Rbx)},
    {"rcx", 64, "int64", Feature::Core, Kind::Gpr, G(Gpr::Rcx)},
    {"rdx", 64, "int64", Feature::Core, Kind::Gpr, G(Gpr::Rdx)},
    {"rsi", 64, "int64", Feature::Core, Kind::Gpr, G(Gpr::Rsi)},
    {"rdi", 64, "int64", Feature::Core, Kind::Gpr, G(Gpr::Rdi)},
    {"rbp", 64, "data_ptr", Feature::Core, Kind::Gpr, G(Gpr::Rbp)},
    {"rsp", 64, "data_ptr", Feature::Core, Kind::Gpr, G(Gpr::Rsp)},
    {"r8", 64, "int64", Feature::Core, Kind::Gpr, 8},
    {"r9", 64, "int64", Feature::Core, Kind::Gpr, 9},
    {"r10", 64, "int64", Feature::Core, Kind::Gpr, 10},
    {"r11", 64, "int64", Feature::Core, Kind::Gpr, 11},
    {"r12", 64, "int64", Feature::Core, Kind::Gpr, 12},
    {"r13", 64, "int64", Feature::Core, Kind::Gpr, 13},
    {"r14", 64, "int64", Feature::Core, Kind::Gpr, 14},
    {"r15", 64, "int64", Feature::Core, Kind::Gpr, 15},
    {"rip", 64, "code_ptr", Feature::Core, Kind::Rip},
    {"eflags", 32, "i386_eflags", Feature::Core, Kind::Eflags},
    {"cs", 32, "int32", Feature::Core, Kind::Selector, S(SegReg::Cs)},
    {"ss", 32, "int32", Feature::Core, Kind::Selector, S(SegReg::Ss)},
    {"ds", 32, "int32", Feature::Core, Kind::Selector, S(SegReg::Ds)},
    {"es", 32, "int32", Feature::Core, Kind::Selector, S(SegReg::Es)},
    {"fs", 32, "int32", Feature::Core, Kind::Selector, S(SegReg::Fs)},
    {"gs", 32, "int32", Feature::Core, Kind::Selector, S(SegReg::Gs)},
    {"st0", 80, "i387_ext", Feature::Core, Kind::St, 0},
    {"st1", 80, "i387_ext", Feature::Core, Kind::St, 1},
    {"st2", 80, "i387_ext", Feature::Core, Kind::St, 2},
    {"st3", 80, "i387_ext", Feature::Core, Kind::St, 3},
    {"st4", 80, "i387_ext", Feature::Core, Kind::St, 4},
    {"st5", 80, "i387_ext", Feature::Core, Kind::St, 5},
    {"st6", 80, "i387_ext", Feature::Core, Kind::St, 6},
    {"st7", 80, "i387_ext", Feature::Core, Kind::St, 7},
    {"fctrl", 32, "int", Feature::Core, Kind::Fctrl},
    {"fstat", 32, "int", Feature::Core, Kind::Fstat},
    {"ftag", 32, "int", Feature::Core, Kind::Ftag},
    {"fiseg", 32, "int", Feature::Core, Kind::Fiseg},
    {"fioff", 32, "int", Feature::Core, Kind::Fioff},
    {"foseg", 32, "int", Feature::Core, Kind::Foseg},
    {"fooff", 32, "int", Feature::Core, Kind::Fooff},
    {"fop", 32, "int", Feature::Core, Kind::Fop},
    {"xmm0", 128, "vec128", Feature::Sse, Kind::Xmm, 0},
    {"xmm1", 128, "vec128", Feature::Sse, Kind::Xmm, 1},
    {"xmm2", 128, "vec128", Feature::Sse, Kind::Xmm, 2},
    {"xmm3", 128, "vec128", Feature::Sse, Kind::Xmm, 3},
    {"xmm4", 128, "vec128", Feature::Sse, Kind::Xmm, 4},
    {"xmm5", 128, "vec128", Feature::Sse, Kind::Xmm, 5},
    {"xmm6", 128, "vec128", Feature::Sse, Kind::Xmm, 6},
    {"xmm7", 128, "vec128", Feature::Sse, Kind::Xmm, 7},
    {"xmm8", 128, "vec128", Feature::Sse, Kind::Xmm, 8},
    {"xmm9", 128, "vec128", Feature::Sse, Kind::Xmm, 9},
    {"xmm10", 128, "vec128", Feature::Sse, Kind::Xmm, 10},
    {"xmm11", 128, "vec128", Feature::Sse, Kind::Xmm, 11},
    {"xmm12", 128, "vec128", Feature::Sse, Kind::Xmm, 12},
    {"xmm13", 128, "vec128", Feature::Sse, Kind::Xmm, 13},
    {"xmm14", 128, "vec128", Feature::Sse, Kind::Xmm, 14},
    {"xmm15", 128, "vec128", Feature::Sse, Kind::Xmm, 15},
    {"mxcsr", 32, "i386_mxcsr", Feature::Sse, Kind::Mxcsr},
    {"fs_base", 64, "int", Feature::Segments, Kind::SegBase, S(SegReg::Fs)},
    {"gs_base", 64, "int", Feature::Segments, Kind::SegBase, S(SegReg::Gs)},
    {"cr0", 64, "int64", Feature::System, Kind::Cr0},
    {"cr2", 64, "int64", Feature::System, Kind::Cr2},
    {"cr3", 64, "int64", Feature::System, Kind::Cr3},
    {"cr4", 64, "int64", Feature::System, Kind::Cr4},
    {"cr8", 64, "int64", Feature::System, Kind::Cr8},
    {"efer", 64, "int64", Feature::System, Kind::Efer},
    {"k_gs_base", 64, "int64", Feature::System, Kind::KernelGsBase},
    {"pkru", 32, "uint32", Feature::System, Kind::Pkru},  // gdb's name; a write flushes the TLB (gdb_server.cpp)
};
constexpr unsigned kCount = sizeof kRegs / sizeof kRegs[0];
static_assert(kCount == 24 + 8 + 8 + 16 + 1 + 2 + 8, "the table is gdb's core, sse, segments and our system set");

// The x87 physical register that ST(i) names: the stack top is FSW.TOP.
unsigned StackSlot(const CpuState& s, unsigned i) { return (((s.x87.fsw >> 11) & 7) + i) & 7; }

// An integer register's storage, or null for the byte-array ones (st, xmm).
template <typename State>
auto IntegerField(State& s, const Reg& r) {
    using U64 = std::conditional_t<std::is_const_v<State>, const u64, u64>;
    using U16 = std::conditional_t<std::is_const_v<State>, const u16, u16>;
    using U32 = std::conditional_t<std::is_const_v<State>, const u32, u32>;
    struct Field {
        U64* q = nullptr;
        U32* d = nullptr;
        U16* w = nullptr;
    } f;
    switch (r.kind) {
        case Kind::Gpr: f.q = &s.gpr[r.index]; break;
        case Kind::Rip: f.q = &s.rip; break;
        case Kind::Eflags: f.q = &s.rflags; break;
        case Kind::Selector: f.w = &s.seg[r.index].selector; break;
        case Kind::Fctrl: f.w = &s.x87.fcw; break;
        case Kind::Fstat: f.w = &s.x87.fsw; break;
        case Kind::Ftag: f.w = &s.x87.ftw; break;
        case Kind::Fiseg: f.w = &s.x87.fcs; break;
        case Kind::Fioff: f.q = &s.x87.fip; break;
        case Kind::Foseg: f.w = &s.x87.fds; break;
        case Kind::Fooff: f.q = &s.x87.fdp; break;
        case Kind::Fop: f.w = &s.x87.fop; break;
        case Kind::Mxcsr: f.d = &s.mxcsr; break;
        case Kind::SegBase: f.q = &s.seg[r.index].base; break;
        case Kind::Cr0: f.q = &s.cr0; break;
        case Kind::Cr2: f.q = &s.cr2; break;
        case Kind::Cr3: f.q = &s.cr3; break;
        case Kind::Cr4: f.q = &s.cr4; break;
        case Kind::Cr8: f.q = &s.cr8; break;
        case Kind::Efer: f.q = &s.efer; break;
        case Kind::KernelGsBase: f.q = &s.kernel_gs_base; break;
        case Kind::Pkru: f.d = &s.pkru; break;
        case Kind::St:
        case Kind::Xmm: break;
    }
    return f;
}

// Register `r`'s bytes, little-endian, bits / 8 of them.
std::array<u8, 16> Get(const CpuState& s, const Reg& r) {
    std::array<u8, 16> out{};
    if (r.kind == Kind::St) {
        const cpu::Float80& f = s.x87.st[StackSlot(s, r.index)];
        std::memcpy(out.data(), &f.significand, 8);
        std::memcpy(out.data() + 8, &f.sign_exponent, 2);
    } else if (r.kind == Kind::Xmm) {
        std::memcpy(out.data(), s.xmm[r.index].b, 16);
    } else {
        const auto f = IntegerField(s, r);
        const u64 value = f.q ? *f.q : f.d ? *f.d : *f.w;
        std::memcpy(out.data(), &value, 8);
    }
    return out;
}

void Set(CpuState& s, const Reg& r, std::span<const u8> bytes) {
    if (r.kind == Kind::St) {
        cpu::Float80& f = s.x87.st[StackSlot(s, r.index)];
        std::memcpy(&f.significand, bytes.data(), 8);
        std::memcpy(&f.sign_exponent, bytes.data() + 8, 2);
        return;
    }
    if (r.kind == Kind::Xmm) {
        std::memcpy(s.xmm[r.index].b, bytes.data(), 16);
        return;
    }
    u64 value = 0;
    std::memcpy(&value, bytes.data(), std::min<size_t>(bytes.size(), 8));
    const auto f = IntegerField(s, r);
    if (r.kind == Kind::Eflags) {
        // gdb's eflags is 32 bits: the upper half of RFLAGS is reserved (zero); bit 1 always reads as one.
        *f.q = (value & 0xFFFFFFFF) | cpu::rflags::Reserved1;
    } else if (f.q) {
        *f.q = value;
    } else if (f.d) {
        *f.d = static_cast<u32>(value);
    } else {
        *f.w = static_cast<u16>(value);
    }
}

constexpr const char* kFeatureNames[] = {"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.segments",
                                         "org.emu64.gdb.x86.64.sys"};

// Types the features use beyond gdb's predefined ones (as gdb's own 64bit-core.xml and 64bit-sse.xml define them).
constexpr std::string_view kCoreTypes = R"(
    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
      <field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
      <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
      <field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
      <field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
      <field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
    </flags>)";
constexpr std::string_view kSseTypes = R"(
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
    <flags id="i386_mxcsr" size="4">
      <field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
      <field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
      <field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
      <field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
      <field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
    </flags>)";

std::string BuildXml() {
    std::string xml =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
        "  <architecture>i386:x86-64</architecture>\n";
    for (unsigned f = 0; f < std::size(kFeatureNames); ++f) {
        xml += "  <feature name=\"" + std::string(kFeatureNames[f]) + "\">";
        if (f == static_cast<unsigned>(Feature::Core)) xml += kCoreTypes;
        if (f == static_cast<unsigned>(Feature::Sse)) xml += kSseTypes;
        xml += "\n";
        for (unsigned n = 0; n < kCount; ++n) {
            const Reg& r = kRegs[n];
            if (static_cast<unsigned>(r.feature) != f) continue;
            xml += "    <reg name=\"" + std::string(r.name) + "\" bitsize=\"" + std::to_string(r.bits) + "\" type=\"" +
                   r.type + "\" regnum=\"" + std::to_string(n) + "\"";
            if (r.kind == Kind::St || (r.kind >= Kind::Fctrl && r.kind <= Kind::Fop)) xml += " group=\"float\"";
            if (r.kind == Kind::Xmm || r.kind == Kind::Mxcsr) xml += " group=\"vector\"";
            if (f == static_cast<unsigned>(Feature::System)) xml += " group=\"system\"";
            xml += "/>\n";
        }
        xml += "  </feature>\n";
    }
    xml += "</target>\n";
    return xml;
}

}  // namespace

unsigned GdbRegisterCount() { return kCount; }

std::optional<std::string> ReadGdbRegister(const CpuState& state, unsigned n) {
    if (n >= kCount) return std::nullopt;
    const std::array<u8, 16> bytes = Get(state, kRegs[n]);
    return ToHex(std::span<const u8>(bytes.data(), kRegs[n].bits / 8));
}

bool WriteGdbRegister(CpuState& state, unsigned n, std::string_view hex) {
    if (n >= kCount || hex.size() != kRegs[n].bits / 4) return false;
    const auto bytes = FromHex(hex);
    if (!bytes) return false;
    Set(state, kRegs[n], *bytes);
    return true;
}

const char* GdbRegisterName(unsigned n) { return n < kCount ? kRegs[n].name : nullptr; }

std::optional<u64> GdbRegisterValue(const CpuState& state, unsigned n) {
    if (n >= kCount || kRegs[n].bits > 64) return std::nullopt;
    const std::array<u8, 16> bytes = Get(state, kRegs[n]);
    u64 value = 0;
    std::memcpy(&value, bytes.data(), kRegs[n].bits / 8);
    return value;
}

std::string ReadAllGdbRegisters(const CpuState& state) {
    std::string out;
    for (unsigned n = 0; n < kCount; ++n) out += *ReadGdbRegister(state, n);
    return out;
}

bool WriteAllGdbRegisters(CpuState& state, std::string_view hex) {
    // Checked whole before anything changes: a malformed packet leaves the registers as they were.
    if (!FromHex(hex)) return false;
    CpuState updated = state;
    size_t at = 0;
    for (unsigned n = 0; n < kCount && at < hex.size(); ++n) {
        const size_t digits = kRegs[n].bits / 4;
        if (at + digits > hex.size()) return false;
        WriteGdbRegister(updated, n, hex.substr(at, digits));
        at += digits;
    }
    state = updated;
    return true;
}

const std::string& GdbTargetXml() {
    static const std::string xml = BuildXml();
    return xml;
}

}  // namespace emu::debug
