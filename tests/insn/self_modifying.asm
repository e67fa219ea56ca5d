; Self-modifying code: after a store into an instruction that already ran, the next execution of it must see
; the new bytes (SDM Vol. 3 11.6: a write to a code location is detected; a jump/call after it fetches anew).
; ARGS: -reg rsp=0x80000
; EXPECT: rbx=1 rax=2
bits 64
org 0x10000
    call f                      ; EAX = 1, and f is now translated
    mov ebx, eax
    mov byte [f + 1], 2         ; patch the low byte of f's imm32
    call f
    hlt
f:  mov eax, 1
    ret
