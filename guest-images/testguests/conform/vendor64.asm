; Where Intel's and AMD's manuals differ, the emulated CPU follows the vendor CPUID leaf 0 names (emu64 -cpu):
;   SYSENTER in 64-bit mode: Intel enters the target (SDM SYSENTER); AMD raises #UD in long mode (AMD APM Vol. 3).
;   SYSCALL in compatibility mode: Intel raises #UD (SDM SYSCALL); AMD enters 64-bit mode at CSTAR (AMD APM Vol. 3).
;   Indirect far JMP with REX.W: Intel reads m16:64; AMD ignores REX.W and reads m16:32 (AMD APM Vol. 3 JMP (Far)).
;   16-bit SHLD/SHRD by 17-31 (undefined in both manuals): Intel P6 and later shift the 48-bit d:s:d (Bochs's model),
;   AMD rotates the source (measured on an AMD EPYC host); CF likewise (translate/shift.cpp, DoubleShift16Big).
; The guest reads the vendor and checks the values of that vendor. Prints "ok <name>" / "FAIL <name> ..." on COM1
; and exits through isa-debug-exit with the failure count.
bits 64
org 0x10000
%define MSR_SYSENTER_CS 0x174
%define MSR_SYSENTER_ESP 0x175
%define MSR_SYSENTER_EIP 0x176
%define FAR_TARGET_HIGH 0x10       ; the far pointer's selector for AMD, bits 39:32 of the offset for Intel
%define MSR_EFER 0xC0000080
%define MSR_STAR 0xC0000081
%define MSR_CSTAR 0xC0000083
%define GDT_OWN 0x31000             ; 0x08 code32 DPL 0, 0x10 code64 DPL 0, 0x18 data

%include "sys/guest64.inc"
    xor eax, eax
    cpuid
    xor r15d, r15d
    cmp ebx, 0x68747541         ; "Auth"
    sete r15b                   ; r15 = 1 on AMD

    ; SYSENTER at CPL 0 in 64-bit mode.
    mov ecx, MSR_SYSENTER_CS
    mov eax, 0x10
    xor edx, edx
    wrmsr
    mov ecx, MSR_SYSENTER_ESP
    mov eax, 0x70000
    wrmsr
    mov ecx, MSR_SYSENTER_EIP
    lea rax, [rel sysenter_target]
    mov rdx, rax
    shr rdx, 32
    wrmsr
    ARM .after_sysenter
    mov [rel saved_rsp], rsp
    sysenter
.after_sysenter:
    mov rsp, [rel saved_rsp]
    xor eax, eax
    cmp qword [rel entered], 1
    jne .no_entry
    or eax, 1
.no_entry:
    cmp qword [rel last_vec], 6
    jne .no_ud
    or eax, 2
.no_ud:
    mov ebx, 1                  ; Intel: entered
    mov ecx, 2                  ; AMD: #UD
    test r15, r15
    cmovnz ebx, ecx
    CHECK "sysenter in 64-bit mode", rbx

    ; JMP FAR [m] with REX.W: Intel jumps to the 64-bit offset (unmapped: #PF with CR2 = the target), AMD to the
    ; 32-bit offset with the selector in the next word.
    ARM .after_far
    o64 jmp far [rel far_pointer]
.after_far:
    mov rax, 0xA
    cmp qword [rel amd_reached], 1
    je .far_done
    mov rax, [rel last_cr2]
    cmp qword [rel last_vec], 14
    je .far_done
    mov rax, -1
.far_done:
    mov rbx, (FAR_TARGET_HIGH << 32) + amd_far_target
    mov ecx, 0xA
    test r15, r15
    cmovnz rbx, rcx
    CHECK "far jmp m16:64 with rex.w", rbx

    ; 16-bit SHLD/SHRD by 20 of d = 0x1234 with s = 0xABCD.
    mov ax, 0x1234
    mov bx, 0xABCD
    mov cl, 20
    clc
    shld ax, bx, cl
    setc r14b
    movzx eax, ax
    mov ebx, 0xBCD1             ; Intel: (s << 4) | (d >> 12)
    mov ecx, 0xBCDA             ; AMD: s rotated left by 4
    test r15, r15
    cmovnz ebx, ecx
    CHECK "shld 16-bit by 20: result", rbx
    movzx eax, r14b
    CHECK "shld 16-bit by 20: cf", 0    ; Intel: bit 12 of s; AMD: 0
    mov ax, 0x1234
    mov bx, 0xABCD
    mov cl, 20
    clc
    shrd ax, bx, cl
    setc r14b
    movzx eax, ax
    mov ebx, 0x4ABC             ; Intel: (s >> 4) | (d << 12)
    mov ecx, 0xDABC             ; AMD: s rotated right by 4
    test r15, r15
    cmovnz ebx, ecx
    CHECK "shrd 16-bit by 20: result", rbx
    movzx eax, r14b
    mov ebx, 1                  ; Intel: bit 3 of s
    xor ecx, ecx                ; AMD: 0
    test r15, r15
    cmovnz ebx, ecx
    CHECK "shrd 16-bit by 20: cf", rbx
    ; SYSCALL at CPL 0 in compatibility mode, through a GDT of our own with a 32-bit code segment.
    mov rdi, GDT_OWN
    mov qword [rdi], 0
    mov rax, 0x00CF9A000000FFFF
    mov [rdi + 8], rax
    mov rax, 0x00AF9A000000FFFF
    mov [rdi + 16], rax
    mov rax, 0x00CF92000000FFFF
    mov [rdi + 24], rax
    lgdt [rel own_gdtr]
    mov ecx, MSR_EFER
    rdmsr
    or eax, 1                   ; SCE
    wrmsr
    mov ecx, MSR_STAR
    xor eax, eax
    mov edx, 0x10               ; STAR[47:32]: SYSCALL's CS 0x10, SS 0x18
    wrmsr
    mov ecx, MSR_CSTAR
    lea rax, [rel compat_syscall_target]
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov ecx, 6                  ; #UD while in compatibility mode: back to 64-bit code
    lea rax, [rel compat_ud]
    mov bx, 0x008E
    call set_gate
    mov [rel saved_rsp], rsp
    push qword 0x08
    lea rax, [rel compat_code]
    push rax
    retfq
.after_compat:
    mov rsp, [rel saved_rsp]
    mov ecx, 6
    lea rax, [rel stubs + 6 * 16]
    mov bx, 0x008E
    call set_gate
    mov rax, [rel compat_result]
    mov ebx, 1                  ; Intel: #UD at the SYSCALL
    mov ecx, 2                  ; AMD: entered at CSTAR
    test r15, r15
    cmovnz ebx, ecx
    CHECK "syscall in compatibility mode", rbx
    jmp finish

bits 32
compat_code:
.syscall_insn:
    syscall
    ud2                         ; not reached on either vendor
bits 64

compat_ud:
    lea rax, [rel compat_code.syscall_insn]
    cmp [rsp], rax
    jne .elsewhere
    mov qword [rel compat_result], 1
.elsewhere:
    lea rax, [rel start.after_compat]
    mov [rsp], rax
    mov qword [rsp + 8], 0x10
    iretq

compat_syscall_target:
    mov qword [rel compat_result], 2
    mov ax, 0x18
    mov ss, ax
    jmp start.after_compat

sysenter_target:
    mov qword [rel entered], 1
    jmp start.after_sysenter

amd_far_target:
    mov qword [rel amd_reached], 1
    jmp start.after_far

align 8
far_pointer:
    dd amd_far_target           ; AMD: offset (m16:32)
    dd FAR_TARGET_HIGH          ; AMD: selector 0x10; Intel: bits 63:32 of the offset
    dw 0x10                     ; Intel: selector
own_gdtr: dw 4 * 8 - 1
          dq GDT_OWN
saved_rsp: dq 0
compat_result: dq 0
entered: dq 0
amd_reached: dq 0
