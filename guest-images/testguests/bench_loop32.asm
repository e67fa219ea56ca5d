; Benchmark guest of tools/bench/loop-vs-qemu: a Multiboot kernel that runs the ALU loop of bench_loop.inc N times,
; N being the last number on its command line (-append N), prints "checksum XXXXXXXX" on COM1 and leaves through
; isa-debug-exit with value 1 (status 3), which both emu64 and QEMU (-device isa-debug-exit,iobase=0xf4) implement.
%include "multiboot.inc"
%include "bench_loop.inc"
bits 32
section .text
MULTIBOOT_HEADER
global _start
_start:
    mov esp, stack_top          ; ESP is undefined at entry
    mov esi, empty
    test byte [ebx], 4          ; multiboot_info.flags bit 2: cmdline is valid
    jz .parse
    mov esi, [ebx + 16]
.parse:
    BENCH_LOOP_PARSE_ITERATIONS esi
    BENCH_LOOP
    mov edi, digits
    BENCH_LOOP_HEX32 edi
    mov esi, message
    call puts
    mov al, 1
    out 0xF4, al
    hlt

DEFINE_PUTS

section .data
empty: db 0
message: db "checksum "
digits: db "00000000", 10, 0
section .bss
    resb 4096
stack_top:
