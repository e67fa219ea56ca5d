; MMU benchmark guest (tools/bench/shadow_guest_bench): N address spaces of M 4 KiB pages each, visited round-robin
; with MOV CR3 (SDM Vol. 3 4.10.4.1: each load drops the non-global TLB entries, so every visit refills them through
; the MMU); each visit reads every page of the space, then remaps E pages of it (a PTE store through the identity
; map and an INVLPG, as a page fault or munmap does), so that the leaf page tables are written in every round.
; Parameters (emu64 -bare -reg): rdi = N (1..1024), rsi = M (1..4096), rdx = rounds, rcx = E (0..512).
; Prints the sum of every qword read (the same in every MMU mode: a mismatch is an MMU bug), then HLT.
; Built on wp/pt.inc: identity-mapped RAM under PML4 entry 0 (2 MiB pages), test pages under WINDOW.
bits 64
org 0x10000
%define MAXN 1024
%define MAXM 4096
%define NDATA 64                    ; data pages shared by all spaces (a power of two)

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

; FRAME reg: reg = datas[reg % NDATA] | LEAF. Clobbers rdx.
%macro FRAME 1
    and %1, NDATA - 1
    lea rdx, [rel datas]
    mov %1, [rdx + %1 * 8]
    or %1, LEAF
%endmacro

start:
    mov rsp, 0x80000
    mov [rel nspaces], rdi
    mov [rel npages], rsi
    mov [rel rounds], rdx
    mov [rel edits], rcx
    cmp rsi, 512
    jbe .lim
    mov esi, 512
.lim:
    mov [rel edit_span], rsi        ; edits stay in the first page table of a space
    call pt_init
    xor r12d, r12d
.data:                              ; data page i holds i in its first qword
    mov rdx, r12
    call alloc_data
    lea rdx, [rel datas]
    mov [rdx + r12 * 8], rax
    inc r12d
    cmp r12d, NDATA
    jb .data

    xor r12d, r12d                  ; k: space
.space:
    call new_space
    lea rdx, [rel spaces]
    mov [rdx + r12 * 8], rax
    mov r15, rax
    xor r13d, r13d                  ; p: page, mapped to data (k + p) % NDATA
.page:
    lea rax, [r12 + r13]
    FRAME rax
    mov rdx, rax
    mov rdi, r15
    mov rsi, r13
    shl rsi, 12
    mov rax, WINDOW
    add rsi, rax
    call map_page
    test r13, r13
    jnz .mapped
    lea rdx, [rel pt0]
    mov [rdx + r12 * 8], rax        ; identity address of the space's PTE 0
.mapped:
    inc r13
    cmp r13, [rel npages]
    jb .page
    inc r12
    cmp r12, [rel nspaces]
    jb .space

    xor r14d, r14d                  ; checksum
    xor ebx, ebx                    ; round
.round:
    xor r12d, r12d
.visit:
    lea rdx, [rel spaces]
    mov rax, [rdx + r12 * 8]
    mov cr3, rax
    mov rsi, WINDOW
    mov rcx, [rel npages]
.read:
    add r14, [rsi]
    add rsi, 4096
    dec rcx
    jnz .read
    mov r13, [rel edits]
    test r13, r13
    jz .visited
    lea rdx, [rel pt0]
    mov r15, [rdx + r12 * 8]
    xor r8d, r8d                    ; j
.edit:                              ; page (round * E + j) % span -> data (k + page + round + j + 1) % NDATA
    mov rax, rbx
    imul rax, r13
    add rax, r8
    xor edx, edx
    div qword [rel edit_span]
    mov r9, rdx
    lea rax, [r12 + r9 + 1]
    add rax, rbx
    add rax, r8
    FRAME rax
    mov [r15 + r9 * 8], rax
    mov rax, r9
    shl rax, 12
    mov rdx, WINDOW
    add rax, rdx
    invlpg [rax]
    add r14, [rax]                  ; the new mapping is read at once
    inc r8
    cmp r8, r13
    jb .edit
.visited:
    inc r12
    cmp r12, [rel nspaces]
    jb .visit
    inc rbx
    cmp rbx, [rel rounds]
    jb .round

    lea rsi, [rel msg_sum]
    call puts
    mov rax, r14
    call puthex
    call newline
    hlt

msg_sum: db "checksum ", 0
align 8
nspaces: dq 0
npages: dq 0
rounds: dq 0
edits: dq 0
edit_span: dq 0
datas: times NDATA dq 0
spaces: times MAXN dq 0
pt0: times MAXN dq 0
