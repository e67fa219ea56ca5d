; SSE scalar moves, arithmetic, conversions and comparisons with memory operands (SDM Vol. 2: MOVSD, MOVSS,
; MOVHPD, MOVLPD, ADDSD, SUBSD, MULSD, DIVSD, SQRTSD, ADDSS, CVTSI2SD, CVTTSD2SI, UCOMISD, STMXCSR): IEEE results,
; MXCSR.PE set by the one inexact division and nothing else. The JIT runs these inline through the soft TLB.
; rbx = 2.5 after ((3 + 1.5) * 1.5 - 3) / 1.5; rcx = -7.0 (CVTSI2SD m64); rdx = 10.0 (CVTSI2SD m32);
; rsi = CF of UCOMISD 2.5 < 3.0 (ZF = PF = 0); rdi = MOVHPD's upper half back (3.0); r8 = MOVLPD's (2.5);
; r9 = SQRTSD 2.25 = 1.5; r10 = MXCSR (0x1F80 | PE); r11 = 1/3; r12 = 2 * pi (float32); r13 = CVTTSD2SI 1.5 = 1.
; EXPECT: rbx=0x4004000000000000 rcx=0xc01c000000000000 rdx=0x4024000000000000 rsi=0x1 rdi=0x4008000000000000 r8=0x4004000000000000 r9=0x3ff8000000000000 r10=0x1fa0 r11=0x3fd5555555555555 r12=0x40c90fdb r13=0x1
bits 64
org 0x10000
    mov esp, 0x80000
    mov rax, cr0
    and eax, ~4                   ; EM = 0
    or eax, 2                     ; MP = 1
    mov cr0, rax
    mov rax, cr4
    or eax, 0x600                 ; OSFXSR, OSXMMEXCPT
    mov cr4, rax
    mov rax, 0x4008000000000000   ; 3.0
    mov [0x20000], rax
    mov rax, 0x3ff8000000000000   ; 1.5
    mov [0x20008], rax
    mov rax, 0x4002000000000000   ; 2.25
    mov [0x20040], rax
    movsd xmm0, [0x20000]
    addsd xmm0, [0x20008]
    mulsd xmm0, [0x20008]
    subsd xmm0, [0x20000]
    divsd xmm0, [0x20008]
    movsd [0x20010], xmm0
    mov rbx, [0x20010]
    mov qword [0x20018], -7
    cvtsi2sd xmm1, qword [0x20018]
    movsd [0x20018], xmm1
    mov rcx, [0x20018]
    mov dword [0x20020], 10
    cvtsi2sd xmm2, dword [0x20020]
    movsd [0x20020], xmm2
    mov rdx, [0x20020]
    cvttsd2si r13, [0x20008]
    ucomisd xmm0, [0x20000]
    pushfq
    pop rsi
    and esi, 0x8d5
    movhpd xmm0, [0x20000]
    movhpd [0x20028], xmm0
    movlpd [0x20030], xmm0
    mov rdi, [0x20028]
    mov r8, [0x20030]
    sqrtsd xmm3, [0x20040]
    movsd [0x20048], xmm3
    mov r9, [0x20048]
    movsd xmm4, [0x20008]
    mov rax, 0x3ff0000000000000   ; 1.0
    mov [0x20058], rax
    movsd xmm4, [0x20058]
    divsd xmm4, [0x20000]         ; 1 / 3: inexact
    movsd [0x20058], xmm4
    mov r11, [0x20058]
    stmxcsr [0x20050]
    mov r10d, [0x20050]
    mov dword [0x20060], 0x40490fdb   ; pi as float32
    movss xmm5, [0x20060]
    addss xmm5, [0x20060]
    movss [0x20064], xmm5
    mov r12d, [0x20064]
    hlt
