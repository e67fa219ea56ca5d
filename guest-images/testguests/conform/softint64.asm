; Faults while delivering a software interrupt (INT n, INT3) in 64-bit mode: SDM Vol. 3 6.5 and the INT n page of
; Vol. 2: a #NP or #GP raised by the gate is a fault of the INT instruction, so the saved RIP is the INT's own
; address (the handler can fix the gate and return to retry it), and the error code names the IDT entry (IDT bit set,
; EXT clear: the event came from the program). A delivered INT n, in contrast, saves the RIP after it.
; Prints "ok <name>" / "FAIL <name> ..." on COM1 and exits through isa-debug-exit with the failure count.
bits 64
org 0x10000
%include "sys/guest64.inc"
    jmp tests

; CHECK_FAULT name, vector, error code, label: the last exception was `vector` with that error code, saved at `label`.
%macro CHECK_FAULT 4
    %strcat %%vector_name %1, ": vector"
    %strcat %%error_name %1, ": error code"
    %strcat %%rip_name %1, ": saved rip is the instruction"
    mov rax, [rel last_vec]
    CHECK %%vector_name, %2
    mov rax, [rel last_err]
    CHECK %%error_name, %3
    mov rax, [rel last_rip]
    lea rcx, [rel %4]
    CHECK %%rip_name, rcx
%endmacro

tests:
    ; INT 0x50 through a gate that is not present: #NP(0x50 * 8 + 2) at the INT.
    mov ecx, 0x50
    lea rax, [rel int50]
    mov bx, 0x000E              ; interrupt gate, P = 0
    call set_gate
    ARM .np
.np_insn:
    int 0x50
.np:
    CHECK_FAULT "int n, gate not present (#NP)", 11, 0x50 * 8 + 2, .np_insn

    ; The #NP handler makes the gate present and returns to the saved RIP: the INT runs again and reaches int50.
    lea rax, [rel .fix_gate]
    mov [rel resume], rax
    mov qword [rel int50_count], 0
.retry_insn:
    int 0x50
.retry_next:
    jmp .retried
.fix_gate:
    mov ecx, 0x50
    lea rax, [rel int50]
    mov bx, 0x008E
    call set_gate
    jmp [rel last_rip]
.retried:
    mov rax, [rel int50_count]
    CHECK "int n, gate fixed: retried once", 1
    mov rax, [rel int50_rip]
    lea rcx, [rel .retry_next]
    CHECK "int n delivered: saved rip after the int", rcx

    ; INT3 through a not-present gate: #NP(3 * 8 + 2) at the INT3.
    mov ecx, 3
    lea rax, [rel stubs + 3 * 16]
    mov bx, 0x000E
    call set_gate
    ARM .bp
.bp_insn:
    int3
.bp:
    CHECK_FAULT "int3, gate not present (#NP)", 11, 3 * 8 + 2, .bp_insn
    mov ecx, 3
    lea rax, [rel stubs + 3 * 16]
    mov bx, 0x008E
    call set_gate

    ; INT 0x51 through a present gate of a reserved type (0): #GP(0x51 * 8 + 2) at the INT.
    mov ecx, 0x51
    lea rax, [rel int50]
    mov bx, 0x0080
    call set_gate
    ARM .gp
.gp_insn:
    int 0x51
.gp:
    CHECK_FAULT "int n, bad gate type (#GP)", 13, 0x51 * 8 + 2, .gp_insn

    jmp finish

int50:
    push rax
    inc qword [rel int50_count]
    mov rax, [rsp + 8]
    mov [rel int50_rip], rax
    pop rax
    iretq

align 8
int50_count: dq 0
int50_rip: dq 0
