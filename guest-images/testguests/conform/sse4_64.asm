; SSE4.1 and SSE4.2 (SDM Vol. 2, each instruction's page and 4.1 for the string compares): CPUID.1:ECX[19] and [20]
; as the model says; without the feature the instructions are #UD ("If CPUID.01H:ECX.SSE4_1[bit 19] = 0", SSE4_2
; [bit 20] for PCMPGTQ, PCMPxSTRx and CRC32); with it they compute what the manual says (each value below is worked
; by hand from the SDM), and MOVNTDQA needs a 16-byte aligned operand (#GP(0)).
; Run with -reg r14=1 when the CPU model advertises both (11 checks), -reg r14=0 when it advertises neither (5 checks).
; Bare runner, CPL 0.
bits 64
org 0x10000
%define CR4_OSFXSR (1 << 9)
%define CR4_OSXMMEXCPT (1 << 10)

%include "sys/guest64.inc"
    mov rax, cr0
    and rax, ~((1 << 2) | (1 << 3))  ; EM and TS clear: SSE usable
    or rax, 1 << 1                   ; MP
    mov cr0, rax
    mov rax, cr4
    or rax, CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, rax

    mov eax, 1
    cpuid
    mov eax, ecx
    shr eax, 19
    and eax, 3
    imul rbx, r14, 3
    CHECK "CPUID.1:ECX SSE4_1 and SSE4_2 as the model says", rbx

    movdqa xmm0, [rel needle]
    movdqa xmm1, [rel haystack]
    ARM .pcmpistri_done
    pcmpistri xmm0, xmm1, 0x0C       ; unsigned bytes, equal ordered: "lo" in "hello"
    pushfq
    pop rax
    and eax, 0x8C5                   ; OF SF ZF PF CF
    shl rcx, 16
    or rax, rcx
    mov [rel result], rax
.pcmpistri_done:
    mov rax, [rel last_vec]
    test r14, r14
    jnz with_feature
    CHECK "PCMPISTRI without SSE4.2 is UD", 6
    ARM .pmulld_done
    pmulld xmm0, xmm1
.pmulld_done:
    mov rax, [rel last_vec]
    CHECK "PMULLD without SSE4.1 is UD", 6
    ARM .crc_done
    crc32 eax, bl
.crc_done:
    mov rax, [rel last_vec]
    CHECK "CRC32 without SSE4.2 is UD", 6
    ARM .ptest_done
    ptest xmm0, xmm1
.ptest_done:
    mov rax, [rel last_vec]
    CHECK "PTEST without SSE4.1 is UD", 6
    call finish

with_feature:
    CHECK "PCMPISTRI runs", -1
    ; index 3 in ECX; CF (a match), ZF and SF (both strings end inside the vector), OF = 0 (no match at 0), PF = 0
    mov rax, [rel result]
    CHECK "PCMPISTRI equal ordered: ECX = 3, CF ZF SF", (3 << 16) | 0xC1

    mov eax, 2
    mov edx, 16
    movdqa xmm0, [rel range_az]
    movdqa xmm1, [rel haystack]
    pcmpestrm xmm0, xmm1, 0x44       ; unsigned bytes, ranges, byte mask: 'a'..'z' over 16 bytes of "hello"
    movq rax, xmm0
    CHECK "PCMPESTRM ranges with a byte mask: five letters, the rest NUL", 0x000000FFFFFFFFFF

    mov eax, 0xFFFFFFFF              ; CRC-32C of "123456789" is 0xE3069283 (the standard check value), ~ at both ends
    lea rsi, [rel digits]
    mov ecx, 9
.crc_loop:
    crc32 eax, byte [rsi]
    inc rsi
    loop .crc_loop
    not eax
    CHECK "CRC32 computes CRC-32C (check value of 123456789)", 0xE3069283

    movdqa xmm2, [rel ints]
    movdqa xmm3, [rel ints]
    pmulld xmm2, xmm3                ; {3, -5, 7, 0x10000} squared, low 32 bits
    movq rax, xmm2
    CHECK "PMULLD multiplies the dwords", (25 << 32) | 9
    pextrd eax, xmm2, 3
    CHECK "PEXTRD takes dword 3 (0x10000 squared wraps to 0)", 0

    movdqa xmm4, [rel ints]
    pcmpgtq xmm4, [rel zeros]        ; qword 0 = 0xFFFFFFFB00000003 (negative), qword 1 positive
    movq rax, xmm4
    pextrq rbx, xmm4, 1
    add rax, rbx
    CHECK "PCMPGTQ compares signed qwords", -1

    movsd xmm5, [rel two_and_half]
    roundsd xmm5, xmm5, 0            ; round to nearest even: 2.5 -> 2.0
    movq rax, xmm5
    CHECK "ROUNDSD to nearest even", 0x4000000000000000

    ARM .movntdqa_done
    movntdqa xmm6, [rel ints + 4]
.movntdqa_done:
    mov rax, [rel last_vec]
    shl rax, 8
    or rax, [rel last_err]
    CHECK "MOVNTDQA of a misaligned operand is GP(0)", 13 << 8
    movntdqa xmm6, [rel ints]
    pextrd eax, xmm6, 2
    CHECK "MOVNTDQA loads 16 bytes", 7
    call finish

align 16
needle: db "lo", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
haystack: db "hello", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
range_az: db "az", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
ints: dd 3, -5, 7, 0x10000
zeros: dq 0, 0
two_and_half: dq 0x4004000000000000
digits: db "123456789"
align 8
result: dq 0
