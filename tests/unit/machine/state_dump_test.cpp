// The JSON state dump, read back with an independent parser (nlohmann's) and compared field by field
// with the CpuState it came from. Register names and order are written out here from the SDM (Vol. 2
// 2.1.5, register encodings), not taken from the code under test.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "emu/machine/state_dump.h"

using emu::u16;
using emu::u32;
using emu::u64;
using emu::cpu::CpuState;
using nlohmann::json;

namespace {

// splitmix64: distinct, full-width values so that a swapped or truncated field shows up.
struct Values {
    u64 state = 0x0123456789ABCDEFull;
    u64 Next() {
        u64 z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

CpuState RandomState() {
    Values v;
    CpuState s;
    for (auto& r : s.gpr) r = v.Next();
    s.rip = v.Next();
    s.rflags = v.Next() & 0x3F7FD5;
    auto segment = [&v] {
        emu::cpu::Segment seg;
        seg.selector = static_cast<u16>(v.Next());
        seg.base = v.Next();
        seg.limit = static_cast<u32>(v.Next());
        seg.attr = static_cast<u32>(v.Next());
        return seg;
    };
    for (auto& seg : s.seg) seg = segment();
    s.ldtr = segment();
    s.tr = segment();
    s.gdtr = {v.Next(), static_cast<u16>(v.Next())};
    s.idtr = {v.Next(), static_cast<u16>(v.Next())};
    s.cr0 = v.Next();
    s.cr2 = v.Next();
    s.cr3 = v.Next();
    s.cr4 = v.Next();
    s.cr8 = v.Next() & 15;
    s.efer = v.Next();
    s.xcr0 = v.Next();
    s.pkru = static_cast<u32>(v.Next());
    for (auto& d : s.dr) d = v.Next();
    s.star = v.Next();
    s.lstar = v.Next();
    s.cstar = v.Next();
    s.sfmask = v.Next();
    s.kernel_gs_base = v.Next();
    s.sysenter_cs = v.Next();
    s.sysenter_esp = v.Next();
    s.sysenter_eip = v.Next();
    s.tsc_aux = v.Next();
    s.pat = v.Next();
    s.apic_base = v.Next();
    for (auto& st : s.x87.st) st = {v.Next(), static_cast<u16>(v.Next())};
    s.x87.fcw = static_cast<u16>(v.Next());
    s.x87.fsw = static_cast<u16>(v.Next());
    s.x87.ftw = static_cast<u16>(v.Next());
    s.x87.fop = static_cast<u16>(v.Next());
    s.x87.fip = v.Next();
    s.x87.fdp = v.Next();
    s.x87.fcs = static_cast<u16>(v.Next());
    s.x87.fds = static_cast<u16>(v.Next());
    for (auto& x : s.xmm) x.q[0] = v.Next(), x.q[1] = v.Next();
    s.mxcsr = static_cast<u32>(v.Next()) & 0xFFFF;
    s.halted = true;
    return s;
}

void CheckSegment(const json& j, const emu::cpu::Segment& seg) {
    CHECK(j.at("selector").get<u16>() == seg.selector);
    CHECK(j.at("base").get<u64>() == seg.base);
    CHECK(j.at("limit").get<u32>() == seg.limit);
    CHECK(j.at("attr").get<u32>() == seg.attr);
}

}  // namespace

TEST_CASE("the state dump names every register and round-trips its value", "[machine][state_dump]") {
    const CpuState s = RandomState();
    const json j = json::parse(emu::machine::DumpStateJson(s));

    const char* const gprs[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    for (int i = 0; i < 16; ++i) {
        INFO(gprs[i]);
        CHECK(j.at(gprs[i]).get<u64>() == s.gpr[i]);
    }
    CHECK(j.at("rip").get<u64>() == s.rip);
    CHECK(j.at("rflags").get<u64>() == s.rflags);

    const char* const segs[] = {"es", "cs", "ss", "ds", "fs", "gs"};  // Sreg encoding order
    for (int i = 0; i < 6; ++i) {
        INFO(segs[i]);
        CheckSegment(j.at(segs[i]), s.seg[i]);
    }
    CheckSegment(j.at("ldtr"), s.ldtr);
    CheckSegment(j.at("tr"), s.tr);
    CHECK(j.at("gdtr").at("base").get<u64>() == s.gdtr.base);
    CHECK(j.at("gdtr").at("limit").get<u16>() == s.gdtr.limit);
    CHECK(j.at("idtr").at("base").get<u64>() == s.idtr.base);
    CHECK(j.at("idtr").at("limit").get<u16>() == s.idtr.limit);

    CHECK(j.at("cr0").get<u64>() == s.cr0);
    CHECK(j.at("cr2").get<u64>() == s.cr2);
    CHECK(j.at("cr3").get<u64>() == s.cr3);
    CHECK(j.at("cr4").get<u64>() == s.cr4);
    CHECK(j.at("cr8").get<u64>() == s.cr8);
    CHECK(j.at("efer").get<u64>() == s.efer);
    CHECK(j.at("xcr0").get<u64>() == s.xcr0);
    CHECK(j.at("pkru").get<u32>() == s.pkru);
    for (int i = 0; i < 8; ++i) CHECK(j.at("dr").at(i).get<u64>() == s.dr[i]);
    const json& msr = j.at("msr");
    CHECK(msr.at("star").get<u64>() == s.star);
    CHECK(msr.at("lstar").get<u64>() == s.lstar);
    CHECK(msr.at("cstar").get<u64>() == s.cstar);
    CHECK(msr.at("sfmask").get<u64>() == s.sfmask);
    CHECK(msr.at("kernel_gs_base").get<u64>() == s.kernel_gs_base);
    CHECK(msr.at("sysenter_cs").get<u64>() == s.sysenter_cs);
    CHECK(msr.at("sysenter_esp").get<u64>() == s.sysenter_esp);
    CHECK(msr.at("sysenter_eip").get<u64>() == s.sysenter_eip);
    CHECK(msr.at("tsc_aux").get<u64>() == s.tsc_aux);
    CHECK(msr.at("pat").get<u64>() == s.pat);
    CHECK(msr.at("apic_base").get<u64>() == s.apic_base);

    for (int i = 0; i < 16; ++i) {
        const std::string xmm = "xmm" + std::to_string(i);
        const std::string ymm = "ymm" + std::to_string(i);
        INFO(xmm);
        REQUIRE(j.at(xmm).size() == 2);
        CHECK(j.at(xmm).at(0).get<u64>() == s.xmm[i].q[0]);
        CHECK(j.at(xmm).at(1).get<u64>() == s.xmm[i].q[1]);
        // No AVX: the low half of ymmN is xmmN, the high half reads as zero.
        REQUIRE(j.at(ymm).size() == 4);
        CHECK(j.at(ymm).at(0).get<u64>() == s.xmm[i].q[0]);
        CHECK(j.at(ymm).at(1).get<u64>() == s.xmm[i].q[1]);
        CHECK(j.at(ymm).at(2).get<u64>() == 0);
        CHECK(j.at(ymm).at(3).get<u64>() == 0);
    }
    CHECK(j.at("mxcsr").get<u32>() == s.mxcsr);

    REQUIRE(j.at("fpr").size() == 8);
    for (int i = 0; i < 8; ++i) {
        INFO("R" << i);
        CHECK(j.at("fpr").at(i).at("significand").get<u64>() == s.x87.st[i].significand);
        CHECK(j.at("fpr").at(i).at("sign_exponent").get<u16>() == s.x87.st[i].sign_exponent);
    }
    CHECK(j.at("fcw").get<u16>() == s.x87.fcw);
    CHECK(j.at("fsw").get<u16>() == s.x87.fsw);
    CHECK(j.at("ftw").get<u16>() == s.x87.ftw);
    CHECK(j.at("fop").get<u16>() == s.x87.fop);
    CHECK(j.at("fip").get<u64>() == s.x87.fip);
    CHECK(j.at("fdp").get<u64>() == s.x87.fdp);
    CHECK(j.at("fcs").get<u16>() == s.x87.fcs);
    CHECK(j.at("fds").get<u16>() == s.x87.fds);
    CHECK(j.at("halted").get<bool>() == true);
    CHECK(j.at("interrupt_shadow").get<bool>() == false);
}

TEST_CASE("the state dump keeps all 64 bits of values a double would round", "[machine][state_dump]") {
    CpuState s;
    s.reg(emu::cpu::Gpr::Rax) = ~u64{0};
    s.reg(emu::cpu::Gpr::R15) = 0x8000000000000001ull;  // 2^63 + 1: not representable as a double
    s.rip = 0xFFFFFFFF80000001ull;
    const json j = json::parse(emu::machine::DumpStateJson(s));
    CHECK(j.at("rax").is_number_unsigned());
    CHECK(j.at("rax").get<u64>() == ~u64{0});
    CHECK(j.at("r15").get<u64>() == 0x8000000000000001ull);
    CHECK(j.at("rip").get<u64>() == 0xFFFFFFFF80000001ull);
    // The text itself carries the exact decimal, for readers other than nlohmann.
    CHECK(emu::machine::DumpStateJson(s).find("9223372036854775809") != std::string::npos);
}

TEST_CASE("the state dump reports the CPU mode the SDM defines", "[machine][state_dump]") {
    CpuState s;  // reset state: CR0.PE = 0
    CHECK(json::parse(emu::machine::DumpStateJson(s)).at("mode") == "real");
    s.cr0 |= emu::cpu::cr0::PE | emu::cpu::cr0::PG;
    s.efer |= emu::cpu::efer::LME | emu::cpu::efer::LMA;
    s.segment(emu::cpu::SegReg::Cs).attr = 0xA09B;  // present, DPL 0, code, L = 1, G = 1
    CHECK(json::parse(emu::machine::DumpStateJson(s)).at("mode") == "long64");
}

TEST_CASE("WriteStateJson writes the dump to a file and reports a path it cannot write", "[machine][state_dump]") {
    const CpuState s = RandomState();
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("emu64_state_dump_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::filesystem::path file = dir / "state.json";
    {
        std::ofstream stale(file);
        stale << "old contents that are longer than nothing";
    }

    REQUIRE(emu::machine::WriteStateJson(s, file.string()).ok());
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(json::parse(text.str()) == json::parse(emu::machine::DumpStateJson(s)));

    const auto missing_dir = emu::machine::WriteStateJson(s, (dir / "no_such_dir" / "state.json").string());
    REQUIRE_FALSE(missing_dir.ok());
    CHECK(missing_dir.error() == emu::machine::StateDumpError::CannotOpen);
    const auto is_dir = emu::machine::WriteStateJson(s, dir.string());
    REQUIRE_FALSE(is_dir.ok());
    CHECK(is_dir.error() == emu::machine::StateDumpError::CannotOpen);
    if (std::filesystem::exists("/dev/full")) {  // opens fine, every write fails with ENOSPC
        const auto full = emu::machine::WriteStateJson(s, "/dev/full");
        REQUIRE_FALSE(full.ok());
        CHECK(full.error() == emu::machine::StateDumpError::WriteFailed);
    }
    std::filesystem::remove_all(dir);
}
