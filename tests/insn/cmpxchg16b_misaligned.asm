; CMPXCHG16B requires a 16-byte aligned operand: otherwise #GP(0) (SDM Vol. 2 CMPXCHG8B/CMPXCHG16B), and
; the faulting instruction has no effect.
; EXPECT: exit=4 stderr=#GP rip=0x1000a rax=0x1234
bits 64
org 0x10000
    mov eax, 0x1234
    mov edi, 0x20008
    lock cmpxchg16b [rdi]
    hlt
