; Hardware task switching (issue #17 point 11; SDM Vol. 3 chapter 8) in 32-bit protected mode with paging (emu64 -bare
; -start-mode prot32). Task A (TR 0x18) switches to task B by JMP to its TSS, by CALL to its TSS and by JMP through a
; task gate in the GDT, to task C by INT 0x40 through a task gate in the IDT, and each comes back (JMP, IRET with NT).
; Checked each way: the registers and EIP each task resumes with, TR, LDTR and CR3 from the new TSS (B has its own
; LDT and page directory), CR0.TS set by every switch, NT and the back link (set by CALL and INT, not by JMP), the busy
; bits of both TSS descriptors. Then: a TSS whose CS selector names a data segment raises #TS(0x10) in the new task;
; a #GP whose IDT gate is not present becomes a #DF, delivered through a task gate to its own task (error code 0 on
; that task's stack, the back link to A); a TSS with the T bit set raises a #DB trap (DR6.BT) in the new task.
; Prints "ok <name>" / "FAIL <name> ..." on COM1 and exits through isa-debug-exit with the failure count.
bits 32
org 0x10000

SEL_CODE equ 0x08
SEL_DATA equ 0x10
SEL_A    equ 0x18               ; TSS A: the main task
SEL_B    equ 0x20               ; TSS B: its own LDT and page directory
SEL_C    equ 0x28               ; TSS C: entered through the IDT task gate (INT 0x40)
SEL_D    equ 0x30               ; TSS D: the double-fault task
SEL_GATE equ 0x38               ; a task gate in the GDT to TSS B
SEL_E    equ 0x40               ; TSS E: CS = SEL_DATA, so the switch faults with #TS(0x10)
SEL_LDT  equ 0x48               ; task B's LDT
AVAIL    equ 9
BUSY     equ 11
PD_A     equ 0x100000           ; page directories: 4 MiB pages; B's also maps 4-8 MiB onto 8-12 MiB
PD_B     equ 0x101000
MARK     equ 0x800000           ; what B sees at 4 MiB

    jmp start
%include "sys/lib32.inc"

; CHECK_NT name, expected: EFLAGS.NT (0x4000 or 0).
%macro CHECK_NT 2
    pushfd
    pop eax
    and eax, 0x4000
    CHECK %1, %2
%endmacro
; CHECK_TYPE selector, name, expected: the type field of a GDT descriptor (AVAIL or BUSY for a TSS).
%macro CHECK_TYPE 3
    movzx eax, byte [gdt + %1 + 5]
    and eax, 0xF
    CHECK %2, %3
%endmacro
; CHECK_TR name, expected
%macro CHECK_TR 2
    str ax
    movzx eax, ax
    CHECK %1, %2
%endmacro

start:
    mov esp, stack_a
    lgdt [gdtr]
    jmp SEL_CODE:.flat
.flat:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    lidt [idtr]
    ; paging: PD_A identity-maps 0-8 MiB, PD_B the same except 4 MiB -> 8 MiB
    mov edi, PD_A
    xor eax, eax
    mov ecx, 2048
    rep stosd
    mov dword [PD_A], 0x000083
    mov dword [PD_A + 4], 0x400083
    mov dword [PD_A + 8], 0x800083
    mov dword [PD_B], 0x000083
    mov dword [PD_B + 4], 0x800083
    mov dword [MARK], 0x4D41524B
    mov dword [0x400000], 0
    mov eax, cr4
    or eax, 0x10                ; PSE
    mov cr4, eax
    mov eax, PD_A
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; descriptors: the TSSs, B's LDT (one data segment), the task gate
    mov ecx, SEL_A
    mov eax, tss_a
    call set_tss
    mov ecx, SEL_B
    mov eax, tss_b
    call set_tss
    mov ecx, SEL_C
    mov eax, tss_c
    call set_tss
    mov ecx, SEL_D
    mov eax, tss_d
    call set_tss
    mov ecx, SEL_E
    mov eax, tss_e
    call set_tss
    mov ecx, SEL_LDT
    mov eax, ldt_b
    call set_tss
    mov byte [gdt + SEL_LDT + 5], 0x82  ; present, LDT
    mov dword [gdt + SEL_GATE], SEL_B << 16
    mov dword [gdt + SEL_GATE + 4], 0x8500
    ; TSS contents (A's are written by the first switch away from it, but CR3 and LDTR are never saved)
    mov edi, tss_a
    xor eax, eax
    mov edx, stack_a
    call init_tss
    mov edi, tss_b
    mov eax, task_b
    mov edx, stack_b
    call init_tss
    mov dword [tss_b + 0x1C], PD_B
    mov dword [tss_b + 0x28], 0xB0B0B0B0
    mov dword [tss_b + 0x34], 0x1234  ; EBX
    mov dword [tss_b + 0x60], SEL_LDT
    mov edi, tss_c
    mov eax, task_c
    mov edx, stack_c
    call init_tss
    mov edi, tss_d
    mov eax, task_d
    mov edx, stack_d
    call init_tss
    mov edi, tss_e
    mov eax, task_b
    mov edx, stack_e
    call init_tss
    mov dword [tss_e + 0x4C], SEL_DATA  ; CS: not a code segment
    ; IDT: #TS and #GP and #DB handlers (interrupt gates), #DF and INT 0x40 through task gates
    mov ecx, 10
    mov eax, ts_handler
    call set_int_gate
    mov ecx, 13
    mov eax, gp_handler
    call set_int_gate
    mov ecx, 1
    mov eax, db_handler
    call set_int_gate
    mov dword [idt + 8 * 8], SEL_D << 16
    mov dword [idt + 8 * 8 + 4], 0x8500
    mov dword [idt + 0x40 * 8], SEL_C << 16
    mov dword [idt + 0x40 * 8 + 4], 0x8500
    mov ax, SEL_A
    ltr ax

    ; ---- 1. JMP to TSS B and back (B jumps to A's TSS)
    mov esi, 0x5A5A5A5A
    mov ebp, 0x600D
    jmp SEL_B:0
back_from_jmp:
    mov eax, esi
    CHECK "A's ESI after JMP there and back", 0x5A5A5A5A
    mov eax, ebp
    CHECK "A's EBP after JMP there and back", 0x600D
    CHECK_TR "TR is A's again", SEL_A
    mov eax, cr0
    and eax, 8
    CHECK "CR0.TS set by the switch back", 8
    clts
    mov eax, cr3
    CHECK "CR3 is A's again", PD_A
    sldt ax
    movzx eax, ax
    CHECK "LDTR from A's TSS (null)", 0
    CHECK_TYPE SEL_B, "JMP away from B cleared its busy bit", AVAIL

    ; ---- 2. CALL to TSS B, back by IRET (NT)
    mov esi, 0x5A5A5A5A
    call SEL_B:0
    mov eax, esi
    CHECK "A's ESI after CALL and IRET", 0x5A5A5A5A
    CHECK_NT "A's NT after IRET back (as saved)", 0
    CHECK_TYPE SEL_B, "IRET cleared B's busy bit", AVAIL
    CHECK_TYPE SEL_A, "A busy again", BUSY
    mov eax, [tss_b + 0x24]
    and eax, 0x4000
    CHECK "B's saved EFLAGS has NT clear", 0

    ; ---- 3. JMP through the task gate in the GDT
    jmp SEL_GATE:0
    CHECK_TR "back in A after the task gate", SEL_A

    ; ---- 4. INT 0x40 through the IDT's task gate to C, back by IRET
    mov edi, 0x7777
    int 0x40
    mov eax, edi
    CHECK "A's EDI after INT through a task gate", 0x7777
    CHECK_TYPE SEL_C, "C available after its IRET", AVAIL
    mov eax, [c_link]
    CHECK "C's back link was A", SEL_A

    ; ---- 5. a TSS whose CS is a data segment: #TS(0x10) in task E
    jmp SEL_E:0
after_ts:
    mov eax, [ts_code]
    CHECK "#TS error code: the CS selector", SEL_DATA
    mov eax, [ts_tr]
    CHECK "#TS delivered in the new task (TR)", SEL_E
    mov eax, [ts_busy]
    CHECK "E busy in its #TS handler (the switch completed)", BUSY

    ; ---- 6. #GP with IDT[13] not present: #NP during delivery, so #DF, through a task gate to D
    and byte [idt + 13 * 8 + 5], 0x7F
    mov ax, 0x1234              ; no such GDT entry: #GP
    mov ds, ax
after_df:
    mov ax, SEL_DATA
    mov ds, ax
    mov eax, [df_code]
    CHECK "#DF error code on the task's stack", 0
    mov eax, [df_link]
    CHECK "#DF task's back link", SEL_A
    mov eax, [df_tr]
    CHECK "#DF task's TR", SEL_D
    mov eax, [df_nt]
    CHECK "#DF task runs nested (NT)", 0x4000

    ; ---- 7. the T bit: a #DB trap in the new task before its first instruction
    mov byte [tss_c + 0x64], 1
    mov dword [db_dr6], 0
    int 0x40
    mov eax, [db_dr6]
    and eax, 0x8000
    CHECK "T bit: #DB with DR6.BT", 0x8000
    mov eax, [db_tr]
    CHECK "T bit: #DB in the new task", SEL_C
    mov eax, [c_runs]
    CHECK "C ran after the #DB handler", 2
    jmp finish

; ---- task B: three entries (JMP, CALL, task gate), each resuming after the previous one's exit
task_b:
    mov [b_ebx], ebx            ; CHECK uses EBX and ESI
    CHECK "B's EAX from its TSS", 0xB0B0B0B0
    mov eax, [b_ebx]
    CHECK "B's EBX from its TSS", 0x1234
    CHECK_TR "TR is B after JMP", SEL_B
    sldt ax
    movzx eax, ax
    CHECK "LDTR from B's TSS", SEL_LDT
    mov eax, cr3
    CHECK "CR3 from B's TSS", PD_B
    mov eax, [0x400000]
    CHECK "B's page directory maps 4 MiB to 8 MiB", 0x4D41524B
    mov eax, cr0
    and eax, 8
    CHECK "CR0.TS set by JMP", 8
    clts
    CHECK_NT "JMP does not nest (NT clear)", 0
    CHECK_TYPE SEL_A, "JMP cleared A's busy bit", AVAIL
    CHECK_TYPE SEL_B, "B busy", BUSY
    mov eax, [tss_a + 0x20]
    CHECK "A's saved EIP: after its JMP", back_from_jmp
    mov ax, 4 | 0               ; LDT selector 0 (TI = 1): B's own data segment
    mov fs, ax
    mov ax, SEL_DATA
    mov fs, ax
    jmp SEL_A:0
    ; entry 2: CALL
    CHECK_NT "CALL nests (NT set)", 0x4000
    movzx eax, word [tss_b]
    CHECK "B's back link is A", SEL_A
    CHECK_TYPE SEL_A, "CALL left A busy", BUSY
    iret
    ; entry 3: through the task gate
    CHECK_TR "the GDT task gate entered B", SEL_B
    jmp SEL_A:0

; ---- task C (INT 0x40): checks, then IRET; again for the T-bit round
task_c:
    inc dword [c_runs]
    pushfd
    pop eax
    and eax, 0x4000
    mov [c_nt], eax
    movzx eax, word [tss_c]
    mov [c_link], eax
    cmp dword [c_runs], 1
    jne .ret
    mov eax, [c_nt]
    CHECK "INT through a task gate nests (NT)", 0x4000
    mov eax, cr0
    and eax, 8
    CHECK "CR0.TS set by INT's switch", 8
    clts
.ret:
    iret
    jmp task_c

; ---- task D: the double fault
task_d:
    pop eax                     ; the error code
    mov [df_code], eax
    movzx eax, word [tss_d]
    mov [df_link], eax
    str ax
    movzx eax, ax
    mov [df_tr], eax
    pushfd
    pop eax
    and eax, 0x4000
    mov [df_nt], eax
    or byte [idt + 13 * 8 + 5], 0x80   ; the #GP gate present again
    mov dword [tss_a + 0x20], after_df ; A resumes past the faulting instruction
    iret

; ---- handlers (interrupt gates, in whichever task faulted)
ts_handler:
    pop eax
    mov [ts_code], eax
    str ax
    movzx eax, ax
    mov [ts_tr], eax
    movzx eax, byte [gdt + SEL_E + 5]
    and eax, 0xF
    mov [ts_busy], eax
    mov ax, SEL_DATA            ; E's segments were not loaded
    mov ds, ax
    mov es, ax
    mov dword [tss_a + 0x20], after_ts
    jmp SEL_A:0
gp_handler:
    mov esi, msg_gp
    call puts
    jmp finish
db_handler:
    mov eax, dr6
    mov [db_dr6], eax
    str ax
    movzx eax, ax
    mov [db_tr], eax
    xor eax, eax
    mov dr6, eax
    iret

; set_tss: ECX = selector, EAX = base: a present available 32-bit TSS descriptor, limit 0x67.
set_tss:
    mov word [gdt + ecx], 0x67
    mov [gdt + ecx + 2], ax
    shr eax, 16
    mov [gdt + ecx + 4], al
    mov byte [gdt + ecx + 5], 0x89
    mov byte [gdt + ecx + 6], 0
    mov [gdt + ecx + 7], ah
    ret

; init_tss: EDI = TSS, EAX = EIP, EDX = ESP: CR3 = PD_A, flat CPL 0 segments, EFLAGS = 2, no LDT.
init_tss:
    push eax
    push edi
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    pop edi
    pop eax
    mov dword [edi + 0x1C], PD_A
    mov [edi + 0x20], eax
    mov dword [edi + 0x24], 2
    mov [edi + 0x38], edx
    mov dword [edi + 0x4C], SEL_CODE
    mov dword [edi + 0x48], SEL_DATA
    mov dword [edi + 0x50], SEL_DATA
    mov dword [edi + 0x54], SEL_DATA
    mov dword [edi + 0x58], SEL_DATA
    mov dword [edi + 0x5C], SEL_DATA
    mov word [edi + 0x66], 0x68
    ret

; set_int_gate: ECX = vector, EAX = handler: a 32-bit interrupt gate, DPL 0.
set_int_gate:
    mov [idt + ecx * 8], ax
    mov word [idt + ecx * 8 + 2], SEL_CODE
    mov word [idt + ecx * 8 + 4], 0x8E00
    shr eax, 16
    mov [idt + ecx * 8 + 6], ax
    ret

msg_gp: db "FAIL unexpected #GP", 10, 0
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; 0x08 code
    dq 0x00CF92000000FFFF       ; 0x10 data
    times 7 dq 0                ; 0x18-0x48: filled at run time
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dd gdt
align 8
ldt_b:
    dq 0x00CF92000000FFFF       ; B's LDT: one flat data segment
    dq 0
idt:
    times 0x41 dq 0
idt_end:
idtr:
    dw idt_end - idt - 1
    dd idt
align 4
c_runs: dd 0
b_ebx: dd 0
c_nt: dd 0
c_link: dd 0
ts_code: dd 0
ts_tr: dd 0
ts_busy: dd 0
df_code: dd -1
df_link: dd 0
df_tr: dd 0
df_nt: dd 0
db_dr6: dd 0
db_tr: dd 0
align 16
tss_a: times 0x68 db 0
tss_b: times 0x68 db 0
tss_c: times 0x68 db 0
tss_d: times 0x68 db 0
tss_e: times 0x68 db 0
align 16
    times 1024 db 0
stack_a:
    times 1024 db 0
stack_b:
    times 1024 db 0
stack_c:
    times 1024 db 0
stack_d:
    times 1024 db 0
stack_e:
