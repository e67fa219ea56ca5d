; Started at CPL 3: records CS and SS (which must be the Linux user selectors 0x33 and 0x2B) and halts.
; HLT at CPL 3 faults architecturally (#GP); the bare runner treats the first HLT from any ring as the end.
bits 64
org 0x10000
    mov ax, cs
    movzx ebx, ax
    mov ax, ss
    movzx ecx, ax
    pushfq
    pop rdx
    hlt
