; Editing a live PTE, then INVLPG: the new mapping is used for reads, writes and instruction fetches, and so are
; the new rights (SDM Vol. 3 4.10.4.1: INVLPG invalidates the TLB entries of that page, global ones included;
; 4.10.4.3: after a change of address or rights software must invalidate). Before each edit the old mapping is
; used, so a stale TLB or shadow entry would be visible. Checked against: A/D bits (4.8), #PF error codes (4.7:
; P, W/R, I/D; CR0.WP = 1 at CPL 0 and EFER.NXE = 1 as the runner starts).
bits 64
org 0x10000
%define V WINDOW + 0x1000           ; a data page
%define VG WINDOW + 0x2000          ; a global data page
%define VX WINDOW + 0x5000          ; a code page

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
    mov rdx, 0x1111111111111111
    call alloc_data
    mov [rel d1], rax
    mov rdx, 0x2222222222222222
    call alloc_data
    mov [rel d2], rax
    lea rsi, [rel code1]
    call alloc_code
    mov [rel c1], rax
    lea rsi, [rel code2]
    call alloc_code
    mov [rel c2], rax

    mov rdi, [rel space]
    mov rsi, V
    mov rdx, [rel d1]
    or rdx, LEAF
    call map_page
    mov [rel pte_v], rax
    mov rdi, [rel space]
    mov rsi, VX
    mov rdx, [rel c1]
    or rdx, LEAF
    call map_page
    mov [rel pte_x], rax

    ; The first mapping, and the A/D bits the accesses set in the PTE.
    READ_IS "read through the first mapping", V, 0x1111111111111111
    mov rax, [rel pte_v]
    mov rax, [rax]
    and eax, PTE_A | PTE_D
    CHECK "read sets A, not D", PTE_A
    mov rdi, V + 8
    mov rsi, 0xA1
    call probe_write
    mov rax, [rel d1]
    mov rax, [rax + 8]
    CHECK "write lands in the first frame", 0xA1
    mov rax, [rel pte_v]
    mov rax, [rax]
    and eax, PTE_A | PTE_D
    CHECK "write sets D", PTE_A | PTE_D

    ; Remap V to d2 while its translation is cached.
    mov rdx, [rel d2]
    or rdx, LEAF
    SET_PTE [rel pte_v], rdx
    INVLPG_AT V
    READ_IS "read after remap and invlpg", V, 0x2222222222222222
    mov rdi, V + 8
    mov rsi, 0xB2
    call probe_write
    mov rax, [rel d2]
    mov rax, [rax + 8]
    CHECK "write after remap lands in the new frame", 0xB2
    mov rax, [rel d1]
    mov rax, [rax + 8]
    CHECK "old frame untouched by it", 0xA1

    ; Instruction fetch: the code at VX is executed (and its translation cached), then VX is remapped.
    CALL_IS "fetch through the first code mapping", VX, 1
    CALL_IS "fetch again (cached)", VX, 1
    mov rdx, [rel c2]
    or rdx, LEAF
    SET_PTE [rel pte_x], rdx
    INVLPG_AT VX
    CALL_IS "fetch after remap and invlpg", VX, 2
    ; The same with nothing but the PTE written between the two fetches (the guest's own variables share pages
    ; with its code, so any other store would look like self-modifying code and drop translations anyway).
    mov rdx, [rel c1]
    or rdx, LEAF
    SET_PTE [rel pte_x], rdx
    INVLPG_AT VX
    mov rdi, VX
    mov rsi, [rel pte_x]
    mov rdx, [rel c2]
    or rdx, LEAF
    xor r9d, r9d
    call fetch_remap_fetch
    shl rax, 8
    or rax, rbx
    CHECK "fetch, remap + invlpg, fetch: old then new code", 0x0102
    mov rdi, VX
    mov rsi, [rel pte_x]
    mov rdx, [rel c1]
    or rdx, LEAF
    mov r9d, 1
    call fetch_remap_fetch
    shl rax, 8
    or rax, rbx
    CHECK "fetch, remap + CR3 reload, fetch: old then new code", 0x0201
    mov rdx, [rel c2]
    or rdx, LEAF
    SET_PTE [rel pte_x], rdx
    INVLPG_AT VX
    ; XD = 1: a fetch is a #PF with P = 1 and I/D = 1 (0x11); reads still work.
    mov rax, [rel pte_x]
    bts qword [rax], XD_BIT
    INVLPG_AT VX
    CALL_FAULTS "fetch from an XD page", VX, 0x11
    READ_IS "read from an XD page", VX, [rel code2]
    mov rax, [rel pte_x]
    btr qword [rax], XD_BIT
    INVLPG_AT VX
    CALL_IS "fetch after clearing XD", VX, 2

    ; Not present: reads and writes fault with P = 0 (error codes 0 and 2).
    SET_PTE [rel pte_v], 0
    INVLPG_AT V
    READ_FAULTS "read of a cleared PTE", V, 0
    WRITE_FAULTS "write to a cleared PTE", V, 2
    ; Present, read-only: reads see the frame; a write is #PF(P | W/R) = 3 since CR0.WP = 1.
    mov rdx, [rel d1]
    or rdx, PTE_P
    SET_PTE [rel pte_v], rdx
    INVLPG_AT V
    READ_IS "read of a read-only PTE", V, 0x1111111111111111
    WRITE_FAULTS "write to a read-only PTE", V, 3
    mov rax, [rel d1]
    mov rax, [rax]
    CHECK "the refused write did not land", 0x1111111111111111
    ; Writable again.
    mov rdx, [rel d1]
    or rdx, LEAF
    SET_PTE [rel pte_v], rdx
    INVLPG_AT V
    mov rdi, V + 16
    mov rsi, 0xC3
    call probe_write
    mov rax, rdx
    CHECK "write allowed again", NO_FAULT
    mov rax, [rel d1]
    mov rax, [rax + 16]
    CHECK "it lands in the frame", 0xC3

    ; Not present -> present needs no invalidation (SDM 4.10.4.3: no TLB entry is made from a P = 0 entry): a
    ; neighbour PTE in the same (recently written) page table, faulted on first, then set without INVLPG.
    mov rdi, [rel space]
    mov rsi, V + 0x2000
    xor edx, edx
    call map_page
    mov [rel pte_n], rax
    READ_FAULTS "neighbour not present", V + 0x2000, 0
    mov rdx, [rel d2]
    or rdx, LEAF
    SET_PTE [rel pte_n], rdx
    READ_IS "neighbour made present, no invlpg", V + 0x2000, 0x2222222222222222
    ; A data remap followed by a CR3 reload with the same value (flushes non-global entries) instead of INVLPG.
    mov rdx, [rel d2]
    or rdx, LEAF
    SET_PTE [rel pte_v], rdx
    mov rax, cr3
    mov cr3, rax
    READ_IS "remap + CR3 reload (same value)", V, 0x2222222222222222

    ; A global page (CR4.PGE = 1, PTE.G = 1): INVLPG invalidates global entries too.
    mov rax, cr4
    bts rax, 7
    mov cr4, rax
    mov rdi, [rel space]
    mov rsi, VG
    mov rdx, [rel d1]
    or rdx, LEAF | 0x100
    call map_page
    mov [rel pte_g], rax
    READ_IS "read a global page", VG, 0x1111111111111111
    mov rdx, [rel d2]
    or rdx, LEAF | 0x100
    SET_PTE [rel pte_g], rdx
    INVLPG_AT VG
    READ_IS "global page after remap and invlpg", VG, 0x2222222222222222

    call finish

; fetch_remap_fetch: calls rdi (rax -> al), stores rdx to the PTE at rsi, INVLPGs rdi (r9 = 0) or reloads CR3
; with its own value (r9 = 1: flushes every non-global TLB entry, SDM 4.10.4.1), calls it again (-> bl).
fetch_remap_fetch:
    call rdi
    mov r8, rax
    mov [rsi], rdx
    test r9, r9
    jnz .cr3
    invlpg [rdi]
    jmp .again
.cr3:
    mov rax, cr3
    mov cr3, rax
.again:
    call rdi
    mov rbx, rax
    mov rax, r8
    ret

; alloc_code: rax = a fresh page holding the 16-byte routine at rsi.
alloc_code:
    push rsi
    call alloc_page
    pop rsi
    mov rdi, rax
    mov ecx, 16
    rep movsb
    ret

align 16
code1:
    mov eax, 1
    ret
align 16
code2:
    mov eax, 2
    ret
align 16

align 8
space: dq 0
d1: dq 0
d2: dq 0
c1: dq 0
c2: dq 0
pte_v: dq 0
pte_x: dq 0
pte_g: dq 0
pte_n: dq 0
