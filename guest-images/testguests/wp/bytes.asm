; A page T that is both a page table and ordinary data: T maps 32 test pages (PTEs 0-31 of the 2 MiB region at
; WINDOW) and itself (PTE 511, at VT), and is written as plain bytes: aligned and misaligned 1/2/4/8-byte stores
; (some crossing two PTEs), REP STOSB and REP MOVSB, mostly through its own mapping VT, some through the identity
; map. After each step every PTE 0-31 is checked by verify_ptes: INVLPG, then the page must read as the frame the
; current bytes name, or fault if P = 0 (SDM Vol. 3 4.5, 4.10.4.1) - whatever value the bytes happen to form.
bits 64
org 0x10000
%define NPTE 32
%define VT WINDOW + 511 * 0x1000
%define VP WINDOW + 510 * 0x1000       ; the page directory P, mapped as data
%define LP WINDOW + 0x80000000         ; PDPT index 2: the 1 GiB region P maps
%define NPDE 16
%define BIGBASE 0x1000000             ; 2 MiB frames F_k at 16 MiB + k * 2 MiB (RAM)

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

; VERIFY name: all NPTE mappings agree with the bytes of T.
%macro VERIFY 1
    mov rdi, [rel table]
    mov rsi, WINDOW
    xor ecx, ecx
    mov edx, NPTE
    call verify_ptes
    CHECK %1, 0
%endmacro

; VERIFY_PD name: all NPDE 2 MiB mappings of P agree with its bytes.
%macro VERIFY_PD 1
    mov rdi, [rel pdir]
    mov rsi, LP
    xor ecx, ecx
    mov edx, NPDE
    call verify_pdes
    CHECK %1, 0
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [rel space], rax
    mov cr3, rax
    ; 32 data pages at a 64 KiB-aligned base, so that byte 1 of a PTE selects among 16 of them.
    mov rax, [rel pool_next]
    add rax, 0xFFFF
    and rax, ~0xFFFF
    mov [rel pool_next], rax
    mov [rel dbase], rax
    xor ebx, ebx
.data:
    mov edx, 0xDA7A0000
    add edx, ebx
    call alloc_data
    inc ebx
    cmp ebx, NPTE
    jb .data
    ; PTE i -> D_i, and T maps itself at VT.
    xor ebx, ebx
.map:
    mov rdi, [rel space]
    mov rsi, rbx
    shl rsi, 12
    mov rax, WINDOW
    add rsi, rax
    mov rdx, rsi
    sub rdx, rax
    add rdx, [rel dbase]
    or rdx, LEAF
    call map_page
    inc ebx
    cmp ebx, NPTE
    jb .map
    and rax, ~0xFFF
    mov [rel table], rax
    mov rdi, [rel space]
    mov rsi, VT
    mov rdx, rax
    or rdx, LEAF
    call map_page
    mov r12, VT
    VERIFY "initial mappings"

    ; 1-byte stores: byte 1 of PTE 0 (address bits 15:12) -> D3; byte 0 of PTE 2 -> 0 (not present).
    mov byte [r12 + 0 * 8 + 1], 0x30
    mov byte [r12 + 2 * 8], 0
    VERIFY "1-byte aligned stores"
    ; 1-byte store inside an entry: byte 3 of PTE 4 (address bits 31:24) -> +16 MiB, still RAM.
    mov byte [r12 + 4 * 8 + 3], 0x01
    VERIFY "1-byte store at byte 3"
    ; 2-byte store across PTE 1 / PTE 2: XD in PTE 1, P|W back in PTE 2.
    mov word [r12 + 1 * 8 + 7], 0x0380
    VERIFY "2-byte store across two PTEs"
    ; 4-byte stores: low half of PTE 3 (through the identity map), high half of PTE 5, bytes 2-5 of PTE 6.
    mov rax, [rel table]
    mov ecx, [rel dbase]
    add ecx, 5 * 0x1000 + LEAF
    mov [rax + 3 * 8], ecx
    mov dword [r12 + 5 * 8 + 4], 0x80000000
    mov eax, [rel dbase]
    shr eax, 16
    inc eax                         ; frame + 64 KiB: D6 -> D22
    mov [r12 + 6 * 8 + 2], eax
    VERIFY "4-byte stores (aligned and misaligned)"
    ; 8-byte stores: PTE 7 -> D9; then across PTE 8 (high half 0) / PTE 9 (low half -> D20).
    mov rax, [rel dbase]
    add rax, 9 * 0x1000 + LEAF
    mov [r12 + 7 * 8], rax
    mov rax, [rel dbase]
    add rax, 20 * 0x1000 + LEAF
    shl rax, 32
    mov [r12 + 8 * 8 + 4], rax
    VERIFY "8-byte stores (aligned and across two PTEs)"
    ; REP STOSB of zeros over PTEs 10-15.
    lea rdi, [r12 + 10 * 8]
    mov ecx, 6 * 8
    xor eax, eax
    rep stosb
    VERIFY "REP STOSB over six PTEs"
    ; REP MOVSB: PTEs 16-23 from an image (16 + j -> D(31 - j)), bytes 1-63 first, byte 0 last.
    call build_image
    lea rsi, [rel image + 16 * 8 + 1]
    lea rdi, [r12 + 16 * 8 + 1]
    mov ecx, 8 * 8 - 1
    rep movsb
    mov al, [rel image + 16 * 8]
    mov [r12 + 16 * 8], al
    VERIFY "REP MOVSB over eight PTEs"
    ; REP MOVSB starting and ending inside PTEs (24 byte 5 .. 29 byte 4), through the identity map.
    lea rsi, [rel image + 24 * 8 + 5]
    mov rdi, [rel table]
    add rdi, 24 * 8 + 5
    mov ecx, 40
    rep movsb
    VERIFY "REP MOVSB starting and ending inside PTEs"
    ; T as a data buffer: bytes 0..255 written one by one at offset 2048 (PTEs 256-287), summed back.
    xor ecx, ecx
.fill:
    mov [r12 + 2048 + rcx], cl
    inc ecx
    cmp ecx, 256
    jb .fill
    mov rsi, [rel table]
    xor eax, eax
    xor ecx, ecx
.sum:
    movzx edx, byte [rsi + 2048 + rcx]
    add eax, edx
    inc ecx
    cmp ecx, 256
    jb .sum
    CHECK "data bytes in the table page read back", 255 * 256 / 2
    VERIFY "mappings unaffected by the data bytes"
    ; The whole first 256 bytes at once: REP MOVSB of the image (i -> D((i + 5) mod 32)).
    lea rsi, [rel image]
    mov rdi, r12
    mov ecx, NPTE * 8
    rep movsb
    VERIFY "REP MOVSB of all PTEs"
    mov rax, WINDOW
    READ_IS "PTE 0 -> D5 after it", rax, 0xDA7A0005

    ; The same kind of edits on a page directory P of 2 MiB pages (PDEs 0-15 -> frames F_k = BIGBASE + k * 2 MiB):
    ; a non-leaf table, which a shadow MMU keeps write-protected. Written through its mapping VP (PTE 510 of T).
    xor ecx, ecx
.frames:
    mov rax, rcx
    shl rax, 21
    add rax, BIGBASE
    lea edx, [rcx + 0xB1600]
    mov [rax], rdx
    inc ecx
    cmp ecx, NPDE
    jb .frames
    call alloc_page
    mov [rel pdir], rax
    xor ecx, ecx
.pdes:
    mov rdx, rcx
    shl rdx, 21
    add rdx, BIGBASE | LEAF | PTE_PS
    mov [rax + rcx * 8], rdx
    inc ecx
    cmp ecx, NPDE
    jb .pdes
    mov rdi, [rel space]
    mov rsi, VP
    mov rdx, rax
    or rdx, LEAF
    call map_page
    mov rcx, ADDR_MASK
    mov rax, [rel space]
    mov rax, [rax + 8]
    and rax, rcx
    mov rdx, [rel pdir]
    or rdx, TABLE
    mov [rax + 2 * 8], rdx          ; PDPTE 2 -> P
    mov r12, VP
    VERIFY_PD "2 MiB pages: initial"
    ; 1-byte store to byte 2 of PDE 0 (address bits 23:21): F0 -> F1.
    mov byte [r12 + 0 * 8 + 2], 0x20
    VERIFY_PD "2 MiB pages: 1-byte store"
    ; 2-byte store across PDE 1 / PDE 2: PDE 2 not present.
    mov word [r12 + 1 * 8 + 7], 0
    VERIFY_PD "2 MiB pages: 2-byte store across two PDEs"
    ; 4-byte store to bytes 2-5 of PDE 3: F3 -> F5.
    mov dword [r12 + 3 * 8 + 2], (BIGBASE + 5 * 0x200000) >> 16
    VERIFY_PD "2 MiB pages: misaligned 4-byte store"
    ; 8-byte store across PDE 4 (high half 0) / PDE 5 (low half -> F7).
    mov rax, BIGBASE + 7 * 0x200000 + LEAF + PTE_PS
    shl rax, 32
    mov [r12 + 4 * 8 + 4], rax
    VERIFY_PD "2 MiB pages: 8-byte store across two PDEs"
    ; REP STOSB of zeros over PDEs 6-7, then REP MOVSB of PDEs 8-15 (8 + j -> F(15 - j)) from byte 3 on, bytes 0-2 last.
    lea rdi, [r12 + 6 * 8]
    mov ecx, 2 * 8
    xor eax, eax
    rep stosb
    VERIFY_PD "2 MiB pages: REP STOSB"
    xor ecx, ecx
.pimage:
    mov eax, 15
    sub eax, ecx
    shl rax, 21
    add rax, BIGBASE | LEAF | PTE_PS
    lea rdx, [rel image]
    mov [rdx + rcx * 8], rax
    inc ecx
    cmp ecx, 8
    jb .pimage
    lea rsi, [rel image + 3]
    lea rdi, [r12 + 8 * 8 + 3]
    mov ecx, 8 * 8 - 3
    rep movsb
    mov ax, [rel image]
    mov [r12 + 8 * 8], ax
    mov al, [rel image + 2]
    mov [r12 + 8 * 8 + 2], al
    VERIFY_PD "2 MiB pages: REP MOVSB"

    call finish

; build_image: image[i] = PTE naming D((i + 5) mod 32) for PTEs 0-15 and 24-31, D(31 - (i - 16)) for 16-23.
build_image:
    xor ecx, ecx
.next:
    lea eax, [rcx + 5]
    and eax, NPTE - 1
    cmp ecx, 16
    jb .have
    cmp ecx, 24
    jae .have
    mov eax, 47
    sub eax, ecx
.have:
    shl rax, 12
    add rax, [rel dbase]
    or rax, LEAF
    lea rdx, [rel image]
    mov [rdx + rcx * 8], rax
    inc ecx
    cmp ecx, NPTE
    jb .next
    ret

align 8
space: dq 0
table: dq 0
dbase: dq 0
pdir: dq 0
image: times NPTE dq 0
