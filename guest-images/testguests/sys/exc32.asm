; 32-bit protected mode (emu64 -bare -start-mode prot32: Linux GDT, CS 0x10, DS 0x18, TSS with SS0:ESP0 =
; 0x18:0xF000): #OF from INTO, #BR from BOUND, segment-load faults, and a ring 3 round trip through IRETD and a
; DPL 3 interrupt gate with the stack switch from the TSS (SDM Vol. 3 6.12.1, Figure 6-4).
bits 32
org 0x10000
%define IDT_BASE 0x30000
%define GDT_COPY 0x31000
%define KERNEL_CS 0x10
%define ESP0 0xF000
%define USER_STACK 0x60000

%macro ARM 1
    mov dword [last_vec], -1
    mov dword [last_err], -1
    mov dword [resume], %1
%endmacro

    jmp start
%include "sys/lib32.inc"

start:
    mov esp, 0x80000
    call setup_idt
    call setup_gdt

    ; #OF (vector 4): INTO with OF = 1 is a trap; the saved EIP follows INTO (SDM INTO).
    ARM .of
    mov al, 0x7F
    add al, 1
    into
.of_next:
    jmp .of
.of:
    mov eax, [last_vec]
    CHECK "OF vector", 4
    mov eax, [last_rip]
    CHECK "OF saved eip after into", .of_next

    ; #BR (vector 5): BOUND with the index above the upper bound is a fault (saved EIP = BOUND).
    ARM .br
    mov eax, 11
.br_insn:
    bound eax, [bounds]
.br:
    mov eax, [last_vec]
    CHECK "BR vector", 5
    mov eax, [last_rip]
    CHECK "BR saved eip is bound", .br_insn
    ARM .br_in
    mov eax, 10                     ; inside [0, 10]: no exception
    bound eax, [bounds]
    mov dword [last_vec], 0x99
.br_in:
    mov eax, [last_vec]
    CHECK "BOUND inside the range does not fault", 0x99

    ; Segment loads: #GP(selector) beyond the GDT, #NP(selector) for DS, #SS(selector) for SS.
    ARM .gp
    mov ax, 0x7F8
    mov ds, ax
.gp:
    mov eax, [last_err]
    CHECK "GP error code is the selector", 0x7F8
    ARM .np
    mov ax, 0x50
    mov ds, ax
.np:
    mov eax, [last_vec]
    CHECK "NP vector", 11
    mov eax, [last_err]
    CHECK "NP error code", 0x50
    ARM .ss
    mov ax, 0x50
    mov ss, ax
.ss:
    mov eax, [last_vec]
    CHECK "SS vector", 12
    mov eax, [last_err]
    CHECK "SS error code", 0x50
    ARM .gp_code
    mov ax, 0x10                    ; a code segment into SS
    mov ss, ax
.gp_code:
    mov eax, [last_err]
    CHECK "GP for a code segment in SS", 0x10

    ; Ring 3: IRETD pops EIP, CS, EFLAGS, ESP, SS (return to an outer level).
    mov ecx, 0x80
    mov eax, int80
    mov bx, 0xEE                    ; DPL 3 interrupt gate
    call set_gate
    push 0x2B
    push USER_STACK
    push 0x202
    push 0x23
    push user
    iretd

user:
    mov ax, 0x2B                    ; IRET to CPL 3 nulled DS/ES (DPL 0 < CPL)
    mov ds, ax
    mov es, ax
    mov eax, 1
    int 0x80
    ARM .cli
    cli
.cli:
    mov eax, [last_err]
    mov [u_cli_err], eax
    mov eax, [last_cs]
    mov [u_cli_cs], eax
    mov eax, 2
    int 0x80
    jmp $

int80:
    cmp eax, 2
    je report
    mov [k_esp], esp
    mov ax, ss
    mov [k_ss], ax
    mov eax, [esp + 4]
    mov [k_frame_cs], eax
    mov eax, [esp + 12]
    mov [k_frame_esp], eax
    mov eax, [esp + 16]
    mov [k_frame_ss], eax
    iretd

report:
    mov ax, 0x18
    mov ds, ax
    mov es, ax
    mov esp, 0x80000
    mov eax, [k_esp]
    CHECK "int 0x80 frame on ESP0 (5 dwords)", ESP0 - 20
    movzx eax, word [k_ss]
    CHECK "kernel SS from TSS SS0", 0x18
    mov eax, [k_frame_cs]
    CHECK "frame CS is the user CS", 0x23
    mov eax, [k_frame_ss]
    CHECK "frame SS is the user SS", 0x2B
    mov eax, [k_frame_esp]
    CHECK "frame ESP is the user ESP", USER_STACK
    mov eax, [u_cli_err]
    CHECK "CLI at CPL 3 is GP(0)", 0
    mov eax, [u_cli_cs]
    CHECK "GP frame CS is the user CS", 0x23
    call finish

; --- IDT: 32-bit interrupt gates to stubs that push a dummy error code where the CPU pushes none.
; set_gate: ecx = vector, eax = handler, bl = type/DPL/P byte.
set_gate:
    mov [IDT_BASE + ecx * 8], ax
    mov word [IDT_BASE + ecx * 8 + 2], KERNEL_CS
    mov byte [IDT_BASE + ecx * 8 + 4], 0
    mov [IDT_BASE + ecx * 8 + 5], bl
    shr eax, 16
    mov [IDT_BASE + ecx * 8 + 6], ax
    ret

setup_idt:
    xor ecx, ecx
.loop:
    mov eax, ecx
    shl eax, 4
    add eax, stubs
    mov bl, 0x8E
    call set_gate
    inc ecx
    cmp ecx, 32
    jb .loop
    lidt [idtr]
    ret

setup_gdt:
    sgdt [gdtr_old]
    mov esi, [gdtr_old + 2]
    mov edi, GDT_COPY
    mov ecx, 20
    rep movsd
    mov dword [GDT_COPY + 0x50], 0x0000FFFF
    mov dword [GDT_COPY + 0x54], 0x00CF1200   ; data, DPL 0, P = 0
    lgdt [gdtr_new]
    ret

align 16
stubs:
%assign v 0
%rep 32
    align 16
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21
    push dword v
%else
    push dword 0
    push dword v
%endif
    jmp record
%assign v v + 1
%endrep

; Frame after the stub: vector, error, EIP, CS, EFLAGS (and ESP, SS from CPL 3).
record:
    push eax
    mov eax, [esp + 4]
    mov [last_vec], eax
    mov eax, [esp + 8]
    mov [last_err], eax
    mov eax, [esp + 12]
    mov [last_rip], eax
    mov eax, [esp + 16]
    mov [last_cs], eax
    mov eax, [resume]
    mov [esp + 12], eax
    pop eax
    add esp, 8
    iretd

idtr: dw 256 * 8 - 1
      dd IDT_BASE
gdtr_old: dw 0
          dd 0
gdtr_new: dw 0x57
          dd GDT_COPY
bounds: dd 0, 10
align 4
resume: dd 0
last_vec: dd 0
last_err: dd 0
last_rip: dd 0
last_cs: dd 0
u_cli_err: dd 0
u_cli_cs: dd 0
k_esp: dd 0
k_ss: dd 0
k_frame_cs: dd 0
k_frame_esp: dd 0
k_frame_ss: dd 0

