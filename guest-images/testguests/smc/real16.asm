; Self-modifying code in real mode (run with -start-mode real: CS = DS = ES = 0x1000, linear 0x10000), where boot
; code patches and relocates itself. Translations are found by the physical address of their bytes and keyed by
; CS:IP as well, so the same bytes run as 1000:t and 0F00:t+0x1000 are two translations of one page; a store must
; drop both. Checks: a store into the next instruction (through DS, and through ES with another base that aliases
; the code), a routine run under both CS:IP pairs and then patched, and a far call into code copied by REP MOVSB
; over code that ran there before. Reports like the 64-bit guests: "ok/FAIL name", "done", isa-debug-exit.
bits 16
org 0
%define COM1 0x3F8
%define COPY_SEG 0x3000                  ; the copies' segment (linear 0x30000)

; CHECK16 name, expected: compares ax with expected.
%macro CHECK16 2
    jmp %%after
%%name: db %1, 0
%%after:
    mov bx, %2
    mov si, %%name
    call check16
%endmacro

    mov ax, 0x2000
    mov ss, ax
    mov sp, 0xFFFE
    cld
    mov ax, 0x0FFF                       ; ES base 0xFFF0: offset x + 0x10 is DS:x
    mov es, ax
    jmp start

start:
    mov word [t1 + 1], 0x1234
t1: mov ax, 0xDEAD
    CHECK16 "store through DS into the next instruction", 0x1234
    mov byte [es:t2 + 0x10 + 2], 0x55
t2: mov ax, 0xDEAD
    CHECK16 "store through an aliasing ES into the next instruction", 0x55AD

    ; One routine, two CS:IP pairs: both ran, then a store, then both again.
    call 0x1000:routine
    CHECK16 "routine at 1000:routine", 0xDEAD
    call 0x0F00:routine + 0x1000
    CHECK16 "routine at 0F00:routine+1000", 0xDEAD
    mov word [routine_imm], 0x3333
    call 0x1000:routine
    CHECK16 "patched routine at 1000:routine", 0x3333
    call 0x0F00:routine + 0x1000
    CHECK16 "patched routine at 0F00:routine+1000", 0x3333

    ; REP MOVSB into COPY_SEG:0 over code that ran there.
    mov ax, COPY_SEG
    mov es, ax
    xor di, di
    mov si, tmpl_a
    mov cx, TMPL_LEN
    rep movsb
    call COPY_SEG:0
    CHECK16 "copied code runs", 0xAAAA
    xor di, di
    mov si, tmpl_b
    mov cx, TMPL_LEN
    rep movsb
    call COPY_SEG:0
    CHECK16 "code copied over code that ran", 0xBBBB

    mov si, msg_done
    call puts16
    mov al, [failures]
    out 0xF4, al
    hlt

routine:
    db 0xB8                              ; MOV AX, imm16
routine_imm:
    dw 0xDEAD
    retf

tmpl_a:
    mov ax, 0xAAAA
    retf
TMPL_LEN equ $ - tmpl_a
tmpl_b:
    mov ax, 0xBBBB
    retf

; puts16: prints the zero-terminated string at ds:si. Clobbers ax, dx, si.
puts16:
    mov dx, COM1
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    ret

; puthex16: prints ax as 4 hex digits. Clobbers ax, bx, cx, dx.
puthex16:
    mov bx, ax
    mov cx, 4
    mov dx, COM1
.digit:
    rol bx, 4
    mov al, bl
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '9' - 1
.out:
    out dx, al
    loop .digit
    ret

; check16: ax = got, bx = expected, si = name: prints "ok name" or "FAIL name got X want Y", counts failures.
check16:
    push ax
    push bx
    push si
    cmp ax, bx
    jne .fail
    mov si, msg_ok
    call puts16
    pop si
    call puts16
    jmp .end
.fail:
    inc byte [failures]
    mov si, msg_fail
    call puts16
    pop si
    call puts16
    mov si, msg_got
    call puts16
    mov bp, sp
    mov ax, [bp + 2]
    call puthex16
    mov si, msg_want
    call puts16
    mov bp, sp
    mov ax, [bp]
    call puthex16
.end:
    mov dx, COM1
    mov al, 10
    out dx, al
    pop bx
    pop ax
    ret

failures: db 0
msg_ok: db "ok ", 0
msg_fail: db "FAIL ", 0
msg_got: db " got ", 0
msg_want: db " want ", 0
msg_done: db "done", 10, 0
