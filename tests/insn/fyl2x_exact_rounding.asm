; FYL2X with x a power of two: log2(x) is an integer, so y * log2(x) is exact when representable, and every rounding
; mode must return it unchanged (SDM Vol. 1 4.8.4: a representable result is not rounded). Round-up and round-down
; used to give one ulp more or less. Checked: y = 1.99999... (all 64 significand bits set) times log2(4) = 2 under
; round up (RAX/RBX: significand, sign+exponent) and round down (RCX/RDX), and 3 * log2(64) = 18 under round up (RSI/RDI).
; EXPECT: rax=0xffffffffffffffff rbx=0x4000 rcx=0xffffffffffffffff rdx=0x4000 rsi=0x9000000000000000 rdi=0x4003
bits 64
org 0x10000
    fninit
    fldcw [rel cw_up]
    fld tword [rel y_max]
    fld tword [rel four]
    fyl2x
    fstp tword [0x20000]
    fldcw [rel cw_down]
    fld tword [rel y_max]
    fld tword [rel four]
    fyl2x
    fstp tword [0x20010]
    fldcw [rel cw_up]
    fld tword [rel three]
    fld tword [rel sixty_four]
    fyl2x
    fstp tword [0x20020]
    mov rax, [0x20000]
    movzx ebx, word [0x20008]
    mov rcx, [0x20010]
    movzx edx, word [0x20018]
    mov rsi, [0x20020]
    movzx edi, word [0x20028]
    hlt
cw_up: dw 0x0B7F                ; all exceptions masked, 64-bit precision, RC = 10b (up)
cw_down: dw 0x077F              ; RC = 01b (down)
y_max: dq 0xFFFFFFFFFFFFFFFF
       dw 0x3FFF
four: dq 0x8000000000000000
      dw 0x4001
three: dq 0xC000000000000000
       dw 0x4000
sixty_four: dq 0x8000000000000000
            dw 0x4005
