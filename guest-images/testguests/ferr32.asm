; A Multiboot v1 kernel (ELF32) for the PC machine: the two ways an unmasked x87 exception is reported.
; SDM Vol. 1 8.7 and Vol. 3 2.5 (CR0.NE): with NE = 0 the error goes out on FERR#, which the PC turns into IRQ13
; (held until a write to port 0xF0), and the waiting instruction completes; with NE = 1 the waiting instruction
; raises #MF (vector 16) instead and no IRQ13 is seen.
; Prints "ok <check>" or "FAIL <check>" on COM1, then writes the failure count to isa-debug-exit (port 0xF4):
; a clean run ends with status 1.
%include "multiboot.inc"
bits 32
section .text
MULTIBOOT_HEADER
global _start
_start:
    mov esp, stack_top          ; ESP and the GDT are undefined at entry (Multiboot 3.2): use our own
    ; IDT: every vector to `unexpected`, #MF (16) and IRQ13 (0x28 + 5 after the remap below) to their handlers.
    FLAT_START unexpected
    mov ecx, 16
    mov eax, mf_handler
    call set_gate
    mov ecx, 0x2D
    mov eax, irq13_handler
    call set_gate
    ; 8259 pair: master at vectors 0x20, slave at 0x28, cascade on IRQ2; only IRQ2 and IRQ13 unmasked.
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xA1, al
    mov al, 0x01
    out 0x21, al
    out 0xA1, al
    mov al, 0xFB
    out 0x21, al
    mov al, 0xDF
    out 0xA1, al

    ; --- CR0.NE = 0: FERR# -> IRQ13, no #MF.
    mov eax, cr0
    and eax, ~((1 << 5) | (1 << 3) | (1 << 2))  ; NE, TS, EM off
    or eax, 1 << 1                              ; MP
    mov cr0, eax
    call divide_by_zero_pending
    sti
    fwait                       ; waiting instruction with an error pending: FERR#, then it completes
    mov ecx, 100000             ; IRQ13 arrives at an instruction boundary soon after
.spin1:
    cmp dword [irq13_count], 0
    jne .seen1
    dec ecx
    jnz .spin1
.seen1:
    cli
    mov esi, c_irq13
    cmp dword [irq13_count], 1
    call report
    mov esi, c_no_mf
    cmp dword [mf_count], 0
    call report

    ; --- CR0.NE = 1: #MF, no IRQ13.
    mov eax, cr0
    or eax, 1 << 5
    mov cr0, eax
    call divide_by_zero_pending
    sti
    fwait                       ; #MF (a fault: the handler clears the error and FWAIT runs again)
    mov ecx, 1000
.spin2:
    dec ecx
    jnz .spin2
    cli
    mov esi, c_mf
    cmp dword [mf_count], 1
    call report
    mov esi, c_no_irq13
    cmp dword [irq13_count], 1
    call report

    mov eax, [failures]
    out 0xF4, al
    hlt

; FNINIT, unmask the zero-divide exception and divide 1 by 0: FSW.ZE and FSW.ES are set, the error is pending.
divide_by_zero_pending:
    fninit
    fldcw [cw_ze_unmasked]
    fld1
    fldz
    fdivp st1, st0
    ret

DEFINE_SET_GATE

mf_handler:
    inc dword [mf_count]
    fnclex
    iret

irq13_handler:
    push eax
    inc dword [irq13_count]
    out 0xF0, al                ; release FERR# (IRQ13)
    fnclex
    mov al, 0x20                ; EOI to the slave, then the master
    out 0xA0, al
    out 0x20, al
    pop eax
    iret

unexpected:
    mov esi, c_unexpected
    call puts
    mov al, 0x7F
    out 0xF4, al
    hlt

; Flags from a CMP: prints "ok <ESI>" if equal, else "FAIL <ESI>" and counts the failure.
report:
    jne .fail
    push esi
    mov esi, s_ok
    call puts
    pop esi
    jmp .name
.fail:
    inc dword [failures]
    push esi
    mov esi, s_fail
    call puts
    pop esi
.name:
    call puts
    mov al, 10
    out dx, al
    ret

DEFINE_PUTS

section .data
FLAT_TABLES
cw_ze_unmasked: dw 0x037B       ; all exceptions masked except ZE (bit 2); 64-bit precision, round to nearest
s_ok: db "ok ", 0
s_fail: db "FAIL ", 0
c_irq13: db "ferr: NE=0 error raised IRQ13 once", 0
c_no_mf: db "ferr: NE=0 no #MF", 0
c_mf: db "ferr: NE=1 error raised #MF", 0
c_no_irq13: db "ferr: NE=1 no IRQ13", 0
c_unexpected: db "FAIL unexpected interrupt or exception", 10, 0

section .bss
align 8
idt: resb 256 * 8
failures: resd 1
mf_count: resd 1
irq13_count: resd 1
stack: resb 4096
stack_top:
