; Real mode at 0x1000:0000 (linear 0x10000): prints through COM1, sums 1..100 into AX, and halts.
bits 16
org 0
    mov si, message
    mov dx, 0x3F8
.next:
    mov al, [si]
    test al, al
    jz .done
    out dx, al
    inc si
    jmp .next
.done:
    xor ax, ax
    mov cx, 100
.sum:
    add ax, cx
    loop .sum
    hlt
message: db "real mode", 10, 0
