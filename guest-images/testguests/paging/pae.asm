; PAE paging (CR4.PAE = 1 outside IA-32e mode, SDM Vol. 3 4.4): 4 KiB pages and the shared checks of
; legacy_tests.inc, then what is PAE's own: PDPTEs (no A bit, reserved bits checked at MOV CR3 with #GP(0), CR3
; bits 31:5 locate the PDPT), 2 MiB pages, reserved bits 62:M (MAXPHYADDR = 40) and XD without EFER.NXE, and
; execute-disable with EFER.NXE (I/D in the error code).
; Run with: emu64 -bare pae.bin -start-mode prot32.
bits 32
org 0x10000
%define ESZ 8
%define PDPT 0x100000            ; also holds three more 32-byte PDPTs at +0x20, +0x40, +0x60
%define PD0 0x101000             ; 0-1 GiB
%define PT_ID 0x102000           ; two pages: identity map of 0-4 MiB, U/S = 1, R/W = 1
%define PD1 0x104000             ; 1-2 GiB
%define TEST_PT 0x105000
%define SUPER_PT 0x106000
%define RO_PT 0x107000
%define NX_PT 0x108000
%define PD1B 0x109000            ; another PD for 1-2 GiB, and its page table
%define PT_B 0x10A000
%define PDE1(va) (PD1 + (((va) >> 21) & 0x1FF) * 8)
%define TEST_PDE PDE1(TEST_VA)
%define SUPER_VA 0x44000000
%define RO_VA 0x44200000
%define TOP_NP_VA 0x80000000     ; PDPTE 2 is not present
%define BIG_VA 0x40200000        ; 2 MiB page
%define NP_PDE_VA 0x40400000
%define ALIAS_VA 0x40600000
%define NXPDE_VA 0x40800000      ; PDE with XD over an executable PTE
%define BIG_MAGIC 0x4D4D4D4D
%define BIG_MAGIC2 0x6D6D6D6D
%define PS 0x80
%define RSVD 8
%define ID 0x10
%define EFER 0xC0000080

; SETE address, low, high: an 8-byte entry.
%macro SETE 3
    mov dword [%1], %2
    mov dword [%1 + 4], %3
%endmacro

    jmp start
%include "sys/lib32.inc"
%include "paging/lib_pg32.inc"
%include "paging/legacy_tests.inc"

start:
    mov esp, 0x80000
    call setup_idt
    mov edi, PDPT
    mov ecx, 11 * 1024
    xor eax, eax
    rep stosd
    mov edi, PT_ID
    mov eax, P | RW | US
.id:
    mov [edi], eax
    add edi, 8
    add eax, 0x1000
    cmp edi, PT_ID + 0x2000
    jb .id
    SETE PD0, PT_ID | P | RW | US, 0
    SETE PD0 + 8, PT_ID + 0x1000 | P | RW | US, 0
    SETE PDPT, PD0 | P, 0
    SETE PDPT + 8, PD1 | P, 0
    SETE TEST_PDE, TEST_PT | P | RW | US, 0
    SETE PDE1(SUPER_VA), SUPER_PT | P | RW, 0
    SETE SUPER_PT, DATA(0x10) | P | RW | US, 0
    SETE PDE1(RO_VA), RO_PT | P | US, 0
    SETE RO_PT, DATA(0x11) | P | RW | US, 0
    call fill_data
    mov dword [0x400000 + 0x123458], BIG_MAGIC
    mov dword [0x600000 + 0x123458], BIG_MAGIC2
    mov byte [DATA(0x12) + 0x800], 0xC3     ; RET
    mov eax, cr4
    bts eax, 5
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax

    call legacy_tests

    ; PDPTEs have no accessed bit (bit 5 is reserved, Table 4-8): walks leave them unchanged.
    mov eax, [PDPT + 8]
    CHECK "pdpte unchanged by walks", PD1 | P
    ARM .np_pde
    mov eax, [NP_PDE_VA + 0x18]
.np_pde:
    PF_CHECK "not-present pde read", 0, NP_PDE_VA + 0x18

    ; 2 MiB page: A on read, D on write, in the PDE; the alias sees the write.
    SETE PDE1(BIG_VA), 0x400000 | P | RW | US | PS, 0
    SETE PDE1(ALIAS_VA), 0x400000 | P | RW | US | PS, 0
    RD "2m read", BIG_VA + 0x123458, BIG_MAGIC
    AD "2m read sets pde A only", PDE1(BIG_VA), PG_A
    mov dword [BIG_VA + 0x10], 0x66666666
    AD "2m write sets pde D", PDE1(BIG_VA), PG_A | PG_D
    RD "2m alias sees the write", ALIAS_VA + 0x10, 0x66666666
    ; INVLPG of any address in a large page invalidates the whole page (4.10.4.1).
    SETE PDE1(BIG_VA), 0x600000 | P | RW | US | PS, 0
    invlpg [BIG_VA + 0x1FF000]
    RD "2m invlpg at another 4k piece", BIG_VA + 0x123458, BIG_MAGIC2

    ; Reserved bits (Tables 4-10, 4-11): 62:40 in a PTE, 20:13 in a 2 MiB PDE, XD (63) while EFER.NXE = 0.
    SETE PTE(0x10), DATA(0x10) | P | RW | US, 1 << (40 - 32)
    ARM .r1
    mov eax, [VA(0x10)]
.r1:
    PF_CHECK "pte bit 40 reserved", P | RSVD, VA(0x10)
    SETE PTE(0x14), DATA(0x14) | P | RW | US, 1 << (62 - 32)
    ARM .r4
    mov dword [VA(0x14) + 4], 1
.r4:
    PF_CHECK "pte bit 62 reserved (write)", P | RW | RSVD, VA(0x14) + 4
    SETE PDE1(ALIAS_VA), 0x400000 | (1 << 13) | P | RW | US | PS, 0
    invlpg [ALIAS_VA]
    ARM .r2
    mov eax, [ALIAS_VA + 0x2000]
.r2:
    PF_CHECK "2m pde bit 13 reserved", P | RSVD, ALIAS_VA + 0x2000
    SETE PTE(0x11), DATA(0x11) | P | RW | US, 0x80000000
    ARM .r3
    mov eax, [VA(0x11)]
.r3:
    PF_CHECK "XD reserved without NXE", P | RSVD, VA(0x11)
    USER u_read, VA(0x11)
    PF_CHECK "XD reserved without NXE, user", P | US | RSVD, VA(0x11)

    ; EFER.NXE = 1: XD forbids fetches only; fetch faults carry I/D (4.6.2, 4.7).
    mov ecx, EFER
    rdmsr
    bts eax, 11
    wrmsr
    SETE PTE(0x12), DATA(0x12) | P | RW | US, 0
    SETE PTE(0x13), DATA(0x12) | P | RW | US, 0x80000000
    RD "XD page readable with NXE", VA(0x11), DVAL(0x11)
    mov [saved_esp], esp
    ARM .x1
    call VA(0x12) + 0x800
    mov dword [last_vec], 0x99
.x1:
    mov esp, [saved_esp]
    mov eax, [last_vec]
    CHECK "fetch from an executable page", 0x99
    mov [saved_esp], esp
    ARM .x2
    call VA(0x13) + 0x800
.x2:
    mov esp, [saved_esp]
    PF_CHECK "fetch from an XD pte", P | ID, VA(0x13) + 0x800
    SETE PDE1(NXPDE_VA), NX_PT | P | RW | US, 0x80000000
    SETE NX_PT, DATA(0x12) | P | RW | US, 0
    RD "read under an XD pde", NXPDE_VA + 0x800, DVAL(0x12) & 0xFFFFFF00 | 0xC3
    mov [saved_esp], esp
    ARM .x3
    call NXPDE_VA + 0x800
.x3:
    mov esp, [saved_esp]
    PF_CHECK "fetch under an XD pde", P | ID, NXPDE_VA + 0x800
    mov [saved_esp], esp
    ARM .x4
    call TOP_NP_VA + 0x40
.x4:
    mov esp, [saved_esp]
    PF_CHECK "not-present fetch with NXE", ID, TOP_NP_VA + 0x40

    ; PDPTEs are loaded by MOV CR3 from CR3[31:5] (4.4.1): a valid PDPT 0x60 bytes into the page works; a
    ; present PDPTE with a reserved bit (R/W, or bit 40) makes MOV CR3 #GP(0) and leaves CR3 alone; a
    ; not-present one may have any bits.
    mov esi, PDPT
    mov edi, PDPT + 0x60
    mov ecx, 8
    rep movsd
    mov eax, PDPT + 0x60
    mov cr3, eax
    RD "pdpt at cr3[31:5] = page + 0x60", VA(0x12), DVAL(0x12)
    ; Two PDPTs in one page: each MOV CR3 loads the PDPTEs of its own, as they are in memory then (4.4.1).
    mov esi, PDPT
    mov edi, PDPT + 0x80
    mov ecx, 8
    rep movsd
    mov dword [PDPT + 0x80 + 8], PD1B | P
    mov dword [PD1B], PT_B | P | RW | US
    mov dword [PT_B], DATA(0x18) | P | RW | US
    mov eax, PDPT + 0x80
    mov cr3, eax
    RD "second pdpt in the page", TEST_VA + 0x100, DVAL(0x18)
    mov eax, PDPT + 0x60
    mov cr3, eax
    RD "back to the first pdpt", TEST_VA + 0x100, DVAL(0)
    mov dword [PDPT + 0x80 + 8], PD1 | P
    mov eax, PDPT + 0x80
    mov cr3, eax
    RD "pdpte changed in memory, then loaded", TEST_VA + 0x100, DVAL(0)
    mov dword [PDPT + 0x80 + 8], PD1B | P
    mov eax, cr3
    mov cr3, eax
    RD "pdpte reloaded by mov cr3 with the same value", TEST_VA + 0x100, DVAL(0x18)
    mov eax, PDPT + 0x60
    mov cr3, eax
    mov esi, PDPT
    mov edi, PDPT + 0x20
    mov ecx, 8
    rep movsd
    or dword [PDPT + 0x20 + 8], RW
    ARM .g1
    mov eax, PDPT + 0x20
    mov cr3, eax
.g1:
    mov eax, [last_vec]
    shl eax, 16
    or eax, [last_err]
    CHECK "present pdpte with R/W: mov cr3 #GP(0)", 13 << 16
    mov eax, cr3
    CHECK "cr3 unchanged after the #GP", PDPT + 0x60
    and dword [PDPT + 0x20 + 8], ~RW
    or dword [PDPT + 0x20 + 12], 1 << (40 - 32)
    ARM .g2
    mov eax, PDPT + 0x20
    mov cr3, eax
.g2:
    mov eax, [last_vec]
    shl eax, 16
    or eax, [last_err]
    CHECK "present pdpte with bit 40: mov cr3 #GP(0)", 13 << 16
    mov esi, PDPT
    mov edi, PDPT + 0x40
    mov ecx, 8
    rep movsd
    mov dword [PDPT + 0x40 + 24], 0xFFFFFFFE  ; PDPTE 3: not present, every other bit set
    mov dword [PDPT + 0x40 + 28], 0xFFFFFFFF
    ARM .g3
    mov eax, PDPT + 0x40
    mov cr3, eax
    mov dword [last_vec], 0x99
.g3:
    mov eax, [last_vec]
    CHECK "not-present pdpte with reserved bits loads", 0x99
    ARM .np3
    mov eax, [0xC0000000]
.np3:
    PF_CHECK "access through a not-present pdpte", 0, 0xC0000000
    mov eax, PDPT
    mov cr3, eax
    call finish
