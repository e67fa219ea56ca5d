#include "tests/diff/backend_compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "tests/diff/compare.h"

namespace emu::diff {

namespace {

constexpr const char* kSegNames[6] = {"es", "cs", "ss", "ds", "fs", "gs"};

class Differ {
public:
    std::vector<FieldDiff> out;

    template <typename T>
    void Num(std::string name, T a, T b) {
        if (a != b) out.push_back({std::move(name), fmt::format("{:#x}", a), fmt::format("{:#x}", b)});
    }
    void Text(std::string name, std::string a, std::string b) {
        if (a != b) out.push_back({std::move(name), std::move(a), std::move(b)});
    }
};

std::string SegmentText(const cpu::Segment& s) {
    return fmt::format("{:04x} base={:x} limit={:x} attr={:x}", s.selector, s.base, s.limit, s.attr);
}

std::string TableText(const cpu::DescriptorTable& t) { return fmt::format("base={:x} limit={:x}", t.base, t.limit); }

std::string OutcomeText(const CaseResult& r) {
    return r.outcome == Outcome::Exception ? fmt::format("exception #{}", r.vector) : std::string(OutcomeName(r.outcome));
}

// The first listed changed byte where the two runs differ, or the hash when only unlisted bytes do.
void CompareMemory(const CaseResult& a, const CaseResult& b, Differ& d) {
    if (a.changes_hash == b.changes_hash && a.num_changes == b.num_changes &&
        a.changes_overflow == b.changes_overflow &&
        std::equal(a.changes.begin(), a.changes.begin() + a.num_changes, b.changes.begin()))
        return;
    auto value_at = [](const CaseResult& r, u16 offset) -> std::string {
        for (unsigned i = 0; i < r.num_changes; ++i)
            if (r.changes[i].offset == offset) return fmt::format("{:02x}", r.changes[i].value);
        return "unchanged";
    };
    const unsigned n = std::max(a.num_changes, b.num_changes);
    for (unsigned i = 0; i < n; ++i) {
        const bool in_a = i < a.num_changes, in_b = i < b.num_changes;
        if (in_a && in_b && a.changes[i] == b.changes[i]) continue;
        // Changes are listed by offset, so the lower of the two offsets is the first byte that differs.
        const u16 at = in_a && in_b ? std::min(a.changes[i].offset, b.changes[i].offset)
                                    : (in_a ? a.changes[i].offset : b.changes[i].offset);
        d.Text(fmt::format("memory (first at {:#x})", kDataBase + at), value_at(a, at), value_at(b, at));
        return;
    }
    d.Text("memory (beyond the listed changes)", fmt::format("hash {:016x}", a.changes_hash),
           fmt::format("hash {:016x}", b.changes_hash));
}

void CompareAccesses(std::span<const DataAccess> a, std::span<const DataAccess> b, Differ& d) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end() && ib == b.end()) return;
    const size_t i = static_cast<size_t>(ia - a.begin());
    auto describe = [i](std::span<const DataAccess> log) {
        return i < log.size() ? DescribeAccess(log[i]) : fmt::format("none ({} in all)", log.size());
    };
    d.Text(fmt::format("data access (#{})", i + 1), describe(a), describe(b));
}

void CompareState(const cpu::CpuState& a, const cpu::CpuState& b, Differ& d) {
    for (unsigned i = 0; i < 16; ++i) d.Num(kGprNames[i], a.gpr[i], b.gpr[i]);
    d.Num("rip", a.rip, b.rip);
    d.Num("rflags", a.rflags, b.rflags);
    for (unsigned i = 0; i < 6; ++i) d.Text(kSegNames[i], SegmentText(a.seg[i]), SegmentText(b.seg[i]));
    d.Text("ldtr", SegmentText(a.ldtr), SegmentText(b.ldtr));
    d.Text("tr", SegmentText(a.tr), SegmentText(b.tr));
    d.Text("gdtr", TableText(a.gdtr), TableText(b.gdtr));
    d.Text("idtr", TableText(a.idtr), TableText(b.idtr));
    d.Num("cr0", a.cr0, b.cr0);
    d.Num("cr2", a.cr2, b.cr2);
    d.Num("cr3", a.cr3, b.cr3);
    d.Num("cr4", a.cr4, b.cr4);
    d.Num("cr8", a.cr8, b.cr8);
    d.Num("efer", a.efer, b.efer);
    d.Num("xcr0", a.xcr0, b.xcr0);
    for (unsigned i = 0; i < 8; ++i) d.Num(fmt::format("dr{}", i), a.dr[i], b.dr[i]);
    const cpu::X87State &xa = a.x87, &xb = b.x87;
    d.Num("fcw", xa.fcw, xb.fcw);
    d.Num("fsw", xa.fsw, xb.fsw);
    d.Num("ftw", xa.ftw, xb.ftw);
    d.Num("fop", xa.fop, xb.fop);
    d.Num("fip", xa.fip, xb.fip);
    d.Num("fdp", xa.fdp, xb.fdp);
    d.Num("fcs", xa.fcs, xb.fcs);
    d.Num("fds", xa.fds, xb.fds);
    for (unsigned i = 0; i < 8; ++i) {
        auto text = [](const cpu::Float80& f) { return fmt::format("{:04x}:{:016x}", f.sign_exponent, f.significand); };
        d.Text(fmt::format("R{} (physical)", i), text(xa.st[i]), text(xb.st[i]));
    }
    for (unsigned i = 0; i < 16; ++i) {
        auto text = [](const cpu::Xmm& x) { return fmt::format("{:016x}{:016x}", x.q[1], x.q[0]); };
        d.Text(fmt::format("xmm{}", i), text(a.xmm[i]), text(b.xmm[i]));
    }
    d.Num("mxcsr", a.mxcsr, b.mxcsr);
    d.Num("interrupt_shadow", int{a.interrupt_shadow}, int{b.interrupt_shadow});
    d.Num("halted", int{a.halted}, int{b.halted});
    d.Num("nmi_blocked", int{a.nmi_blocked}, int{b.nmi_blocked});
}

}  // namespace

std::string DescribeAccess(const DataAccess& access) {
    const char* kind = access.write_call ? "write" : access.kind == cpu::MemAccess::Write ? "read(for write)" : "read";
    return fmt::format("{} {} @{:#x}{}", kind, access.size, access.linear, access.user ? " (user)" : "");
}

std::vector<FieldDiff> CompareBackends(const EmuRunner& a, const EmuRunner& b) {
    Differ d;
    const CaseResult &ra = a.result(), &rb = b.result();
    d.Text("stop", OutcomeText(ra), OutcomeText(rb));
    d.Num("stop.error_code", ra.error_code, rb.error_code);
    d.Num("stop.cr2", ra.cr2, rb.cr2);
    d.Num("stop.rip", ra.rip, rb.rip);
    d.Num("instructions retired", a.instructions(), b.instructions());
    CompareState(a.state(), b.state(), d);
    CompareMemory(ra, rb, d);
    CompareAccesses(a.accesses(), b.accesses(), d);
    return std::move(d.out);
}

std::string FieldNames(const std::vector<FieldDiff>& diffs) {
    std::string s;
    for (const FieldDiff& f : diffs) s += (s.empty() ? "" : " ") + f.name.substr(0, f.name.find(" ("));
    return s;
}

std::string FormatBackendDiff(const EmuRunner& a, const EmuRunner& b, const std::vector<FieldDiff>& diffs) {
    std::string s = fmt::format("  {} vs {}:\n", BackendName(a.backend()), BackendName(b.backend()));
    for (const FieldDiff& f : diffs)
        s += fmt::format("    {}: {} {}, {} {}\n", f.name, BackendName(a.backend()), f.a, BackendName(b.backend()),
                         f.b);
    return s;
}

}  // namespace emu::diff
