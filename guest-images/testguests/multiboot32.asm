; A Multiboot v1 kernel (ELF32): checks the boot magic, prints the command line and the first line of the
; module (the -initrd) from the multiboot_info structure, reports mem_upper, and leaves via isa-debug-exit.
; Exit value 0x10 (status 33) on success, 0x7F (status 255) if EAX did not hold the boot magic.
%include "multiboot.inc"
bits 32
section .text
MULTIBOOT_HEADER
global _start
_start:
    mov esp, stack_top          ; ESP is undefined at entry (spec 3.2): use our own stack
    cmp eax, 0x2BADB002
    jne bad
    mov ebp, ebx                ; multiboot_info
    mov esi, s_cmdline
    call puts
    mov esi, [ebp + 16]         ; cmdline (flag bit 2)
    call puts
    call newline
    mov esi, s_module
    call puts
    cmp dword [ebp + 20], 1     ; mods_count
    jne .no_module
    mov eax, [ebp + 24]         ; mods_addr
    mov esi, [eax]              ; mod_start
    call putline
.no_module:
    call newline
    mov esi, s_upper
    call puts
    mov eax, [ebp + 8]          ; mem_upper in KiB
    call puthex
    call newline
    mov al, 0x10
    out 0xF4, al
bad:
    mov al, 0x7F
    out 0xF4, al
    hlt

DEFINE_PUTS

putline:                        ; up to the first newline or NUL at ESI
    mov dx, 0x3F8
.next:
    lodsb
    cmp al, 10
    je .done
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    ret

newline:
    mov dx, 0x3F8
    mov al, 10
    out dx, al
    ret

puthex:                         ; EAX as 8 hex digits
    mov ecx, 8
    mov dx, 0x3F8
.digit:
    rol eax, 4
    mov ebx, eax
    and ebx, 15
    push eax
    mov al, [hexdigits + ebx]
    out dx, al
    pop eax
    loop .digit
    ret

section .data
s_cmdline: db "cmdline=", 0
s_module: db "module=", 0
s_upper: db "mem_upper=", 0
hexdigits: db "0123456789abcdef"

section .bss
align 16
    resb 4096
stack_top:
