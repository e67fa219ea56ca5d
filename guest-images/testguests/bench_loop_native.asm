; The native twin of bench_loop32.asm for tools/bench/loop-vs-qemu: a static x86-64 Linux program that runs the
; same ALU loop (bench_loop.inc) N times on the host, N from argv[1], and prints "checksum XXXXXXXX" on stdout.
; Its time is the physical limit the emulators are compared with, and its checksum is the one they must print.
%include "bench_loop.inc"
bits 64
section .text
global _start
_start:
    lea rsi, [rel empty]
    cmp qword [rsp], 2          ; argc
    jb .parse
    mov rsi, [rsp + 16]         ; argv[1]
.parse:
    BENCH_LOOP_PARSE_ITERATIONS rsi
    BENCH_LOOP
    lea rdi, [rel digits]
    BENCH_LOOP_HEX32 rdi
    mov eax, 1                  ; write(1, message, length)
    mov edi, 1
    lea rsi, [rel message]
    mov edx, message_end - message
    syscall
    mov eax, 60                 ; exit(0)
    xor edi, edi
    syscall

section .data
empty: db 0
message: db "checksum "
digits: db "00000000", 10
message_end:
