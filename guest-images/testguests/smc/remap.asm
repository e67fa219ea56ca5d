; Code pages remapped under a linear address (SDM Vol. 3 4.10.4: after a PTE edit and INVLPG, or a CR3 load, fetches
; use the new mapping). p1 and p2 are physical pages with the same code at the same offsets except for the values
; it returns (1 and 2); linear X maps one of them. Translations are cached per physical page, so both stay cached
; while X switches between them: the one X maps now must run, and after switching back the old one is right again.
;   - a PTE edit + INVLPG, alternating, for a plain routine and a chained loop; the same from a loop that calls X
;     indirectly (the JIT's jump cache) after a data read of X has refilled the TLB entry;
;   - two address spaces mapping X to p1 and p2, switched by MOV CR3 alone;
;   - X not present (a fetch #PF), then mapped to p2 without INVLPG (a not-present entry is never cached), then p1;
;   - code at X that remaps X (PTE edit + INVLPG, or MOV CR3) and goes on: both are serializing, so the next
;     instruction comes from the new page.
bits 64
org 0x10000
%define X WINDOW + 0x10000
%define OFF_RET 0x00                ; MOV EAX, k; RET
%define OFF_LOOP 0x10               ; 10 * k through a loop of chained blocks
%define OFF_INVLPG 0x40             ; [rdi] = rsi; INVLPG [rdx]; MOV EAX, k; RET
%define OFF_CR3 0x60                ; CR3 = rdi; MOV EAX, k; RET
%define SPACE_A SCRATCH             ; X -> p1 or p2 (PTE at PTE_A)
%define SPACE_B SCRATCH + 8         ; X -> p2
%define PTE_A SCRATCH + 16

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"
%include "smc/smc.inc"

; MAP_X page_label: points X (in space A) at page_label, then INVLPG X.
%macro MAP_X 1
    lea rdx, [rel %1]
    or rdx, LEAF
    mov rax, [PTE_A]
    mov [rax], rdx
    INVLPG_AT X
%endmacro
; CALL_X offset: calls X + offset; PACK16 the result.
%macro CALL_X 1
    mov rax, X + %1
    call rax
    PACK16 rax
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [SPACE_A], rax
    mov rdi, rax
    mov rsi, X
    lea rdx, [rel p1]
    or rdx, LEAF
    call map_page
    mov [PTE_A], rax
    call new_space
    mov [SPACE_B], rax
    mov rdi, rax
    mov rsi, X
    lea rdx, [rel p2]
    or rdx, LEAF
    call map_page
    mov rax, [SPACE_A]
    mov cr3, rax

    xor r14d, r14d
    CALL_X OFF_RET
    CALL_X OFF_RET
    MAP_X p2
    CALL_X OFF_RET
    MAP_X p1
    CALL_X OFF_RET
    mov rax, r14
    CHECK "X runs p1, then p2 and p1 again after PTE edit + INVLPG", 0x0001000100020001
    xor r14d, r14d
    CALL_X OFF_LOOP
    MAP_X p2
    CALL_X OFF_LOOP
    MAP_X p1
    CALL_X OFF_LOOP
    MAP_X p2
    CALL_X OFF_LOOP
    mov rax, r14
    CHECK "a chained loop at X: p1, p2, p1, p2", 0x000A001E000A001E
    ; From a loop: INVLPG, a read of X (refills its TLB entry), CALL through a register, six times.
    xor r14d, r14d
    xor r13d, r13d
.indirect:
    lea rdx, [rel p1]
    lea rax, [rel p2]
    test r13d, 1
    cmovnz rdx, rax
    or rdx, LEAF
    mov rax, [PTE_A]
    mov [rax], rdx
    mov rdi, X
    invlpg [rdi]
    mov rax, [rdi]
    call rdi
    PACK16 rax
    inc r13d
    cmp r13d, 4
    jb .indirect
    mov rax, r14
    CHECK "indirect calls from a loop, X alternating after a data read", 0x0001000200010002

    ; Two address spaces, switched by MOV CR3 without INVLPG.
    MAP_X p1
    xor r14d, r14d
    xor r13d, r13d
.spaces:
    mov rax, [SPACE_A]
    mov rdx, [SPACE_B]
    test r13d, 1
    cmovnz rax, rdx
    mov cr3, rax
    mov rdi, X
    call rdi
    PACK16 rax
    inc r13d
    cmp r13d, 4
    jb .spaces
    mov rax, [SPACE_A]
    mov cr3, rax
    mov rax, r14
    CHECK "MOV CR3 between spaces mapping X to p1 and p2", 0x0001000200010002

    ; Not present, then present (no INVLPG needed: SDM 4.10.4.3), then back to p1.
    mov rax, [PTE_A]
    mov qword [rax], 0
    INVLPG_AT X
    CALL_FAULTS "fetch from X not present: #PF, I/D = 1", X, 0x10
    lea rdx, [rel p2]
    or rdx, LEAF
    mov rax, [PTE_A]
    mov [rax], rdx
    CALL_IS "X made present on p2 without INVLPG", X, 2
    MAP_X p1
    CALL_IS "X back on p1", X, 1

    ; The code at X remaps X and continues: from p1 to p2, then from p2 to p1.
    xor r14d, r14d
    mov rdi, [PTE_A]
    lea rsi, [rel p2]
    or rsi, LEAF
    mov rdx, X
    CALL_X OFF_INVLPG
    mov rdi, [PTE_A]
    lea rsi, [rel p1]
    or rsi, LEAF
    mov rdx, X
    CALL_X OFF_INVLPG
    mov rax, r14
    CHECK "code at X remaps X with PTE edit + INVLPG and continues on the new page", 0x00020001
    xor r14d, r14d
    mov rdi, [SPACE_B]
    CALL_X OFF_CR3
    mov rdi, [SPACE_A]
    CALL_X OFF_CR3
    mov rax, r14
    CHECK "code at X loads a CR3 that maps X elsewhere and continues on the new page", 0x00020001

    call finish

; VARIANT page_label, k: the code of p1 (k = 1) and p2 (k = 2); only the values of k differ, not the offsets.
%macro VARIANT 2
CODE_PAGE
%1:
    mov eax, %2
    ret
    PAD_TO %1, OFF_LOOP
    xor eax, eax
    mov ecx, 10
%%loop:
    add eax, 2 * %2 - 1             ; 1 for p1, 3 for p2: 10 and 30 (the same encoding, an imm8)
    dec ecx
    jnz %%loop
    ret
    PAD_TO %1, OFF_INVLPG
    mov [rdi], rsi
    invlpg [rdx]
    mov eax, %2
    ret
    PAD_TO %1, OFF_CR3
    mov cr3, rdi
    mov eax, %2
    ret
%endmacro
VARIANT p1, 1
VARIANT p2, 2
