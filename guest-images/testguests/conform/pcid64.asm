; PCID and INVPCID (SDM Vol. 3 4.10.1, 4.10.4; Vol. 2 MOV CR3, MOV CR4, INVPCID). With the features: CR4.PCIDE
; can be set only with CR3[11:0] = 0 (#GP otherwise); then CR3[11:0] is the PCID and MOV CR3's bit 63 (keep the
; PCID's translations) is not stored; after each operation the SDM says invalidates a translation (INVPCID types 0,
; 1, 2 and 3, MOV CR3 without bit 63) a changed PTE is seen, never the stale translation; INVPCID #GPs for a type
; above 3, reserved descriptor bits, a non-canonical type-0 address and a PCID other than 0 without CR4.PCIDE; MOV CR3
; with bit 63 is #GP without CR4.PCIDE. Without them CR4.PCIDE is reserved (#GP) and INVPCID is #UD.
; Run with -reg r14=1 when the CPU model advertises both (18 checks), -reg r14=0 when it advertises neither (4).
bits 64
org 0x10000
%define CR4_PCIDE (1 << 17)
%define TEST_VA WINDOW
%define SIG_A 0xA11CE
%define SIG_B 0xB0B
%define PCID 5

%include "sys/guest64.inc"
    jmp main
%include "wp/pt.inc"

main:
    call pt_init
    mov eax, 1
    cpuid
    shr ecx, 17
    and ecx, 1
    mov eax, ecx
    CHECK "CPUID.1:ECX.PCID as the model says", r14
    mov eax, 7
    xor ecx, ecx
    cpuid
    shr ebx, 10
    and ebx, 1
    mov eax, ebx
    CHECK "CPUID.7.0:EBX.INVPCID as the model says", r14
    test r14, r14
    jnz with_features

    ARM .pcide_gp
    mov rax, cr4
    or rax, CR4_PCIDE
    mov cr4, rax
.pcide_gp:
    mov rax, [rel last_vec]
    CHECK "CR4.PCIDE unadvertised is GP", 13
    ARM .invpcid_ud
    xor eax, eax
    invpcid rax, [rel desc_addr]
.invpcid_ud:
    mov rax, [rel last_vec]
    CHECK "INVPCID unadvertised is UD", 6
    call finish

with_features:
    call new_space
    mov [rel space], rax
    mov rdx, SIG_A
    call alloc_data
    mov [rel page_a], rax
    mov rdx, SIG_B
    call alloc_data
    mov [rel page_b], rax
    mov rdx, [rel page_a]
    or rdx, LEAF
    mov rdi, [rel space]
    mov rsi, TEST_VA
    call map_page
    mov [rel pte], rax
    mov rax, [rel space]
    or rax, 0x8                     ; PWT: CR3[11:0] != 0
    mov cr3, rax
    ARM .low_bits
    mov rax, cr4
    or rax, CR4_PCIDE
    mov cr4, rax
.low_bits:
    mov rax, [rel last_vec]
    CHECK "CR4.PCIDE with CR3[11:0] != 0 is GP", 13
    mov rax, [rel space]
    mov cr3, rax
    ARM .set
    mov rax, cr4
    or rax, CR4_PCIDE
    mov cr4, rax
.set:
    mov rax, [rel last_vec]
    CHECK "CR4.PCIDE with CR3[11:0] = 0 is accepted", -1
    mov rax, cr4
    shr rax, 17
    and eax, 1
    CHECK "CR4.PCIDE reads back set", 1

    mov rax, [rel space]
    or rax, PCID
    bts rax, 63
    mov cr3, rax
    mov rax, cr3
    mov rbx, [rel space]
    or rbx, PCID
    CHECK "MOV CR3 keeps the PCID and does not store bit 63", rbx
    mov rdi, TEST_VA
    mov rax, [rdi]
    CHECK "translations under PCID 5 use CR3 without the PCID", SIG_A

%macro STALE 2                      ; check name, flush routine
    call point_at_a
    mov rdi, TEST_VA
    mov rax, [rdi]                  ; the translation to A is cached now
    mov rdx, [rel page_b]
    or rdx, LEAF
    mov rax, [rel pte]
    mov [rax], rdx                  ; the PTE now names B; nothing invalidated yet
    call %2
    mov rdi, TEST_VA
    mov rax, [rdi]
    CHECK %1, SIG_B
%endmacro
    STALE "INVPCID type 0 (address): the changed PTE is seen", flush_type0
    STALE "INVPCID type 1 (single PCID): the changed PTE is seen", flush_type1
    STALE "INVPCID type 2 (all, with globals): the changed PTE is seen", flush_type2
    STALE "INVPCID type 3 (all but globals): the changed PTE is seen", flush_type3
    STALE "MOV CR3 without bit 63: the changed PTE is seen", flush_mov_cr3
    STALE "MOV CR3 to another PCID: the changed PTE is seen", flush_other_pcid

    ARM .type4
    mov eax, 4
    invpcid rax, [rel desc_all]
.type4:
    mov rax, [rel last_vec]
    CHECK "INVPCID type 4 is GP", 13
    ARM .reserved
    mov eax, 1
    invpcid rax, [rel desc_reserved]
.reserved:
    mov rax, [rel last_vec]
    CHECK "INVPCID descriptor bits 63:12 set is GP", 13
    ARM .noncanonical
    xor eax, eax
    invpcid rax, [rel desc_noncanonical]
.noncanonical:
    mov rax, [rel last_vec]
    CHECK "INVPCID type 0 with a non-canonical address is GP", 13

    mov rax, [rel space]            ; PCID 0, then CR4.PCIDE off
    mov cr3, rax
    mov rax, cr4
    and rax, ~CR4_PCIDE
    mov cr4, rax
    ARM .pcid_without_pcide
    mov eax, 1
    invpcid rax, [rel desc_all]
.pcid_without_pcide:
    mov rax, [rel last_vec]
    CHECK "INVPCID type 1 with PCID 5 and CR4.PCIDE clear is GP", 13
    ARM .bit63
    mov rax, [rel space]
    bts rax, 63
    mov cr3, rax
.bit63:
    mov rax, [rel last_vec]
    CHECK "MOV CR3 with bit 63 and CR4.PCIDE clear is GP", 13
    call finish

; point_at_a: the PTE names A again, and the mapping is invalidated (INVLPG) so the next read caches it.
point_at_a:
    mov rdx, [rel page_a]
    or rdx, LEAF
    mov rax, [rel pte]
    mov [rax], rdx
    mov rdi, TEST_VA
    invlpg [rdi]
    ret
flush_type0:
    xor eax, eax
    invpcid rax, [rel desc_addr]
    ret
flush_type1:
    mov eax, 1
    invpcid rax, [rel desc_all]
    ret
flush_type2:
    mov eax, 2
    invpcid rax, [rel desc_all]
    ret
flush_type3:
    mov eax, 3
    invpcid rax, [rel desc_all]
    ret
flush_mov_cr3:
    mov rax, cr3
    mov cr3, rax                    ; bit 63 clear: PCID 5's translations go
    ret
flush_other_pcid:
    mov rax, cr3
    xor rax, 3                      ; PCID 6 (5 ^ 3), then back to 5, both without bit 63
    mov cr3, rax
    xor rax, 3
    mov cr3, rax
    ret

align 16
desc_addr: dq PCID, TEST_VA
desc_all: dq PCID, 0
desc_reserved: dq PCID | 0x1000, 0
desc_noncanonical: dq PCID, 0x0000800000000000
space: dq 0
page_a: dq 0
page_b: dq 0
pte: dq 0
