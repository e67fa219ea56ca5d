; x2APIC (SDM Vol. 3 11.12), a Multiboot kernel for the PC machine. With "-append 1" (the model advertises x2apic,
; CPUID.1:ECX[21]) it checks: the x2APIC MSRs #GP in xAPIC mode; IA32_APIC_BASE.EXTD switches to x2APIC mode, where
; the registers are MSRs 0x800 + offset/16 and the MMIO window is gone; the 32-bit ID and the LDR derived from it;
; a self-IPI through SELF IPI (0x83F) and through the 64-bit ICR (0x830) with a physical and a broadcast 32-bit
; destination, EOI by MSR; #GP for a write-only register read, read-only register writes, reserved bits, the absent
; DFR; the illegal IA32_APIC_BASE transitions (x2APIC -> xAPIC, disabled -> x2APIC, EXTD without EN) and the legal
; ones back to xAPIC through disabled. With "-append 0" EXTD is reserved: setting it is #GP.
%include "multiboot.inc"
%define APIC 0xFEE00000
%define APIC_BASE_MSR 0x1B
%define EN (1 << 11)
%define EXTD (1 << 10)
%define VECTOR 0x40
MULTIBOOT_ENTRY
    jmp start
%include "sys/lib32.inc"
%include "conform/feature32.inc"

start:
    FEATURE_START VECTOR, ipi_handler

    CHECK_CPUID1_ECX 21, "CPUID.1:ECX.x2APIC as the model says"

    GP_RDMSR 0x803
    CHECK "x2APIC MSR in xAPIC mode: GP", 1
    GP_WRMSR APIC_BASE_MSR, 0, APIC | EN | EXTD | (1 << 8)
    mov ebx, 1
    sub ebx, [expected]
    CHECK "EXTD: x2APIC mode when advertised, else GP", ebx
    cmp dword [expected], 0
    je finish

    mov ecx, 0x803
    rdmsr
    CHECK "version by MSR 0x803", 0x50014
    mov ecx, 0x802
    rdmsr
    CHECK "32-bit x2APIC ID 0", 0
    mov ecx, 0x80D
    rdmsr
    CHECK "LDR derived from the ID: cluster 0, bit 0", 1
    mov eax, [APIC + 0x30]
    CHECK "the MMIO window is not decoded in x2APIC mode", 0xFFFFFFFF

    WRMSR3 0x80F, 0, 0x1FF          ; SVR: software-enabled, spurious 0xFF
    WRMSR3 0x808, 0, 0              ; TPR 0
    cli
    WRMSR3 0x83F, 0, VECTOR         ; SELF IPI
    sti
    nop
    cli
    mov eax, [count]
    CHECK "self-IPI through SELF IPI (0x83F)", 1
    WRMSR3 0x830, 0, VECTOR         ; ICR: fixed, physical destination 0 in bits 63:32
    sti
    nop
    cli
    mov eax, [count]
    CHECK "IPI through the 64-bit ICR to ID 0", 2
    mov ecx, 0x830
    rdmsr
    CHECK "ICR reads back as one register (low half)", VECTOR
    WRMSR3 0x830, 0xFFFFFFFF, VECTOR    ; broadcast: destination 0xFFFFFFFF
    sti
    nop
    cli
    mov eax, [count]
    CHECK "IPI to the 32-bit broadcast destination", 3
    mov ecx, 0x830
    rdmsr
    mov eax, edx
    CHECK "ICR reads back as one register (destination)", 0xFFFFFFFF
    WRMSR3 0x830, 5, VECTOR         ; an ID that does not exist: nobody takes it
    sti
    nop
    cli
    mov eax, [count]
    CHECK "IPI to x2APIC ID 5: not delivered", 3

    GP_RDMSR 0x83F
    CHECK "SELF IPI is write-only: GP", 1
    GP_WRMSR 0x80B, 0, 1
    CHECK "EOI with a non-zero value: GP", 1
    GP_WRMSR 0x80D, 0, 2
    CHECK "LDR is read-only: GP", 1
    GP_WRMSR 0x802, 0, 0
    CHECK "ID is read-only: GP", 1
    GP_RDMSR 0x80E
    CHECK "no DFR in x2APIC mode: GP", 1
    GP_WRMSR 0x808, 1, 0
    CHECK "TPR with bits 63:32 set: GP", 1
    GP_RDMSR 0x831
    CHECK "no ICR high half in x2APIC mode: GP", 1

    GP_WRMSR APIC_BASE_MSR, 0, APIC | EN
    CHECK "x2APIC -> xAPIC: GP", 1
    GP_WRMSR APIC_BASE_MSR, 0, APIC | EXTD
    CHECK "EXTD without EN: GP", 1
    mov ecx, APIC_BASE_MSR
    rdmsr
    and eax, EN | EXTD
    CHECK "still in x2APIC mode after the refused writes", EN | EXTD
    GP_WRMSR APIC_BASE_MSR, 0, APIC
    CHECK "x2APIC -> disabled: allowed", 0
    GP_WRMSR APIC_BASE_MSR, 0, APIC | EN | EXTD
    CHECK "disabled -> x2APIC: GP", 1
    GP_WRMSR APIC_BASE_MSR, 0, APIC | EN
    CHECK "disabled -> xAPIC: allowed", 0
    mov eax, [APIC + 0x30]
    CHECK "the MMIO window is back in xAPIC mode", 0x50014
    GP_RDMSR 0x803
    CHECK "x2APIC MSRs GP again in xAPIC mode", 1
    jmp finish

ipi_handler:
    push eax
    push ecx
    push edx
    inc dword [count]
    xor eax, eax
    xor edx, edx
    mov ecx, 0x80B
    wrmsr                           ; EOI
    pop edx
    pop ecx
    pop eax
    iretd

FLAT_END
alignb 4
count: resd 1
expected: resd 1
gp_count: resd 1
