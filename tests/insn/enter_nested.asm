; ENTER 16, 3 in 64-bit mode (SDM Vol. 2 ENTER): pushes RBP, copies two frame pointers from the enclosing
; frame (RBP-8, RBP-16), pushes the new frame pointer, then RBP = frame pointer and RSP -= 16.
; Start: RSP = 0x80000, RBP = 0x90000, [0x8fff8] = 0xa, [0x8fff0] = 0xb.
; Frame pointer = 0x7fff8; copies at 0x7fff0 (0xa) and 0x7ffe8 (0xb); new frame pointer at 0x7ffe0.
; EXPECT: rbp=0x7fff8 rsp=0x7ffd0 rax=0xa rbx=0xb rcx=0x7fff8 rdx=0x90000
bits 64
org 0x10000
    mov esp, 0x80000
    mov ebp, 0x90000
    mov qword [0x8fff8], 0xa
    mov qword [0x8fff0], 0xb
    enter 16, 3
    mov rax, [0x7fff0]
    mov rbx, [0x7ffe8]
    mov rcx, [0x7ffe0]
    mov rdx, [0x7fff8]
    hlt
