// decoder-check: compares emu64's instruction lengths with Capstone's over the .text sections of real ELF64
// x86-64 binaries. Capstone walks each section linearly; every instruction it decodes is also measured by
// emu::cpu::DecodeLength (64-bit mode) and the two lengths are compared. Where Capstone fails, one byte is
// skipped to resync. Disagreements are grouped by class (66/67/F2/F3 prefixes + opcode bytes + Capstone's
// mnemonic). Linear sweep also disassembles data embedded in .text, which is where most odd encodings come from.
//
// With --operands, the explicit operands of every instruction both decode are compared too (register names,
// memory base/index/scale/disp/segment, immediates, branch targets), after normalising known conventions.
//
// Exit status: 0 when every length (and operand) disagreement falls in a class listed in kKnownDisagreements
// (each documented: a Capstone mistake or an extension the modelled CPU lacks), 1 otherwise, 2 on usage errors.
// With --expect FILE (expectations.h) the files are the fixed corpus FILE names, and the run must also find exactly
// the class counts FILE records: the hermetic form of the check, independent of what else the machine has installed.
#include <elf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capstone/capstone.h>

#include "emu/cpu/decoder/decoder.h"
#include "tools/decoder-check/expectations.h"

namespace {

namespace fs = std::filesystem;
using emu::u8;
using emu::u64;

// Classes where emu64 and Capstone 4.0.2 disagree for a documented reason: Capstone is wrong against the Intel
// SDM, or the encoding belongs to an extension the modelled CPU does not have (so #UD is the right answer while
// Capstone decodes it). Matched as a prefix of the class key. Every entry says why.
struct KnownError {
    std::string_view class_prefix;
    std::string_view why;
};
constexpr KnownError kKnownDisagreements[] = {
    {"8e mov", "MOV CS, r/m is #UD (SDM MOV: 'the MOV instruction cannot be used to load the CS register'); "
               "and MOV Sreg, r/m16 reads a 16-bit register where Capstone names the operand-size one"},
    {"0f ff ud0", "UD0 takes a ModRM byte (SDM since 2017: UD0 r32, r/m32); Capstone 4 decodes 2 bytes"},
    {"0f b9 ud2b", "UD1 takes a ModRM byte (SDM: UD1 r32, r/m32); Capstone 4 decodes 2 bytes"},
    {"66 e8 call", "Intel ignores 66 on near CALL in 64-bit mode (rel32); Capstone follows AMD (rel16)"},
    {"66 e9 jmp", "Intel ignores 66 on near JMP in 64-bit mode (rel32); Capstone follows AMD (rel16)"},
    {"66 0f 8", "Intel ignores 66 on Jcc rel32 in 64-bit mode; Capstone follows AMD (rel16)"},
    {"62 vfmadd213p", "Capstone 4 counts 7 bytes for EVEX register forms with embedded rounding; EVEX+op+ModRM is 6"},
    {"0f 0e femms", "3DNow! (AMD only): the modelled CPU does not advertise it, so #UD"},
    {"0f 0f ", "3DNow! (AMD only): the modelled CPU does not advertise it, so #UD"},
    {"f3 0f a6 ", "VIA PadLock (XSHA*, XCRYPT*): not an Intel/AMD instruction, #UD"},
    {"f3 0f a7 ", "VIA PadLock (XCRYPT*): not an Intel/AMD instruction, #UD"},
    {"0f a7 xstore", "VIA PadLock XSTORE: not an Intel/AMD instruction, #UD"},
    {"0f 78 vmread", "VMREAD outside VMX operation is #UD, and the modelled CPU has no VMX"},
    {"0f 79 vmwrite", "VMWRITE outside VMX operation is #UD, and the modelled CPU has no VMX"},
    // F3 before MMX instructions in general: F3OnMmx below.
    {"f3 0f d2 psrld", "F3 on an MMX instruction is reserved; emu64 (like QEMU) raises #UD, Capstone ignores it"},
    // F3 REX.W 0F AE /5 (register form): INCSSPQ with CET shadow stacks. The modelled CPU has no CET, and a CPU
    // without it runs the encoding as LFENCE (the F3 ignored), which emu64 does (it raised #UD). Capstone 4.0.2 agrees
    // on LFENCE (busybox's static longjmp has three); a Capstone that names INCSSP differs in operands only.
    {"f3 0f ae incssp", "INCSSPD/Q without CET: LFENCE, no operands (see map_0f.inc); a newer Capstone names INCSSP r"},
    // MOVMSKPS/MOVMSKPD r, xmm: the SDM's destination is r32 or r64 ("the upper bits are filled with zeros"), the
    // same result either way; with REX.W emu64 and Capstone name the destination at different widths.
    {"0f 50 movmskps", "MOVMSKPS with REX.W: register naming only (r64 vs r32), the same zero-extended result"},
    {"66 0f 50 movmskpd", "MOVMSKPD with REX.W: register naming only (r64 vs r32), the same zero-extended result"},
    // Operand differences (--operands).
    {"63 movsxd", "without REX.W MOVSXD is r32, r/m32 (SDM); Capstone 4 always names a 64-bit destination"},
    {"66 63 movsxd", "with 66 MOVSXD is r16, r/m16 (SDM); Capstone 4 always names a 64-bit destination"},
    {"df fstp", "FSTP8/FSTP9 alias: Capstone 4 reports 3 operands for a 1-operand instruction"},
    {"d9 fstpnce", "FSTP1 alias: Capstone 4 reports 3 operands for a 1-operand instruction"},
};

// F3 before an MMX instruction that has no F3 form (PAVGB, PSRLD, PADDB...): a prefix the instruction does not
// define is reserved (SDM Vol. 2 2.1.1: it "may cause unpredictable behavior"); emu64, like QEMU, raises #UD where
// Capstone ignores the prefix. Recognised by emu64's own tables: the opcode without F3 is an MMX instruction and
// with F3 does not decode.
bool F3OnMmx(const std::string& key) {
    if (key.rfind("f3 0f ", 0) != 0 || key.size() < 8) return false;
    const u8 opcode = static_cast<u8>(std::strtoul(key.substr(6, 2).c_str(), nullptr, 16));
    const std::array<u8, 3> plain = {0x0F, opcode, 0xC1};
    const std::array<u8, 4> with_f3 = {0xF3, 0x0F, opcode, 0xC1};
    const auto d = emu::cpu::Decode(plain, emu::cpu::DecodeMode::Bits64);
    const bool mmx = d.ok() && d->num_operands > 0 && d->operands[0].reg_class == emu::cpu::RegClass::Mmx;
    return mmx && !emu::cpu::Decode(with_f3, emu::cpu::DecodeMode::Bits64).ok();
}

// A class is known if an entry is a prefix of its key, or of the key without leading 67/F2/F3 prefixes (which
// do not change the reasons listed: address size, and REP prefixes the instruction ignores).
bool IsKnownDisagreement(std::string key) {
    if (F3OnMmx(key)) return true;
    auto known = [&](const std::string& k) {
        return std::any_of(std::begin(kKnownDisagreements), std::end(kKnownDisagreements),
                           [&](const KnownError& e) { return k.rfind(e.class_prefix, 0) == 0; });
    };
    if (known(key)) return true;
    while (key.rfind("67 ", 0) == 0 || key.rfind("f2 ", 0) == 0 || key.rfind("f3 ", 0) == 0) key.erase(0, 3);
    return known(key);
}

struct Options {
    std::vector<std::string> dirs;
    u64 limit_bytes = 0;  // per file, 0 = whole .text
    u64 max_files = 0;    // 0 = all
    bool quiet = false;
    bool operands = false;  // also compare operands (Capstone detail mode, slower)
    u64 random = 0;         // random buffers per mode (16, 32, 64), instead of files
    std::string expect;        // expectations file: the corpus and the class counts it must give
    std::string write_expect;  // write the run's expectations here (with the files named on the command line)
};

struct Example {
    std::string file;
    u64 address;
    std::string bytes;
    std::string capstone;
    std::string ours;
};

struct ClassStats {
    u64 count = 0;
    std::vector<Example> examples;
};

struct Totals {
    u64 files = 0;
    u64 text_bytes = 0;
    u64 compared = 0;
    u64 agreed = 0;
    u64 agreed_vex = 0;           // VEX/EVEX/XOP: Decode() says #UD, DecodeLength agrees with Capstone
    u64 capstone_skipped = 0;     // bytes Capstone could not decode
    std::map<std::string, ClassStats> disagreements;
    u64 operand_compared = 0;
    std::map<std::string, ClassStats> operand_mismatches;
};

std::string HexBytes(const u8* p, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", p[i]);
        if (i) s += ' ';
        s += buf;
    }
    return s;
}

// Class key: the operand-size/address-size/F2/F3 prefixes present, then the opcode bytes after prefixes and
// REX: "66 0f 38 f1", "c4" (VEX), "89"...
std::string OpcodeKey(const u8* p, size_t n) {
    constexpr u8 kPrefixes[] = {0xF0, 0xF2, 0xF3, 0x66, 0x67, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65};
    constexpr u8 kKeyPrefixes[] = {0x66, 0x67, 0xF2, 0xF3};
    std::string key;
    size_t i = 0;
    for (; i < n; ++i) {
        const bool legacy = std::find(std::begin(kPrefixes), std::end(kPrefixes), p[i]) != std::end(kPrefixes);
        if (!legacy && (p[i] & 0xF0) != 0x40) break;
        const bool keyed = std::find(std::begin(kKeyPrefixes), std::end(kKeyPrefixes), p[i]) != std::end(kKeyPrefixes);
        if (keyed && key.find(HexBytes(p + i, 1)) == std::string::npos) key += HexBytes(p + i, 1) + " ";
    }
    size_t len = 1;
    if (i < n && p[i] == 0x0F) len = (i + 1 < n && (p[i + 1] == 0x38 || p[i + 1] == 0x3A)) ? 3 : 2;
    return key + HexBytes(p + i, std::min(len, n - i));
}

// Reads the .text section of an ELF64 x86-64 file, or nothing if the file is not one.
std::optional<std::vector<u8>> ReadText(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    Elf64_Ehdr eh{};
    if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh)) return std::nullopt;
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
        return std::nullopt;
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum) return std::nullopt;
    std::vector<Elf64_Shdr> sh(eh.e_shnum);
    f.seekg(static_cast<std::streamoff>(eh.e_shoff));
    if (!f.read(reinterpret_cast<char*>(sh.data()), static_cast<std::streamsize>(sh.size() * sizeof(Elf64_Shdr))))
        return std::nullopt;
    const Elf64_Shdr& strtab = sh[eh.e_shstrndx];
    if (strtab.sh_size > (64u << 20)) return std::nullopt;
    std::vector<char> names(strtab.sh_size + 1, '\0');
    f.seekg(static_cast<std::streamoff>(strtab.sh_offset));
    if (!f.read(names.data(), static_cast<std::streamsize>(strtab.sh_size))) return std::nullopt;
    for (const Elf64_Shdr& s : sh) {
        if (s.sh_type != SHT_PROGBITS || s.sh_name >= strtab.sh_size) continue;
        if (std::strcmp(names.data() + s.sh_name, ".text") != 0) continue;
        if (s.sh_size > (1ull << 32)) return std::nullopt;
        std::vector<u8> text(s.sh_size);
        f.seekg(static_cast<std::streamoff>(s.sh_offset));
        if (!f.read(reinterpret_cast<char*>(text.data()), static_cast<std::streamsize>(text.size())))
            return std::nullopt;
        return text;
    }
    return std::nullopt;
}

std::string CsRegName(csh handle, unsigned reg) {
    if (reg == X86_REG_INVALID) return "";
    const char* name = cs_reg_name(handle, reg);
    return name ? name : "?";
}

// The first difference between Capstone's explicit operands and ours, or "" when they match. Register names,
// memory base/index/scale/displacement/segment override, immediate values and branch targets are compared;
// operand sizes are not (Capstone's sizes for x87/SSE memory operands are not the SDM's).
// Brings our operand list to Capstone's conventions where they differ on purpose: string instructions have no
// operands here (Capstone lists rSI/rDI memory), x87 register forms name ST(0) explicitly (Capstone omits it when
// it is implicit), Capstone folds the CMPPS/CMPSD predicate immediate into the mnemonic, ENDBR is a NOP Ev here,
// and XCHG with rAX is symmetric. Returns false to skip the comparison.
bool NormalizeForCapstone(csh handle, const cs_insn& ci, emu::cpu::DecodedInsn& d) {
    using emu::cpu::Mnemonic;
    constexpr Mnemonic kStrings[] = {Mnemonic::MOVS, Mnemonic::CMPS, Mnemonic::STOS, Mnemonic::LODS,
                                     Mnemonic::SCAS, Mnemonic::INS,  Mnemonic::OUTS};
    if (std::find(std::begin(kStrings), std::end(kStrings), d.mnemonic) != std::end(kStrings)) return false;
    const std::string_view cs_mnemonic = ci.mnemonic;
    if (cs_mnemonic.rfind("endbr", 0) == 0) return false;
    const unsigned cs_count = ci.detail->x86.op_count;
    auto drop = [&](unsigned i) {
        for (unsigned j = i; j + 1 < d.num_operands; ++j) d.operands[j] = d.operands[j + 1];
        --d.num_operands;
    };
    if (cs_count < d.num_operands) {
        for (unsigned i = 0; i < d.num_operands && cs_count < d.num_operands; ++i) {
            const auto& o = d.operands[i];
            if (o.kind == emu::cpu::OperandKind::Reg && o.reg_class == emu::cpu::RegClass::X87 && o.reg == 0) drop(i--);
        }
        if (cs_mnemonic.rfind("cmp", 0) == 0 && cs_count + 1 == d.num_operands) drop(d.num_operands - 1u);
    }
    // x87 alias forms (DC D0+i, DD C8+i...): Capstone names the implicit ST(0) there.
    const cs_x86& x = ci.detail->x86;
    if (cs_count == d.num_operands + 1u && x.operands[0].type == X86_OP_REG && x.operands[0].reg == X86_REG_ST0 &&
        d.num_operands > 0 && d.operands[0].reg_class == emu::cpu::RegClass::X87) {
        for (unsigned j = d.num_operands; j > 0; --j) d.operands[j] = d.operands[j - 1];
        d.operands[0] = emu::cpu::Operand{};
        d.operands[0].kind = emu::cpu::OperandKind::Reg;
        d.operands[0].reg_class = emu::cpu::RegClass::X87;
        ++d.num_operands;
    }
    // XCHG is symmetric; Capstone orders 90+r and some ModRM forms differently.
    if (d.mnemonic == Mnemonic::XCHG && d.num_operands == 2 && x.operands[0].type == X86_OP_REG &&
        d.operands[1].kind == emu::cpu::OperandKind::Reg && emu::cpu::FormatReg(d.operands[0]) !=
        std::string(cs_reg_name(handle, x.operands[0].reg)))
        std::swap(d.operands[0], d.operands[1]);
    return true;
}

std::string CompareOperands(csh handle, const cs_insn& ci, emu::cpu::DecodedInsn d) {
    using emu::cpu::OperandKind;
    const cs_x86& x = ci.detail->x86;
    if (!NormalizeForCapstone(handle, ci, d)) return "";
    if (x.op_count != d.num_operands)
        return "operand count " + std::to_string(x.op_count) + " vs " + std::to_string(d.num_operands);
    for (unsigned i = 0; i < d.num_operands; ++i) {
        const cs_x86_op& c = x.operands[i];
        const emu::cpu::Operand& o = d.operands[i];
        const std::string where = "operand " + std::to_string(i) + ": ";
        switch (c.type) {
            case X86_OP_REG:
                if (emu::cpu::FormatReg(o) != CsRegName(handle, c.reg))
                    return where + "register " + CsRegName(handle, c.reg) + " vs " + emu::cpu::FormatOperand(o, d);
                break;
            case X86_OP_IMM: {
                const u64 cimm = static_cast<u64>(c.imm);
                if (o.kind == OperandKind::Rel) {
                    if (ci.address + d.length + o.imm != cimm) return where + "branch target";
                } else if (o.kind == OperandKind::Imm) {
                    const u64 mask = o.size >= 8 ? ~u64{0} : (u64{1} << (8 * o.size)) - 1;
                    if ((cimm & mask) != o.imm) return where + "immediate";
                } else {
                    return where + "kind (imm vs " + emu::cpu::FormatOperand(o, d) + ")";
                }
                break;
            }
            case X86_OP_MEM: {
                if (o.kind != OperandKind::Mem) return where + "kind (mem vs " + emu::cpu::FormatOperand(o, d) + ")";
                const auto& m = o.mem;
                const std::string base = m.rip_relative ? (d.addr_size == 4 ? "eip" : "rip")
                                         : m.base == emu::cpu::kNoReg ? ""
                                                                      : std::string(emu::cpu::GprName(m.base, d.addr_size));
                const std::string index =
                    m.index == emu::cpu::kNoReg ? "" : std::string(emu::cpu::GprName(m.index, d.addr_size));
                if (CsRegName(handle, c.mem.base) != base) return where + "base";
                if (CsRegName(handle, c.mem.index) != index) return where + "index";
                if (!index.empty() && static_cast<unsigned>(c.mem.scale) != m.scale) return where + "scale";
                const u64 amask = d.addr_size >= 8 ? ~u64{0} : (u64{1} << (8 * d.addr_size)) - 1;
                if ((static_cast<u64>(c.mem.disp) & amask) != (static_cast<u64>(m.disp) & amask)) return where + "disp";
                constexpr const char* kSegNames[] = {"es", "cs", "ss", "ds", "fs", "gs"};
                const std::string seg = d.seg_override < 6 ? kSegNames[d.seg_override] : "";
                if (CsRegName(handle, c.mem.segment) != seg) return where + "segment";
                break;
            }
            default: return where + "unknown Capstone operand type";
        }
    }
    return "";
}

// Compares one instruction Capstone decoded at `start` (with `avail` bytes available) with our decoder.
void CompareInsn(csh handle, emu::cpu::DecodeMode mode, const std::string& file, const u8* start, size_t avail,
                 const cs_insn& insn, Totals& t) {
    ++t.compared;
    const std::span<const u8> window(start, std::min<size_t>(avail, 15));
    const auto ours = emu::cpu::DecodeLength(window, mode);
    auto record = [&](std::map<std::string, ClassStats>& classes, std::string mine) {
        ClassStats& c = classes[OpcodeKey(insn.bytes, insn.size) + " " + insn.mnemonic];
        ++c.count;
        if (c.examples.size() < 3)
            c.examples.push_back({file, insn.address, HexBytes(insn.bytes, insn.size),
                                  std::string(insn.mnemonic) + " " + insn.op_str, std::move(mine)});
    };
    if (ours.ok() && ours->length == insn.size) {
        ++t.agreed;
        if (ours->vex_family) ++t.agreed_vex;
        if (insn.detail == nullptr || ours->vex_family) return;
        const auto d = emu::cpu::Decode(window, mode);
        if (!d.ok()) return;
        ++t.operand_compared;
        const std::string diff = CompareOperands(handle, insn, *d);
        if (!diff.empty()) record(t.operand_mismatches, emu::cpu::FormatInsn(*d) + " [" + diff + "]");
        return;
    }
    std::string mine;
    if (!ours.ok()) {
        mine = std::string(emu::cpu::DecodeErrorName(ours.error()));
    } else {
        mine = "length " + std::to_string(ours->length);
        if (auto d = emu::cpu::Decode(window, mode); d.ok()) mine += ": " + emu::cpu::FormatInsn(*d);
    }
    record(t.disagreements, std::move(mine));
}

void CheckText(csh handle, const std::string& file, const std::vector<u8>& text, u64 limit, Totals& t) {
    const u8* code = text.data();
    size_t size = limit ? std::min<size_t>(text.size(), limit) : text.size();
    const u8* const end = code + size;
    u64 address = 0;
    cs_insn* insn = cs_malloc(handle);
    while (size > 0) {
        const u8* start = code;
        if (!cs_disasm_iter(handle, &code, &size, &address, insn)) {
            ++code;
            --size;
            ++address;
            ++t.capstone_skipped;
            continue;
        }
        CompareInsn(handle, emu::cpu::DecodeMode::Bits64, file, start, static_cast<size_t>(end - start), *insn, t);
    }
    cs_free(insn, 1);
}

// Random instruction bytes in one mode (a reproducible xorshift stream): exercises 16- and 32-bit decoding,
// which no 64-bit binary does, and rare encodings. Only the first instruction of each buffer is compared.
void CheckRandom(csh handle, emu::cpu::DecodeMode mode, u64 count, Totals& t) {
    u64 state = 0x2545F4914F6CDD1Dull + static_cast<u64>(mode);
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    constexpr u8 kFirst[] = {0x0F, 0x66, 0x67, 0xF3, 0xF2, 0xF0, 0x2E, 0x64};  // bias towards prefixes/escapes
    const std::string name = mode == emu::cpu::DecodeMode::Bits16 ? "random16" : mode == emu::cpu::DecodeMode::Bits32
                                                                                  ? "random32"
                                                                                  : "random64";
    cs_insn* insn = cs_malloc(handle);
    for (u64 i = 0; i < count; ++i) {
        std::array<u8, 15> buf;
        for (u8& b : buf) b = static_cast<u8>(next());
        if (i % 2) buf[0] = kFirst[next() % std::size(kFirst)];
        const u8* code = buf.data();
        size_t size = buf.size();
        u64 address = 0x1000;
        if (!cs_disasm_iter(handle, &code, &size, &address, insn)) continue;
        CompareInsn(handle, mode, name, buf.data(), buf.size(), *insn, t);
    }
    cs_free(insn, 1);
}

bool ParseArgs(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto number = [&](u64& out) {
            if (i + 1 >= argc) return false;
            char* endp = nullptr;
            out = std::strtoull(argv[++i], &endp, 0);
            return endp && *endp == '\0';
        };
        if (a == "--limit-bytes") {
            if (!number(o.limit_bytes)) return false;
        } else if (a == "--max-files") {
            if (!number(o.max_files)) return false;
        } else if (a == "--quiet") {
            o.quiet = true;
        } else if (a == "--operands") {
            o.operands = true;
        } else if (a == "--random") {
            if (!number(o.random)) return false;
        } else if (a == "--expect" || a == "--write-expect") {
            if (i + 1 >= argc) return false;
            (a == "--expect" ? o.expect : o.write_expect) = argv[++i];
        } else if (a == "--help" || a == "-h" || (!a.empty() && a[0] == '-')) {
            return false;
        } else {
            o.dirs.emplace_back(a);
        }
    }
    if (o.dirs.empty() && o.expect.empty()) o.dirs = {"/usr/bin", "/usr/lib/x86_64-linux-gnu"};
    return true;
}

// Regular files under the directories (or named directly), sorted for reproducible runs; symlinks are skipped.
std::vector<fs::path> CollectFiles(const Options& o) {
    std::vector<fs::path> files;
    for (const std::string& dir : o.dirs) {
        std::error_code ec;
        if (fs::is_regular_file(dir, ec)) {  // a file named on the command line is checked even via a symlink
            files.emplace_back(dir);
            continue;
        }
        fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), endit;
        if (ec) {
            std::fprintf(stderr, "decoder-check: cannot read %s: %s\n", dir.c_str(), ec.message().c_str());
            continue;
        }
        for (; it != endit; it.increment(ec)) {
            if (ec) break;
            const fs::file_status st = it->symlink_status(ec);
            if (ec || !fs::is_regular_file(st)) continue;
            files.push_back(it->path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (!ParseArgs(argc, argv, opt)) {
        std::fprintf(stderr,
                     "usage: decoder-check [--limit-bytes N] [--max-files N] [--quiet] [--operands] [--random N]\n"
                     "                     [--expect FILE | --write-expect FILE] [DIR|FILE...]\n"
                     "  compares emu64 instruction lengths with Capstone over the .text of ELF64 x86-64 files\n"
                     "  (default DIRs: /usr/bin /usr/lib/x86_64-linux-gnu); --operands also compares operands;\n"
                     "  --random N compares N random buffers in each of 16/32/64-bit mode instead of files;\n"
                     "  --expect FILE checks FILE's corpus against its recorded class counts (expectations.h)\n");
        return 2;
    }
    auto open = [&](cs_mode mode, csh& handle) {
        if (cs_open(CS_ARCH_X86, mode, &handle) != CS_ERR_OK) return false;
        if (opt.operands) cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
        return true;
    };
    std::optional<decoder_check::Expectations> expected;
    if (!opt.expect.empty()) {
        std::string error;
        expected = decoder_check::ReadExpectations(opt.expect, &error);
        if (!expected) {
            std::fprintf(stderr, "decoder-check: %s\n", error.c_str());
            return 2;
        }
        for (const decoder_check::CorpusFile& c : expected->files) opt.dirs.push_back(c.path);
    }
    decoder_check::Expectations found;
    Totals t;
    if (opt.random) {
        const std::pair<cs_mode, emu::cpu::DecodeMode> modes[] = {{CS_MODE_16, emu::cpu::DecodeMode::Bits16},
                                                                  {CS_MODE_32, emu::cpu::DecodeMode::Bits32},
                                                                  {CS_MODE_64, emu::cpu::DecodeMode::Bits64}};
        for (const auto& [cs_m, m] : modes) {
            csh h;
            if (!open(cs_m, h)) return 2;
            CheckRandom(h, m, opt.random, t);
            cs_close(&h);
        }
        opt.dirs.clear();
    }
    csh handle;
    if (!open(CS_MODE_64, handle)) {
        std::fprintf(stderr, "decoder-check: cs_open failed\n");
        return 2;
    }
    for (const fs::path& path : opt.random ? std::vector<fs::path>{} : CollectFiles(opt)) {
        if (opt.max_files && t.files >= opt.max_files) break;
        const auto text = ReadText(path);
        if (!text) continue;
        ++t.files;
        found.files.push_back({path.string(), decoder_check::FileHash(path).value_or(0)});
        t.text_bytes += opt.limit_bytes ? std::min<u64>(text->size(), opt.limit_bytes) : text->size();
        CheckText(handle, path.string(), *text, opt.limit_bytes, t);
        if (!opt.quiet) std::fprintf(stderr, "\r%llu files", static_cast<unsigned long long>(t.files));
    }
    cs_close(&handle);
    if (!opt.quiet) std::fprintf(stderr, "\n");

    u64 unexplained = 0;
    std::vector<std::pair<std::string, const ClassStats*>> classes;
    for (const auto& [key, c] : t.disagreements) classes.emplace_back(key, &c);
    std::sort(classes.begin(), classes.end(), [](auto& a, auto& b) { return a.second->count > b.second->count; });
    std::printf("files: %llu, .text bytes: %llu, bytes Capstone skipped: %llu\n",
                static_cast<unsigned long long>(t.files), static_cast<unsigned long long>(t.text_bytes),
                static_cast<unsigned long long>(t.capstone_skipped));
    std::printf("instructions compared: %llu, agreements: %llu (%.6f%%), of which VEX/EVEX/XOP length-only: %llu\n",
                static_cast<unsigned long long>(t.compared), static_cast<unsigned long long>(t.agreed),
                t.compared ? 100.0 * static_cast<double>(t.agreed) / static_cast<double>(t.compared) : 100.0,
                static_cast<unsigned long long>(t.agreed_vex));
    std::printf("disagreements: %llu in %zu classes\n", static_cast<unsigned long long>(t.compared - t.agreed),
                classes.size());
    for (const auto& [key, c] : classes) {
        const bool known = IsKnownDisagreement(key);
        if (!known) unexplained += c->count;
        std::printf("  [%s] %llu%s\n", key.c_str(), static_cast<unsigned long long>(c->count),
                    known ? " (documented, see kKnownDisagreements)" : "");
        for (const Example& e : c->examples)
            std::printf("      %s+0x%llx: %s | capstone: %s | emu64: %s\n", e.file.c_str(),
                        static_cast<unsigned long long>(e.address), e.bytes.c_str(), e.capstone.c_str(),
                        e.ours.c_str());
    }
    if (opt.operands) {
        std::vector<std::pair<std::string, const ClassStats*>> ops;
        u64 total = 0;
        for (const auto& [key, c] : t.operand_mismatches) {
            ops.emplace_back(key, &c);
            total += c.count;
        }
        std::sort(ops.begin(), ops.end(), [](auto& a, auto& b) { return a.second->count > b.second->count; });
        std::printf("operands compared on %llu instructions, differences: %llu in %zu classes\n",
                    static_cast<unsigned long long>(t.operand_compared), static_cast<unsigned long long>(total),
                    ops.size());
        for (const auto& [key, c] : ops) {
            const bool known = IsKnownDisagreement(key);
            if (!known) unexplained += c->count;
            std::printf("  [%s] %llu%s\n", key.c_str(), static_cast<unsigned long long>(c->count),
                        known ? " (documented, see kKnownDisagreements)" : "");
            for (const Example& e : c->examples)
                std::printf("      %s+0x%llx: %s | capstone: %s | emu64: %s\n", e.file.c_str(),
                            static_cast<unsigned long long>(e.address), e.bytes.c_str(), e.capstone.c_str(),
                            e.ours.c_str());
        }
    }
    std::printf("unexplained disagreements: %llu\n", static_cast<unsigned long long>(unexplained));
    found.compared = t.compared;
    for (const auto& [key, c] : t.disagreements) found.classes["length " + key] = c.count;
    for (const auto& [key, c] : t.operand_mismatches) found.classes["operand " + key] = c.count;
    if (!opt.write_expect.empty() && !decoder_check::WriteExpectations(opt.write_expect, found)) {
        std::fprintf(stderr, "decoder-check: cannot write %s\n", opt.write_expect.c_str());
        return 2;
    }
    bool as_expected = true;
    if (expected) {
        const std::vector<std::string> diffs = decoder_check::CompareExpectations(*expected, found);
        for (const std::string& d : diffs) std::printf("not as expected: %s\n", d.c_str());
        std::printf("corpus %s: %zu differences from %s\n", diffs.empty() ? "as expected" : "NOT as expected",
                    diffs.size(), opt.expect.c_str());
        as_expected = diffs.empty();
    }
    return unexplained == 0 && as_expected ? 0 : 1;
}
