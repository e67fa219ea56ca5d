; F3 0F BC (TZCNT) on a CPU whose CPUID does not advertise BMI1 (emu64's: CPUID.(EAX=7,ECX=0):EBX[3] = 0) runs as
; BSF with the prefix ignored (SDM Vol. 2 TZCNT: "on processors that do not support TZCNT, the instruction byte
; encoding is executed as BSF"): a zero source sets ZF and leaves the destination as it was (TZCNT would write the
; operand size, 32, and set CF), and a source of 1 gives 0 with ZF clear (TZCNT would set ZF for the zero result).
; EXPECT: rax=0x1234 rbx=1 rsi=0 rdi=0 r8=3
bits 64
org 0x10000
    mov eax, 0x1234
    xor ecx, ecx
    tzcnt eax, ecx              ; BSF: ZF = 1, EAX unchanged
    setz bl
    movzx ebx, bl
    mov edx, 1
    mov esi, 0x55
    tzcnt esi, edx              ; BSF: ESI = 0, ZF = 0
    setz dil
    movzx edi, dil
    mov word [0x20000], 8
    tzcnt r8w, [0x20000]        ; 16-bit memory form: 3
    movzx r8d, r8w
    hlt
