; A Multiboot v1 kernel (ELF32) for the PC machine: where an interrupt that is pending while RFLAGS.IF = 0 is taken
; once an instruction opens the window (SDM Vol. 3 6.8.3 and the STI, POPF and IRET pages of Vol. 2):
;   STI: after the instruction that follows STI (the interrupt shadow), so `sti; nop; cli` takes it at the CLI;
;   POPF: right after the POPF that sets IF; IRET: at the IRET's target, before its first instruction.
; The pending interrupt is a self-IPI (vector 0x40) through the local APIC's ICR, sent with IF = 0; its handler
; records the saved EIP. Each case runs in the middle of straight-line code, so a translator that looks at interrupts
; only where a block starts takes it too late. Prints "ok <check>" / "FAIL <check> got .. want .." on COM1 and exits
; through isa-debug-exit with the failure count (a clean run ends with status 1).
%include "multiboot.inc"
%define APIC 0xFEE00000
%define VECTOR 0x40
bits 32
section .text
MULTIBOOT_HEADER
global _start
_start:
    jmp start
%include "sys/lib32.inc"
start:
    mov esp, stack_top
    FLAT_START unexpected
    mov ecx, VECTOR
    mov eax, ipi_handler
    call set_gate
    mov al, 0xFF                ; both 8259s masked: only the APIC's self-IPIs arrive
    out 0x21, al
    out 0xA1, al
    mov dword [APIC + 0xF0], 0x1FF      ; SVR: APIC software-enabled, spurious vector 0xFF
    mov dword [APIC + 0x80], 0          ; TPR 0: every vector may be delivered

    ; STI: taken after the NOP that follows it.
    cli
    call send_ipi
    sti
    nop
.sti_after_nop:
    cli
    mov eax, [count]
    CHECK "sti: one interrupt", 1
    mov eax, [last_eip]
    CHECK "sti: taken after the next instruction", .sti_after_nop

    ; STI then a longer run: still at the first boundary after the shadow, not at the end of the run.
    cli
    call send_ipi
    sti
    add eax, 1
.sti_after_add:
    add eax, 2
    add eax, 3
    cli
    mov eax, [last_eip]
    CHECK "sti: taken before the rest of the block", .sti_after_add

    ; POPF that sets IF: taken right after it.
    cli
    call send_ipi
    pushfd
    or dword [esp], 0x200
    popfd
.after_popf:
    nop
    cli
    mov eax, [last_eip]
    CHECK "popf: taken right after it", .after_popf

    ; IRET to a frame with IF = 1: taken at the target.
    cli
    call send_ipi
    pushfd
    or dword [esp], 0x200
    push dword 0x08
    push dword .iret_target
    iretd
.iret_target:
    nop
    cli
    mov eax, [last_eip]
    CHECK "iret: taken at the target", .iret_target

    mov eax, [count]
    CHECK "four interrupts in all", 4
    jmp finish

; A fixed self-IPI (ICR shorthand 01): pending until IF allows it.
send_ipi:
    mov dword [APIC + 0x300], (1 << 18) | (1 << 14) | VECTOR
    ret

ipi_handler:
    push eax
    mov eax, [esp + 4]
    mov [last_eip], eax
    inc dword [count]
    mov dword [APIC + 0xB0], 0  ; EOI
    pop eax
    iretd

FLAT_END
alignb 4
count: resd 1
last_eip: resd 1
