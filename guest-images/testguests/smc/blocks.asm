; Self-modifying code across blocks: code on pages of its own is run until it is translated (and, on the JIT,
; chained and entered through the jump cache), then a store changes an instruction of it and it runs again; the
; new bytes must run (SDM Vol. 3 11.6). Stores come from the main code, from another block of the patched page,
; through a second linear mapping of the patched page (translations belong to the physical page), and from a loop
; into its own body between iterations.
bits 64
org 0x10000
%define ALIAS WINDOW + 0x1000       ; a second linear mapping of page_r2

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"
%include "smc/smc.inc"

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov cr3, rax
    mov rdi, rax
    mov rsi, ALIAS
    lea rdx, [rel page_r2]
    or rdx, LEAF
    call map_page

    ; Two chained blocks on their own page: run twice, then patch the first block's immediate, then the second's.
    xor r14d, r14d
    call r1
    PACK16 rax
    call r1
    PACK16 rax
    mov dword [rel r1_imm], 0x1111
    call r1
    PACK16 rax
    mov dword [rel r1_add], 0x200
    call r1
    PACK16 rax
    mov rax, r14
    CHECK "patch the first, then the chained second block of a routine that ran", 0xDFADDFAD12111311
    ; A second linear mapping of the page: stored through it, run through the identity mapping; then run through
    ; it (its own RIP, the same physical page) and stored through the identity mapping.
    xor r14d, r14d
    call r2
    PACK16 rax
    call r2
    PACK16 rax
    mov rax, ALIAS + r2_imm - page_r2
    mov dword [rax], 0x2222
    call r2
    PACK16 rax
    mov rax, ALIAS + r2 - page_r2
    call rax
    PACK16 rax
    mov rax, r14
    CHECK "store through a second mapping of the page, run through the first", \
        (STALE << 48) | (STALE << 32) | 0x22222222
    xor r14d, r14d
    mov rax, ALIAS + r2 - page_r2
    call rax
    PACK16 rax
    mov dword [rel r2_imm], 0x3333
    mov rax, ALIAS + r2 - page_r2
    call rax
    PACK16 rax
    call r2
    PACK16 rax
    mov rax, r14
    CHECK "store through the first mapping, run through the second", 0x222233333333

    ; A loop of two chained blocks (ADD EAX, imm8; JMP | DEC ECX; JNZ), 100 iterations, patched between runs.
    xor r14d, r14d
    call r3
    PACK16 rax
    call r3
    PACK16 rax
    mov byte [rel r3_imm], 3
    call r3
    PACK16 rax
    mov byte [rel r3_imm], 5
    call r3
    PACK16 rax
    mov rax, r14
    CHECK "a chained loop patched between runs", (100 << 48) | (100 << 32) | (300 << 16) | 500
    ; A loop that patches its own first block from its second one in iteration 50 of 100: 51 iterations add the
    ; old immediate, 49 the new one. Run twice: 51 * 1 + 49 * 2, then 51 * 2 + 49 * 3.
    xor r14d, r14d
    lea rdi, [rel r4_imm]
    mov edx, 2
    call r4
    PACK16 rax
    lea rdi, [rel r4_imm]
    mov edx, 3
    call r4
    PACK16 rax
    mov rax, r14
    CHECK "a loop patching its own body in iteration 50", (149 << 16) | 249

    ; Another block of the same page patches a block that ran before, then jumps to it.
    xor r14d, r14d
    call r5c
    PACK16 rax
    call r5c
    PACK16 rax
    mov edx, 0x5555
    call r5
    PACK16 rax
    mov edx, 0x6666
    call r5
    PACK16 rax
    mov rax, r14
    CHECK "a block patches another block of its page, then runs it", (STALE << 48) | (STALE << 32) | 0x55556666

    ; The instruction after a CALL (the return target, a block of its own) patched by the callee on another page.
    xor r14d, r14d
    mov edi, SCRATCH
    call r6
    PACK16 rax
    mov edi, SCRATCH
    call r6
    PACK16 rax
    lea rdi, [rel r6_imm]
    call r6
    PACK16 rax
    mov rax, r14
    CHECK "a callee patches the instruction its caller returns to", (STALE << 32) | (STALE << 16) | 0x6060

    call finish

; r6's callee: stores 0x6060 at rdi.
patcher6:
    mov dword [rdi], 0x6060
    ret

CODE_PAGE
r1: MOV_EAX r1_imm, STALE
    jmp r1_b
r1_b: db 0x05                         ; ADD EAX, imm32
r1_add: dd 0x100
    ret
r3: xor eax, eax
    mov ecx, 100
r3_a: db 0x83, 0xC0                 ; ADD EAX, imm8
r3_imm: db 1
    jmp r3_b
r3_b: dec ecx
    jnz r3_a
    ret
; r4: rdi = where iteration 50 stores edx (its own first block's immediate); returns the sum.
r4: xor r8d, r8d
    mov ecx, 100
    mov esi, SCRATCH
r4_top:
    MOV_EAX r4_imm, 1
    add r8d, eax
    jmp r4_b
r4_b: cmp ecx, 50
    cmove rsi, rdi
    mov [rsi], edx
    dec ecx
    jnz r4_top
    mov eax, r8d
    ret
; r5: patches r5c's immediate with edx, then runs it.
r5: mov [rel r5_imm], edx
    jmp r5c
r5c: MOV_EAX r5_imm, STALE
    ret
; r6: calls patcher6 (another page), which stores to rdi, then returns what the instruction after the call says.
r6: call patcher6
    MOV_EAX r6_imm, STALE
    ret

CODE_PAGE
page_r2:
r2: MOV_EAX r2_imm, STALE
    ret
