; Debug features in long mode (SDM Vol. 3 chapter 18; Vol. 2 MOV DR, INT n/INT1/INT3, JMP/CALL far, RDTSC): DR6/DR7
; reset values and DR4/DR5 aliasing, single-step traps (TF, POPF, MOV SS), an instruction breakpoint resumed with
; RF, write and read/write data breakpoints, DR7.GD, MOV DR / INT3 / INT 1 / INT1 from CPL 3, far JMP/CALL through
; an m16:32 pointer, and RDTSC after WRMSR(TSC). Every expected value is stated from the SDM next to its check.
bits 64
org 0x10000
%define RSP0 0xF000             ; the runner's TSS RSP0
%define USER_STACK 0x60000
%define DR6_INIT 0xFFFF0FF0     ; DR6 with no condition recorded: reserved bits read as 1 (SDM 18.2.3)
%define RF (1 << 16)
%define TF (1 << 8)

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"

; Sets TF (POPF: no trap after the POPF itself) / clears it (the POPF that clears TF still traps).
%macro TF_ON 0
    pushfq
    or qword [rsp], TF
    popfq
%endmacro
%macro TF_OFF 0
    pushfq
    and qword [rsp], ~TF
    popfq
%endmacro
; Clears the #DB record; %1 = 1: the handler sets RF in the frame (resume past an instruction breakpoint).
%macro DB_ARM 1
    mov qword [rel db_count], 0
    mov byte [rel db_set_rf], %1
%endmacro

start:
    mov rsp, 0x80000
    call setup_idt
    mov ecx, 1                      ; #DB: our handler (interrupt gate, DPL 0: INT 1 from CPL 3 is #GP)
    lea rax, [rel db_handler]
    mov bx, 0x008E
    call set_gate
    USER_GATE 0x80, kernel_again    ; back to CPL 0 from the user part

    ; --- DR6/DR7 after reset and writes; DR4/DR5 alias DR6/DR7 with CR4.DE = 0, #UD with CR4.DE = 1.
    mov rax, dr6
    CHECK "dr6 reset value", DR6_INIT
    mov rax, dr7
    CHECK "dr7 reset value", 0x400
    xor eax, eax
    mov dr6, rax
    mov rax, dr6
    CHECK "dr6 reserved bits read as 1", DR6_INIT
    mov eax, 0x4003                 ; BS and B0, B1
    mov dr4, rax                    ; = DR6
    mov rax, dr6
    CHECK "dr4 aliases dr6 without CR4.DE", DR6_INIT | 0x4003
    xor eax, eax
    mov dr6, rax
    mov rax, cr4
    or rax, 1 << 3                  ; CR4.DE
    mov cr4, rax
    ARM .de
    mov rax, dr5
.de:
    mov rax, [rel last_vec]
    CHECK "dr5 with CR4.DE is #UD", 6
    mov rax, cr4
    and rax, ~(1 << 3)
    mov cr4, rax

    ; --- Single-step: a #DB trap after each instruction that starts with TF = 1, DR6.BS, saved RIP = the next
    ; instruction. The POPF that sets TF does not trap; the POPF that clears it does (SDM 18.3.1.4).
    DB_ARM 0
    TF_ON
.s0: nop
.s1: mov eax, 1
.s2: add eax, 2
.s3: pushfq
.s4: and qword [rsp], ~TF
.s5: popfq
.s6: nop
    mov rax, [rel db_count]
    CHECK "single-step trap count", 6
    mov rax, [rel db_rips]
    CHECK "first single-step trap follows the instruction after popf", .s1
    mov rax, [rel db_rips + 8]
    CHECK "second single-step trap rip", .s2
    mov rax, [rel db_rips + 40]
    CHECK "the popf clearing TF traps", .s6
    mov rax, [rel db_dr6]
    CHECK "single-step dr6 has BS", DR6_INIT | 0x4000
    mov rax, [rel db_flags]
    and rax, TF | RF
    CHECK "single-step frame has TF and no RF", TF

    ; MOV SS blocks debug traps for one instruction: the trap comes after the next instruction (SDM 6.8.3).
    DB_ARM 0
    mov ax, ss
    TF_ON
.m0: mov ss, ax
.m1: nop
.m2: TF_OFF
    mov rax, [rel db_count]
    CHECK "mov ss: one trap covers it and the next instruction", 4
    mov rax, [rel db_rips]
    CHECK "mov ss: first trap rip is after the following instruction", .m2

    ; --- Instruction breakpoint (DR0, R/W = 00, LEN = 00, L0): a fault before the instruction, DR6.B0, RF pushed
    ; as 0; the handler sets RF in the frame and IRETQ resumes through the breakpoint. RF is cleared after the
    ; next instruction, so the second pass through the loop breaks again (SDM 18.3.1.1).
    DB_ARM 1
    lea rax, [rel .bp_target]
    mov dr0, rax
    mov eax, 1
    mov dr7, rax
    xor ecx, ecx
    mov edx, 2
.bp_loop:
.bp_target:
    inc ecx
    dec edx
    jnz .bp_loop
    xor eax, eax
    mov dr7, rax
    mov rax, [rel db_count]
    CHECK "instruction breakpoint hit on each pass", 2
    mov rax, [rel db_rips]
    CHECK "instruction breakpoint is a fault at the instruction", .bp_target
    mov rax, rcx
    CHECK "the instruction ran once per pass after RF resume", 2
    mov rax, [rel db_dr6]
    CHECK "instruction breakpoint dr6 has B0", DR6_INIT | 1
    mov rax, [rel db_rflags]
    and rax, RF
    CHECK "instruction breakpoint pushes RF = 0", 0
    mov rax, dr7
    CHECK "dr7 after clearing", 0x400

    ; --- Data breakpoints: traps after the access (saved RIP = next instruction). DR1: write-only (R/W = 01),
    ; 4 bytes (LEN = 11) at watch; DR2: read/write (R/W = 11), 8 bytes (LEN = 10) at watch + 8.
    DB_ARM 0
    lea rax, [rel watch]
    mov dr1, rax
    add rax, 8
    mov dr2, rax
    mov eax, (1 << 2) | (1 << 4) | (1 << 20) | (3 << 22) | (3 << 24) | (2 << 26)
    mov dr7, rax
    mov eax, [rel watch]            ; a read: DR1 is write-only
    mov dword [rel watch], 5        ; write in range
.d1:
    mov byte [rel watch + 3], 1     ; last byte of the 4
.d2:
    mov byte [rel watch + 4], 1     ; outside both
    mov rax, [rel watch + 8]        ; read in DR2's range
.d3:
    mov byte [rel watch + 16], 1    ; just past DR2's 8 bytes
    xor eax, eax
    mov dr7, rax
    mov rax, [rel db_count]
    CHECK "data breakpoint trap count", 3
    mov rax, [rel db_rips]
    CHECK "write breakpoint traps after the store", .d1
    mov rax, [rel db_rips + 8]
    CHECK "write breakpoint covers LEN bytes", .d2
    mov rax, [rel db_rips + 16]
    CHECK "read/write breakpoint traps after the load", .d3
    mov rax, [rel db_dr6s]
    CHECK "write breakpoint dr6 has B1", DR6_INIT | 2
    mov rax, [rel db_dr6]
    CHECK "read/write breakpoint dr6 has B2", DR6_INIT | 4

    ; --- DR7.GD: the next MOV DR is a #DB fault with DR6.BD; entering the handler clears GD (SDM 18.2.4), so
    ; the IRETQ back to the MOV lets it complete. Faults push RF = 1.
    DB_ARM 0
    mov eax, 0x2000
    mov dr7, rax
.gd:
    mov rax, dr0
    mov r12, rax
    mov rax, [rel db_count]
    CHECK "general detect raises one #DB", 1
    mov rax, [rel db_rips]
    CHECK "general detect is a fault at the mov", .gd
    mov rax, [rel db_dr6]
    CHECK "general detect dr6 has BD", DR6_INIT | 0x2000
    mov rax, [rel db_dr7]
    CHECK "general detect clears GD on entry", 0x400
    mov rax, [rel db_rflags]
    and rax, RF
    CHECK "general detect pushes RF = 1", RF
    lea rax, [rel .bp_target]
    CHECK "the mov completes after the handler", r12

    ; --- Far JMP/CALL through memory in 64-bit mode without REX.W: m16:32 (offset dword, then selector).
    mov qword [rel far_cs], 0
    jmp dword far [rel far_jmp_ptr]   ; FF /5, no REX.W
    hlt
.far_jmp_back:
    mov rax, [rel far_cs]
    CHECK "far jmp m16:32 reaches the target with CS", 0x10
    mov rbx, rsp
    call dword far [rel far_call_ptr] ; FF /3, no REX.W
.far_call_back:
    mov rax, [rel far_frame]
    CHECK "far call m16:32 pushes a 4-byte return EIP", .far_call_back
    mov rax, [rel far_frame + 8]
    CHECK "far call m16:32 pushes CS in the next 4 bytes", 0x10
    mov rax, [rel far_depth]
    CHECK "far call m16:32 pushes 8 bytes", 8

    ; --- WRMSR(IA32_TIME_STAMP_COUNTER) sets the counter: RDTSC and RDMSR continue from the written value.
    mov ecx, 0x10
    mov edx, 0x100
    xor eax, eax
    wrmsr
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rbx, 0x10000000000
    sub rax, rbx
    shr rax, 32                     ; less than 2^32 ticks since the write
    CHECK "rdtsc counts from the written TSC", 0
    mov ecx, 0x10
    rdmsr
    mov rbx, 0x10000000000
    shl rdx, 32
    or rax, rdx
    sub rax, rbx
    shr rax, 32
    CHECK "rdmsr tsc counts from the written TSC", 0

    ; --- CPL 3: MOV DR is #GP(0); INT3 and INT 1 check the gate DPL (#GP(vector * 8 + 2)); INT1 (F1) does not.
    TO_USER user, USER_STACK

user:
    ARM .dr
    mov rax, dr7
.dr:
    mov rax, [rel last_vec]
    mov [rel u_dr_vec], rax
    mov rax, [rel last_err]
    mov [rel u_dr_err], rax
    ARM .int3
    int3
.int3:
    mov rax, [rel last_err]
    mov [rel u_int3_err], rax
    ARM .int_1
    int 1
.int_1:
    mov rax, [rel last_err]
    mov [rel u_int1n_err], rax
    DB_ARM 0
    int1
.after_icebp:
    mov rax, [rel db_count]
    mov [rel u_icebp_count], rax
    mov rax, [rel db_rips]
    mov [rel u_icebp_rip], rax
    mov rax, [rel db_cs]
    mov [rel u_icebp_cs], rax
    int 0x80

kernel_again:
    mov rsp, 0x80000
    mov rax, [rel u_dr_vec]
    CHECK "mov dr at CPL 3 is #GP", 13
    mov rax, [rel u_dr_err]
    CHECK "mov dr at CPL 3 error code", 0
    mov rax, [rel u_int3_err]
    CHECK "int3 through a DPL 0 gate from CPL 3 is #GP(3*8+2)", 3 * 8 + 2
    mov rax, [rel u_int1n_err]
    CHECK "int 1 through a DPL 0 gate from CPL 3 is #GP(1*8+2)", 1 * 8 + 2
    mov rax, [rel u_icebp_count]
    CHECK "int1 (icebp) from CPL 3 delivers #DB", 1
    mov rax, [rel u_icebp_rip]
    CHECK "int1 is a trap: saved RIP follows it", user.after_icebp
    mov rax, [rel u_icebp_cs]
    CHECK "int1 frame has the user CS", 0x33
    jmp finish

; --- Far targets (CPL 0, CS 0x10).
far_jmp_target:
    xor eax, eax
    mov ax, cs
    mov [rel far_cs], rax
    jmp start.far_jmp_back
far_call_target:
    mov eax, [rsp]
    mov [rel far_frame], rax
    movzx eax, word [rsp + 4]
    mov [rel far_frame + 8], rax
    mov rax, rbx
    sub rax, rsp
    mov [rel far_depth], rax
    retf                            ; o32 RETF: pops the 4-byte EIP and CS

; --- #DB handler: counts, records the saved RIP/CS/RFLAGS and DR6 of each (up to 8) and DR7, clears DR6, and
; sets RF in the frame when [db_set_rf] says so. Runs with TF clear (delivery clears it).
db_handler:
    push rax
    push rbx
    mov rbx, [rel db_count]
    and ebx, 7
    mov rax, [rsp + 16]             ; RIP
    mov [db_rips + rbx * 8], rax
    mov rax, [rsp + 24]             ; CS
    mov [rel db_cs], rax
    mov rax, [rsp + 32]             ; RFLAGS
    mov [rel db_rflags], rax
    mov [db_flags + rbx * 8], rax
    mov rax, dr6
    mov [rel db_dr6], rax
    mov [db_dr6s + rbx * 8], rax
    mov rax, dr7
    mov [rel db_dr7], rax
    inc qword [rel db_count]
    xor eax, eax
    mov dr6, rax
    cmp byte [rel db_set_rf], 0
    je .out
    or qword [rsp + 32], RF
.out:
    pop rbx
    pop rax
    iretq

align 8
far_jmp_ptr: dd far_jmp_target
             dw 0x10
             dw 0xFFFF              ; would be part of an m16:64 offset: non-canonical garbage
align 8
far_call_ptr: dd far_call_target
              dw 0x10
              dw 0xFFFF
align 8
watch: times 24 db 0
db_count: dq 0
db_set_rf: dq 0
db_rips: times 8 dq 0
db_dr6s: times 8 dq 0
db_flags: times 8 dq 0
db_cs: dq 0
db_rflags: dq 0
db_dr6: dq 0
db_dr7: dq 0
far_cs: dq 0
far_frame: dq 0, 0
far_depth: dq 0
u_dr_vec: dq 0
u_dr_err: dq 0
u_int3_err: dq 0
u_int1n_err: dq 0
u_icebp_count: dq 0
u_icebp_rip: dq 0
u_icebp_cs: dq 0
