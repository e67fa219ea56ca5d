; Flat 32-bit protected mode: checks the data segments are usable, computes a factorial and halts.
bits 32
org 0x10000
    mov esi, message
    mov dx, 0x3F8
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    mov eax, 1
    mov ecx, 10
.fact:
    imul eax, ecx
    loop .fact
    mov [result], eax
    mov ebx, [result]
    hlt
message: db "protected mode", 10, 0
result: dd 0
