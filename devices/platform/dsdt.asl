/*
 * emu64's DSDT for the `pc` machine (i440FX + PIIX3 board as QEMU models it). Compiled at build time by iasl
 * (devices/platform/meson.build) into a C array that acpi_tables.cpp embeds; the values below must match the
 * device models:
 *   - PCI interrupts use static I/O APIC routing, no PIIX3 link devices: device (slot) s, pin p (0 = INTA)
 *     goes to PIRQ (s + p - 1) mod 4 (QEMU's PIIX swizzle) and PIRQ n is I/O APIC input 16 + n
 *     (devices/pci: PciSwizzle and Piix3; level, active low). Guests running the 8259 without an I/O APIC
 *     must program the PIIX3 PIRQ route registers themselves (no _PIC-dependent _PRT).
 *   - \_S5 is SLP_TYP 0, the value acpi_pm treats as soft-off (QEMU's PIIX4 encoding).
 *   - The PCI MMIO window is 0xC0000000-0xFEBFFFFF: the machine keeps RAM below 4 GiB under 3 GiB.
 */
DefinitionBlock ("", "DSDT", 2, "EMU64 ", "EMU64PC ", 0x00000001)
{
    Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_BBN, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000, 0x3EC00000)
            })

            // Static routing: slot s, pin p -> GSI 16 + ((s + p - 1) mod 4).
            Name (_PRT, Package ()
            {
                Package () { 0x0000FFFF, 0, Zero, 19 }, Package () { 0x0000FFFF, 1, Zero, 16 },
                Package () { 0x0000FFFF, 2, Zero, 17 }, Package () { 0x0000FFFF, 3, Zero, 18 },
                Package () { 0x0001FFFF, 0, Zero, 16 }, Package () { 0x0001FFFF, 1, Zero, 17 },
                Package () { 0x0001FFFF, 2, Zero, 18 }, Package () { 0x0001FFFF, 3, Zero, 19 },
                Package () { 0x0002FFFF, 0, Zero, 17 }, Package () { 0x0002FFFF, 1, Zero, 18 },
                Package () { 0x0002FFFF, 2, Zero, 19 }, Package () { 0x0002FFFF, 3, Zero, 16 },
                Package () { 0x0003FFFF, 0, Zero, 18 }, Package () { 0x0003FFFF, 1, Zero, 19 },
                Package () { 0x0003FFFF, 2, Zero, 16 }, Package () { 0x0003FFFF, 3, Zero, 17 },
                Package () { 0x0004FFFF, 0, Zero, 19 }, Package () { 0x0004FFFF, 1, Zero, 16 },
                Package () { 0x0004FFFF, 2, Zero, 17 }, Package () { 0x0004FFFF, 3, Zero, 18 },
                Package () { 0x0005FFFF, 0, Zero, 16 }, Package () { 0x0005FFFF, 1, Zero, 17 },
                Package () { 0x0005FFFF, 2, Zero, 18 }, Package () { 0x0005FFFF, 3, Zero, 19 },
                Package () { 0x0006FFFF, 0, Zero, 17 }, Package () { 0x0006FFFF, 1, Zero, 18 },
                Package () { 0x0006FFFF, 2, Zero, 19 }, Package () { 0x0006FFFF, 3, Zero, 16 },
                Package () { 0x0007FFFF, 0, Zero, 18 }, Package () { 0x0007FFFF, 1, Zero, 19 },
                Package () { 0x0007FFFF, 2, Zero, 16 }, Package () { 0x0007FFFF, 3, Zero, 17 },
                Package () { 0x0008FFFF, 0, Zero, 19 }, Package () { 0x0008FFFF, 1, Zero, 16 },
                Package () { 0x0008FFFF, 2, Zero, 17 }, Package () { 0x0008FFFF, 3, Zero, 18 },
                Package () { 0x0009FFFF, 0, Zero, 16 }, Package () { 0x0009FFFF, 1, Zero, 17 },
                Package () { 0x0009FFFF, 2, Zero, 18 }, Package () { 0x0009FFFF, 3, Zero, 19 },
                Package () { 0x000AFFFF, 0, Zero, 17 }, Package () { 0x000AFFFF, 1, Zero, 18 },
                Package () { 0x000AFFFF, 2, Zero, 19 }, Package () { 0x000AFFFF, 3, Zero, 16 },
                Package () { 0x000BFFFF, 0, Zero, 18 }, Package () { 0x000BFFFF, 1, Zero, 19 },
                Package () { 0x000BFFFF, 2, Zero, 16 }, Package () { 0x000BFFFF, 3, Zero, 17 },
                Package () { 0x000CFFFF, 0, Zero, 19 }, Package () { 0x000CFFFF, 1, Zero, 16 },
                Package () { 0x000CFFFF, 2, Zero, 17 }, Package () { 0x000CFFFF, 3, Zero, 18 },
                Package () { 0x000DFFFF, 0, Zero, 16 }, Package () { 0x000DFFFF, 1, Zero, 17 },
                Package () { 0x000DFFFF, 2, Zero, 18 }, Package () { 0x000DFFFF, 3, Zero, 19 },
                Package () { 0x000EFFFF, 0, Zero, 17 }, Package () { 0x000EFFFF, 1, Zero, 18 },
                Package () { 0x000EFFFF, 2, Zero, 19 }, Package () { 0x000EFFFF, 3, Zero, 16 },
                Package () { 0x000FFFFF, 0, Zero, 18 }, Package () { 0x000FFFFF, 1, Zero, 19 },
                Package () { 0x000FFFFF, 2, Zero, 16 }, Package () { 0x000FFFFF, 3, Zero, 17 },
                Package () { 0x0010FFFF, 0, Zero, 19 }, Package () { 0x0010FFFF, 1, Zero, 16 },
                Package () { 0x0010FFFF, 2, Zero, 17 }, Package () { 0x0010FFFF, 3, Zero, 18 },
                Package () { 0x0011FFFF, 0, Zero, 16 }, Package () { 0x0011FFFF, 1, Zero, 17 },
                Package () { 0x0011FFFF, 2, Zero, 18 }, Package () { 0x0011FFFF, 3, Zero, 19 },
                Package () { 0x0012FFFF, 0, Zero, 17 }, Package () { 0x0012FFFF, 1, Zero, 18 },
                Package () { 0x0012FFFF, 2, Zero, 19 }, Package () { 0x0012FFFF, 3, Zero, 16 },
                Package () { 0x0013FFFF, 0, Zero, 18 }, Package () { 0x0013FFFF, 1, Zero, 19 },
                Package () { 0x0013FFFF, 2, Zero, 16 }, Package () { 0x0013FFFF, 3, Zero, 17 },
                Package () { 0x0014FFFF, 0, Zero, 19 }, Package () { 0x0014FFFF, 1, Zero, 16 },
                Package () { 0x0014FFFF, 2, Zero, 17 }, Package () { 0x0014FFFF, 3, Zero, 18 },
                Package () { 0x0015FFFF, 0, Zero, 16 }, Package () { 0x0015FFFF, 1, Zero, 17 },
                Package () { 0x0015FFFF, 2, Zero, 18 }, Package () { 0x0015FFFF, 3, Zero, 19 },
                Package () { 0x0016FFFF, 0, Zero, 17 }, Package () { 0x0016FFFF, 1, Zero, 18 },
                Package () { 0x0016FFFF, 2, Zero, 19 }, Package () { 0x0016FFFF, 3, Zero, 16 },
                Package () { 0x0017FFFF, 0, Zero, 18 }, Package () { 0x0017FFFF, 1, Zero, 19 },
                Package () { 0x0017FFFF, 2, Zero, 16 }, Package () { 0x0017FFFF, 3, Zero, 17 },
                Package () { 0x0018FFFF, 0, Zero, 19 }, Package () { 0x0018FFFF, 1, Zero, 16 },
                Package () { 0x0018FFFF, 2, Zero, 17 }, Package () { 0x0018FFFF, 3, Zero, 18 },
                Package () { 0x0019FFFF, 0, Zero, 16 }, Package () { 0x0019FFFF, 1, Zero, 17 },
                Package () { 0x0019FFFF, 2, Zero, 18 }, Package () { 0x0019FFFF, 3, Zero, 19 },
                Package () { 0x001AFFFF, 0, Zero, 17 }, Package () { 0x001AFFFF, 1, Zero, 18 },
                Package () { 0x001AFFFF, 2, Zero, 19 }, Package () { 0x001AFFFF, 3, Zero, 16 },
                Package () { 0x001BFFFF, 0, Zero, 18 }, Package () { 0x001BFFFF, 1, Zero, 19 },
                Package () { 0x001BFFFF, 2, Zero, 16 }, Package () { 0x001BFFFF, 3, Zero, 17 },
                Package () { 0x001CFFFF, 0, Zero, 19 }, Package () { 0x001CFFFF, 1, Zero, 16 },
                Package () { 0x001CFFFF, 2, Zero, 17 }, Package () { 0x001CFFFF, 3, Zero, 18 },
                Package () { 0x001DFFFF, 0, Zero, 16 }, Package () { 0x001DFFFF, 1, Zero, 17 },
                Package () { 0x001DFFFF, 2, Zero, 18 }, Package () { 0x001DFFFF, 3, Zero, 19 },
                Package () { 0x001EFFFF, 0, Zero, 17 }, Package () { 0x001EFFFF, 1, Zero, 18 },
                Package () { 0x001EFFFF, 2, Zero, 19 }, Package () { 0x001EFFFF, 3, Zero, 16 },
                Package () { 0x001FFFFF, 0, Zero, 18 }, Package () { 0x001FFFFF, 1, Zero, 19 },
                Package () { 0x001FFFFF, 2, Zero, 16 }, Package () { 0x001FFFFF, 3, Zero, 17 }
            })

            // PIIX3 function 0: the ISA bridge and the legacy devices behind it.
            Device (ISA)
            {
                Name (_ADR, 0x00010000)

                Device (PIC)
                {
                    Name (_HID, EisaId ("PNP0000"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0020, 0x0020, 0x01, 0x02)
                        IO (Decode16, 0x00A0, 0x00A0, 0x01, 0x02)
                        IO (Decode16, 0x04D0, 0x04D0, 0x01, 0x02)
                        IRQNoFlags () {2}
                    })
                }

                Device (TMR)
                {
                    Name (_HID, EisaId ("PNP0100"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0040, 0x0040, 0x01, 0x04)
                        IRQNoFlags () {0}
                    })
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                        IRQNoFlags () {8}
                    })
                }

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
                        IRQNoFlags () {4}
                    })
                }

                Device (COM2)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, 0x02)
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x02F8, 0x02F8, 0x00, 0x08)
                        IRQNoFlags () {3}
                    })
                }

                // QEMU's fw_cfg (port interface only: selector + data).
                Device (FWCF)
                {
                    Name (_HID, "QEMU0002")
                    Name (_STA, 0x0B)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0510, 0x0510, 0x01, 0x02)
                    })
                }
            }
        }

        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400)
            })
        }
    }
}
