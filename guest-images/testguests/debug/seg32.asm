; Segment limit and type checks on data accesses in 32-bit protected mode (SDM Vol. 3 5.3, 5.4; Vol. 2 MOV, PUSH,
; POP "Protected Mode Exceptions"): an offset past an expand-up limit, or at/below an expand-down limit, is #GP(0)
; (#SS(0) through SS); so are a write to a read-only data segment and any access through a null selector.
; Runs with -start-mode prot32 (Linux GDT: CS 0x10, DS 0x18); adds its own descriptors to a copy of the GDT.
bits 32
org 0x10000
%define IDT_BASE 0x30000
%define GDT_COPY 0x31000
%define KERNEL_CS 0x10
%define FLAT_DS 0x18
%define SMALL 0x50              ; data, expand-up, limit 0xFFF
%define DOWN 0x58               ; data, expand-down, B = 1, limit 0xFFF: offsets 0x1000..0xFFFFFFFF
%define RDONLY 0x60             ; read-only data, 4 GiB
%define STACK_DOWN 0x68         ; stack, expand-down, B = 1, limit 0x7F000: offsets 0x7F001..0xFFFFFFFF
%define STACK_UP 0x70           ; stack, expand-up, limit 0x7FFFF

; Expect a fault: clears the record and sets the resume point (DS must be flat here).
%macro ARM 1
    mov dword [last_vec], -1
    mov dword [last_err], -1
    mov dword [resume], %1
%endmacro
; Back to flat DS/ES/SS after a test.
%macro FLAT 0
    mov ax, FLAT_DS
    mov ds, ax
    mov es, ax
    mov ss, ax
%endmacro
; Checks the recorded vector and error code, as vector << 16 | error code: %1 name, %2 vector (error code 0).
%macro EXPECT 2
    FLAT
    mov eax, [last_vec]
    shl eax, 16
    or eax, [last_err]
    CHECK %1, %2 << 16
%endmacro
; Checks that nothing faulted.
%macro NO_FAULT 1
    FLAT
    mov eax, [last_vec]
    CHECK %1, -1
%endmacro

    jmp start
%include "sys/lib32.inc"

start:
    mov esp, 0x80000
    sgdt [gdtr_old]
    mov esi, [gdtr_old + 2]
    mov edi, GDT_COPY
    mov ecx, 20
    rep movsd
    mov esi, descriptors
    mov ecx, 10
    rep movsd
    lgdt [gdtr_new]
    mov ecx, 12
    mov eax, ss_entry
    call set_gate
    mov ecx, 13
    mov eax, gp_entry
    call set_gate
    lidt [idtr]

    ; Expand-up DS, limit 0xFFF: the last byte of the access must be <= the limit.
    ARM .up_ok
    mov ax, SMALL
    mov ds, ax
    mov eax, [0xFFC]
.up_ok:
    NO_FAULT "dword ending at the limit"
    ARM .up_cross
    mov ax, SMALL
    mov ds, ax
    mov eax, [0xFFD]
.up_cross:
    EXPECT "dword crossing the limit is #GP", 13
    ARM .up_past
    mov ax, SMALL
    mov ds, ax
    mov byte [0x1000], 1
.up_past:
    EXPECT "byte store past the limit is #GP", 13

    ; Expand-down ES, limit 0xFFF, B = 1: valid offsets are 0x1000..0xFFFFFFFF.
    ARM .down_ok
    mov ax, DOWN
    mov es, ax
    mov eax, [es:0x1000]
.down_ok:
    NO_FAULT "expand-down access above the limit"
    ARM .down_at
    mov ax, DOWN
    mov es, ax
    mov al, [es:0xFFF]
.down_at:
    EXPECT "expand-down access at the limit is #GP", 13

    ; Read-only data: reads work, writes are #GP(0).
    ARM .ro_read
    mov ax, RDONLY
    mov ds, ax
    mov eax, [0x20000]
.ro_read:
    NO_FAULT "read through a read-only segment"
    ARM .ro_write
    mov ax, RDONLY
    mov ds, ax
    mov [0x20000], eax
.ro_write:
    EXPECT "write through a read-only segment is #GP", 13

    ; A null selector loads fine into DS; using it is #GP(0).
    ARM .null
    xor eax, eax
    mov ds, ax
    mov eax, [0x20000]
.null:
    EXPECT "access through a null DS is #GP", 13

    ; Through SS: #SS(0). Expand-down stack: offsets at or below 0x7F000 fault, pushes near ESP do not.
    ARM .ss_down
    mov ax, STACK_DOWN
    mov ss, ax
    push eax
    pop eax
    mov eax, [ss:0x7F000]
.ss_down:
    EXPECT "expand-down SS at the limit is #SS", 12
    ARM .ss_up
    mov ax, STACK_UP
    mov ss, ax
    mov esp, 0x80000
    push eax                        ; 0x7FFFC..0x7FFFF: inside
    pop eax
    mov eax, [ss:0x7FFFE]           ; 0x7FFFE..0x80001: crosses
.ss_up:
    EXPECT "expand-up SS crossing the limit is #SS", 12
    ARM .ss_pop
    mov ax, STACK_UP
    mov ss, ax
    mov esp, 0x80000
    pop eax                         ; 0x80000..0x80003: past the limit
.ss_pop:
    mov esp, 0x80000
    EXPECT "pop past the SS limit is #SS", 12
    jmp finish

; set_gate: ecx = vector, eax = handler; a 32-bit interrupt gate.
set_gate:
    mov [IDT_BASE + ecx * 8], ax
    mov word [IDT_BASE + ecx * 8 + 2], KERNEL_CS
    mov byte [IDT_BASE + ecx * 8 + 4], 0
    mov byte [IDT_BASE + ecx * 8 + 5], 0x8E
    shr eax, 16
    mov [IDT_BASE + ecx * 8 + 6], ax
    ret

ss_entry:
    push dword 12
    jmp record
gp_entry:
    push dword 13
    jmp record
; Frame: vector (pushed by the entry), error, EIP, CS, EFLAGS. Runs with the test's DS, so it switches to the flat
; one for its own data; resumes at [resume].
record:
    push ds
    push eax
    mov ax, FLAT_DS
    mov ds, ax
    mov eax, [esp + 8]
    mov [last_vec], eax
    mov eax, [esp + 12]
    mov [last_err], eax
    mov eax, [esp + 16]
    mov [last_rip], eax
    mov eax, [resume]
    mov [esp + 16], eax
    pop eax
    pop ds
    add esp, 8
    iretd

idtr: dw 256 * 8 - 1
      dd IDT_BASE
gdtr_old: dw 0
          dd 0
gdtr_new: dw 0x77
          dd GDT_COPY
align 4
descriptors:
    dd 0x00000FFF, 0x00409200       ; SMALL
    dd 0x00000FFF, 0x00409600       ; DOWN
    dd 0x0000FFFF, 0x00CF9000       ; RDONLY
    dd 0x0000F000, 0x00479600       ; STACK_DOWN
    dd 0x0000FFFF, 0x00479200       ; STACK_UP
resume: dd 0
last_vec: dd 0
last_err: dd 0
last_rip: dd 0
