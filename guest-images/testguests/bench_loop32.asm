; Benchmark workload for emu64 vs QEMU TCG: a Multiboot kernel that runs the loop64 body (add, imul,
; xor, ror, dec, jnz) in 32-bit registers ITERATIONS times (fixed when assembled), prints the checksum on
; COM1 and leaves through isa-debug-exit with value 1 (status 3), which both emulators implement at 0xF4.
%ifndef ITERATIONS
%define ITERATIONS 20000000
%endif
%include "multiboot.inc"
bits 32
section .text
MULTIBOOT_HEADER
global _start
_start:
    mov esp, stack_top
    mov ecx, ITERATIONS
    xor eax, eax
    mov edx, 1
.loop:
    add eax, edx
    imul edx, edx, 3
    xor edx, eax
    ror eax, 7
    dec ecx
    jnz .loop
    mov ebx, eax               ; print EBX as hex
    mov ecx, 8
    mov dx, 0x3F8
.digit:
    rol ebx, 4
    mov eax, ebx
    and eax, 15
    mov al, [hexdigits + eax]
    out dx, al
    loop .digit
    mov al, 10
    out dx, al
    mov al, 1
    out 0xF4, al
    hlt
section .data
hexdigits: db "0123456789abcdef"
section .bss
    resb 4096
stack_top:
