; User/kernel transitions in long mode. Starts at CPL 0 (bare runner, Linux GDT: 0x10/0x18 kernel, 0x2B/0x33
; user, TSS RSP0 = 0xF000), builds an IDT, IRETQs to CPL 3 and comes back through INT 0x80 (DPL 3 gate),
; SYSCALL/SYSRET, and faults (#GP) for privileged instructions at CPL 3. Everything is checked at CPL 0 at the
; end (I/O to COM1 needs CPL <= IOPL) against the SDM, Vol. 3 6.12.1/6.14 and the SYSCALL/SYSRET pages.
bits 64
org 0x10000
%define RSP0 0xF000             ; the runner's TSS RSP0 (StartLayout kernel_stack_top)
%define USER_STACK 0x60000
%define KDATA 0x70000           ; kernel per-CPU data reached through GS after SWAPGS

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"

start:
    mov rsp, 0x80000
    call setup_idt
    USER_GATE 0x80, int80
    mov ecx, 0x81                   ; INT 0x81: DPL 0, so CPL 3 gets #GP(0x81*8+2)
    lea rax, [rel int80]
    mov bx, 0x008E
    call set_gate
    ; SYSCALL: EFER.SCE, STAR as Linux (kernel CS 0x10, SYSRET base 0x23), LSTAR, SFMASK = IF | TF | DF.
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1
    wrmsr
    mov ecx, 0xC0000081
    xor eax, eax
    mov edx, (0x23 << 16) | 0x10
    wrmsr
    mov ecx, 0xC0000082
    lea rax, [rel syscall_entry]
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov ecx, 0xC0000084
    mov eax, 0x700
    xor edx, edx
    wrmsr
    mov ecx, 0xC0000102             ; KERNEL_GS_BASE -> KDATA, where the kernel keeps a marker
    mov eax, KDATA
    xor edx, edx
    wrmsr
    mov qword [KDATA], 0x4B45524E
    TO_USER user, USER_STACK

; --- CPL 3
user:
    mov ax, cs
    mov [rel u_cs], ax
    mov eax, 1
    int 0x80                        ; records the kernel's view of the transition
    ; Privileged instructions at CPL 3: #GP(0) (SDM: CLI with CPL > IOPL, MOV from CR0, HLT, IN without
    ; an I/O bitmap entry); INT 0x81 through a DPL 0 gate: #GP(0x81*8+2).
    ARM .cli
    cli
.cli:
    mov rax, [rel last_err]
    mov [rel u_cli], rax
    mov rax, [rel last_cs]
    mov [rel u_cli_cs], rax
    ARM .int81
    int 0x81
.int81:
    mov rax, [rel last_err]
    mov [rel u_int81], rax
    ARM .cr0
    mov rax, cr0
.cr0:
    mov rax, [rel last_vec]
    mov [rel u_cr0], rax
    ARM .hlt
    hlt
.hlt:
    mov rax, [rel last_vec]
    mov [rel u_hlt], rax
    ARM .in
    mov dx, 0x3F8
    in al, dx
.in:
    mov rax, [rel last_vec]
    mov [rel u_in], rax
    ; SYSCALL / SYSRET round trip.
    mov r11, 0
    std
    syscall
.after_syscall:
    pushfq
    pop rax
    mov [rel u_rflags_after], rax
    cld
    mov ax, cs
    mov [rel u_cs_after], ax
    mov ax, ss
    mov [rel u_ss_after], ax
    mov eax, 2
    int 0x80                        ; to the kernel for the checks; does not return
    jmp $

; --- CPL 0 entry points
int80:
    cmp eax, 2
    je report
    mov [rel k_rsp], rsp
    mov ax, ss
    mov [rel k_ss], ax
    mov rax, [rsp + 8]
    mov [rel k_frame_cs], rax
    mov rax, [rsp + 32]
    mov [rel k_frame_ss], rax
    mov rax, [rsp + 24]
    mov [rel k_frame_rsp], rax
    iretq

syscall_entry:
    mov [rel s_rcx], rcx
    mov [rel s_r11], r11
    mov ax, cs
    mov [rel s_cs], ax
    mov ax, ss
    mov [rel s_ss], ax
    pushfq
    pop rax
    mov [rel s_rflags], rax
    swapgs
    mov rax, [gs:0]
    mov [rel s_gs_marker], rax
    swapgs
    o64 sysret

report:
    mov rsp, 0x80000
    movzx eax, word [rel u_cs]
    CHECK "user code runs with CS 0x33", 0x33
    ; INT 0x80 from CPL 3: stack from TSS.RSP0 (aligned to 16), 5 qwords pushed, SS := null (SDM 6.14.4).
    mov rax, [rel k_rsp]
    CHECK "int 0x80 frame on RSP0", RSP0 - 40
    movzx eax, word [rel k_ss]
    CHECK "kernel SS is null after the privilege change", 0
    mov rax, [rel k_frame_cs]
    CHECK "frame CS is the user CS", 0x33
    mov rax, [rel k_frame_ss]
    CHECK "frame SS is the user SS", 0x2B
    mov rax, [rel k_frame_rsp]
    CHECK "frame RSP is the user RSP", USER_STACK
    mov rax, [rel u_cli]
    CHECK "CLI at CPL 3 is GP(0)", 0
    mov rax, [rel u_cli_cs]
    CHECK "the GP frame holds the user CS", 0x33
    mov rax, [rel u_int81]
    CHECK "INT 0x81 through a DPL 0 gate is GP(0x81*8+2)", 0x81 * 8 + 2
    mov rax, [rel u_cr0]
    CHECK "MOV from CR0 at CPL 3 is GP", 13
    mov rax, [rel u_hlt]
    CHECK "HLT at CPL 3 is GP", 13
    mov rax, [rel u_in]
    CHECK "IN at CPL 3 with IOPL 0 and no bitmap is GP", 13
    ; SYSCALL: RCX = next RIP, R11 = RFLAGS, CS = STAR[47:32], SS = STAR[47:32] + 8, RFLAGS &= ~SFMASK.
    mov rax, [rel s_rcx]
    lea rbx, [rel user.after_syscall]
    CHECK "SYSCALL saves the return RIP in RCX", rbx
    mov rax, [rel s_r11]
    CHECK "SYSCALL saves RFLAGS (IF DF) in R11", 0x602
    movzx eax, word [rel s_cs]
    CHECK "SYSCALL CS", 0x10
    movzx eax, word [rel s_ss]
    CHECK "SYSCALL SS", 0x18
    mov rax, [rel s_rflags]
    CHECK "SFMASK cleared IF and DF", 0x2
    mov rax, [rel s_gs_marker]
    CHECK "SWAPGS exposes KERNEL_GS_BASE", 0x4B45524E
    ; SYSRET (64-bit): CS = STAR[63:48] + 16 | 3, SS = STAR[63:48] + 8 | 3, RFLAGS from R11.
    movzx eax, word [rel u_cs_after]
    CHECK "SYSRET CS", 0x33
    movzx eax, word [rel u_ss_after]
    CHECK "SYSRET SS", 0x2B
    mov rax, [rel u_rflags_after]
    CHECK "SYSRET restores RFLAGS from R11", 0x602
    call finish

align 8
u_cs: dq 0
u_cli: dq 0
u_cli_cs: dq 0
u_int81: dq 0
u_cr0: dq 0
u_hlt: dq 0
u_in: dq 0
u_cs_after: dq 0
u_ss_after: dq 0
u_rflags_after: dq 0
k_rsp: dq 0
k_ss: dq 0
k_frame_cs: dq 0
k_frame_ss: dq 0
k_frame_rsp: dq 0
s_rcx: dq 0
s_r11: dq 0
s_cs: dq 0
s_ss: dq 0
s_rflags: dq 0
s_gs_marker: dq 0

