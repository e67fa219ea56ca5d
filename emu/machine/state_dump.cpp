#include "emu/machine/state_dump.h"

#include <fstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "emu/machine/gpr_names.h"

namespace emu::machine {

namespace {

using emu::cpu::CpuMode;
using emu::cpu::CpuState;
using emu::cpu::Segment;
using nlohmann::json;

constexpr std::array<std::string_view, emu::cpu::kNumSegRegs> kSegNames = {"es", "cs", "ss", "ds", "fs", "gs"};

json SegmentToJson(const Segment& seg) {
    return {{"selector", seg.selector}, {"base", seg.base}, {"limit", seg.limit}, {"attr", seg.attr}};
}

json TableToJson(const emu::cpu::DescriptorTable& table) { return {{"base", table.base}, {"limit", table.limit}}; }

std::string_view ModeName(CpuMode mode) {
    switch (mode) {
    case CpuMode::Real: return "real";
    case CpuMode::Protected16: return "protected16";
    case CpuMode::Protected32: return "protected32";
    case CpuMode::Virtual8086: return "virtual8086";
    case CpuMode::Compat16: return "compat16";
    case CpuMode::Compat32: return "compat32";
    case CpuMode::Long64: return "long64";
    }
    return "?";
}

}  // namespace

std::string_view Message(StateDumpError error) {
    switch (error) {
    case StateDumpError::CannotOpen: return "cannot open the state dump file for writing";
    case StateDumpError::WriteFailed: return "writing the state dump file failed";
    }
    return "?";
}

std::string DumpStateJson(const CpuState& state) {
    json out = json::object();
    for (size_t i = 0; i < kGprNames.size(); ++i) out[std::string(kGprNames[i])] = state.gpr[i];
    out["rip"] = state.rip;
    out["rflags"] = state.rflags;

    for (size_t i = 0; i < kSegNames.size(); ++i) out[std::string(kSegNames[i])] = SegmentToJson(state.seg[i]);
    out["ldtr"] = SegmentToJson(state.ldtr);
    out["tr"] = SegmentToJson(state.tr);
    out["gdtr"] = TableToJson(state.gdtr);
    out["idtr"] = TableToJson(state.idtr);

    out["cr0"] = state.cr0;
    out["cr2"] = state.cr2;
    out["cr3"] = state.cr3;
    out["cr4"] = state.cr4;
    out["cr8"] = state.cr8;
    out["efer"] = state.efer;
    out["xcr0"] = state.xcr0;
    out["pkru"] = state.pkru;
    out["dr"] = state.dr;
    out["msr"] = {
        {"star", state.star},
        {"lstar", state.lstar},
        {"cstar", state.cstar},
        {"sfmask", state.sfmask},
        {"kernel_gs_base", state.kernel_gs_base},
        {"sysenter_cs", state.sysenter_cs},
        {"sysenter_esp", state.sysenter_esp},
        {"sysenter_eip", state.sysenter_eip},
        {"tsc_aux", state.tsc_aux},
        {"pat", state.pat},
        {"apic_base", state.apic_base},
    };

    for (size_t i = 0; i < state.xmm.size(); ++i) {
        const auto& q = state.xmm[i].q;
        out["xmm" + std::to_string(i)] = {q[0], q[1]};
        // No AVX: the upper half of every ymm register reads as zero.
        out["ymm" + std::to_string(i)] = {q[0], q[1], u64{0}, u64{0}};
    }
    out["mxcsr"] = state.mxcsr;

    json fpr = json::array();
    for (const auto& reg : state.x87.st) {
        fpr.push_back({{"significand", reg.significand}, {"sign_exponent", reg.sign_exponent}});
    }
    out["fpr"] = fpr;
    out["fcw"] = state.x87.fcw;
    out["fsw"] = state.x87.fsw;
    out["ftw"] = state.x87.ftw;
    out["fop"] = state.x87.fop;
    out["fip"] = state.x87.fip;
    out["fdp"] = state.x87.fdp;
    out["fcs"] = state.x87.fcs;
    out["fds"] = state.x87.fds;

    out["mode"] = ModeName(state.mode());
    out["halted"] = state.halted;
    out["interrupt_shadow"] = state.interrupt_shadow;
    return out.dump(2);
}

Result<void, StateDumpError> WriteStateJson(const CpuState& state, const std::string& path) {
    std::ofstream file(path, std::ios::out | std::ios::trunc);
    if (!file) return Err(StateDumpError::CannotOpen);
    file << DumpStateJson(state) << '\n';
    file.flush();
    if (!file) return Err(StateDumpError::WriteFailed);
    return {};
}

}  // namespace emu::machine
