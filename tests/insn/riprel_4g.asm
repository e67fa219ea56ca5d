; RIP-relative addressing near the 4 GiB boundary: in 64-bit mode the effective address is RIP + disp32
; computed in 64 bits, so code just below 4 GiB reaches data just above it (SDM Vol. 2 2.2.1.6).
; ARGS: -load-addr 0xfffff000 -map 0xfffff000:0x2000
; EXPECT: rax=0x100000000 rbx=0x5a5a5a5a
bits 64
org 0xfffff000
    lea rax, [rel above]
    mov ebx, [rel above]
    hlt
    times 0x1000 - ($ - $$) db 0xcc
above: dd 0x5a5a5a5a
