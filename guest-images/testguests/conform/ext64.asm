; Instructions of CPUID extensions are decoded by the model's CPUID (issue #17 point 7): each one below runs and gives
; the value the SDM states when CPUID advertises its extension, and is #UD when it does not (SDM Vol. 2, each page's
; "#UD If CPUID...[bit] = 0"); LZCNT without ABM runs as BSR instead (SDM LZCNT). The extensions, as the bits of
; -reg r14 (the features the model advertises; the guest first checks CPUID agrees):
;   0 SSE3 (1:ECX[0]) MOVDDUP, FISTTP    1 SSSE3 (1:ECX[9]) PABSD, PALIGNR    2 CX16 (1:ECX[13]) CMPXCHG16B
;   3 MOVBE (1:ECX[22])   4 POPCNT (1:ECX[23])   5 ADX (7:EBX[19]) ADCX, ADOX   6 RDPID (7:ECX[22])
;   7 LAHF-SAHF in 64-bit mode (80000001:ECX[0])   8 ABM (80000001:ECX[5]) LZCNT   9 RDTSCP (80000001:EDX[27])
; 15 checks whatever the model. Bare runner, CPL 0.
bits 64
org 0x10000
%define UD_MARK 0xDEAD0006           ; what a result reads as when the instruction raised #UD

%include "sys/guest64.inc"
    mov rax, cr0
    and rax, ~((1 << 2) | (1 << 3))  ; EM and TS clear: SSE and x87 usable
    or rax, (1 << 1) | (1 << 5)      ; MP, NE
    mov cr0, rax
    mov rax, cr4
    or rax, (1 << 9) | (1 << 10)     ; OSFXSR, OSXMMEXCPT
    mov cr4, rax
    fninit

    ; CPUID -> the r14 layout.
    xor r15d, r15d
    mov eax, 1
    cpuid
%macro TAKE 3                        ; register, CPUID bit, r14 bit
    bt %1, %2
    jnc %%no
    bts r15, %3
%%no:
%endmacro
    TAKE ecx, 0, 0
    TAKE ecx, 9, 1
    TAKE ecx, 13, 2
    TAKE ecx, 22, 3
    TAKE ecx, 23, 4
    mov eax, 7
    xor ecx, ecx
    cpuid
    TAKE ebx, 19, 5
    TAKE ecx, 22, 6
    mov eax, 0x80000001
    cpuid
    TAKE ecx, 0, 7
    TAKE ecx, 5, 8
    TAKE edx, 27, 9
    mov rax, r15
    CHECK "CPUID advertises the extensions the model has", r14

; RUN label: arms a #UD catch that resumes at label with rax = UD_MARK.
%macro RUN 1
    ARM %%ud
    jmp %%go
%%ud:
    mov eax, UD_MARK
    jmp %1
%%go:
%endmacro
; EXPECT name, bit, value: checks rax against value when r14 has the bit, else against UD_MARK.
%macro EXPECT 3
    mov rbx, UD_MARK
    mov rcx, %3
    bt r14, %2
    cmovc rbx, rcx
    push rax
    mov rax, rbx
    mov [rel expected], rax
    pop rax
    CHECK %1, [rel expected]
%endmacro

    RUN .movddup
    movq xmm1, [rel q_pattern]
    movddup xmm0, xmm1
    movhlps xmm2, xmm0
    movq rax, xmm2
.movddup:
    EXPECT "MOVDDUP (SSE3) copies the low qword up", 0, 0x0123456789ABCDEF
    RUN .fisttp
    fld qword [rel d_2_75]
    fisttp dword [rel dword_out]
    mov eax, [rel dword_out]
.fisttp:
    EXPECT "FISTTP (SSE3) truncates 2.75 to 2", 0, 2
    RUN .pabsd
    movd xmm1, [rel d_minus5]
    pabsd xmm0, xmm1
    movd eax, xmm0
.pabsd:
    EXPECT "PABSD (SSSE3) of -5 is 5", 1, 5
    RUN .palignr
    movq xmm0, [rel q_pattern]
    movq xmm1, [rel q_pattern]
    palignr xmm0, xmm1, 1            ; bytes 1.. of xmm1:xmm0's 32-byte concatenation (xmm1 low)
    movq rax, xmm0
.palignr:
    EXPECT "PALIGNR (SSSE3) by 1 byte", 1, 0x000123456789ABCD
    RUN .cx16
    mov rax, [rel o_word]
    mov rdx, [rel o_word + 8]
    mov rbx, 0x1111
    mov rcx, 0x2222
    cmpxchg16b [rel o_word]
    mov rax, [rel o_word + 8]
    shl rax, 16
    or rax, [rel o_word]
.cx16:
    EXPECT "CMPXCHG16B (CX16) stores RCX:RBX on a match", 2, 0x22221111
    RUN .movbe
    movbe eax, [rel d_be]
.movbe:
    EXPECT "MOVBE reverses the bytes", 3, 0x44332211
    RUN .popcnt
    mov ebx, 0xF0F1
    popcnt eax, ebx
.popcnt:
    EXPECT "POPCNT of 0xF0F1 is 9", 4, 9
    RUN .adcx
    mov eax, 1
    mov ebx, 2
    stc
    adcx eax, ebx
.adcx:
    EXPECT "ADCX (ADX) adds CF", 5, 4
    RUN .adox
    mov eax, 0x7FFFFFFF
    add eax, 1                       ; OF = 1
    mov eax, 5
    mov ebx, 6
    adox eax, ebx
.adox:
    EXPECT "ADOX (ADX) adds OF", 5, 12
    RUN .rdpid
    xor eax, eax
    rdpid rax                        ; IA32_TSC_AUX: 0 after reset
    or rax, 0x900
.rdpid:
    EXPECT "RDPID (RDPID) reads TSC_AUX", 6, 0x900
    RUN .lahf
    xor eax, eax
    stc
    lahf
    movzx eax, ah
    and eax, 1
.lahf:
    EXPECT "LAHF in 64-bit mode (LAHF-SAHF) loads CF", 7, 1
    RUN .sahf
    mov ah, 0x40                     ; ZF
    sahf
    setz al
    movzx eax, al
.sahf:
    EXPECT "SAHF in 64-bit mode (LAHF-SAHF) stores ZF", 7, 1
    RUN .rdtscp
    mov ecx, 0x77
    rdtscp
    mov eax, ecx                     ; IA32_TSC_AUX: 0 after reset
    or eax, 0x900
.rdtscp:
    EXPECT "RDTSCP (RDTSCP) loads ECX = TSC_AUX", 9, 0x900

    ; LZCNT: 31 for 1 with ABM; without it F3 0F BD runs as BSR, the index of the highest set bit (0).
    mov ebx, 1
    lzcnt eax, ebx
    mov ecx, 31
    xor edx, edx
    bt r14, 8
    cmovc edx, ecx
    mov [rel expected], rdx
    CHECK "LZCNT of 1: 31 with ABM, BSR's 0 without", [rel expected]
    call finish

align 16
o_word: dq 0x0000AAAA, 0x0000BBBB
q_pattern: dq 0x0123456789ABCDEF
d_2_75: dq 2.75
d_minus5: dd -5
d_be: dd 0x11223344
dword_out: dd 0
align 8
expected: dq 0
