; FS and GS overrides in 64-bit mode add the base from IA32_FS_BASE / IA32_GS_BASE (SDM Vol. 3 3.4.4), while
; a DS override is ignored (base 0).
; EXPECT: rax=0x1111 rbx=0x2222 rcx=0x3333
bits 64
org 0x10000
    mov word [0x30010], 0x1111
    mov word [0x40010], 0x2222
    mov word [0x00010 + 0x50000], 0x3333
    mov ecx, 0xC0000100         ; IA32_FS_BASE
    mov eax, 0x30000
    xor edx, edx
    wrmsr
    mov ecx, 0xC0000101         ; IA32_GS_BASE
    mov eax, 0x40000
    wrmsr
    movzx eax, word [fs:0x10]
    movzx ebx, word [gs:0x10]
    mov rdx, 0x50000
    db 0x3e                     ; DS override prefix (nasm drops an explicit ds: in 64-bit code)
    movzx ecx, word [rdx + 0x10]
    hlt
