; 4-level paging (IA-32e mode, SDM Vol. 3 4.5) on the guest's own tables: 4 KiB, 2 MiB and (when CPUID reports
; Page1GB) 1 GiB pages; A at every level walked and D only in the leaf (4.8); #PF error codes and CR2 (4.7) for
; not-present entries at each level, reserved bits (PS in a PML4E, bits 51:M with MAXPHYADDR from CPUID, large-page
; bits, XD without EFER.NXE), CR0.WP, U/S, XD with NXE at the PTE and PML4E levels; invalidation (4.10.4): INVLPG,
; MOV CR3, global pages and CR4.PGE, P 0 -> 1 and a write fault's own invalidation; a recursive PML4 slot (page
; tables read and written as data, and A/D set in the entry that is the leaf of that walk); a code page remapped
; under the same linear address; page-table writes of every shape (byte, misaligned, across entries or table
; pages, locked, from CPL 3, REP MOVSQ); one page table under PDEs of different rights. It runs on a CPU without
; SMEP, SMAP and LA57: setting CR4.SMEP/SMAP must then be #GP (see smep_smap_la57; conform/smep64 checks the features).
; Run with: emu64 -bare lm64.bin -cpu max,-smep,-smap (long mode, the runner's identity map at CR3).
bits 64
org 0x10000
%define PML4 0x100000
%define PDPT_T 0x101000
%define PD_T 0x102000
%define TEST_PT 0x103000
%define PDPT_S 0x104000
%define PD_S 0x105000
%define PT_S 0x106000
%define PDPT_X 0x107000
%define PD_X 0x108000
%define PT_X 0x109000
%define PT_LO 0x10A000                 ; PD_T[4], adjacent to
%define PT_HI 0x10B000                 ; PD_T[5]
%define TEST_VA 0x8000000000                ; PML4 slot 1
%define VA(i) (TEST_VA + (i) * 0x1000)
%define PTE(i) (TEST_PT + (i) * 8)
%define DATA(i) (0x200000 + (i) * 0x1000)
%define DVAL(i) (0xDA7A0000 + (i))
%define BIG_VA (TEST_VA + 0x200000)          ; PD_T[1]: 2 MiB page at 4 MiB
%define ALIAS_VA (TEST_VA + 0x600000)        ; PD_T[3]: the same 2 MiB page
%define NP_PDE_VA (TEST_VA + 0x400000)       ; PD_T[2] = 0
%define GIG_VA (TEST_VA + 0x40000000)        ; PDPT_T[1]: 1 GiB page at 0
%define GIG_RSVD_VA (TEST_VA + 0x80000000)   ; PDPT_T[2]: 1 GiB page with bit 13 set
%define NP_PDPTE_VA (TEST_VA + 0xC0000000)   ; PDPT_T[3] = 0
%define NP_PML4E_VA 0x10000000000            ; PML4 slot 2 = 0
%define PS_PML4E_VA 0x18000000000            ; PML4 slot 3: PS set (reserved)
%define SUPER_VA 0x20000000000               ; PML4 slot 4: PDPTE with U/S = 0
%define NXTOP_VA 0x28000000000               ; PML4 slot 5: PML4E with XD
%define REC_PTE(i) (0xFFFFFF0040000000 + (i) * 8)  ; slot 510 -> PML4: TEST_PT through the recursive slot
%define BIG_MAGIC 0x4D4D4D4D4D4D4D4D
%define CODE1 0xC300000000B8       ; mov eax, imm32 ; ret (the immediate goes in bits 39:8)

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "paging/lib_pg64.inc"

; E address, value: an 8-byte entry (a 64-bit immediate through rax).
%macro E 2
    mov rax, %2
    mov [%1], rax
%endmacro

start:
    mov rsp, 0x80000
    call setup_idt
    call setup_user
    mov edi, PML4
    mov ecx, 12 * 512
    xor eax, eax
    rep stosq
    mov rax, cr3
    mov rax, [rax]                  ; the runner's identity map (U/S = 1, R/W = 1) stays in slot 0
    mov [PML4], rax
    E PML4 + 8, PDPT_T | P | RW | US
    E PML4 + 3 * 8, PDPT_T | P | RW | US | PS
    E PML4 + 4 * 8, PDPT_S | P | RW | US
    E PML4 + 5 * 8, PDPT_X | P | RW | US | XD
    E PML4 + 510 * 8, PML4 | P | RW
    E PDPT_T, PD_T | P | RW | US
    E PD_T, TEST_PT | P | RW | US
    E PDPT_S, PD_S | P | RW
    E PD_S, PT_S | P | RW | US
    E PT_S, DATA(0x10) | P | RW | US
    E PDPT_X, PD_X | P | RW | US
    E PD_X, PT_X | P | RW | US
    E PT_X, DATA(0x12) | P | RW | US
    ; DATA(i) holds DVAL(i) in every qword; DATA(0x12) + 0x800 is a RET; 4 MiB + 0x123458 a magic.
    mov edi, DATA(0)
    mov eax, DVAL(0)
.page:
    mov ecx, 512
    rep stosq
    inc eax
    cmp edi, DATA(0x20)
    jb .page
    mov byte [DATA(0x12) + 0x800], 0xC3
    E 0x400000 + 0x123458, BIG_MAGIC
    mov eax, PML4
    mov cr3, rax

    ; 4 KiB page: A in all four entries on a read, D only in the PTE on a write (4.8).
    E PTE(0), DATA(0) | P | RW | US
    RD "4k read", VA(0), DVAL(0)
    AD "4k read: pte A, not D", PTE(0), PG_A
    AD "4k read: pde A", PD_T, PG_A
    AD "4k read: pdpte A", PDPT_T, PG_A
    AD "4k read: pml4e A", PML4 + 8, PG_A
    WR VA(0) + 8, 0x1122334455667788
    mov rax, [DATA(0) + 8]
    CHECK "4k write reaches the page", 0x1122334455667788
    AD "4k write: pte D", PTE(0), PG_A | PG_D
    AD "4k write: pde D clear", PD_T, PG_A
    AD "4k write: pdpte D clear", PDPT_T, PG_A
    AD "4k write: pml4e D clear", PML4 + 8, PG_A
    E PTE(9), DATA(9) | P | RW | US
    RD "read before write", VA(9), DVAL(9)
    AD "read sets A only", PTE(9), PG_A
    WR VA(9) + 8, 1
    AD "write after read sets D", PTE(9), PG_A | PG_D

    ; 2 MiB page.
    E PD_T + 8, 0x400000 | P | RW | US | PS
    E PD_T + 3 * 8, 0x400000 | P | RW | US | PS
    RD "2m read", BIG_VA + 0x123458, BIG_MAGIC
    AD "2m read: pde A only", PD_T + 8, PG_A
    WR BIG_VA + 0x10, 0x6666
    AD "2m write: pde D", PD_T + 8, PG_A | PG_D
    RD "2m alias sees the write", ALIAS_VA + 0x10, 0x6666
    ; D cleared by software in a 2 MiB PDE, INVLPG, written again: set again. A read-only 2 MiB page made
    ; writable after a write fault: the fault invalidated it (4.10.4.1).
    and qword [PD_T + 8], ~PG_D
    mov rbx, BIG_VA
    invlpg [rbx]
    WR BIG_VA + 0x20, 0x2020
    AD "2m write after clearing D sets D", PD_T + 8, PG_A | PG_D
    and qword [PD_T + 8], ~RW
    invlpg [rbx]
    mov rbx, BIG_VA + 0x100000
    ARMPF .ro2m
    mov [rbx], rax
.ro2m:
    PF_CHECK "2m read-only write", P | RW, BIG_VA + 0x100000
    or qword [PD_T + 8], RW
    WR BIG_VA + 0x100000, 0x3030
    RD "2m made writable after the fault", ALIAS_VA + 0x100000, 0x3030
    E PD_T + 8, 0x400000 | (1 << 13) | P | RW | US | PS
    mov rbx, BIG_VA
    invlpg [rbx + 0x1000]
    ARMPF .r2m
    mov rax, [rbx]
.r2m:
    PF_CHECK "2m pde bit 13 reserved", P | RSVD, BIG_VA

    ; 1 GiB pages, when CPUID.80000001H:EDX.Page1GB (bit 26) says so: the checks of group "1g".
    mov eax, 0x80000001
    cpuid
    bt edx, 26
    jnc .no_1g
    lea rsi, [rel msg_group_1g]
    call puts
    E PDPT_T + 8, 0 | P | RW | US | PS
    RD "1g read", GIG_VA + DATA(5) + 0x10, DVAL(5)
    AD "1g read: pdpte A only", PDPT_T + 8, PG_A
    WR GIG_VA + DATA(5) + 0x18, 0x1616
    mov rax, [DATA(5) + 0x18]
    CHECK "1g write reaches physical memory", 0x1616
    AD "1g write: pdpte D", PDPT_T + 8, PG_A | PG_D
    E PDPT_T + 2 * 8, (1 << 13) | P | RW | US | PS
    mov rbx, GIG_RSVD_VA
    ARMPF .r1g
    mov rax, [rbx + 0x40]
.r1g:
    PF_CHECK "1g pdpte bit 13 reserved", P | RSVD, GIG_RSVD_VA + 0x40
.no_1g:

    ; Not present at each level (P = 0; W/R and U/S describe the access).
    mov rbx, NP_PML4E_VA
    ARMPF .np1
    mov rax, [rbx]
.np1:
    PF_CHECK "not-present pml4e read", 0, NP_PML4E_VA
    mov rbx, NP_PDPTE_VA + 8
    ARMPF .np2
    mov [rbx], rax
.np2:
    PF_CHECK "not-present pdpte write", RW, NP_PDPTE_VA + 8
    USER u_read, NP_PDE_VA + 0x10
    PF_CHECK "not-present pde user read", US, NP_PDE_VA + 0x10
    USER u_write, VA(2) + 0x18
    PF_CHECK "not-present pte user write", RW | US, VA(2) + 0x18
    E PTE(2), DATA(2) | P | RW | US
    RD "pte made present without invlpg", VA(2) + 0x18, DVAL(2)

    ; Reserved bits (Tables 4-14..4-19): PS in a PML4E, bit M and bit 51 in a PTE, XD while EFER.NXE = 0.
    mov rbx, PS_PML4E_VA
    ARMPF .rv1
    mov rax, [rbx]
.rv1:
    PF_CHECK "PS in a pml4e is reserved", P | RSVD, PS_PML4E_VA
    mov eax, 0x80000008
    cpuid
    movzx ecx, al                   ; MAXPHYADDR: bit M is the lowest reserved address bit
    mov eax, 1
    shl rax, cl
    or rax, DATA(0x14) | P | RW | US
    mov [PTE(0x14)], rax
    USER u_read, VA(0x14)
    PF_CHECK "pte bit MAXPHYADDR reserved, user read", P | US | RSVD, VA(0x14)
    E PTE(0x15), DATA(0x15) | P | RW | US | (1 << 51)
    mov rbx, VA(0x15)
    ARMPF .rv2
    mov [rbx], rax
.rv2:
    PF_CHECK "pte bit 51 reserved, write", P | RW | RSVD, VA(0x15)
    E PTE(0x11), DATA(0x11) | P | RW | US | XD
    mov ecx, EFER
    rdmsr
    btr eax, 11
    wrmsr
    mov rbx, VA(0x11)
    ARMPF .rv3
    mov rax, [rbx]
.rv3:
    PF_CHECK "XD reserved without NXE", P | RSVD, VA(0x11)
    FETCH VA(0x11)
    PF_CHECK "XD reserved without NXE, fetch (no I/D)", P | RSVD, VA(0x11)
    mov ecx, EFER
    rdmsr
    bts eax, 11
    wrmsr

    ; Execute-disable with NXE: data accesses pass, fetches fault with I/D (4.6.2).
    RD "XD page readable with NXE", VA(0x11), DVAL(0x11)
    E PTE(0x12), DATA(0x12) | P | RW | US
    FETCH VA(0x12) + 0x800
    NO_FAULT "fetch from an executable page"
    AD "fetch sets A, not D", PTE(0x12), PG_A
    FETCH VA(0x11) + 0x10
    PF_CHECK "fetch from an XD pte", P | ID, VA(0x11) + 0x10
    RD "read under an XD pml4e", NXTOP_VA + 0x800, DVAL(0x12) & ~0xFF | 0xC3, d
    FETCH NXTOP_VA + 0x800
    PF_CHECK "fetch under an XD pml4e", P | ID, NXTOP_VA + 0x800
    FETCH NP_PML4E_VA + 0x20
    PF_CHECK "not-present fetch with NXE", ID, NP_PML4E_VA + 0x20
    USER u_call, VA(0x11) + 0x10
    PF_CHECK "user fetch from an XD pte", P | US | ID, VA(0x11) + 0x10

    ; CR0.WP at CPL 0; U/S at the PTE and the PDPTE level; user rights (4.6.1).
    E PTE(3), DATA(3) | P | US
    mov rbx, VA(3) + 0x30
    ARMPF .wp1
    mov [rbx], rax
.wp1:
    PF_CHECK "read-only write with WP=1", P | RW, VA(3) + 0x30
    mov rax, [PTE(3)]
    and eax, PG_D
    CHECK "faulting write leaves D clear", 0
    mov rax, cr0
    btr rax, 16
    mov cr0, rax
    WR VA(3) + 0x30, 0x33
    mov rax, cr0
    bts rax, 16
    mov cr0, rax
    mov rax, [DATA(3) + 0x30]
    CHECK "WP=0 write reaches the page", 0x33
    AD "WP=0 write sets D", PTE(3), PG_A | PG_D
    E PTE(4), DATA(4) | P | US
    mov rbx, VA(4)
    ARMPF .fix
    mov [rbx], rax
.fix:
    PF_CHECK "read-only write before the fix", P | RW, VA(4)
    or qword [PTE(4)], RW
    WR VA(4), 0x44
    mov rax, [DATA(4)]
    CHECK "write fault invalidated the translation", 0x44
    E PTE(5), DATA(5) | P | RW
    USER u_read, VA(5)
    PF_CHECK "user read of a supervisor pte", P | US, VA(5)
    USER u_call, VA(5)
    PF_CHECK "user fetch from a supervisor pte", P | US | ID, VA(5)
    E PTE(6), DATA(6) | P | US
    USER u_read, VA(6) + 8
    CHECK "user read of a read-only page", DVAL(6)
    USER u_write, VA(6) + 8, 1
    PF_CHECK "user write to a read-only page", P | RW | US, VA(6) + 8
    USER u_read, SUPER_VA + 0x20
    PF_CHECK "user read under a supervisor pdpte", P | US, SUPER_VA + 0x20
    RD "supervisor read under a supervisor pdpte", SUPER_VA + 0x20, DVAL(0x10)
    USER u_write, VA(0) + 0x40, 0x77
    mov rax, [DATA(0) + 0x40]
    CHECK "user write to a user page", 0x77
    ; One page table under a user PDE, a supervisor PDE and a read-only PDE: rights combine per path (4.6.1).
    E PD_T + 6 * 8, TEST_PT | P | RW
    E PD_T + 7 * 8, TEST_PT | P | US
    USER u_read, TEST_VA + 6 * 0x200000 + 0x18
    PF_CHECK "user read through the supervisor pde", P | US, TEST_VA + 6 * 0x200000 + 0x18
    USER u_read, TEST_VA + 7 * 0x200000 + 0x18
    CHECK "user read through the read-only pde", DVAL(0)
    mov rbx, TEST_VA + 7 * 0x200000 + 0x18
    ARMPF .ro_pde
    mov [rbx], rax
.ro_pde:
    PF_CHECK "supervisor write through the read-only pde", P | RW, TEST_VA + 7 * 0x200000 + 0x18
    WR TEST_VA + 6 * 0x200000 + 0x18, 0x1818
    USER u_read, VA(0) + 0x18
    CHECK "user read of the write through the supervisor pde", 0x1818
    ; A non-canonical address is #GP(0), never #PF (4.5: bits 63:47 must equal bit 47).
    mov rbx, 0x0000800000000000
    ARMPF .nc
    mov rax, [rbx]
.nc:
    mov rax, [rel last_vec]
    CHECK "non-canonical access is #GP", 13

    ; INVLPG, MOV CR3, global pages (4.10.4.1): after each flush, the new mapping is used.
    E PTE(7), DATA(7) | P | RW | US
    RD "before invlpg", VA(7), DVAL(7)
    E PTE(7), DATA(0xA) | P | RW | US
    mov rbx, VA(7)
    invlpg [rbx + 0x321]
    RD "invlpg: the new mapping", VA(7), DVAL(0xA)
    E PTE(7), DATA(0xB) | P | RW | US
    mov rax, cr3
    mov cr3, rax
    RD "cr3 reload: the new mapping", VA(7), DVAL(0xB)
    mov rax, cr4
    bts rax, 7
    mov cr4, rax
    E PTE(8), DATA(0xC) | P | RW | US | PG_G
    RD "global page read", VA(8), DVAL(0xC)
    mov rax, cr3
    mov cr3, rax
    E PTE(8), DATA(0xD) | P | RW | US | PG_G
    mov rax, cr4
    btr rax, 7
    mov cr4, rax
    bts rax, 7
    mov cr4, rax
    RD "global page after a CR4.PGE toggle", VA(8), DVAL(0xD)
    E PTE(8), DATA(0xE) | P | RW | US | PG_G
    mov rbx, VA(8)
    invlpg [rbx]
    RD "global page after invlpg", VA(8), DVAL(0xE)
    mov rax, cr4
    btr rax, 7
    mov cr4, rax

    ; A code page remapped under the same linear address: after INVLPG the new code runs.
    mov rax, CODE1 | (1 << 8)
    mov [DATA(0x16)], rax
    mov rax, CODE1 | (2 << 8)
    mov [DATA(0x17)], rax
    E PTE(0x16), DATA(0x16) | P | RW | US
    mov rbx, VA(0x16)
    call rbx
    CHECK "code page 1 runs", 1
    E PTE(0x16), DATA(0x17) | P | RW | US
    mov rbx, VA(0x16)
    invlpg [rbx]
    call rbx
    CHECK "remapped code page runs", 2
    ; The same under another linear address, flushed by MOV CR3 with an unchanged value.
    mov rax, CODE1 | (3 << 8)
    mov [DATA(0x13)], rax
    mov rax, CODE1 | (4 << 8)
    mov [DATA(0xF)], rax
    E PTE(0x17), DATA(0x13) | P | RW | US
    mov rbx, VA(0x17)
    call rbx
    CHECK "code page 3 runs", 3
    E PTE(0x17), DATA(0xF) | P | RW | US
    call reload_cr3
    mov rbx, VA(0x17)
    call rbx
    CHECK "code page remapped, then mov cr3 with the same value", 4

    ; Recursive slot 510: the test page table read and written as data (4.5: the same entry may be used at
    ; several levels). The walk of a recursive address uses PD_T[0] as its PTE: A there, and D on a write.
    E PTE(0x18), DATA(0x18) | P | RW | US
    RD "read a pte through the recursive slot", REC_PTE(0x18), DATA(0x18) | P | RW | US
    AD "recursive slot pml4e A", PML4 + 510 * 8, PG_A
    WR REC_PTE(0x18), DATA(0x19) | P | RW | US
    mov rax, [PTE(0x18)]
    CHECK "pte written through the recursive slot", DATA(0x19) | P | RW | US
    mov rbx, VA(0x18)
    invlpg [rbx]
    RD "mapping from a pte written through the recursive slot", VA(0x18), DVAL(0x19)
    AD "recursive write sets D in the entry used as its pte", PD_T, PG_A | PG_D

    ; Page-table writes of every shape, each followed by MOV CR3 (which must drop every non-global translation,
    ; 4.10.4.1): a byte, a misaligned word, the upper half, a qword across two entries, a locked RMW, a write
    ; from CPL 3 through a user mapping of the table, REP MOVSQ, and a qword across two page-table pages.
    E PTE(0x1A), DATA(0x1A) | P | RW | US
    RD "pte byte write: before", VA(0x1A), DVAL(0x1A)
    mov byte [PTE(0x1A) + 1], (DATA(0x1B) >> 8) & 0xFF
    call reload_cr3
    RD "pte byte write", VA(0x1A), DVAL(0x1B)
    mov word [PTE(0x1A) + 1], (DATA(0x1C) >> 8) & 0xFFFF
    call reload_cr3
    RD "pte misaligned word write", VA(0x1A), DVAL(0x1C)
    mov dword [PTE(0x1A) + 4], 0x80000000
    call reload_cr3
    FETCH VA(0x1A)
    PF_CHECK "pte upper-half write sets XD", P | ID, VA(0x1A)
    E PTE(0x1C), DATA(0x1C) | P | RW | US
    E PTE(0x1D), DATA(0x1E) | P | RW | US
    RD "qword across two ptes: before", VA(0x1D), DVAL(0x1E)
    mov rax, (DATA(0x1D) | P | RW | US) << 32
    mov [PTE(0x1C) + 4], rax
    call reload_cr3
    RD "qword across two ptes", VA(0x1D), DVAL(0x1D)
    lock btr qword [PTE(0x1D)], 0
    call reload_cr3
    mov rbx, VA(0x1D)
    ARMPF .lk
    mov rax, [rbx]
.lk:
    PF_CHECK "locked btr clears P", 0, VA(0x1D)
    E PTE(0x1F), TEST_PT | P | RW | US   ; the page table, mapped for CPL 3
    USER u_write, VA(0x1F) + 0x1D * 8, DATA(0x1F) | P | RW | US
    call reload_cr3
    RD "pte written from CPL 3", VA(0x1D), DVAL(0x1F)
    mov rax, DATA(0x0) | P | RW | US
    mov ecx, 0x20
    lea rdi, [rel pte_template]
.tmpl:
    mov [rdi], rax
    add rax, 0x1000
    add rdi, 8
    loop .tmpl
    lea rsi, [rel pte_template + 0x1A * 8]
    mov edi, PTE(0x1A)
    mov ecx, 4
    rep movsq
    call reload_cr3
    RD "ptes copied by rep movsq", VA(0x1D), DVAL(0x1D)
    E PD_T + 4 * 8, PT_LO | P | RW | US
    E PD_T + 5 * 8, PT_HI | P | RW | US
    E PT_LO + 511 * 8, DATA(0x0) | P | RW | US
    E PT_HI, DATA(0x1) | P | RW | US
    RD "qword across two page tables: before", TEST_VA + 5 * 0x200000, DVAL(1)
    mov rax, ((DATA(0x2) | P | RW | US) << 32) | (1 << (51 - 32))   ; first: bit 51 (reserved)
    mov [PT_LO + 511 * 8 + 4], rax
    call reload_cr3
    RD "qword across two page tables: second", TEST_VA + 5 * 0x200000, DVAL(2)
    mov rbx, TEST_VA + 5 * 0x200000 - 0x1000
    ARMPF .x2pt
    mov rax, [rbx]
.x2pt:
    PF_CHECK "qword across two page tables: first", RSVD | P, TEST_VA + 5 * 0x200000 - 0x1000

    call smep_smap_la57
    call finish

reload_cr3:
    mov rax, cr3
    mov cr3, rax
    ret

align 8
pte_template: times 0x20 dq 0

; SMEP, SMAP and LA57 (CPUID leaf 7: EBX bits 7 and 20, ECX bit 16) are not reported (-cpu max,-smep,-smap). Without them,
; setting CR4.SMEP or CR4.SMAP is #GP(0) (SDM Vol. 3 2.5); LA57 cannot change in IA-32e mode either way. A CPU
; that reports SMEP or SMAP fails here on purpose: this guest runs its CPL 0 code from user pages, so checking
; them needs a supervisor-only code and stack layout first.
smep_smap_la57:
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov [rel leaf7_ebx], ebx
    mov [rel leaf7_ecx], ecx
    bt dword [rel leaf7_ebx], 7
    jnc .no_smep
    lea rsi, [rel msg_smep]
    call puts
    inc dword [rel failures]
    jmp .after_smep
.no_smep:
    ARM .smep_gp
    mov rax, cr4
    bts rax, 20
    mov cr4, rax
.smep_gp:
    mov rax, [rel last_vec]
    CHECK "setting CR4.SMEP without SMEP is #GP", 13
.after_smep:
    bt dword [rel leaf7_ebx], 20
    jnc .no_smap
    lea rsi, [rel msg_smap]
    call puts
    inc dword [rel failures]
    jmp .after_smap
.no_smap:
    ARM .smap_gp
    mov rax, cr4
    bts rax, 21
    mov cr4, rax
.smap_gp:
    mov rax, [rel last_vec]
    CHECK "setting CR4.SMAP without SMAP is #GP", 13
.after_smap:
    bt dword [rel leaf7_ecx], 16
    jc .la57
    lea rsi, [rel msg_skip_la57]
    call puts
.la57:
    ARM .la57_gp
    mov rax, cr4
    bts rax, 12
    mov cr4, rax
.la57_gp:
    mov rax, [rel last_vec]
    CHECK "setting CR4.LA57 in IA-32e mode is #GP", 13
    ret

align 4
leaf7_ebx: dd 0
leaf7_ecx: dd 0
msg_group_1g: db "group 1g", 10, 0
msg_smep: db "FAIL smep: CPUID reports SMEP; add SMEP checks (supervisor-only code pages) to paging/lm64.asm", 10, 0
msg_smap: db "FAIL smap: CPUID reports SMAP; add SMAP checks (supervisor-only data pages) to paging/lm64.asm", 10, 0
msg_skip_la57: db "skip la57: not reported by CPUID", 10, 0
