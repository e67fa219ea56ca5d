; Instructions and blocks that cross a page boundary (SDM Vol. 3 11.6; a translation depends on the bytes of both
; pages and on the mappings of both linear pages). MOV EAX, 0x44332211 is placed with its opcode and two immediate
; bytes at the end of one page and the other two at the start of the next. After it ran (and was translated):
;   - a store changes its bytes on the second page, then on the first page;
;   - a store in the same block, before it, changes its bytes on the second page (the running block spans both);
;   - the second linear page is remapped to another physical page (PTE edit + INVLPG, then a CR3 reload) and back;
;   - the same for a block that runs from one page into the next without an instruction crossing the boundary, and
;     a store into that block's part on the second page.
bits 64
org 0x10000
%define W_X3 WINDOW                 ; xp2 (x3_entry's page), then xp3a or xp3b
%define W_X5 WINDOW + 0x2000        ; xp3a (x5_entry's page), then xp4a or xp4b
%define OLD_IMM 0x44332211

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"
%include "smc/smc.inc"

; SET_PAGE pte_variable, page_label: points the PTE whose address is in pte_variable at page_label's physical page.
%macro SET_PAGE 2
    lea rdx, [rel %2]
    or rdx, LEAF
    mov rax, [%1]
    mov [rax], rdx
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [SCRATCH], rax              ; the address space
    mov cr3, rax
%assign I 0
%rep 4
    mov rdi, [SCRATCH]
    mov rsi, WINDOW + I * 0x1000
    xor edx, edx
    call map_page
    mov [SCRATCH + 8 + I * 8], rax  ; the PTE addresses
%assign I I + 1
%endrep
%define PTE_X3 SCRATCH + 8          ; PTE of W_X3
%define PTE_X3_NEXT SCRATCH + 16
%define PTE_X5 SCRATCH + 24
%define PTE_X5_NEXT SCRATCH + 32
    SET_PAGE PTE_X3, xp2
    SET_PAGE PTE_X3_NEXT, xp3a
    SET_PAGE PTE_X5, xp3a
    SET_PAGE PTE_X5_NEXT, xp4a

    ; Stores to the crossing instruction's bytes on either page.
    xor r14d, r14d
    call x1_entry
    PACK32 eax
    call x1_entry
    PACK32 eax
    mov rax, r14
    CHECK "an instruction crossing a page boundary runs", (OLD_IMM << 32) | OLD_IMM
    mov word [rel x1_tail], 0x6655
    call x1_entry
    CHECK "store to its bytes on the second page", 0x66552211
    mov byte [rel x1_cross + 1], 0x77
    call x1_entry
    CHECK "store to its bytes on the first page", 0x66552277
    ; The store runs in the block that holds the crossing instruction.
    xor r14d, r14d
    mov edx, 0x5566
    call x2_entry
    PACK32 eax
    mov edx, 0x7788
    call x2_entry
    PACK32 eax
    mov rax, r14
    CHECK "store in the same block to its bytes on the second page", 0x5566221177882211

    ; The second linear page remapped: a PTE edit and INVLPG, back, then a PTE edit and a CR3 reload.
    xor r14d, r14d
    mov rax, W_X3 + x3_entry - xp2
    call rax
    PACK32 eax
    mov rax, W_X3 + x3_entry - xp2
    call rax
    PACK32 eax
    mov rax, r14
    CHECK "crossing instruction through 4 KiB mappings runs", (OLD_IMM << 32) | OLD_IMM
    SET_PAGE PTE_X3_NEXT, xp3b
    INVLPG_AT W_X3 + 0x1000
    mov rax, W_X3 + x3_entry - xp2
    call rax
    CHECK "its second page remapped (INVLPG)", 0x66552211
    SET_PAGE PTE_X3_NEXT, xp3a
    INVLPG_AT W_X3 + 0x1000
    mov rax, W_X3 + x3_entry - xp2
    call rax
    CHECK "its second page mapped back (INVLPG)", OLD_IMM
    SET_PAGE PTE_X3_NEXT, xp3b
    mov rax, cr3
    mov cr3, rax
    mov rax, W_X3 + x3_entry - xp2
    call rax
    CHECK "its second page remapped (CR3 reload)", 0x66552211

    ; A block that runs on into the next page (no instruction crosses): a store to its part there; through
    ; 4 KiB mappings, that page remapped and back.
    xor r14d, r14d
    call x5_entry
    PACK16 rax
    call x5_entry
    PACK16 rax
    mov dword [rel x5_imm], 0x300
    call x5_entry
    PACK16 rax
    mov rax, r14
    CHECK "a block running into the next page: store to its part there", 0x010301030303
    xor r14d, r14d
    mov rax, W_X5 + x5_entry - xp3a
    call rax
    PACK16 rax
    SET_PAGE PTE_X5_NEXT, xp4b
    INVLPG_AT W_X5 + 0x1000
    mov rax, W_X5 + x5_entry - xp3a
    call rax
    PACK16 rax
    SET_PAGE PTE_X5_NEXT, xp4a
    INVLPG_AT W_X5 + 0x1000
    mov rax, W_X5 + x5_entry - xp3a
    call rax
    PACK16 rax
    mov rax, r14
    CHECK "a block running into the next page: that page remapped and back", 0x030302030303

    call finish

CODE_PAGE
xp0:
    PAD_TO xp0, 4096 - 16
x1_entry:
    mov ecx, 0x5555
    NOP_TO xp0, 4096 - 3
x1_cross:
    db 0xB8, 0x11, 0x22             ; MOV EAX, 0x44332211: opcode and two immediate bytes here...
xp1:
x1_tail:
    db 0x33, 0x44                   ; ... the other two on the next page
    ret
    PAD_TO xp1, 4096 - 32
; x2_entry: stores dx into the next page's bytes of the instruction that crosses into it.
x2_entry:
    mov [rel x2_tail], dx
    NOP_TO xp1, 4096 - 3
    db 0xB8, 0x11, 0x22
xp2:
x2_tail:
    db 0x33, 0x44
    ret
    PAD_TO xp2, 4096 - 16
x3_entry:                           ; run through W_X3: the next page is xp3a or xp3b
    mov ecx, 0x5555
    NOP_TO xp2, 4096 - 3
    db 0xB8, 0x11, 0x22
xp3a:
    db 0x33, 0x44
    ret
    PAD_TO xp3a, 4096 - 10
x5_entry:                           ; 1 + 2 + the next page's ADD
    mov eax, 1
    add eax, 2
    nop
    nop
xp4a:
    db 0x05                         ; ADD EAX, imm32
x5_imm:
    dd 0x100
    ret

CODE_PAGE
xp3b:
    db 0x55, 0x66
    ret

CODE_PAGE
xp4b:
    db 0x05
    dd 0x200
    ret
