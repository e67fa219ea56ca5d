; Protection keys for user pages (SDM Vol. 3 4.6.2, 4.7; Vol. 2 RDPKRU, WRPKRU; Vol. 1 13.5.7): CPUID.(EAX=7,ECX=0):
; ECX.PKU[3] and OSPKE[4] (OSPKE mirrors CR4.PKE); RDPKRU/WRPKRU are #UD while CR4.PKE is clear and #GP(0) unless
; ECX = 0 (and EDX = 0 for WRPKRU); RDPKRU loads EDX:EAX zero-extended. With CR4.PKE in 4-level paging a data
; access to a user page (U/S = 1) with key k (PTE bits 62:59) is refused when PKRU.ADk is set, and a write when
; PKRU.WDk is set and the access is a user access or CR0.WP = 1: #PF with PK (bit 5) in the error code and
; CR2 = the address. Instruction fetches and supervisor pages are not checked. WRPKRU, XRSTOR of PKRU (XSAVE
; component 9) and a PTE's key changed with INVLPG all take effect on the next access, even to a page the TLB
; already holds. Without the feature CR4.PKE is reserved (#GP) and RDPKRU is #UD.
; Run with -reg r14=1 when the CPU model advertises PKU (42 checks), -reg r14=0 when it does not (3).
; Bare runner, CPL 0 (Linux GDT: 0x33 user code, 0x2B user data); CPL 3 through IRETQ, back through INT 0x80. The
; guest's own pages (identity map, key 0) stay reachable at CPL 3; the test pages are 4 KiB pages under WINDOW.
bits 64
org 0x10000
%define CR4_PKE (1 << 22)
%define CR4_OSXSAVE (1 << 18)
%define CR0_WP (1 << 16)
%define USER_STACK 0x60000
%define KEY(k) ((k) << 59)
%define AD(k) (1 << (2 * (k)))
%define WD(k) (2 << (2 * (k)))
%define K1_DATA WINDOW              ; user page, key 1, first qword SIG1
%define K0_DATA WINDOW + 0x1000     ; user page, key 0, first qword SIG0
%define K1_CODE WINDOW + 0x2000     ; user page, key 1: mov eax, 42; ret
%define K1_RO WINDOW + 0x3000       ; read-only user page, key 1
%define K1_SUPER WINDOW + 0x4000    ; supervisor page, key 1, first qword SIGS
%define SIG1 0x1DA7A
%define SIG0 0x0DA7A
%define SIGS 0x5DA7A
; #PF error code bits (SDM Vol. 3 Figure 4-12).
%define PF_P 1
%define PF_W 2
%define PF_U 4
%define PF_PK 0x20

%include "sys/guest64.inc"
    jmp main
%include "wp/pt.inc"

; SET_PKRU value: WRPKRU of `value` (ECX = EDX = 0). Clobbers rax, rcx, rdx.
%macro SET_PKRU 1
    mov eax, %1
    xor ecx, ecx
    xor edx, edx
    wrpkru
%endmacro

; USER_PROBE probe, linear: at CPL 3, runs probe_read / probe_write on linear and stores fault_code's answer (or, when
; nothing faulted, the qword at linear afterwards: the value read, or 0x5EED once written) in the next result slot.
%macro USER_PROBE 2
    mov rdi, %2
    mov rsi, 0x5EED
    call %1
%ifidn %1, probe_write
    cmp rdx, NO_FAULT
    jne %%judge
    mov rax, [rdi]
%%judge:
%endif
    call user_result
%endmacro

main:
    call pt_init
    USER_GATE 0x80, back_to_kernel
    call pku_bits
    CHECK "CPUID.7.0:ECX PKU as the model says, OSPKE clear", r14
    ARM .rdpkru_ud
    xor ecx, ecx
    rdpkru
.rdpkru_ud:
    mov rax, [rel last_vec]
    CHECK "RDPKRU with CR4.PKE clear is UD", 6
    test r14, r14
    jnz with_feature

    ARM .pke_gp
    mov rax, cr4
    or rax, CR4_PKE
    mov cr4, rax
.pke_gp:
    mov rax, [rel last_vec]
    CHECK "CR4.PKE unadvertised is GP", 13
    call finish

with_feature:
    ARM .wrpkru_ud
    SET_PKRU 0
.wrpkru_ud:
    mov rax, [rel last_vec]
    CHECK "WRPKRU with CR4.PKE clear is UD", 6
    mov rax, cr4
    or rax, CR4_PKE
    mov cr4, rax
    call pku_bits
    CHECK "CPUID.7.0:ECX OSPKE follows CR4.PKE", 3

    ; RDPKRU: EDX:EAX = PKRU, the upper halves of RAX and RDX cleared (reset value 0).
    mov rax, -1
    mov rdx, -1
    xor ecx, ecx
    rdpkru
    mov r12, rdx
    CHECK "RDPKRU after reset: EAX = 0, RAX's upper half cleared", 0
    mov rax, r12
    CHECK "RDPKRU: RDX = 0", 0
    mov rax, 0xFFFFFFFF12345678     ; WRPKRU takes EAX only
    xor ecx, ecx
    xor edx, edx
    wrpkru
    mov rcx, 0xFFFFFFFF00000000     ; only ECX must be 0
    rdpkru
    CHECK "WRPKRU writes EAX, RDPKRU reads it back", 0x12345678
    ARM .rdpkru_gp
    mov ecx, 1
    rdpkru
.rdpkru_gp:
    mov rax, [rel last_vec]
    shl rax, 8
    or rax, [rel last_err]
    CHECK "RDPKRU with ECX = 1 is GP(0)", 13 << 8
    ARM .wrpkru_gp_ecx
    mov eax, 0x55
    mov ecx, 1
    xor edx, edx
    wrpkru
.wrpkru_gp_ecx:
    mov rax, [rel last_vec]
    shl rax, 8
    or rax, [rel last_err]
    CHECK "WRPKRU with ECX = 1 is GP(0)", 13 << 8
    ARM .wrpkru_gp_edx
    mov eax, 0x55
    xor ecx, ecx
    mov edx, 1
    wrpkru
.wrpkru_gp_edx:
    mov rax, [rel last_vec]
    shl rax, 8
    or rax, [rel last_err]
    CHECK "WRPKRU with EDX = 1 is GP(0)", 13 << 8
    xor ecx, ecx
    rdpkru
    CHECK "the refused WRPKRUs left PKRU alone", 0x12345678
    SET_PKRU 0

    ; The test pages.
    call new_space
    mov [rel space], rax
%macro MAP_DATA 3                   ; linear, first qword, PTE flags (with the key)
    mov rsi, %1
    mov rdx, %2
    mov rbx, %3
    call map_data
%endmacro
    MAP_DATA K1_DATA, SIG1, KEY(1) | PTE_P | PTE_W | PTE_U
    mov [rel k1_pte], rax
    MAP_DATA K0_DATA, SIG0, PTE_P | PTE_W | PTE_U
    MAP_DATA K1_CODE, 0xC300_00002AB8, KEY(1) | PTE_P | PTE_U  ; mov eax, 42; ret
    MAP_DATA K1_RO, SIG1, KEY(1) | PTE_P | PTE_U
    MAP_DATA K1_SUPER, SIGS, KEY(1) | PTE_P | PTE_W
    mov rax, [rel space]
    mov cr3, rax
    mov rax, cr0
    or rax, CR0_WP
    mov cr0, rax

    mov rbx, USER_STACK
    TO_USER user, rbx

; CPL 3: each probe's answer goes to user_results (kernel checks them after INT 0x80).
user:
    lea rax, [rel user_results]
    mov [rel user_next], rax
    SET_PKRU 0
    USER_PROBE probe_read, K1_DATA          ; 0: SIG1, and the TLB now holds the page
    SET_PKRU AD(1)
    USER_PROBE probe_read, K1_DATA          ; 1: PF(P|U|PK) through the entry cached before WRPKRU
    USER_PROBE probe_write, K1_DATA         ; 2: PF(P|W|U|PK)
    USER_PROBE probe_read, K0_DATA          ; 3: SIG0, key 0 is not denied
    SET_PKRU WD(1)
    USER_PROBE probe_read, K1_DATA          ; 4: SIG1, WD allows reads
    USER_PROBE probe_write, K1_DATA         ; 5: PF(P|W|U|PK)
    SET_PKRU 0
    USER_PROBE probe_write, K1_DATA         ; 6: no fault, the TLB now allows writes
    SET_PKRU WD(1)
    USER_PROBE probe_write, K1_DATA         ; 7: PF(P|W|U|PK) through the cached writable entry
    USER_PROBE probe_write, K1_RO           ; 8: PF(P|W|U|PK): PK is set even though R/W refuses it too
    SET_PKRU AD(1) | WD(1)
    mov rdi, K1_CODE
    call probe_call                         ; 9: 42, fetches are not checked
    call user_result
    int 0x80

user_result:
    cmp rdx, NO_FAULT
    je .store
    call fault_code
.store:
    mov rcx, [rel user_next]
    mov [rcx], rax
    add qword [rel user_next], 8
    ret

back_to_kernel:
    mov rsp, 0x80000
    mov r12, user_results
%macro USER_IS 2
    mov rax, [r12]
    add r12, 8
    CHECK %1, %2
%endmacro
    USER_IS "CPL 3 reads a key 1 page with PKRU = 0", SIG1
    USER_IS "WRPKRU AD1: a CPL 3 read of the cached key 1 page is PF(P|U|PK)", PF_P | PF_U | PF_PK
    USER_IS "AD1: a CPL 3 write is PF(P|W|U|PK)", PF_P | PF_W | PF_U | PF_PK
    USER_IS "AD1 leaves key 0 pages alone", SIG0
    USER_IS "WD1: a CPL 3 read passes", SIG1
    USER_IS "WD1: a CPL 3 write is PF(P|W|U|PK)", PF_P | PF_W | PF_U | PF_PK
    USER_IS "PKRU = 0: the CPL 3 write passes", 0x5EED
    USER_IS "WD1 again: the write through the cached writable entry is PF(P|W|U|PK)", PF_P | PF_W | PF_U | PF_PK
    USER_IS "WD1: a write to a read-only key 1 page is PF(P|W|U|PK)", PF_P | PF_W | PF_U | PF_PK
    USER_IS "AD1|WD1: CPL 3 still runs code from a key 1 page", 42

    ; Supervisor accesses to user pages: AD denies them, WD denies writes only with CR0.WP.
    SET_PKRU WD(1)
    READ_IS "CPL 0, WD1: a read of the key 1 user page passes", K1_DATA, 0x5EED
    WRITE_FAULTS "CPL 0, WD1, CR0.WP = 1: a write is PF(P|W|PK)", K1_DATA, PF_P | PF_W | PF_PK
    mov rax, cr0
    and rax, ~CR0_WP
    mov cr0, rax
    mov rdi, K1_DATA
    mov rsi, SIG1
    call probe_write
    mov rax, rdx
    CHECK "CPL 0, WD1, CR0.WP = 0: the write passes", NO_FAULT
    mov rax, cr0
    or rax, CR0_WP
    mov cr0, rax
    SET_PKRU AD(1)
    READ_FAULTS "CPL 0, AD1: a read of the key 1 user page is PF(P|PK)", K1_DATA, PF_P | PF_PK
    READ_IS "CPL 0, AD1: a supervisor page with key 1 is not checked", K1_SUPER, SIGS

    ; A PTE's key, changed and INVLPGed, takes effect.
    SET_PKRU AD(2)
    READ_IS "AD2: the key 1 page reads", K1_DATA, SIG1
    mov rcx, [rel k1_pte]
    mov rax, [rcx]                  ; keep the frame and flags, key 2 instead of 1
    mov rdx, ~KEY(15)
    and rax, rdx
    mov rdx, KEY(2)
    or rax, rdx
    mov [rcx], rax
    INVLPG_AT K1_DATA
    READ_FAULTS "the PTE's key set to 2 (INVLPG): the read is PF(P|PK)", K1_DATA, PF_P | PF_PK

    ; CR4.PKE clear: keys are not checked, RDPKRU is UD again, PKRU keeps its value.
    mov rax, cr4
    and rax, ~CR4_PKE
    mov cr4, rax
    READ_IS "CR4.PKE = 0: the key 2 page reads despite AD2", K1_DATA, SIG1
    ARM .rdpkru_ud_again
    xor ecx, ecx
    rdpkru
.rdpkru_ud_again:
    mov rax, [rel last_vec]
    CHECK "CR4.PKE = 0: RDPKRU is UD", 6
    mov rax, cr4
    or rax, CR4_PKE
    mov cr4, rax
    xor ecx, ecx
    rdpkru
    CHECK "PKRU kept its value while CR4.PKE was clear", AD(2)
    READ_FAULTS "CR4.PKE = 1 again: the read is PF(P|PK)", K1_DATA, PF_P | PF_PK

    ; XSAVE state component 9 (PKRU): 8 bytes at the offset CPUID.(EAX=0DH,ECX=9) gives.
    mov eax, 0xD
    xor ecx, ecx
    cpuid
    and eax, 1 << 9
    CHECK "CPUID.0DH.0:EAX supports XCR0 bit 9 (PKRU)", 1 << 9
    mov eax, 0xD
    mov ecx, 9
    cpuid
    shl rbx, 32
    or rax, rbx
    mov [rel pkru_offset], rbx
    CHECK "CPUID.0DH.9: 8 bytes at offset 2688", (2688 << 32) | 8
    shr qword [rel pkru_offset], 32
    mov rax, cr4
    or rax, CR4_OSXSAVE
    mov cr4, rax
    mov eax, 0x203
    xor ecx, ecx
    xor edx, edx
    xsetbv
    mov eax, 0xD
    xor ecx, ecx
    cpuid
    mov eax, ebx
    CHECK "CPUID.0DH.0:EBX with XCR0 = 0x203: the area ends after PKRU", 2696
    call alloc_page
    mov [rel xarea], rax
    mov rdi, rax
    SET_PKRU 0x0BADC0DC             ; key 0 (the guest's own pages) left writable
    mov eax, 1 << 9
    xor edx, edx
    mov rdi, [rel xarea]
    xsave [rdi]
    mov rsi, rdi
    add rsi, [rel pkru_offset]
    mov rax, [rsi]
    CHECK "XSAVE stores PKRU in component 9's slot", 0x0BADC0DC
    mov rax, [rdi + 512]
    CHECK "XSAVE sets XSTATE_BV bit 9 for a non-zero PKRU", 1 << 9
    mov rsi, [rel xarea]
    add rsi, [rel pkru_offset]
    mov dword [rsi], AD(1)
    SET_PKRU 0
    READ_IS "PKRU = 0: the key 1 supervisor read of K1_RO passes", K1_RO, SIG1
    mov eax, 1 << 9
    xor edx, edx
    mov rdi, [rel xarea]
    xrstor [rdi]
    xor ecx, ecx
    rdpkru
    CHECK "XRSTOR loads PKRU from component 9", AD(1)
    READ_FAULTS "XRSTOR's PKRU applies to the page the TLB held", K1_RO, PF_P | PF_PK
    mov rdi, [rel xarea]
    mov qword [rdi + 512], 0        ; XSTATE_BV: PKRU in its initial configuration
    mov eax, 1 << 9
    xor edx, edx
    xrstor [rdi]
    xor ecx, ecx
    rdpkru
    CHECK "XRSTOR with XSTATE_BV bit 9 clear sets PKRU to 0", 0
    READ_IS "and the page reads again", K1_RO, SIG1
    call finish

; pku_bits: eax = CPUID.(EAX=7,ECX=0):ECX bits 3 (PKU) and 4 (OSPKE), as bits 0 and 1. Clobbers rbx, rcx, rdx.
pku_bits:
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ecx
    shr eax, 3
    and eax, 3
    ret

; map_data: maps linear rsi in `space` to a fresh page whose first qword is rdx, with PTE flags rbx. rax = the PTE's
; identity address. Clobbers rcx, rdi, r8-r10.
map_data:
    call alloc_data
    lea rdx, [rax + rbx]
    mov rdi, [rel space]
    jmp map_page

align 8
space: dq 0
k1_pte: dq 0
xarea: dq 0
pkru_offset: dq 0
user_next: dq 0
user_results: times 16 dq 0
