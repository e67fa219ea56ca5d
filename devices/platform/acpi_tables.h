#pragma once
// ACPI tables for the `pc` machine (ACPI 6.x chapter 5): RSDP v2, XSDT and RSDT, FADT (revision 6), FACS, MADT,
// HPET, and the DSDT compiled from dsdt.asl by iasl at build time.
//
// Placement: every table except the RSDP goes into one contiguous blob at AcpiConfig::tables_address; the
// RSDP is a separate 36-byte blob at rsdp_address. The defaults put both in the BIOS area (tables at 0xE0000,
// RSDP at 0xF0000, 16-byte aligned) so that a guest scanning 0xE0000-0xFFFFF finds the RSDP as well as one
// given boot_params.acpi_rsdp_addr. The machine copies both blobs into guest RAM (and reserves them in the
// E820 map) and passes AcpiTables::rsdp.address to the kernel.
//
// What the tables promise (and the device models implement): PM1a event block at 0x600, PM1a control at 0x604,
// 24-bit PM timer at 0x608, SCI on IRQ 9 (level, active high), no GPE block, hardware always in ACPI mode
// (SMI_CMD = 0), reset register = port 0xCF9 value 0x06 (PIIX3 reset control), RTC century at CMOS 0x32, the
// 8042 present, I/O APIC at 0xFEC00000 (ID 0, GSI base 0), IRQ0 -> GSI 2 and IRQ9 level/active-high overrides,
// LINT1 = NMI on every CPU, HPET at 0xFED00000.
#include <string_view>
#include <vector>

#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::devices {

struct AcpiConfig {
    unsigned num_cpus = 1;          // one Processor Local APIC entry each, ACPI processor UIDs 0..n-1
    std::vector<u32> apic_ids;      // their APIC IDs by UID (empty: 0..n-1)
    u64 tables_address = 0xE0000;   // 64-byte aligned (the FACS is the first table), below 4 GiB
    u64 rsdp_address = 0xF0000;     // 16-byte aligned, below 4 GiB, not inside the tables blob
    u32 lapic_address = 0xFEE00000;
    u32 ioapic_address = 0xFEC00000;
    u8 ioapic_id = 0;
    u32 hpet_address = 0xFED00000;
    u32 hpet_block_id = 0x8086A201;  // HPET GCAP_ID[31:0]: vendor 8086, legacy route, 64-bit, 3 timers, rev 1
    u16 pm_base = 0x600;
    u16 sci_irq = 9;
};

enum class AcpiError {
    NoCpus,       /*!< the machine must have at least one CPU */
    TooManyCpus,  /*!< xAPIC IDs limit the machine to 255 CPUs */
    Misaligned,   /*!< ACPI tables need a 64-byte aligned base and the RSDP a 16-byte aligned address */
    AboveFourGiB, /*!< the RSDT and FADT hold 32-bit table addresses: place the tables below 4 GiB */
    Overlap,      /*!< the RSDP would overlap the table region */
};

const char* AcpiErrorMessage(AcpiError error);

struct AcpiBlob {
    u64 address = 0;  // guest-physical address of bytes[0]
    std::vector<u8> bytes;
};

struct AcpiTableRef {
    char signature[4];
    u64 address;   // guest-physical
    u32 length;
};

struct AcpiTables {
    AcpiBlob rsdp;                    // rsdp.address is what boot_params.acpi_rsdp_addr takes
    AcpiBlob tables;                  // FACS, DSDT, FADT, MADT, HPET, RSDT, XSDT
    std::vector<AcpiTableRef> index;  // where each table landed

    // The bytes of the table with this signature inside `tables` (empty if absent).
    std::vector<u8> Table(std::string_view signature) const;
    u64 Address(std::string_view signature) const;  // 0 if absent
};

Result<AcpiTables, AcpiError> BuildAcpiTables(const AcpiConfig& config);

// The DSDT as compiled from dsdt.asl.
std::vector<u8> DsdtAml();

// The 8-bit sum of bytes (a valid ACPI table sums to 0).
u8 AcpiChecksum(const u8* data, size_t size);

}  // namespace emu::devices
