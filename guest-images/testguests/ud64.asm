; Executes UD2 with no IDT: the bare runner must stop with "unexpected exception #UD" and its exception status.
bits 64
org 0x10000
    mov eax, 0x1234
    ud2
    hlt
