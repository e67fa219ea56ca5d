; Page tables freed and their pages reused: a page table X (linked from PDE 3 of the window's PD) and a page
; directory Y (linked from PDPTE 1) are unlinked (INVLPG, resp. a CR3 reload: SDM Vol. 3 4.10.4.1), then written
; many times as plain data (entries that look like PTEs, then bytes) - a shadow MMU sees writes flooding a page it
; may still shadow - and the data must read back intact while the old mappings stay gone. Then both pages are
; page tables again, with new contents: the mappings must follow the new bytes (verify_ptes), through both paths
; that now lead to X.
bits 64
org 0x10000
%define NDATA 16
%define L3 WINDOW + 3 * 0x200000     ; PD index 3 -> X
%define LY WINDOW + 0x40000000       ; PDPT index 1 -> Y -> (PDE 0) a page table
%define VX WINDOW + 0x1000           ; X mapped as data
%define ROUNDS 4
%define FLOOD 5

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

; VERIFY name, table, region: the first NDATA mappings of the region agree with the table's bytes.
%macro VERIFY 3
    mov rdi, %2
    mov rsi, %3
    xor ecx, ecx
    mov edx, NDATA
    call verify_ptes
    CHECK %1, 0
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [rel space], rax
    mov cr3, rax
    mov rax, [rel pool_next]
    mov [rel dbase], rax
    xor ebx, ebx
.data:
    mov edx, 0xF00D0000
    add edx, ebx
    call alloc_data
    inc ebx
    cmp ebx, 2 * NDATA
    jb .data
    ; X: PTEs i -> D_i (through map_page, which creates X as PDE 3's table).
    xor ebx, ebx
.map_x:
    mov rdi, [rel space]
    mov rsi, rbx
    shl rsi, 12
    mov rax, L3
    add rsi, rax
    mov rdx, rbx
    shl rdx, 12
    add rdx, [rel dbase]
    or rdx, LEAF
    call map_page
    inc ebx
    cmp ebx, NDATA
    jb .map_x
    and rax, ~0xFFF
    mov [rel x], rax
    ; Y: PDE 0 -> PTY, PTEs i -> D(NDATA + i).
    xor ebx, ebx
.map_y:
    mov rdi, [rel space]
    mov rsi, rbx
    shl rsi, 12
    mov rax, LY
    add rsi, rax
    lea rdx, [rbx + NDATA]
    shl rdx, 12
    add rdx, [rel dbase]
    or rdx, LEAF
    call map_page
    inc ebx
    cmp ebx, NDATA
    jb .map_y
    and rax, ~0xFFF
    mov [rel pty], rax
    mov rcx, ADDR_MASK
    mov rax, [rel space]
    mov rax, [rax + 8]
    and rax, rcx
    mov [rel pdpt], rax
    mov rdx, [rax + 8]
    and rdx, rcx
    mov [rel y], rdx
    mov rax, [rax]
    and rax, rcx
    mov [rel pd], rax
    mov rdi, [rel space]
    mov rsi, VX
    mov rdx, [rel x]
    or rdx, LEAF
    call map_page

    VERIFY "X maps its pages", [rel x], L3
    VERIFY "Y's table maps its pages", [rel pty], LY

    ; Free X: PDE 3 cleared, INVLPG (which drops paging-structure caches too).
    mov rax, [rel pd]
    mov qword [rax + 3 * 8], 0
    INVLPG_AT L3
    READ_FAULTS "X unlinked", L3, 0
    ; X as data: ROUNDS rounds of 512 PTE-like qwords (alternately through the identity map and VX), then bytes.
    xor r12d, r12d
.round:
    mov rdi, [rel x]
    test r12d, 1
    jz .path
    mov rdi, VX
.path:
    xor ecx, ecx
.qword:
    mov eax, ecx
    call pte_like
    mov [rdi + rcx * 8], rax
    inc ecx
    cmp ecx, 512
    jb .qword
    inc r12d
    cmp r12d, ROUNDS
    jb .round
    mov rdi, [rel x]
    xor eax, eax
    xor ecx, ecx
    xor edx, edx
.qsum:
    add rdx, [rdi + rcx * 8]
    inc ecx
    cmp ecx, 512
    jb .qsum
    push rdx
    ; Expected: the last round's values (r12 = ROUNDS - 1), computed without reading memory.
    mov r12d, ROUNDS - 1
    xor ecx, ecx
    xor esi, esi
.qexp:
    mov eax, ecx
    call pte_like
    add rsi, rax
    inc ecx
    cmp ecx, 512
    jb .qexp
    pop rax
    CHECK "X holds the data written last", rsi
    mov rdi, VX
    xor ecx, ecx
.byte:
    imul eax, ecx, 13
    mov [rdi + rcx], al
    inc ecx
    cmp ecx, 4096
    jb .byte
    call byte_sums
    CHECK "X holds the bytes written last", rbx
    READ_FAULTS "X still unlinked", L3, 0

    ; Free Y: PDPTE 1 cleared, CR3 reloaded. Flood it with 3 x 512 qword writes, then check.
    mov rax, [rel pdpt]
    mov qword [rax + 8], 0
    mov rax, cr3
    mov cr3, rax
    mov rax, LY
    READ_FAULTS "Y unlinked", rax, 0
    mov rdi, [rel y]
    xor edx, edx
.yround:
    xor ecx, ecx
.yqword:
    mov rax, rcx
    shl rax, 12
    add rax, rdx
    mov [rdi + rcx * 8], rax
    inc ecx
    cmp ecx, 512
    jb .yqword
    inc edx
    cmp edx, 3
    jb .yround
    xor eax, eax
    xor ecx, ecx
.ysum:
    add rax, [rdi + rcx * 8]
    inc ecx
    cmp ecx, 512
    jb .ysum
    CHECK "Y holds the data written last", (511 * 512 / 2) * 4096 + 512 * 2
    mov rax, LY
    READ_FAULTS "Y still unlinked", rax, 0

    ; X is a page table again: zeroed, PTE i -> D(NDATA + (i + 7) mod NDATA), then linked (P 0 -> 1).
    mov rdi, [rel x]
    xor eax, eax
    mov ecx, 512
    rep stosq
    mov rdi, [rel x]
    xor ecx, ecx
.newx:
    lea eax, [rcx + 7]
    and eax, NDATA - 1
    add eax, NDATA
    shl rax, 12
    add rax, [rel dbase]
    or rax, LEAF
    mov [rdi + rcx * 8], rax
    inc ecx
    cmp ecx, NDATA
    jb .newx
    mov rax, [rel x]
    or rax, TABLE
    mov rdx, [rel pd]
    mov [rdx + 3 * 8], rax
    VERIFY "X is a page table again", [rel x], L3
    ; Y is a page directory again, its PDE 0 -> X too.
    mov rdi, [rel y]
    xor eax, eax
    mov ecx, 512
    rep stosq
    mov rax, [rel x]
    or rax, TABLE
    mov rdx, [rel y]
    mov [rdx], rax
    mov rax, [rel y]
    or rax, TABLE
    mov rdx, [rel pdpt]
    mov [rdx + 8], rax
    VERIFY "Y is a page directory again (-> X)", [rel x], LY
    ; An edit of X through its data mapping VX: both paths follow it.
    mov rax, [rel dbase]
    or rax, LEAF
    mov rdx, VX
    mov [rdx + 5 * 8], rax
    VERIFY "X edited as data: first path", [rel x], L3
    VERIFY "X edited as data: second path", [rel x], LY
    mov rax, L3 + 5 * 0x1000
    READ_IS "PTE 5 -> D0", rax, 0xF00D0000

    ; Flooding a page directory that another address space still uses: space B links Y2 (PDPTE 1); while space A
    ; runs, Y2's PDEs 0-3 are rewritten FLOOD times each (PDE-like values naming X or PTY); back in B, every
    ; mapping below Y2 must follow its final bytes.
    call new_space
    mov [rel space_b], rax
    call alloc_page
    mov [rel y2], rax
    xor ecx, ecx
.y2init:
    mov rax, [rel x]
    or rax, TABLE
    mov rdx, [rel y2]
    mov [rdx + rcx * 8], rax
    inc ecx
    cmp ecx, 4
    jb .y2init
    mov rdi, [rel space_b]
    mov rsi, LY
    xor edx, edx
    call map_page                   ; creates B's PDPT (and a PD, replaced next) for PDPTE 1
    mov rcx, ADDR_MASK
    mov rax, [rel space_b]
    mov rax, [rax + 8]
    and rax, rcx
    mov rdx, [rel y2]
    or rdx, TABLE
    mov [rax + 8], rdx
    mov rax, [rel space_b]
    mov cr3, rax
    call verify_y2
    CHECK "space B maps through Y2", 0
    mov rax, [rel space]
    mov cr3, rax
    xor r12d, r12d
.flood:
    xor ecx, ecx
.flood_pde:
    mov rax, [rel x]
    lea edx, [rcx + r12]
    test dl, 1
    jz .pick
    mov rax, [rel pty]
.pick:
    or rax, TABLE
    mov rdx, [rel y2]
    mov [rdx + rcx * 8], rax
    inc ecx
    cmp ecx, 4
    jb .flood_pde
    inc r12d
    cmp r12d, FLOOD
    jb .flood
    mov rax, [rel space_b]
    mov cr3, rax
    call verify_y2
    CHECK "space B follows Y2's bytes after the flood", 0
    mov rax, [rel space]
    mov cr3, rax

    call finish

; verify_y2: in the current space, the first NDATA pages below each of Y2's PDEs 0-3 (regions LY + i * 2 MiB)
; agree with the page table that PDE names. rax = mismatches.
verify_y2:
    push rbx
    push rbp
    xor ebx, ebx
    xor ebp, ebp
.next:
    mov rdi, [rel y2]
    mov rdi, [rdi + rbp * 8]
    mov rax, ADDR_MASK
    and rdi, rax
    mov rsi, rbp
    shl rsi, 21
    mov rax, LY
    add rsi, rax
    xor ecx, ecx
    mov edx, NDATA
    call verify_ptes
    add ebx, eax
    inc ebp
    cmp ebp, 4
    jb .next
    mov eax, ebx
    pop rbp
    pop rbx
    ret

; pte_like: rax = a PTE-looking value for index eax in round r12: D((7 * index + round) mod 2*NDATA) | LEAF.
pte_like:
    imul eax, eax, 7
    add eax, r12d
    and eax, 2 * NDATA - 1
    shl rax, 12
    add rax, [rel dbase]
    or rax, LEAF
    ret

; byte_sums: rax = sum of the 4096 bytes at X, rbx = sum of (13 * j) mod 256 for j < 4096.
byte_sums:
    mov rsi, [rel x]
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
.next:
    movzx edx, byte [rsi + rcx]
    add eax, edx
    imul edx, ecx, 13
    movzx edx, dl
    add ebx, edx
    inc ecx
    cmp ecx, 4096
    jb .next
    ret

align 8
space: dq 0
dbase: dq 0
pdpt: dq 0
pd: dq 0
x: dq 0
y: dq 0
pty: dq 0
space_b: dq 0
y2: dq 0
