; RAM replaced under code without a CPU store: emu64's PC machine has no device that writes guest RAM (fw_cfg has
; no DMA interface), so the nearest case is a memslot change (the bare runner's -test-memslot-port, protocol in
; emu/machine/memslot_test_port.h), after which a guest-physical page holds other bytes. Run with
; -map 0x10000000:64K -map 0x20000000:64K -test-memslot-port: slot 1 at A holds MOV EAX, 0xAAAA; RET and slot 2 at
; B holds MOV EAX, 0xBBBB; RET. Both run (translated), then slot 1 is deleted and slot 2 moved to A: the code at A
; must now return 0xBBBB. Slot 2 is moved back and slot 1 re-created (its bytes come back): 0xAAAA again at A.
bits 64
org 0x10000
%define PORT 0x520
%define MOVE 1
%define DELETE 2
%define CREATE 3
%define A 0x10000000
%define B 0x20000000
%define WA WINDOW                   ; -> A
%define WB WINDOW + 0x1000          ; -> B

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"
%include "smc/smc.inc"

; COMMAND name, slot, gpa, command: runs a memslot command, checks that it was done (status 0).
%macro COMMAND 4
    mov edi, %2
    mov rsi, %3
    mov edx, %4
    call slot_cmd
    CHECK %1, 0
%endmacro
; CALL_AT linear: calls it; PACK16 the result.
%macro CALL_AT 1
    mov rax, %1
    call rax
    PACK16 rax
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [SCRATCH], rax
    mov cr3, rax
    mov rdi, [SCRATCH]
    mov rsi, WA
    mov edx, A | LEAF
    call map_page
    mov rdi, [SCRATCH]
    mov rsi, WB
    mov edx, B | LEAF
    call map_page
    mov rdi, WA
    lea rsi, [rel code_a]
    mov ecx, CODE_LEN
    rep movsb
    mov rdi, WB
    lea rsi, [rel code_b]
    mov ecx, CODE_LEN
    rep movsb

    xor r14d, r14d
    CALL_AT WA
    CALL_AT WA
    CALL_AT WB
    mov rax, r14
    CHECK "slot 1 at A and slot 2 at B run their code", 0xAAAAAAAABBBB
    COMMAND "delete slot 1", 1, 0, DELETE
    COMMAND "move slot 2 to A", 2, A, MOVE
    xor r14d, r14d
    CALL_AT WA
    CALL_AT WA
    mov rax, r14
    CHECK "A now holds slot 2's code", 0xBBBBBBBB
    COMMAND "move slot 2 back to B", 2, B, MOVE
    COMMAND "re-create slot 1 at A", 1, A, CREATE
    xor r14d, r14d
    CALL_AT WA
    CALL_AT WB
    mov rax, r14
    CHECK "A holds slot 1's code again, B slot 2's", 0xAAAABBBB

    call finish

%include "wp/memslot_port.inc"

code_a:
    mov eax, 0xAAAA
    ret
CODE_LEN equ $ - code_a
code_b:
    mov eax, 0xBBBB
    ret
