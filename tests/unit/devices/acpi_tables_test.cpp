// ACPI tables checked against the ACPI 6.x field offsets (RSDP table 5.3, header table 5.2, FADT table 5.9,
// MADT tables 5.43/5.45/5.46/5.48/5.51, HPET table from the IA-PC HPET spec 1.0a section 3.2.4) and checksums.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "devices/platform/acpi_tables.h"

using namespace emu;
using namespace emu::devices;

namespace {

u64 Le(const std::vector<u8>& t, size_t at, int n) {
    u64 v = 0;
    for (int i = 0; i < n; ++i) v |= u64{t.at(at + i)} << (8 * i);
    return v;
}

bool Sig(const std::vector<u8>& t, size_t at, const char* s) {
    return t.size() >= at + std::strlen(s) && std::memcmp(t.data() + at, s, std::strlen(s)) == 0;
}

AcpiTables Build(const AcpiConfig& config = {}) {
    auto result = BuildAcpiTables(config);
    REQUIRE(result.ok());
    return *result;
}

// The bytes at a guest-physical address inside the result.
std::vector<u8> At(const AcpiTables& t, u64 address, size_t len) {
    REQUIRE(address >= t.tables.address);
    REQUIRE(address + len <= t.tables.address + t.tables.bytes.size());
    const auto begin = t.tables.bytes.begin() + static_cast<std::ptrdiff_t>(address - t.tables.address);
    return std::vector<u8>(begin, begin + static_cast<std::ptrdiff_t>(len));
}

// Follows a header at address to the whole table.
std::vector<u8> TableAt(const AcpiTables& t, u64 address) {
    const auto header = At(t, address, 36);
    return At(t, address, Le(header, 4, 4));
}

}  // namespace

TEST_CASE("acpi: RSDP v2 layout and both checksums", "[devices][acpi]") {
    const AcpiTables t = Build();
    const auto& r = t.rsdp.bytes;
    CHECK(t.rsdp.address == 0xF0000);
    REQUIRE(r.size() == 36);
    CHECK(Sig(r, 0, "RSD PTR "));
    CHECK(AcpiChecksum(r.data(), 20) == 0);
    CHECK(AcpiChecksum(r.data(), 36) == 0);
    CHECK(r[15] == 2);                // revision
    CHECK(Le(r, 20, 4) == 36);        // length
    CHECK(Le(r, 16, 4) == t.Address("RSDT"));
    CHECK(Le(r, 24, 8) == t.Address("XSDT"));
}

TEST_CASE("acpi: every table has a correct length and checksum; RSDT and XSDT list FADT, MADT, HPET",
          "[devices][acpi]") {
    const AcpiTables t = Build();
    for (const AcpiTableRef& ref : t.index) {
        const auto table = t.Table(std::string_view(ref.signature, 4));
        INFO(std::string(ref.signature, 4));
        if (Sig(table, 0, "FACS")) {
            CHECK(Le(table, 4, 4) == 64);
            CHECK(ref.address % 64 == 0);
            continue;
        }
        CHECK(Le(table, 4, 4) == table.size());
        CHECK(AcpiChecksum(table.data(), table.size()) == 0);
    }
    const auto rsdt = TableAt(t, t.rsdp.bytes[16] | u64{t.rsdp.bytes[17]} << 8 | u64{t.rsdp.bytes[18]} << 16 |
                                     u64{t.rsdp.bytes[19]} << 24);
    const auto xsdt = TableAt(t, Le(t.rsdp.bytes, 24, 8));
    REQUIRE(rsdt.size() == 36 + 3 * 4);
    REQUIRE(xsdt.size() == 36 + 3 * 8);
    const char* expected[] = {"FACP", "APIC", "HPET"};
    for (int i = 0; i < 3; ++i) {
        CHECK(Sig(TableAt(t, Le(rsdt, 36 + 4 * i, 4)), 0, expected[i]));
        CHECK(Le(xsdt, 36 + 8 * i, 8) == Le(rsdt, 36 + 4 * i, 4));
    }
}

TEST_CASE("acpi: FADT fields at their ACPI 6.x offsets", "[devices][acpi]") {
    const AcpiTables t = Build();
    const auto f = t.Table("FACP");
    REQUIRE(f.size() == 276);        // revision 6 length
    CHECK(f[8] == 6);                // revision
    CHECK(Le(f, 36, 4) == t.Address("FACS"));  // FIRMWARE_CTRL
    CHECK(Le(f, 40, 4) == t.Address("DSDT"));
    CHECK(Le(f, 46, 2) == 9);        // SCI_INT
    CHECK(Le(f, 48, 4) == 0);        // SMI_CMD: always in ACPI mode
    CHECK(Le(f, 56, 4) == 0x600);    // PM1a_EVT_BLK
    CHECK(Le(f, 64, 4) == 0x604);    // PM1a_CNT_BLK
    CHECK(Le(f, 76, 4) == 0x608);    // PM_TMR_BLK
    CHECK(Le(f, 80, 4) == 0);        // GPE0_BLK
    CHECK(f[88] == 4);               // PM1_EVT_LEN
    CHECK(f[89] == 2);               // PM1_CNT_LEN
    CHECK(f[91] == 4);               // PM_TMR_LEN
    CHECK(f[108] == 0x32);           // CENTURY
    CHECK((Le(f, 109, 2) & 2) != 0); // IAPC_BOOT_ARCH: 8042 present
    const u64 flags = Le(f, 112, 4);
    CHECK((flags & (1u << 8)) == 0);   // TMR_VAL_EXT clear: 24-bit PM timer
    CHECK((flags & (1u << 10)) != 0);  // RESET_REG_SUP
    CHECK((flags & (1u << 20)) == 0);  // not HW_REDUCED_ACPI
    CHECK(f[116] == 1);              // RESET_REG: system I/O
    CHECK(f[117] == 8);              // 8 bits wide
    CHECK(Le(f, 120, 8) == 0xCF9);
    CHECK(f[128] == 0x06);           // RESET_VALUE
    CHECK(Le(f, 140, 8) == t.Address("DSDT"));  // X_DSDT
    CHECK(f[148] == 1);              // X_PM1a_EVT_BLK: system I/O
    CHECK(Le(f, 152, 8) == 0x600);
    CHECK(Le(f, 176, 8) == 0x604);   // X_PM1a_CNT_BLK address
    CHECK(f[208] == 1);
    CHECK(f[209] == 32);             // X_PM_TMR_BLK bit width
    CHECK(Le(f, 212, 8) == 0x608);
}

TEST_CASE("acpi: MADT has the LAPIC address, one LAPIC per CPU, the I/O APIC and QEMU's overrides",
          "[devices][acpi]") {
    AcpiConfig config;
    config.num_cpus = 2;
    const AcpiTables t = Build(config);
    const auto m = t.Table("APIC");
    CHECK(Le(m, 36, 4) == 0xFEE00000);
    CHECK(Le(m, 40, 4) == 1);  // PCAT_COMPAT
    int lapics = 0, ioapics = 0, nmis = 0;
    std::vector<std::pair<u64, u64>> overrides;  // (source, gsi)
    u64 sci_flags = 0;
    for (size_t at = 44; at < m.size(); at += m.at(at + 1)) {
        REQUIRE(m.at(at + 1) >= 2);
        switch (m[at]) {
        case 0:
            REQUIRE(m[at + 1] == 8);
            CHECK(m[at + 2] == lapics);  // processor UID
            CHECK(m[at + 3] == lapics);  // APIC ID
            CHECK(Le(m, at + 4, 4) == 1);
            ++lapics;
            break;
        case 1:
            REQUIRE(m[at + 1] == 12);
            CHECK(Le(m, at + 4, 4) == 0xFEC00000);
            CHECK(Le(m, at + 8, 4) == 0);  // GSI base
            ++ioapics;
            break;
        case 2:
            REQUIRE(m[at + 1] == 10);
            CHECK(m[at + 2] == 0);  // ISA bus
            overrides.emplace_back(m[at + 3], Le(m, at + 4, 4));
            if (m[at + 3] == 9) sci_flags = Le(m, at + 8, 2);
            break;
        case 4:
            REQUIRE(m[at + 1] == 6);
            CHECK(m[at + 2] == 0xFF);
            CHECK(m[at + 5] == 1);  // LINT1
            ++nmis;
            break;
        default: FAIL("unexpected MADT entry type " << int(m[at]));
        }
    }
    CHECK(lapics == 2);
    CHECK(ioapics == 1);
    CHECK(nmis == 1);
    CHECK(overrides == std::vector<std::pair<u64, u64>>{{0, 2}, {9, 9}});
    CHECK((sci_flags & 3) == 1);         // active high
    CHECK(((sci_flags >> 2) & 3) == 3);  // level
}

TEST_CASE("acpi: MADT LAPIC entries carry the topology's APIC IDs, enabled, in CPU order", "[devices][acpi][smp]") {
    AcpiConfig config;
    config.num_cpus = 6;
    config.apic_ids = {0, 1, 2, 4, 5, 6};  // 2 sockets of 3 cores: the core field is 2 bits wide
    const auto m = Build(config).Table("APIC");
    std::vector<u64> uids, ids;
    for (size_t at = 44; at < m.size(); at += m.at(at + 1)) {
        REQUIRE(m.at(at + 1) >= 2);
        if (m[at] != 0) continue;
        uids.push_back(m[at + 2]);
        ids.push_back(m[at + 3]);
        CHECK(Le(m, at + 4, 4) == 1);  // enabled
    }
    CHECK(uids == std::vector<u64>{0, 1, 2, 3, 4, 5});
    CHECK(ids == std::vector<u64>{0, 1, 2, 4, 5, 6});
}

TEST_CASE("acpi: HPET table describes the block at 0xFED00000", "[devices][acpi]") {
    const AcpiTables t = Build();
    const auto h = t.Table("HPET");
    REQUIRE(h.size() == 56);
    CHECK((Le(h, 36, 4) >> 16) == 0x8086);  // event timer block ID: vendor
    CHECK(((Le(h, 36, 4) >> 8) & 0x1F) == 2);  // 3 comparators
    CHECK(h[40] == 0);                      // GAS: system memory
    CHECK(Le(h, 44, 8) == 0xFED00000);
}

TEST_CASE("acpi: the embedded DSDT is iasl's output with a valid header", "[devices][acpi]") {
    const auto d = DsdtAml();
    REQUIRE(d.size() > 36);
    CHECK(Sig(d, 0, "DSDT"));
    CHECK(Le(d, 4, 4) == d.size());
    CHECK(AcpiChecksum(d.data(), d.size()) == 0);
    const AcpiTables t = Build();
    CHECK(t.Table("DSDT") == d);
}

TEST_CASE("acpi: the DSDT describes COM1 and COM2 with their standard ports and IRQs", "[devices][acpi]") {
    const auto d = DsdtAml();
    auto contains = [&d](std::initializer_list<u8> bytes) {
        return std::search(d.begin(), d.end(), bytes.begin(), bytes.end()) != d.end();
    };
    CHECK(Sig(d, 0, "DSDT"));
    CHECK(contains({'C', 'O', 'M', '1'}));
    CHECK(contains({'C', 'O', 'M', '2'}));
    // ACPI 6.x 6.4.2.5 I/O port descriptor (Decode16, min = max = base, alignment 0, length 8) and 6.4.2.1 IRQ
    // descriptor without flags (mask bit n = IRQ n).
    CHECK(contains({0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00}));  // 0x3F8, IRQ4
    CHECK(contains({0x47, 0x01, 0xF8, 0x02, 0xF8, 0x02, 0x00, 0x08, 0x22, 0x08, 0x00}));  // 0x2F8, IRQ3
}

TEST_CASE("acpi: bad configurations are rejected with errors", "[devices][acpi]") {
    AcpiConfig c;
    c.num_cpus = 0;
    CHECK(BuildAcpiTables(c).error() == AcpiError::NoCpus);
    c.num_cpus = 256;
    CHECK(BuildAcpiTables(c).error() == AcpiError::TooManyCpus);
    c = AcpiConfig{};
    c.tables_address = 0xE0010;
    CHECK(BuildAcpiTables(c).error() == AcpiError::Misaligned);
    c = AcpiConfig{};
    c.rsdp_address = 0xE0040;
    CHECK(BuildAcpiTables(c).error() == AcpiError::Overlap);
    c = AcpiConfig{};
    c.tables_address = u64{1} << 32;
    CHECK(BuildAcpiTables(c).error() == AcpiError::AboveFourGiB);
    CHECK(std::string(AcpiErrorMessage(AcpiError::Overlap)).find("overlap") != std::string::npos);
}

// An independent parser: iasl's table disassembler (path in EMU64_IASL, set by meson) must decode every table
// without complaint. It reports checksum, length and field problems as text.
TEST_CASE("acpi: iasl disassembles every table without warnings", "[devices][acpi]") {
    const char* iasl = std::getenv("EMU64_IASL");
    if (iasl == nullptr) {
        WARN("EMU64_IASL not set: run through meson test");
        return;
    }
    const AcpiTables t = Build();
    const std::string dir = std::string(std::getenv("EMU64_TMPDIR") ? std::getenv("EMU64_TMPDIR") : "/tmp");
    // (The RSDP is checked above: iasl -d refuses a bare RSDP file.)
    std::vector<std::pair<std::string, std::vector<u8>>> files;
    for (const AcpiTableRef& ref : t.index) {
        std::string name(ref.signature, 4);
        files.emplace_back(name, t.Table(name));
    }
    for (const auto& [name, bytes] : files) {
        INFO(name);
        const std::string path = dir + "/emu64_acpi_" + name + ".dat";
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
        std::fclose(f);
        const std::string cmd = std::string(iasl) + " -d -p " + dir + "/emu64_acpi_" + name + " " + path + " 2>&1";
        std::FILE* p = popen(cmd.c_str(), "r");
        REQUIRE(p != nullptr);
        std::string output;
        char buf[512];
        while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
        CHECK(pclose(p) == 0);
        // Read the disassembly back: iasl annotates problems in it ("Invalid", "Warning", "Error").
        std::FILE* dsl = std::fopen((dir + "/emu64_acpi_" + name + ".dsl").c_str(), "r");
        REQUIRE(dsl != nullptr);
        std::string text;
        while (std::fgets(buf, sizeof buf, dsl) != nullptr) text += buf;
        std::fclose(dsl);
        INFO(output);
        INFO(text);
        CHECK(text.find("Invalid") == std::string::npos);
        CHECK(text.find("Warning") == std::string::npos);
        CHECK(text.find("Error") == std::string::npos);
        CHECK(text.find("Incorrect") == std::string::npos);
    }
}
