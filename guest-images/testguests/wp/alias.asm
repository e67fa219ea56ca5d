; A page directory that is itself mapped twice as data (two virtual aliases A1, A2): PDEs written through one
; alias are read back through the other and are what the page walk uses (SDM Vol. 3 4.5: the walk reads the PD
; at its physical address, whatever linear address wrote it). Also: 1-byte PDE edits, a 2 MiB page installed
; through an alias, the PDE that maps the aliases themselves replaced through one of them, and a PDPTE written
; through an alias of the PDPT. Not-present -> present needs no invalidation (4.10.4.3); other edits use INVLPG.
bits 64
org 0x10000
%define V0 WINDOW                    ; PD index 0: the page table that also maps the aliases
%define A1 WINDOW + 0x1000           ; alias 1 of the PD
%define A2 WINDOW + 0x2000           ; alias 2 of the PD
%define A3 WINDOW + 0x3000           ; alias of the PDPT
%define L5 WINDOW + 5 * 0x200000     ; PD index 5
%define L6 WINDOW + 6 * 0x200000     ; PD index 6: a 2 MiB page
%define BIG 0x1000000                ; 2 MiB-aligned physical region for it (RAM, below the pool's reach)
%define LG WINDOW + 0x40000000       ; PDPT index 1

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [rel space], rax
    mov cr3, rax
    mov rdx, 0xD0D0D0D0
    call alloc_data
    mov [rel d0], rax
    mov rdx, 0xD1D1D1D1
    call alloc_data
    mov [rel d1], rax
    mov rdx, 0xD2D2D2D2
    call alloc_data
    mov [rel d2], rax
    mov rdx, 0xD3D3D3D3
    call alloc_data
    mov [rel d3], rax
    mov rax, 0xB16B16
    mov [BIG + 0x3000], rax

    mov rdi, [rel space]
    mov rsi, V0
    mov rdx, [rel d0]
    or rdx, LEAF
    call map_page
    ; The tables map_page made: PDPT = PML4[1], PD = PDPT[0], PT0 = PD[0].
    mov rcx, ADDR_MASK
    mov rax, [rel space]
    mov rax, [rax + 8]
    and rax, rcx
    mov [rel pdpt], rax
    mov rax, [rax]
    and rax, rcx
    mov [rel pd], rax
    mov rax, [rax]
    and rax, rcx
    mov [rel pt0], rax
    mov rdi, [rel space]
    mov rsi, A1
    mov rdx, [rel pd]
    or rdx, LEAF
    call map_page
    mov rdi, [rel space]
    mov rsi, A2
    mov rdx, [rel pd]
    or rdx, LEAF
    call map_page
    mov rdi, [rel space]
    mov rsi, A3
    mov rdx, [rel pdpt]
    or rdx, LEAF
    call map_page
    ; PT_x and PT_y map the first page of their 2 MiB region to d1 and d2.
    call alloc_page
    mov [rel ptx], rax
    mov rdx, [rel d1]
    or rdx, LEAF
    mov [rax], rdx
    call alloc_page
    mov [rel pty], rax
    mov rdx, [rel d2]
    or rdx, LEAF
    mov [rax], rdx

    READ_IS "V0 through PT0", V0, 0xD0D0D0D0
    mov rbx, A1
    mov rax, [rbx]
    mov rcx, [rel pt0]
    or rcx, TABLE | PTE_A
    CHECK "alias 1 shows PDE 0 (with A set by the walks)", rcx
    READ_FAULTS "PD index 5 not present", L5, 0

    ; PDE 5 -> PT_x written through alias 1; read back through alias 2; used by the walk.
    mov rbx, A1
    mov rax, [rel ptx]
    or rax, TABLE
    mov [rbx + 5 * 8], rax
    mov rbx, A2
    mov rax, [rbx + 5 * 8]
    mov rcx, [rel ptx]
    or rcx, TABLE
    CHECK "PDE written through alias 1 reads back through alias 2", rcx
    READ_IS "the walk uses the new PDE", L5, 0xD1D1D1D1
    ; PDE 5 -> PT_y through alias 2, INVLPG.
    mov rbx, A2
    mov rax, [rel pty]
    or rax, TABLE
    mov [rbx + 5 * 8], rax
    INVLPG_AT L5
    READ_IS "PDE replaced through alias 2", L5, 0xD2D2D2D2
    ; A 1-byte store clears P of PDE 5 through alias 1.
    mov rbx, A1
    and byte [rbx + 5 * 8], ~PTE_P
    INVLPG_AT L5
    READ_FAULTS "PDE cleared by a 1-byte store", L5, 0
    ; And sets it again (not present -> present: no INVLPG needed).
    mov rbx, A1
    or byte [rbx + 5 * 8], PTE_P
    READ_IS "PDE set again by a 1-byte store", L5, 0xD2D2D2D2

    ; A 2 MiB page (PS = 1) through alias 2.
    mov rbx, A2
    mov rax, BIG | LEAF | PTE_PS
    mov [rbx + 6 * 8], rax
    mov rax, L6 + 0x3000
    READ_IS "2 MiB page installed through an alias", rax, 0xB16B16

    ; Replace PDE 0, which maps the aliases themselves, through alias 1: PT0' is PT0 with V0 -> d3.
    call alloc_page
    mov [rel pt0b], rax
    mov rdi, rax
    mov rsi, [rel pt0]
    mov ecx, 512
    rep movsq
    mov rax, [rel pt0b]
    mov rdx, [rel d3]
    or rdx, LEAF
    mov [rax], rdx
    mov rbx, A1
    mov rax, [rel pt0b]
    or rax, TABLE
    mov [rbx], rax
    INVLPG_AT V0
    INVLPG_AT A1
    INVLPG_AT A2
    READ_IS "PDE mapping the aliases replaced through one", V0, 0xD3D3D3D3
    mov rbx, A2
    mov rax, [rbx]
    mov rcx, [rel pt0b]
    or rcx, TABLE
    and eax, ~(PTE_A | PTE_D)
    CHECK "alias 2 still maps the PD through the new table", rcx

    ; PDPTE 1 -> a new PD (PDE 0 -> PT_x) written through the PDPT's alias.
    call alloc_page
    mov rdx, [rel ptx]
    or rdx, TABLE
    mov [rax], rdx
    or rax, TABLE
    mov rbx, A3
    mov [rbx + 8], rax
    mov rax, LG
    READ_IS "PDPTE written through an alias of the PDPT", rax, 0xD1D1D1D1
    ; The same PT_x is now reached through two PDEs of two PDs: edit its PTE 0 once, both see it.
    mov rax, [rel ptx]
    mov rdx, [rel d0]
    or rdx, LEAF
    mov [rax], rdx
    INVLPG_AT LG
    mov rax, LG
    READ_IS "shared page table edited: second path", rax, 0xD0D0D0D0
    mov rbx, A1
    mov rax, [rel ptx]
    or rax, TABLE
    mov [rbx + 5 * 8], rax
    INVLPG_AT L5
    READ_IS "shared page table edited: first path", L5, 0xD0D0D0D0

    call finish

align 8
space: dq 0
pdpt: dq 0
pd: dq 0
pt0: dq 0
pt0b: dq 0
ptx: dq 0
pty: dq 0
d0: dq 0
d1: dq 0
d2: dq 0
d3: dq 0
