; Many processes' worth of address spaces: NSPACES PML4s, each mapping V to its own data page D_k (and VS to one
; shared page), switched round-robin with MOV CR3 (SDM Vol. 3 4.10.4.1: a CR3 load invalidates all non-global
; TLB entries and paging-structure caches). Between rounds PTEs are edited: those of inactive spaces (no INVLPG:
; their next CR3 load suffices), then each space's own while it is active (with INVLPG). Every read must follow
; the PTE of the space CR3 names at that moment.
bits 64
org 0x10000
%define NSPACES 200
%define V WINDOW + 0x3000
%define VS WINDOW + 0x4000
%define SIG 0x50000

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

; NEXT_K reg, step: reg = (r12 + step) mod NSPACES.
%macro NEXT_K 2
    lea %1, [r12 + %2]
    cmp %1, NSPACES
    jb %%ok
    sub %1, NSPACES
%%ok:
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call alloc_page
    mov [rel shared], rax
    xor r12d, r12d
.make:
    call new_space
    lea rdx, [rel spaces]
    mov [rdx + r12 * 8], rax
    lea edx, [r12 + SIG]
    call alloc_data
    lea rdx, [rel datas]
    mov [rdx + r12 * 8], rax
    lea rdx, [rel spaces]
    mov rdi, [rdx + r12 * 8]
    mov rsi, V
    mov rdx, rax
    or rdx, LEAF
    call map_page
    lea rdx, [rel ptes]
    mov [rdx + r12 * 8], rax
    lea rdx, [rel spaces]
    mov rdi, [rdx + r12 * 8]
    mov rsi, VS
    mov rdx, [rel shared]
    or rdx, LEAF
    call map_page
    inc r12d
    cmp r12d, NSPACES
    jb .make

    ; Round 0: each space reads its own page and writes k to it and to slot k of the shared page.
    xor r12d, r12d
    xor r13d, r13d
    mov r14, V
    mov r15, VS
.r0:
    call switch_to
    lea eax, [r12 + SIG]
    cmp [r14], rax
    setne al
    movzx eax, al
    add r13d, eax
    mov [r14 + 8], r12
    mov [r15 + r12 * 8], r12
    inc r12d
    cmp r12d, NSPACES
    jb .r0
    mov eax, r13d
    CHECK "round 0: every space reads its own page", 0
    xor r12d, r12d
    xor r13d, r13d
    mov rsi, [rel shared]
.r0check:
    lea rdx, [rel datas]
    mov rdx, [rdx + r12 * 8]
    cmp [rdx + 8], r12
    setne al
    movzx eax, al
    add r13d, eax
    cmp [rsi + r12 * 8], r12
    setne al
    movzx eax, al
    add r13d, eax
    inc r12d
    cmp r12d, NSPACES
    jb .r0check
    mov eax, r13d
    CHECK "round 0: writes landed in each space's page and the shared page", 0

    ; Round 1: while the last space is active, every space's V is moved to D(k + 1) (no INVLPG).
    xor r12d, r12d
.e1:
    NEXT_K eax, 1
    lea rdx, [rel datas]
    mov rax, [rdx + rax * 8]
    or rax, LEAF
    lea rdx, [rel ptes]
    mov rdx, [rdx + r12 * 8]
    mov [rdx], rax
    inc r12d
    cmp r12d, NSPACES
    jb .e1
    xor r12d, r12d
    xor r13d, r13d
.r1:
    call switch_to
    NEXT_K eax, 1
    add eax, SIG
    cmp [r14], rax
    setne al
    movzx eax, al
    add r13d, eax
    mov [r14 + 16], r12
    inc r12d
    cmp r12d, NSPACES
    jb .r1
    mov eax, r13d
    CHECK "round 1: inactive spaces' edits seen after their CR3 load", 0
    xor r12d, r12d
    xor r13d, r13d
.r1check:
    NEXT_K eax, 1
    lea rdx, [rel datas]
    mov rdx, [rdx + rax * 8]
    cmp [rdx + 16], r12
    setne al
    movzx eax, al
    add r13d, eax
    inc r12d
    cmp r12d, NSPACES
    jb .r1check
    mov eax, r13d
    CHECK "round 1: writes landed in the new pages", 0

    ; Round 2: each space, while active, reads V, moves it to D(k + 2), INVLPGs and reads again.
    xor r12d, r12d
    xor r13d, r13d
.r2:
    call switch_to
    mov rax, [r14]                  ; cache the old translation
    NEXT_K eax, 2
    lea rdx, [rel datas]
    mov rax, [rdx + rax * 8]
    or rax, LEAF
    lea rdx, [rel ptes]
    mov rdx, [rdx + r12 * 8]
    mov [rdx], rax
    invlpg [r14]
    NEXT_K eax, 2
    add eax, SIG
    cmp [r14], rax
    setne al
    movzx eax, al
    add r13d, eax
    inc r12d
    cmp r12d, NSPACES
    jb .r2
    mov eax, r13d
    CHECK "round 2: the active space's edit seen after INVLPG", 0

    ; Round 3, twice over: no edits; every space still sees D(k + 2), and the shared page's slots.
    xor r13d, r13d
    mov ebx, 2
.r3pass:
    xor r12d, r12d
.r3:
    call switch_to
    NEXT_K eax, 2
    add eax, SIG
    cmp [r14], rax
    setne al
    movzx eax, al
    add r13d, eax
    cmp [r15 + r12 * 8], r12
    setne al
    movzx eax, al
    add r13d, eax
    inc r12d
    cmp r12d, NSPACES
    jb .r3
    dec ebx
    jnz .r3pass
    mov eax, r13d
    CHECK "round 3: all spaces stable across switches", 0

    call finish

; switch_to: CR3 = spaces[r12].
switch_to:
    lea rax, [rel spaces]
    mov rax, [rax + r12 * 8]
    mov cr3, rax
    ret

align 8
shared: dq 0
spaces: times NSPACES dq 0
datas: times NSPACES dq 0
ptes: times NSPACES dq 0
