; 32-bit paging (CR4.PAE = 0, SDM Vol. 3 4.3): 4 KiB pages and the shared checks of legacy_tests.inc, then 4 MiB
; pages (CR4.PSE): A/D in the PDE, PS ignored without PSE, PSE-36 (physical bits 39:32 in PDE bits 20:13) and the
; reserved bit 21 (MAXPHYADDR = 40, CPUID 0x80000008).
; Run with: emu64 -bare pg32.bin -start-mode prot32 -map 0x100000000:4M (RAM at 4 GiB for the PSE-36 page).
bits 32
org 0x10000
%define ESZ 4
%define PD 0x100000
%define PT_ID 0x101000           ; identity map of 0-4 MiB, U/S = 1, R/W = 1
%define TEST_PT 0x102000
%define SUPER_PT 0x103000
%define RO_PT 0x104000
%define SHARED_PT 0x105000       ; referenced by PDEs in two quarters of the PD
%define PDE(va) (PD + ((va) >> 22) * 4)
%define TEST_PDE PDE(TEST_VA)
%define SUPER_VA 0x44000000
%define RO_VA 0x44400000
%define TOP_NP_VA 0x80000000
%define BIG_VA 0x40400000         ; 4 MiB page at physical 4 MiB
%define ALIAS_VA 0x40800000       ; the same 4 MiB page again
%define HIGH_VA 0x40C00000        ; PSE-36: 4 MiB page at physical 4 GiB
%define RSVD_VA 0x41000000        ; 4 MiB PDE with reserved bit 21
%define BIG_MAGIC 0x4D4D4D4D
%define BIG_MAGIC2 0x6D6D6D6D
%define PS 0x80

    jmp start
%include "sys/lib32.inc"
%include "paging/lib_pg32.inc"
%include "paging/legacy_tests.inc"

start:
    mov esp, 0x80000
    call setup_idt
    ; Tables and data with paging off (linear = physical).
    mov edi, PD
    mov ecx, 6 * 1024
    xor eax, eax
    rep stosd
    mov edi, PT_ID
    mov eax, P | RW | US
.id:
    stosd
    add eax, 0x1000
    cmp edi, PT_ID + 0x1000
    jb .id
    mov dword [PDE(0)], PT_ID | P | RW | US
    mov dword [TEST_PDE], TEST_PT | P | RW | US
    mov dword [PDE(SUPER_VA)], SUPER_PT | P | RW
    mov dword [SUPER_PT], DATA(0x10) | P | RW | US
    mov dword [PDE(RO_VA)], RO_PT | P | US
    mov dword [RO_PT], DATA(0x11) | P | RW | US
    call fill_data
    mov dword [0x400000 + 0x123458], BIG_MAGIC
    mov dword [0x800000 + 0x223458], BIG_MAGIC2
    mov dword [0x400004], DATA(0x12) | P | RW | US  ; entry 1 of "the page table at 4 MiB" when PS is ignored
    mov dword [DATA(0x13) + 0x100], 0x55555555      ; what PSE-36 must not reach
    ; Paging on: CR4.PSE, CR3, CR0.PG | WP.
    mov eax, cr4
    bts eax, 4
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax

    call legacy_tests

    ; A 32-bit page table has 1024 entries: its upper half (linear bit 21 = 1); PDEs in every quarter of the PD,
    ; two of them referencing one page table. MOV CR3 makes a changed PTE visible (4.10.4.1).
    mov dword [PTE(0x200)], DATA(0x14) | P | RW | US
    RD "upper half of a page table", VA(0x200), DVAL(0x14)
    mov byte [PTE(0x200) + 1], (DATA(0x15) >> 8) & 0xFF
    mov eax, cr3
    mov cr3, eax
    RD "upper half after a byte write to the pte", VA(0x200), DVAL(0x15)
    mov dword [PDE(0xC0000000)], SHARED_PT | P | RW | US
    mov dword [PDE(0x80400000)], SHARED_PT | P | RW | US
    mov dword [SHARED_PT], DATA(0x16) | P | RW | US
    RD "last quarter of the pd", 0xC0000000, DVAL(0x16)
    RD "third quarter, same page table", 0x80400000, DVAL(0x16)
    mov dword [SHARED_PT], DATA(0x17) | P | RW | US
    mov eax, cr3
    mov cr3, eax
    RD "last quarter after the pte changed", 0xC0000000, DVAL(0x17)
    RD "third quarter after the pte changed", 0x80400000, DVAL(0x17)

    ; 4 MiB page: A on read, D on write, in the PDE (4.8); the alias sees the write.
    mov dword [PDE(BIG_VA)], 0x400000 | P | RW | US | PS
    mov dword [PDE(ALIAS_VA)], 0x400000 | P | RW | US | PS
    RD "4m read", BIG_VA + 0x123458, BIG_MAGIC
    AD "4m read sets pde A only", PDE(BIG_VA), PG_A
    mov dword [BIG_VA + 0x10], 0x66666666
    AD "4m write sets pde D", PDE(BIG_VA), PG_A | PG_D
    RD "4m alias sees the write", ALIAS_VA + 0x10, 0x66666666
    ; CR4.PSE = 0: PS is ignored, the PDE references a page table at 4 MiB (Table 4-5).
    mov eax, cr4
    btr eax, 4
    mov cr4, eax
    RD "PS ignored without CR4.PSE", BIG_VA + 0x1000, DVAL(0x12)
    mov eax, cr4
    bts eax, 4
    mov cr4, eax
    ; PSE-36: PDE bits 20:13 are physical bits 39:32 (Table 4-4).
    mov dword [PDE(HIGH_VA)], (1 << 13) | P | RW | PS
    mov dword [HIGH_VA + 0x213100], 0x77777777
    RD "pse-36 page reads back", HIGH_VA + 0x213100, 0x77777777
    mov eax, [DATA(0x13) + 0x100]
    CHECK "pse-36 write did not land below 4 GiB", 0x55555555
    mov dword [PDE(ALIAS_VA)], (1 << 13) | P | RW | PS
    invlpg [ALIAS_VA]
    RD "pse-36 alias sees the write", ALIAS_VA + 0x213100, 0x77777777
    ; Bit 21 of a 4 MiB PDE is reserved with MAXPHYADDR 40: #PF with P and RSVD (4.7).
    mov dword [PDE(RSVD_VA)], (1 << 21) | P | RW | PS
    ARM .rsvd
    mov eax, [RSVD_VA + 0x40]
.rsvd:
    PF_CHECK "4m pde reserved bit 21 read", P | 8, RSVD_VA + 0x40
    ARM .rsvd_w
    mov dword [RSVD_VA + 0x40], 1
.rsvd_w:
    PF_CHECK "4m pde reserved bit 21 write", P | RW | 8, RSVD_VA + 0x40
    ; A 4 MiB page moved: INVLPG of another 4 KiB piece of it, then a global one and a CR4.PGE toggle (4.10.4.1).
    mov dword [PDE(BIG_VA)], 0x800000 | P | RW | US | PS
    invlpg [BIG_VA + 0x3FF000]
    RD "4m invlpg at another 4k piece", BIG_VA + 0x223458, BIG_MAGIC2
    mov eax, cr4
    bts eax, 7
    mov cr4, eax
    mov dword [PDE(BIG_VA)], 0x400000 | P | RW | US | PS | PG_G
    invlpg [BIG_VA]
    RD "global 4m page", BIG_VA + 0x123458, BIG_MAGIC
    mov dword [PDE(BIG_VA)], 0x800000 | P | RW | US | PS | PG_G
    mov eax, cr4
    btr eax, 7
    mov cr4, eax
    RD "global 4m page after clearing CR4.PGE", BIG_VA + 0x223458, BIG_MAGIC2

    ; Descriptor tables and the ring-0 stack in supervisor pages: event delivery from CPL 3 reads the IDT, GDT
    ; and TSS and pushes on the SS0:ESP0 stack as supervisor accesses (4.6: implicit supervisor-mode accesses).
    and dword [PT_ID + 0x01 * 4], ~US       ; GDT and TSS at 0x1000
    and dword [PT_ID + 0x0E * 4], ~US       ; the stack below ESP0 = 0xF000
    and dword [PT_ID + 0x30 * 4], ~US       ; IDT
    mov eax, cr3
    mov cr3, eax
    USER u_read, VA(5)
    PF_CHECK "user fault delivered through supervisor-only tables", P | US, VA(5)
    or dword [PT_ID + 0x01 * 4], US
    or dword [PT_ID + 0x0E * 4], US
    or dword [PT_ID + 0x30 * 4], US
    mov eax, cr3
    mov cr3, eax

    ; EFER.NXE has no effect on 32-bit paging: no XD bit, and fetch faults carry no I/D (4.7).
    mov ecx, 0xC0000080
    rdmsr
    bts eax, 11
    wrmsr
    mov [saved_esp], esp
    ARM .nx_fetch
    call TOP_NP_VA + 0x80
.nx_fetch:
    mov esp, [saved_esp]
    PF_CHECK "not-present fetch with NXE in 32-bit paging", 0, TOP_NP_VA + 0x80
    call finish
