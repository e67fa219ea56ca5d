; User-mode instruction prevention (SDM Vol. 3 2.5 CR4.UMIP; Vol. 2 SGDT, SIDT, SLDT, SMSW, STR): with CR4.UMIP set,
; those five instructions are #GP(0) at CPL > 0 (a fault: the saved RIP is the instruction's, and SGDT's memory operand
; is not written) and work as before at CPL 0. Without the feature (CPUID.(EAX=7,ECX=0):ECX[2] clear) CR4.UMIP is
; reserved: setting it is #GP(0), and the instructions work at CPL 3.
; Run with -reg r14=1 when the CPU model advertises UMIP, -reg r14=0 when it does not; the guest checks CPUID against
; that. Starts at CPL 0 under the bare runner (Linux GDT: 0x33 user code, 0x2B user data; TSS RSP0), goes to CPL 3
; with IRETQ, comes back through INT 0x80 (a DPL 3 gate) and checks at CPL 0 (COM1 needs CPL <= IOPL).
bits 64
org 0x10000
%define USER_STACK 0x60000
%define CR4_UMIP (1 << 11)

%include "sys/guest64.inc"
    USER_GATE 0x80, back_to_kernel
    mov eax, 7
    xor ecx, ecx
    cpuid
    shr ecx, 2
    and ecx, 1
    mov eax, ecx
    CHECK "CPUID.7.0:ECX.UMIP as the model says", r14

    ; MOV CR4 with UMIP: accepted when advertised, else #GP(0) with CR4 unchanged.
    ARM .cr4_done
    mov rax, cr4
    or rax, CR4_UMIP
    mov cr4, rax
.cr4_done:
    mov rax, cr4
    shr rax, 11
    and eax, 1
    mov rbx, [rel last_vec]
    shl rbx, 8
    or rax, rbx                     ; CR4.UMIP | vector << 8 (vector -1: none)
    mov rbx, (-1 << 8) | 1
    mov rcx, (13 << 8)
    test r14, r14
    cmovz rbx, rcx
    CHECK "MOV CR4 with UMIP: set when advertised, else GP", rbx

    ; At CPL 0 the five work whatever CR4.UMIP says.
    ARM .cpl0_done
    sgdt [rel kernel_gdtr]
    sidt [rel kernel_idtr]
    sldt ax
    str ax
    smsw rax
.cpl0_done:
    mov rax, [rel last_vec]
    CHECK "SGDT SIDT SLDT STR SMSW at CPL 0 do not fault", -1
    movzx eax, word [rel kernel_idtr]
    CHECK "SIDT at CPL 0 stores the IDT limit", 256 * 16 - 1

    TO_USER user, USER_STACK

; --- CPL 3: each instruction's vector and error code (-1: no fault) and the faulting RIP.
%macro AT_CPL3 2                    ; result slot, instruction
    ARM %%after
    mov qword [rel last_rip], -1
    lea rax, [rel %%insn]
    mov [rel %1 + 16], rax
%%insn:
    %2
%%after:
    mov rax, [rel last_vec]
    mov [rel %1], rax
    mov rax, [rel last_err]
    mov [rel %1 + 8], rax
    mov rax, [rel last_rip]
    mov [rel %1 + 24], rax
%endmacro

user:
    mov rax, 0x5A5A5A5A5A5A5A5A
    mov [rel user_gdtr], rax
    mov [rel user_gdtr + 8], rax
    AT_CPL3 r_sgdt, {sgdt [rel user_gdtr]}
    AT_CPL3 r_sidt, {sidt [rel user_idtr]}
    AT_CPL3 r_sldt, {sldt ax}
    AT_CPL3 r_str, {str ax}
    AT_CPL3 r_smsw, {smsw rax}
    int 0x80
    jmp $

back_to_kernel:
    mov rsp, 0x80000
    mov rbx, 13 << 8
    test r14, r14
    jnz .expect_gp
    mov rbx, (-1 << 8) | 0xFF      ; vector -1, error code -1
.expect_gp:
    mov r13, rbx                    ; expected vector << 8 | error code byte
%macro VERDICT 2                    ; result slot, name
    mov rax, [rel %1]
    shl rax, 8
    mov rbx, [rel %1 + 8]
    movzx ebx, bl
    or rax, rbx
    CHECK %2, r13
%endmacro
    VERDICT r_sgdt, "SGDT at CPL 3: GP(0) under UMIP, else no fault"
    VERDICT r_sidt, "SIDT at CPL 3: GP(0) under UMIP, else no fault"
    VERDICT r_sldt, "SLDT at CPL 3: GP(0) under UMIP, else no fault"
    VERDICT r_str, "STR at CPL 3: GP(0) under UMIP, else no fault"
    VERDICT r_smsw, "SMSW at CPL 3: GP(0) under UMIP, else no fault"
    ; Under UMIP the fault is at the instruction (its RIP saved) and SGDT wrote nothing; without it SGDT stored the
    ; same GDTR as at CPL 0.
    test r14, r14
    jz .no_umip
    mov rax, [rel r_smsw + 24]
    CHECK "the GP is a fault: the saved RIP is SMSW's", [rel r_smsw + 16]
    mov rax, [rel user_gdtr]
    mov rbx, 0x5A5A5A5A5A5A5A5A
    CHECK "SGDT's operand is not written", rbx
    jmp .end
.no_umip:
    mov rax, [rel r_smsw + 24]
    CHECK "no fault: no RIP saved", -1
    mov rax, [rel user_gdtr + 2]
    CHECK "SGDT at CPL 3 stores the GDT base", [rel kernel_gdtr + 2]
.end:
    call finish

align 8
kernel_gdtr: times 2 dq 0
kernel_idtr: times 2 dq 0
user_gdtr: times 2 dq 0
user_idtr: times 2 dq 0
r_sgdt: times 4 dq 0
r_sidt: times 4 dq 0
r_sldt: times 4 dq 0
r_str: times 4 dq 0
r_smsw: times 4 dq 0
