; Page-track flooding (issue #16, tests/boot/hostile_test.py): the guest builds 100,000 page tables, one per 2 MiB of
; linear space from 512 GiB up, each mapping one data page, reads through every one of them (in shadow mode each
; becomes a shadow page whose gfn page-track write-protects: far more than the shadow MMU's cap of 16,384, so the
; oldest are zapped and their gfns untracked as it goes), then rewrites the entry of every table (a write to a
; tracked or formerly tracked page) and reads through all of them again. Every read must see the data page the
; entry names at that moment, in both MMU modes and on both backends.
; Run with: emu64 -bare hostile_ptflood.bin -m 512M (long mode, the runner's identity map at CR3).
bits 64
org 0x10000
%define N 100000
%define PML4 0x100000
%define PDPT 0x101000
%define PDS 0x102000                    ; N / 512 page directories, back to back: the PDE of table i is PDS + 8 i
%define PTS 0x1000000                   ; table i at PTS + 4096 i: 16 MiB .. 407 MiB
%define DATA1 0x400000
%define DATA2 0x401000
%define BASE_VA 0x8000000000            ; PML4 slot 1
%define MAGIC1 0x5EED5EED00000001
%define MAGIC2 0x5EED5EED00000002

    jmp start
%include "sys/lib64.inc"

start:
    mov rsp, 0x90000
    mov rax, MAGIC1
    mov [DATA1], rax
    mov rax, MAGIC2
    mov [DATA2], rax
    mov rax, cr3                        ; slot 0: the runner's identity map (code, stack, the tables as data)
    mov rbx, [rax]
    mov [PML4], rbx
    mov qword [PML4 + 8], PDPT | 3
    xor ecx, ecx
.table:                                 ; table i: entry 0 -> DATA1; PDE i -> table i
    mov rax, rcx
    shl rax, 12
    add rax, PTS
    mov qword [rax], DATA1 | 3
    or rax, 3
    mov [PDS + rcx * 8], rax
    inc ecx
    cmp ecx, N
    jb .table
    xor ecx, ecx
.pdpte:
    mov rax, rcx
    shl rax, 12
    add rax, PDS | 3
    mov [PDPT + rcx * 8], rax
    inc ecx
    cmp ecx, (N + 511) / 512
    jb .pdpte
    mov rax, PML4
    mov cr3, rax

    mov rbx, MAGIC1
    call read_all
    CHECK "ptflood reads through 100000 page tables", N

    xor ecx, ecx
.rewrite:                               ; every table's entry now names DATA2
    mov rax, rcx
    shl rax, 12
    mov qword [PTS + rax], DATA2 | 3
    inc ecx
    cmp ecx, N
    jb .rewrite
    mov rax, cr3                        ; the old translations go (no global pages here)
    mov cr3, rax
    mov rbx, MAGIC2
    call read_all
    CHECK "ptflood reads after every entry was rewritten", N
    call finish

; read_all: reads the first qword of each table's page; rax = how many held rbx. Clobbers rcx, rdi, r8.
read_all:
    xor ecx, ecx
    xor r8d, r8d
    mov rdi, BASE_VA
.next:
    cmp [rdi], rbx
    jne .skip
    inc r8
.skip:
    add rdi, 0x200000
    inc ecx
    cmp ecx, N
    jb .next
    mov rax, r8
    ret
