; QEMU's pc-testdev I/O memory window: 64 KiB at 0xFF000000 that reads back what was written, at any width, where
; kvm-unit-tests exercise instruction emulation on MMIO. Runs in 32-bit protected mode without paging (emu64 -bare
; -start-mode prot32): plain stores and loads of each width, read-modify-write instructions, XCHG, REP MOVSB and
; REP STOSD into the window and back, an access at its last bytes, and the byte past its end (unassigned: 0xFF).
; Prints "ok <name>" / "FAIL <name> ..." on COM1 and exits through isa-debug-exit with the failure count.
bits 32
org 0x10000
%define IOMEM 0xFF000000

    jmp start
%include "sys/lib32.inc"

start:
    mov esp, 0x80000

    mov dword [IOMEM + 0x100], 0x12345678
    mov eax, [IOMEM + 0x100]
    CHECK "dword store and load", 0x12345678
    movzx eax, byte [IOMEM + 0x102]
    CHECK "byte load of a dword store", 0x34
    mov word [IOMEM + 0x101], 0xABCD
    mov eax, [IOMEM + 0x100]
    CHECK "word store at an odd offset", 0x12ABCD78

    add dword [IOMEM + 0x100], 0x11111111
    mov eax, [IOMEM + 0x100]
    CHECK "add to memory", 0x23BCDE89
    mov eax, 0x55AA55AA
    xchg [IOMEM + 0x100], eax
    CHECK "xchg returns the old value", 0x23BCDE89
    mov eax, [IOMEM + 0x100]
    CHECK "xchg stores the new value", 0x55AA55AA

    ; REP MOVSB from RAM into the window and back out.
    mov esi, pattern
    mov edi, IOMEM + 0x2000
    mov ecx, pattern_end - pattern
    cld
    rep movsb
    mov esi, IOMEM + 0x2000
    mov edi, 0x40000
    mov ecx, pattern_end - pattern
    rep movsb
    mov eax, [0x40000 + 12]
    CHECK "rep movsb through the window", 0x706F6E6D   ; "mnop"

    mov edi, IOMEM + 0x3000
    mov eax, 0xC0FFEE00
    mov ecx, 16
    rep stosd
    mov eax, [IOMEM + 0x3000 + 15 * 4]
    CHECK "rep stosd into the window", 0xC0FFEE00

    mov dword [IOMEM + 0xFFFC], 0xDEADBEEF
    mov eax, [IOMEM + 0xFFFC]
    CHECK "last dword of the window", 0xDEADBEEF
    movzx eax, byte [IOMEM + 0x10000]
    CHECK "byte past the window is unassigned", 0xFF
    jmp finish

pattern: db "abcdefghijklmnopqrstuvwxyz"
pattern_end:
