; RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE (SDM Vol. 2; Vol. 3 2.5 CR4.FSGSBASE): #UD while CR4.FSGSBASE is clear; once
; set they read and write the bases that the FS_BASE / GS_BASE MSRs and FS-relative addressing use, at any CPL; the
; 32-bit forms zero-extend (write) and read the low half (read); a 64-bit write of a non-canonical base is #GP(0)
; and leaves the base alone. Without the feature (CPUID.(EAX=7,ECX=0):EBX[0] clear) CR4.FSGSBASE is reserved (#GP).
; Run with -reg r14=1 when the CPU model advertises FSGSBASE (11 checks), -reg r14=0 when it does not (4 checks).
; Bare runner, CPL 0 (Linux GDT: 0x33 user code, 0x2B user data); CPL 3 through IRETQ, back through INT 0x80.
bits 64
org 0x10000
%define USER_STACK 0x60000
%define CR4_FSGSBASE (1 << 16)
%define MSR_FS_BASE 0xC0000100
%define MSR_GS_BASE 0xC0000101

%include "sys/guest64.inc"
    USER_GATE 0x80, back_to_kernel
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ebx
    and eax, 1
    CHECK "CPUID.7.0:EBX.FSGSBASE as the model says", r14

    ARM .ud_done
    rdfsbase rax
.ud_done:
    mov rax, [rel last_vec]
    CHECK "RDFSBASE with CR4.FSGSBASE clear is UD", 6

    ARM .cr4_done
    mov rax, cr4
    or rax, CR4_FSGSBASE
    mov cr4, rax
.cr4_done:
    mov rax, [rel last_vec]
    test r14, r14
    jnz with_feature
    CHECK "MOV CR4 with FSGSBASE unadvertised is GP", 13
    ARM .still_ud
    wrfsbase rax
.still_ud:
    mov rax, [rel last_vec]
    CHECK "WRFSBASE stays UD", 6
    call finish

with_feature:
    CHECK "MOV CR4 with FSGSBASE advertised does not fault", -1
    mov rax, 0x123456789A
    wrfsbase rax
    rdfsbase rbx
    mov rax, rbx
    CHECK "RDFSBASE reads what WRFSBASE wrote", 0x123456789A
    mov ecx, MSR_FS_BASE
    rdmsr
    shl rdx, 32
    or rax, rdx
    CHECK "the FS_BASE MSR is the same base", 0x123456789A
    lea rax, [rel fs_data - 0x10]
    wrfsbase rax
    mov rax, [fs:0x10]
    mov rbx, [rel fs_data]
    CHECK "an FS-relative load uses the new base", rbx
    mov rax, 0xFFFFFFFF80001234
    wrgsbase eax
    mov ecx, MSR_GS_BASE
    rdmsr
    shl rdx, 32
    or rax, rdx
    CHECK "WRGSBASE r32 zero-extends", 0x80001234
    mov rax, 0x123456789
    wrgsbase rax
    mov rcx, -1
    rdgsbase ecx
    mov rax, rcx
    CHECK "RDGSBASE r32 reads the low half, zero-extended", 0x23456789
    mov rbx, 0x0000800000000000
    ARM .gp_done
    wrfsbase rbx
.gp_done:
    mov rax, [rel last_vec]
    shl rax, 8
    or rax, [rel last_err]
    CHECK "WRFSBASE of a non-canonical base is GP(0)", 13 << 8
    rdfsbase rax
    lea rbx, [rel fs_data - 0x10]
    CHECK "the refused write left FS's base alone", rbx

    TO_USER user, USER_STACK

user:
    ARM .user_done
    mov rax, 0x7000
    wrfsbase rax
    rdfsbase rbx
    mov [rel user_base], rbx
.user_done:
    mov rax, [rel last_vec]
    mov [rel user_vec], rax
    int 0x80
    jmp $

back_to_kernel:
    mov rsp, 0x80000
    mov rax, [rel user_vec]
    shl rax, 32
    or rax, [rel user_base]
    CHECK "WRFSBASE and RDFSBASE work at CPL 3", (-1 << 32) | 0x7000
    call finish

align 8
fs_data: dq 0x0F5DA7A0F5DA7A
user_base: dq 0
user_vec: dq 0
