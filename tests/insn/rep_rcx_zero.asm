; REP with RCX = 0 does nothing: no byte moves, RSI/RDI/RCX unchanged, and REPE CMPSB leaves the flags as
; they were (SDM Vol. 2 REP/REPE: "the count register is checked before the first iteration"). Had CMPSB
; compared 0x11 with 0x22 once, ZF would be 0 and SF 1; the flags must still be XOR's ZF=1 PF=1 plus STC's CF=1.
; EXPECT: rcx=0 rsi=0x20000 rdi=0x20100 rax=0x11 rbx=0x45
bits 64
org 0x10000
    mov byte [0x20000], 0x11
    mov byte [0x20100], 0x22
    mov esi, 0x20000
    mov edi, 0x20100
    xor ecx, ecx
    stc                         ; now CF=1 ZF=1 PF=1 SF=0
    rep movsb
    repe cmpsb
    lahf                        ; AH = SF ZF 0 AF 0 PF 1 CF
    movzx ebx, ah
    and ebx, 0xC5               ; SF ZF PF CF (XOR leaves AF undefined)
    mov al, [0x20000]
    movzx eax, al
    hlt
