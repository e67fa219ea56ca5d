; Leaves through isa-debug-exit: writing v to port 0xF4 ends emu64 with status (v << 1) | 1.
bits 64
org 0x10000
    mov al, 0x21
    out 0xF4, al
    hlt                 ; not reached
