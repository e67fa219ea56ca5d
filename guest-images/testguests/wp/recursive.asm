; A recursive (self-referencing) PML4 entry: PML4[R] points at the PML4 itself, so the paging structures appear
; as data in a 512 GiB window (the PTE of linear L at RB + ((L >> 9) & 0x7FFFFFFFF8), applied again for the PDE,
; PDPTE and PML4E; SDM Vol. 3 4.5 walk). Entries are read, edited and created through that window, then used.
; The walk for a window address uses the entry one level up as its leaf, so a write through the window sets D
; in that entry (SDM 4.8).
bits 64
org 0x10000
%define R 2
%define RB (R << 39)                 ; 0x100_0000_0000
%define L WINDOW + 0x7000            ; PML4 1, PDPT 0, PD 0, PT 7
%define L2 WINDOW + 3 * 0x200000     ; PD index 3: its page table is created through the window
%define L3 (3 << 39)                 ; PML4 index 3: created through the window

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [rel space], rax
    mov rdx, rax
    or rdx, LEAF
    mov [rax + R * 8], rdx          ; the recursive entry
    mov cr3, rax
    mov rdx, 0xE0E0E0E0
    call alloc_data
    mov [rel d0], rax
    mov rdx, 0xE1E1E1E1
    call alloc_data
    mov [rel d1], rax
    mov rdx, 0xE2E2E2E2
    call alloc_data
    mov [rel d2], rax
    mov rdx, 0xE3E3E3E3
    call alloc_data
    mov [rel d3], rax
    mov rdi, [rel space]
    mov rsi, L
    mov rdx, [rel d1]
    or rdx, LEAF
    call map_page
    mov [rel pte_l], rax

    READ_IS "L mapped", L, 0xE1E1E1E1
    ; The recursive entry seen through the window four times over: RB | R<<30 | R<<21 | R<<12 | R<<3.
    mov rbx, RB | (R << 30) | (R << 21) | (R << 12) | (R << 3)
    mov rax, [rbx]
    mov rcx, ADDR_MASK | PTE_P | PTE_W
    and rax, rcx
    mov rcx, [rel space]
    or rcx, LEAF
    CHECK "PML4 reads itself through the window", rcx
    ; L's PTE through the window equals the PTE at its physical address.
    mov rdi, L
    call window_entry
    mov [rel w_pte], rax
    mov rax, [rax]
    mov rcx, [rel pte_l]
    mov rcx, [rcx]
    CHECK "PTE through the window = PTE in memory", rcx
    ; Remap L through the window, INVLPG.
    mov rbx, [rel w_pte]
    mov rax, [rel d2]
    or rax, LEAF
    mov [rbx], rax
    INVLPG_AT L
    READ_IS "PTE edited through the window", L, 0xE2E2E2E2
    mov rax, [rel pte_l]
    mov rax, [rax]
    and eax, ~(PTE_A | PTE_D)
    mov rcx, [rel d2]
    or rcx, LEAF
    CHECK "the edit is in the page table", rcx
    ; The window's own leaf for that write was PD[0] (the PDE of L, used as a PTE): D is set in it.
    mov rdi, L
    call window_entry
    mov rdi, rax
    call window_entry
    mov rax, [rax]
    and eax, PTE_A | PTE_D
    CHECK "window write set A and D in the PDE used as leaf", PTE_A | PTE_D
    ; A new PTE (not present before) through the window: no INVLPG needed.
    mov rbx, [rel w_pte]
    mov rax, [rel d3]
    or rax, LEAF
    mov [rbx + 8], rax
    READ_IS "PTE created through the window", L + 0x1000, 0xE3E3E3E3
    ; Cleared through the window.
    mov rbx, [rel w_pte]
    mov qword [rbx], 0
    INVLPG_AT L
    READ_FAULTS "PTE cleared through the window", L, 0

    ; A new page table for L2: its PDE written through the window, then its PTE through the window too.
    call alloc_page
    mov [rel pt2], rax
    mov rdi, L2
    call window_entry
    mov rdi, rax
    call window_entry               ; rax = window address of L2's PDE
    mov rcx, [rel pt2]
    or rcx, TABLE
    mov [rax], rcx
    mov rdi, L2
    call window_entry
    mov rcx, [rel d0]
    or rcx, LEAF
    mov [rax], rcx
    READ_IS "page table created through the window", L2, 0xE0E0E0E0
    mov rax, [rel pt2]
    mov rax, [rax]
    and eax, ~(PTE_A | PTE_D)
    mov rcx, [rel d0]
    or rcx, LEAF
    CHECK "its PTE is in the new table", rcx

    ; A new PML4 entry (index 3) through the window; below it PDPT -> PD -> PT (built at their addresses).
    call alloc_page
    mov [rel pt3], rax
    mov rdx, [rel d2]
    or rdx, LEAF
    mov [rax], rdx
    call alloc_page
    mov rdx, [rel pt3]
    or rdx, TABLE
    mov [rax], rdx
    mov rbx, rax
    call alloc_page
    or rbx, TABLE
    mov [rax], rbx
    or rax, TABLE
    mov rbx, RB | (R << 30) | (R << 21) | (R << 12) | (3 << 3)
    mov [rbx], rax
    mov rax, L3
    READ_IS "PML4 entry created through the window", rax, 0xE2E2E2E2
    ; And its PTE edited through the window (four levels below the new entry).
    mov rdi, L3
    call window_entry
    mov rcx, [rel d3]
    or rcx, LEAF
    mov [rax], rcx
    INVLPG_AT L3
    mov rax, L3
    READ_IS "PTE under it edited through the window", rax, 0xE3E3E3E3

    call finish

; window_entry: rax = the window address of the entry that maps linear rdi one level down (applied to a PTE's
; window address, it gives the PDE's, and so on).
window_entry:
    mov rax, rdi
    shr rax, 9
    mov rcx, 0x7FFFFFFFF8
    and rax, rcx
    mov rcx, RB
    or rax, rcx
    ret

align 8
space: dq 0
pte_l: dq 0
w_pte: dq 0
pt2: dq 0
pt3: dq 0
d0: dq 0
d1: dq 0
d2: dq 0
d3: dq 0
