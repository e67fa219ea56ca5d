; A loop-heavy guest for measuring interpreter speed: RCX iterations (default 10,000,000) of a small body
; of ALU work, then HLT. RAX ends as a checksum that a test can recompute.
bits 64
org 0x10000
    test rcx, rcx
    jnz .go
    mov ecx, 10000000
.go:
    xor eax, eax
    mov edx, 1
.loop:
    add rax, rdx
    imul rdx, rdx, 3
    xor rdx, rax
    ror rax, 7
    dec rcx
    jnz .loop
    hlt
