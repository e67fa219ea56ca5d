; Many address spaces under 32-bit paging, then under PAE paging (SDM Vol. 3 4.3, 4.4, 4.10.4.1): 32 spaces map
; TEST_VA to their own data page. Eight rounds visit every space in a different order, reading the page and
; incrementing a counter in it; after four rounds every space's PTE is rewritten while another space is current
; (space i then maps the data page of space i+1). The PAE spaces' PDPTs share one page (CR3 bits 31:5), so each
; MOV CR3 must load its own PDPTEs. Checked: every read, the counters through the identity map, A/D in every PTE.
; Run with: emu64 -bare asid32.bin -start-mode prot32.
bits 32
org 0x10000
%define SPACES 32
%define ROUNDS 8
%define PT_ID 0x100000           ; 32-bit identity map of 0-4 MiB
%define PAE_PD0 0x101000         ; PAE identity map of 0-4 MiB: PD0 -> two page tables
%define PAE_PT_ID 0x102000
%define SPACE32(i) (0x200000 + (i) * 0x2000)   ; PD, PT
%define PDPTS 0x240000                          ; PAE space i: PDPT at PDPTS + i * 0x20
%define SPACE_PAE(i) (0x241000 + (i) * 0x2000)  ; PD (1-2 GiB), PT
%define DATA(i) (0x300000 + (i) * 0x1000)
%define TEST_VA 0x40000000
%define GOLDEN 0x9E3779B9
%define P 1
%define RW 2
%define US 4

    jmp start
%include "sys/lib32.inc"

; VERIFY prefix: the counters and A/D checks of verify.
%macro VERIFY 1
    call verify
    mov eax, esi
    CHECK %strcat(%1, ": every counter incremented once per round"), 0
    mov eax, edi
    CHECK %strcat(%1, ": A and D in every space's pte"), 0
%endmacro

; VAL eax <- the data value of space ecx: (ecx + 1) * GOLDEN. Clobbers edx.
%macro VAL 0
    lea eax, [ecx + 1]
    imul eax, eax, GOLDEN
%endmacro

start:
    mov esp, 0x80000
    mov edi, PT_ID
    mov ecx, (0x300000 - PT_ID) / 4
    xor eax, eax
    rep stosd
    ; Identity maps (U/S = 1, R/W = 1) for both formats.
    mov edi, PT_ID
    mov esi, PAE_PT_ID
    mov eax, P | RW | US
.id:
    mov [edi], eax
    mov [esi], eax
    add edi, 4
    add esi, 8
    add eax, 0x1000
    cmp edi, PT_ID + 0x1000
    jb .id
    mov dword [PAE_PD0], PAE_PT_ID | P | RW | US
    mov dword [PAE_PD0 + 8], PAE_PT_ID + 0x1000 | P | RW | US
    xor ecx, ecx
.build:
    mov edi, ecx
    shl edi, 13
    mov esi, ecx
    shl esi, 12
    add esi, DATA(0)                ; data page of space ecx
    VAL
    mov [esi], eax
    mov dword [esi + 4], 0
    ; 32-bit: PD[0] = identity, PD[0x100] = PT, PT[0] = data.
    mov dword [edi + SPACE32(0)], PT_ID | P | RW | US
    lea eax, [edi + SPACE32(0) + 0x1000 + (P | RW | US)]
    mov [edi + SPACE32(0) + 0x100 * 4], eax
    lea eax, [esi + (P | RW | US)]
    mov [edi + SPACE32(0) + 0x1000], eax
    ; PAE: PDPT[0] = identity PD, PDPT[1] = PD, PD[0] = PT, PT[0] = data.
    mov edx, ecx
    shl edx, 5
    mov dword [edx + PDPTS], PAE_PD0 | P
    lea eax, [edi + SPACE_PAE(0) + P]
    mov [edx + PDPTS + 8], eax
    lea eax, [edi + SPACE_PAE(0) + 0x1000 + (P | RW | US)]
    mov [edi + SPACE_PAE(0)], eax
    lea eax, [esi + (P | RW | US)]
    mov [edi + SPACE_PAE(0) + 0x1000], eax
    inc ecx
    cmp ecx, SPACES
    jb .build

    ; 32-bit paging.
    mov dword [cr3_base], SPACE32(0)
    mov dword [cr3_shift], 13
    mov dword [pte_base], SPACE32(0) + 0x1000
    call run_rounds
    mov eax, [data_bad]
    CHECK "32-bit: every read in every space", 0
    mov dword [want_count], ROUNDS
    VERIFY "32-bit"
    ; PAE paging: paging off, CR4.PAE on, paging on.
    mov eax, cr0
    btr eax, 31
    mov cr0, eax
    mov eax, cr4
    bts eax, 5
    mov cr4, eax
    mov dword [cr3_base], PDPTS
    mov dword [cr3_shift], 5
    mov dword [pte_base], SPACE_PAE(0) + 0x1000
    mov dword [shift], 0
    mov dword [data_bad], 0
    call run_rounds
    mov eax, [data_bad]
    CHECK "pae: every read in every space", 0
    mov dword [want_count], 2 * ROUNDS
    VERIFY "pae"
    call finish

; run_rounds: paging on in space 0 of the current format, then ROUNDS rounds of visits.
run_rounds:
    mov eax, [cr3_base]
    mov cr3, eax
    mov eax, cr0
    bts eax, 31
    mov cr0, eax
    xor ebp, ebp                    ; round
.round:
    cmp ebp, ROUNDS / 2
    jne .order
    call remap_all
.order:
    xor ebx, ebx                    ; visit
.visit:
    lea eax, [ebp * 2 + 1]          ; space = (visit * (2 * round + 1) + round) mod SPACES
    imul eax, ebx
    add eax, ebp
    and eax, SPACES - 1
    mov ecx, eax
    call visit
    inc ebx
    cmp ebx, SPACES
    jb .visit
    inc ebp
    cmp ebp, ROUNDS
    jb .round
    ret

; visit: space ecx becomes current; read and count.
visit:
    push ecx
    mov eax, ecx
    mov ecx, [cr3_shift]
    shl eax, cl
    add eax, [cr3_base]
    mov cr3, eax
    pop ecx
    mov esi, [TEST_VA]
    push ecx
    add ecx, [shift]
    and ecx, SPACES - 1
    VAL
    pop ecx
    cmp eax, esi
    je .ok
    inc dword [data_bad]
.ok:
    inc dword [TEST_VA + 4]
    ret

; remap_all: every space's PTE -> the data page of the next space, written through the identity map.
remap_all:
    xor ecx, ecx
.next:
    lea eax, [ecx + 1]
    and eax, SPACES - 1
    shl eax, 12
    add eax, DATA(0) + (P | RW | US)
    mov edx, ecx
    shl edx, 13
    add edx, [pte_base]
    mov [edx], eax
    inc ecx
    cmp ecx, SPACES
    jb .next
    mov dword [shift], 1
    ret

; verify: esi = spaces whose counter is not [want_count]; edi = spaces whose PTE lacks A or D.
verify:
    xor ecx, ecx
    xor esi, esi
    xor edi, edi
.next:
    mov eax, ecx
    shl eax, 12
    mov edx, [want_count]
    cmp [eax + DATA(0) + 4], edx
    je .count_ok
    inc esi
.count_ok:
    mov eax, ecx
    shl eax, 13
    add eax, [pte_base]
    mov eax, [eax]
    and eax, 0x60
    cmp eax, 0x60
    je .ad_ok
    inc edi
.ad_ok:
    inc ecx
    cmp ecx, SPACES
    jb .next
    ret

align 4
cr3_base: dd 0
cr3_shift: dd 0
pte_base: dd 0
shift: dd 0
data_bad: dd 0
want_count: dd 0
