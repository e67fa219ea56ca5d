; Prints a greeting on COM1 and halts (the bare runner stops at the first HLT).
; Loaded by `emu64 -bare` at 0x10000 in 64-bit mode, CPL 0.
bits 64
org 0x10000
    lea rsi, [rel message]
    mov ecx, message_len
    mov dx, 0x3F8
.next:
    lodsb
    out dx, al
    loop .next
    hlt
message: db "Hello from emu64: 64-bit guest code running on the IR interpreter.", 10
message_len equ $ - message
