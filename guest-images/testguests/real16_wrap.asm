; Real mode at 1000:0000 with a segment's worth of code: sequential execution past IP = FFFF continues at IP = 0000 of
; the same segment (16-bit code: the instruction pointer is 16 bits), not at linear 0x20000. The first pass jumps to
; the NOP at FFFF; after it the second pass sees BX = 1 and halts with AX = 0x5A. Every other byte is HLT, so a
; wrong IP stops with another AX.
bits 16
org 0
    test bx, bx
    jnz .wrapped
    mov bx, 1
    jmp word 0xFFFF
.wrapped:
    mov ax, 0x5A
    hlt
    times 0xFFFF - ($ - $$) db 0xF4
    nop                         ; at FFFF: the next instruction is at 1000:0000
