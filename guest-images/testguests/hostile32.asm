; A hostile Multiboot kernel for the PC machine (issue #16, tests/boot/hostile_test.py). With a fixed xorshift seed,
; so that every run and both backends see the same values, it
;   1. writes random values of random sizes to every I/O port (and reads some), except those that end or reset the
;      machine (0x64, 0x92, 0xCF9 and the PCI ports, 0xF4, the ACPI PM block, 0x8900) and COM1, which it reports on;
;   2. writes and reads random values at random addresses: the PCI hole, the I/O APIC and the HPET, and unbacked
;      memory above -m;
;   3. loads random bytes as its GDT and IDT (random bases and limits), then jumps into random bytes.
; Step 3 ends in a triple fault (every exception finds a garbage IDT): the machine resets, which ends the run with
; -no-reboot, and without it boots the kernel again and again until -timeout or -max-insns.
%include "multiboot.inc"
MULTIBOOT_ENTRY
    mov esp, stack_top
    mov dword [seed], 0x2545F491
    mov esi, msg_start
    call puts

    ; ---- 1. every I/O port
    xor ebx, ebx                ; the port
.port:
    mov eax, ebx
    mov ecx, skip_ranges
.skip_check:                    ; skip when [port, port + 3] meets a range [lo, hi]
    movzx edx, word [ecx]
    cmp edx, 0xFFFF
    je .do_port
    add eax, 3
    cmp eax, edx                ; port + 3 < lo: not this range
    lea eax, [eax - 3]
    jb .skip_next
    movzx edx, word [ecx + 2]
    cmp eax, edx
    jbe .next_port              ; port <= hi: overlaps
.skip_next:
    add ecx, 4
    jmp .skip_check
.do_port:
    call rand
    mov dx, bx
    mov ecx, eax
    shr ecx, 24
    and ecx, 3
    jz .out8
    dec ecx
    jz .out16
    dec ecx
    jz .out32
    in eax, dx                  ; a read of the port's width 4
    jmp .next_port
.out8:
    out dx, al
    jmp .next_port
.out16:
    out dx, ax
    jmp .next_port
.out32:
    out dx, eax
.next_port:
    inc ebx
    cmp ebx, 0x10000
    jb .port
    mov esi, msg_ports
    call puts

    ; ---- 2. random MMIO: 4,096 accesses in the windows below
    mov ebx, 4096
.mmio:
    call rand
    mov edi, eax
    and edi, 0x1FFFFC           ; a dword inside a 2 MiB window
    mov ecx, eax
    shr ecx, 28                 ; which window
    and ecx, 3
    or edi, [mmio_windows + 4 * ecx]
    call rand
    test ebx, 1
    jz .mmio_read
    mov [edi], eax
    jmp .mmio_next
.mmio_read:
    mov eax, [edi]
.mmio_next:
    dec ebx
    jnz .mmio
    mov esi, msg_mmio
    call puts

    ; ---- 3. random tables, then garbage
    mov edi, garbage
    mov ecx, garbage_end - garbage
.fill:
    call rand
    mov [edi], al
    inc edi
    dec ecx
    jnz .fill
    mov esi, msg_garbage
    call puts
    lgdt [garbage]              ; limit and base from the random bytes
    lidt [garbage + 8]
    jmp garbage + 16

; xorshift32 (Marsaglia): EAX = the next value; clobbers EDX.
rand:
    mov eax, [seed]
    mov edx, eax
    shl edx, 13
    xor eax, edx
    mov edx, eax
    shr edx, 17
    xor eax, edx
    mov edx, eax
    shl edx, 5
    xor eax, edx
    mov [seed], eax
    ret

DEFINE_PUTS

section .data
; Ports left alone, as [lo, hi] pairs, ending with 0xFFFF.
skip_ranges:
    dw 0x0064, 0x0064           ; i8042 commands (0xFE pulses reset, 0xD1 writes the reset line)
    dw 0x0060, 0x0060           ; i8042 data (the output port after a 0xD1)
    dw 0x0092, 0x0092           ; system control port A (fast reset)
    dw 0x00F4, 0x00F4           ; isa-debug-exit
    dw 0x0600, 0x063F           ; ACPI PM (S5 power-off)
    dw 0x03F8, 0x03FF           ; COM1: the report
    dw 0x0CF8, 0x0CFF           ; PCI configuration (and 0xCF9, the reset control register)
    dw 0x8900, 0x8900           ; Bochs shutdown
    dw 0xFFFF, 0xFFFF
mmio_windows:
    dd 0xC0000000               ; the PCI hole (BARs live here)
    dd 0xFEC00000               ; I/O APIC, HPET (0xFED00000); the local APIC above is left alone (an INIT IPI)
    dd 0x08000000               ; above a 64 MiB guest's RAM: nothing there
    dd 0xF0000000               ; the top of the PCI hole
msg_start: db "hostile: start", 10, 0
msg_ports: db "hostile: ports done", 10, 0
msg_mmio: db "hostile: mmio done", 10, 0
msg_garbage: db "hostile: into garbage", 10, 0

section .bss
seed: resd 1
garbage: resb 256
garbage_end:
alignb 16
    resb 4096
stack_top:
