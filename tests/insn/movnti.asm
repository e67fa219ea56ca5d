; MOVNTI m32/m64, r32/r64 (0F C3, SSE2, which CPUID advertises): a store with a non-temporal hint, so the bytes
; land as MOV's would (SDM Vol. 2 MOVNTI). It used to raise #UD.
; EXPECT: rbx=0x1122334455667788 rdx=0xaabbccdd rsi=0x5566778899aabbcc
bits 64
org 0x10000
    mov rax, 0x1122334455667788
    movnti [0x20000], rax
    mov ecx, 0xAABBCCDD
    movnti [0x20008], ecx
    mov rax, 0x5566778899AABBCC
    mov edi, 0x20010
    movnti [rdi], rax
    mov rbx, [0x20000]
    mov edx, [0x20008]
    mov rsi, [0x20010]
    hlt
