; Exceptions in 64-bit mode at CPL 0: each exception class is raised, delivered through a 64-bit interrupt gate
; to a handler that records vector, error code, saved RIP and CR2, and checked against the SDM (Vol. 3 6.15,
; "Exception and Interrupt Reference", and the instruction pages of Vol. 2). Also: #DF on an IST stack, serial
; delivery of a benign exception's #NP, MSR and control-register faults.
; Prints "ok <name>" / "FAIL <name> ..." on COM1 and exits through isa-debug-exit with the failure count.
bits 64
org 0x10000
%define RUNNER_TSS 0x1100       ; the bare runner's TSS (StartLayout gdt_gpa + 0x100)
%define GDT_COPY 0x31000
%define IST1_TOP 0x38000
%define UNMAPPED 0x40000000      ; 1 GiB: beyond the identity-mapped RAM of a default (128 MiB) run

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"

start:
    mov rsp, 0x80000
    call setup_idt
    call setup_gdt

    ; #DE (vector 0, fault, no error code): DIV by zero; the saved RIP is the DIV.
    ARM .de
    xor edx, edx
    mov eax, 1
    xor ecx, ecx
.de_insn:
    div ecx
.de:
    mov rax, [rel last_vec]
    CHECK "DE vector", 0
    mov rax, [rel last_rip]
    lea rcx, [rel .de_insn]
    CHECK "DE saved rip is the faulting div", rcx

    ; #DB (vector 1) from INT1/ICEBP: a trap, the saved RIP follows the instruction.
    ARM .db
    db 0xF1
.db_next:
.db:
    mov rax, [rel last_vec]
    CHECK "DB vector (icebp)", 1

    ; #BP (vector 3): INT3 is a trap, saved RIP is the next instruction (SDM INT3).
    ARM .bp
    int3
.bp_next:
    jmp .bp
.bp:
    mov rax, [rel last_vec]
    CHECK "BP vector", 3
    mov rax, [rel last_rip]
    lea rcx, [rel .bp_next]
    CHECK "BP saved rip after int3", rcx

    ; #UD (vector 6): UD2.
    ARM .ud
.ud_insn:
    ud2
.ud:
    mov rax, [rel last_vec]
    CHECK "UD vector", 6
    mov rax, [rel last_rip]
    lea rcx, [rel .ud_insn]
    CHECK "UD saved rip is ud2", rcx

    ; #GP(0): setting CR4.PCIDE when CPUID does not report PCID (SDM MOV CR: reserved bit -> #GP(0)); run with
    ; -cpu max,-pcid.
    ARM .gp_cr4
    mov rax, cr4
    bts rax, 17
    mov cr4, rax
.gp_cr4:
    mov rax, [rel last_vec]
    CHECK "GP vector (cr4.pcide)", 13
    mov rax, [rel last_err]
    CHECK "GP error code 0", 0

    ; #GP(0): clearing CR4.PAE in IA-32e mode; clearing CR0.PE with PG = 1; CR8 bits 63:4 (SDM MOV CR).
    ARM .gp_pae
    mov rax, cr4
    btr rax, 5
    mov cr4, rax
.gp_pae:
    mov rax, [rel last_vec]
    CHECK "GP on clearing CR4.PAE in long mode", 13
    ARM .gp_pe
    mov rax, cr0
    btr rax, 0
    mov cr0, rax
.gp_pe:
    mov rax, [rel last_vec]
    CHECK "GP on CR0.PG=1 with PE=0", 13
    ARM .gp_cr8
    mov eax, 16
    mov cr8, rax
.gp_cr8:
    mov rax, [rel last_vec]
    CHECK "GP on CR8 reserved bits", 13

    ; #GP(selector): a selector beyond the GDT limit (SDM MOV: "#GP(selector) if ... outside the table").
    ARM .gp_sel
    mov ax, 0x7F8
    mov ds, ax
.gp_sel:
    mov rax, [rel last_vec]
    CHECK "GP vector (selector beyond gdt)", 13
    mov rax, [rel last_err]
    CHECK "GP error code is the selector", 0x7F8

    ; #NP(selector): a not-present data segment (GDT_COPY entry 0x50).
    ARM .np
    mov ax, 0x50
    mov es, ax
.np:
    mov rax, [rel last_vec]
    CHECK "NP vector", 11
    mov rax, [rel last_err]
    CHECK "NP error code is the selector", 0x50

    ; #SS(selector): loading SS with a not-present writable segment (SDM MOV: #SS(selector)).
    ARM .ss
    mov ax, 0x50
    mov ss, ax
.ss:
    mov rax, [rel last_vec]
    CHECK "SS vector", 12
    mov rax, [rel last_err]
    CHECK "SS error code is the selector", 0x50

    ; #GP(selector): SS with RPL != CPL.
    ARM .gp_ss
    mov ax, 0x18 | 3
    mov ss, ax
.gp_ss:
    mov rax, [rel last_err]
    CHECK "GP for SS with RPL 3 at CPL 0", 0x18

    ; #PF: not-present read, write (SDM 4.7: P=0, W/R = 1 for a write, U/S = 0 at CPL 0); CR2 = the address.
    ARM .pf_read
    mov rax, [UNMAPPED]
.pf_read:
    mov rax, [rel last_vec]
    CHECK "PF vector", 14
    mov rax, [rel last_err]
    CHECK "PF read error code", 0
    mov rax, [rel last_cr2]
    CHECK "PF read cr2", UNMAPPED
    ARM .pf_write
    mov byte [UNMAPPED + 0x10], 1
.pf_write:
    mov rax, [rel last_err]
    CHECK "PF write error code", 2
    mov rax, [rel last_cr2]
    CHECK "PF write cr2", UNMAPPED + 0x10

    ; MSRs: an unknown MSR and a non-canonical LSTAR are #GP(0); EFER reports LME and LMA (bits 8 and 10).
    ARM .msr_unknown
    mov ecx, 0x12345
    rdmsr
.msr_unknown:
    mov rax, [rel last_vec]
    CHECK "GP on rdmsr of an unknown msr", 13
    ARM .msr_lstar
    mov ecx, 0xC0000082
    mov edx, 0x00008000
    xor eax, eax
    wrmsr
.msr_lstar:
    mov rax, [rel last_vec]
    CHECK "GP on a non-canonical LSTAR", 13
    mov ecx, 0xC0000080
    rdmsr
    and eax, 0x500
    CHECK "EFER LME and LMA", 0x500
    mov ecx, 0xC0000102             ; KERNEL_GS_BASE round trip
    mov eax, 0x89ABCDEF
    mov edx, 0xFFFF8001
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov rbx, 0xFFFF800189ABCDEF
    CHECK "KERNEL_GS_BASE round trip", rbx

    ; A benign exception whose gate is not present: #NP(6*8+2+EXT) is delivered serially (Table 6-5).
    mov ecx, 6
    lea rax, [rel stubs + 6 * 16]
    mov bx, 0x000E                  ; P = 0
    call set_gate
    ARM .np_serial
    ud2
.np_serial:
    mov rax, [rel last_vec]
    CHECK "UD with a missing gate becomes NP", 11
    mov rax, [rel last_err]
    CHECK "NP error code: IDT vector 6, EXT", 6 * 8 + 2 + 1
    mov ecx, 6
    lea rax, [rel stubs + 6 * 16]
    mov bx, 0x008E
    call set_gate

    ; #DF: #GP whose gate is not present raises #NP, contributory after contributory -> #DF(0), delivered on
    ; IST1 (SDM 6.14.5: RSP = IST1, aligned; frame of 6 qwords with the error code).
    mov qword [RUNNER_TSS + 0x24], IST1_TOP
    mov ecx, 8
    lea rax, [rel stubs + 8 * 16]
    mov bx, 0x018E                  ; IST 1
    call set_gate
    mov ecx, 13
    lea rax, [rel stubs + 13 * 16]
    mov bx, 0x000E                  ; not present
    call set_gate
    ARM .df
    mov ax, 0x7F8
    mov ds, ax
.df:
    mov rax, [rel last_vec]
    CHECK "DF vector", 8
    mov rax, [rel last_err]
    CHECK "DF error code", 0
    mov rax, [rel last_rsp]
    CHECK "DF runs on IST1", IST1_TOP - 48 - 8
    mov ecx, 13
    lea rax, [rel stubs + 13 * 16]
    mov bx, 0x008E
    call set_gate

    call finish

; setup_gdt: a copy of the runner's GDT (10 entries) plus 0x50: a not-present writable data segment.
setup_gdt:
    sgdt [rel gdtr_old]
    mov rsi, [rel gdtr_old + 2]
    mov edi, GDT_COPY
    mov ecx, 10
    rep movsq
    mov rax, 0x00CF12000000FFFF     ; data, DPL 0, P = 0
    mov [GDT_COPY + 0x50], rax
    lgdt [rel gdtr_new]
    ret

gdtr_old: dw 0
          dq 0
gdtr_new: dw 0x57
          dq GDT_COPY

