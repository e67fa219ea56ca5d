; SMEP and SMAP (SDM Vol. 3 4.6, 2.5; Vol. 2 STAC, CLAC): with CR4.SMEP a CPL 0 instruction fetch from a user page
; is #PF with error code P | I/D (0x11); with CR4.SMAP a CPL 0 data access to a user page is #PF (P, plus W for a
; write) unless RFLAGS.AC is set (STAC, CLAC and POPF change it); supervisor pages stay reachable. STAC at CPL 3 is
; #UD, and so is STAC without SMAP; without the features CR4.SMEP and CR4.SMAP are reserved (#GP).
; Run with -reg r14=1 when the CPU model advertises both (12 checks), -reg r14=0 when it advertises neither (4).
; The runner's identity map (PML4 entry 0) is made supervisor-only (U clear in that PML4 entry), so this guest's own
; code, data and stacks are supervisor pages; the test pages are 4 KiB user and supervisor pages under WINDOW.
bits 64
org 0x10000
%define CR4_SMEP (1 << 20)
%define CR4_SMAP (1 << 21)
%define USER_DATA WINDOW            ; user page, first qword SIG_USER
%define USER_CODE WINDOW + 0x1000   ; user page: mov eax, 42; ret at 0; stac; int 0x80 at 0x10
%define USER_STACK WINDOW + 0x3000  ; top of the user stack page at WINDOW + 0x2000
%define SUPER_DATA WINDOW + 0x3000  ; supervisor page, first qword SIG_SUPER
%define SIG_USER 0x05E7DA7A
%define SIG_SUPER 0x5DA7A

%include "sys/guest64.inc"
    jmp main
%include "wp/pt.inc"

main:
    call pt_init
    USER_GATE 0x80, back_to_kernel
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ebx
    shr eax, 7
    and eax, 1                      ; SMEP
    shr ebx, 19
    and ebx, 2                      ; SMAP
    or eax, ebx
    lea r13, [r14 + r14 * 2]
    CHECK "CPUID.7.0:EBX SMEP and SMAP as the model says", r13
    test r14, r14
    jnz with_features

    ARM .stac_ud
    stac
.stac_ud:
    mov rax, [rel last_vec]
    CHECK "STAC without SMAP is UD", 6
    ARM .smep_gp
    mov rax, cr4
    or rax, CR4_SMEP
    mov cr4, rax
.smep_gp:
    mov rax, [rel last_vec]
    CHECK "CR4.SMEP unadvertised is GP", 13
    ARM .smap_gp
    mov rax, cr4
    or rax, CR4_SMAP
    mov cr4, rax
.smap_gp:
    mov rax, [rel last_vec]
    CHECK "CR4.SMAP unadvertised is GP", 13
    call finish

with_features:
    call new_space
    and qword [rax], ~PTE_U         ; the identity map: supervisor only
    mov [rel space], rax
    mov rdx, SIG_USER
    call alloc_data
    lea rdx, [rax + (PTE_P | PTE_W | PTE_U)]
    mov rdi, [rel space]
    mov rsi, USER_DATA
    call map_page
    call alloc_page
    mov dword [rax], 0x00002AB8     ; mov eax, 42
    mov word [rax + 4], 0xC300      ; (imm32 high byte) ret
    mov dword [rax + 0x10], 0xCD_CB010F  ; stac; int (0x80 follows)
    mov byte [rax + 0x14], 0x80
    lea rdx, [rax + (PTE_P | PTE_U)]
    mov rdi, [rel space]
    mov rsi, USER_CODE
    call map_page
    call alloc_page
    lea rdx, [rax + (PTE_P | PTE_W | PTE_U)]
    mov rdi, [rel space]
    mov rsi, USER_STACK - 0x1000
    call map_page
    mov rdx, SIG_SUPER
    call alloc_data
    lea rdx, [rax + (PTE_P | PTE_W)]
    mov rdi, [rel space]
    mov rsi, SUPER_DATA
    call map_page
    mov rax, [rel space]
    mov cr3, rax

    CALL_IS "without SMEP, CPL 0 runs code from a user page", USER_CODE, 42
    READ_IS "without SMAP, CPL 0 reads a user page", USER_DATA, SIG_USER
    mov rax, cr4
    or rax, CR4_SMEP
    mov cr4, rax
    CALL_FAULTS "SMEP: a CPL 0 fetch from a user page is PF(P|I/D)", USER_CODE, 0x11
    mov rax, cr4
    or rax, CR4_SMAP
    mov cr4, rax
    READ_FAULTS "SMAP: a CPL 0 read of a user page with AC = 0 is PF(P)", USER_DATA, 0x1
    WRITE_FAULTS "SMAP: a CPL 0 write to a user page with AC = 0 is PF(P|W)", USER_DATA, 0x3
    READ_IS "SMAP leaves supervisor pages alone", SUPER_DATA, SIG_SUPER
    stac
    READ_IS "after STAC the read passes", USER_DATA, SIG_USER
    mov rdi, USER_DATA + 8
    mov rsi, 0x5EED
    call probe_write
    mov rax, rdx
    CHECK "after STAC the write passes", NO_FAULT
    clac
    READ_FAULTS "after CLAC it faults again", USER_DATA, 0x1
    pushfq
    or qword [rsp], 1 << 18         ; AC through POPF
    popfq
    READ_IS "AC set by POPF lets the read pass", USER_DATA, SIG_USER
    clac

    ; STAC at CPL 3: #UD; the handler resumes at the INT 0x80 after it (3 bytes on), still at CPL 3.
    mov qword [rel last_vec], -1
    mov rax, USER_CODE + 0x13
    mov [rel resume], rax
    mov rbx, USER_STACK
    TO_USER USER_CODE + 0x10, rbx

back_to_kernel:
    mov rsp, 0x80000
    mov rax, [rel last_vec]
    CHECK "STAC at CPL 3 is UD", 6
    call finish

align 8
space: dq 0
