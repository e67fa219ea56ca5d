; A Multiboot kernel (ELF32, with its labels as symbols) for tests/boot/gdb_test.py, which drives Debian's gdb
; against it: a breakpoint at a symbol, single steps, register and memory reads and writes, a breakpoint inside code
; that already ran (translated and cached), a hardware watchpoint on `counter`, and Ctrl-C on a guest spinning in
; `spin`, whose code gdb then overwrites so that the guest can leave. Prints `sum=` and the words the test
; checks, and exits through isa-debug-exit with 0x10 (status 33).
%include "multiboot.inc"
MULTIBOOT_ENTRY
    mov esp, stack_top
    mov esi, s_hello
    call puts
    mov ebx, 0x1234
break_here:                     ; gdb stops here (EBX = 0x1234) and sets EBX
    mov eax, 1
    add eax, ebx
after_add:
    mov [result], eax
    call twice                  ; runs (and is translated) before gdb sets a breakpoint in it
first_call_done:
    call twice
    mov ecx, 5
count_loop:                     ; gdb watches `counter`: five writes
    inc dword [counter]
    loop count_loop
    mov esi, message            ; gdb may have rewritten it
    call puts
    mov esi, s_sum
    call puts
    mov eax, [result]
    call puthex
    mov al, 10
    out dx, al
spin:                           ; gdb's Ctrl-C stops the guest here, and gdb overwrites the jump with NOPs
    jmp spin
    mov esi, s_bye
    call puts
    mov al, 0x10
    out 0xF4, al
    hlt

twice:
    mov edx, [calls]
    inc edx
inner:                          ; a breakpoint set here after the first call stops the second
    mov [calls], edx
    ret

DEFINE_PUTS

puthex:                         ; EAX as eight hex digits on COM1
    mov ecx, 8
    mov dx, 0x3F8
.next:
    rol eax, 4
    mov ebx, eax
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '0' - 10
.out:
    out dx, al
    mov eax, ebx
    loop .next
    ret

section .data
s_hello: db "gdb32: hello", 10, 0
s_sum: db "sum=", 0
s_bye: db "gdb32: left the spin", 10, 0
message: db "original", 10, 0
align 4
result: dd 0
counter: dd 0
calls: dd 0

section .bss
align 16
    resb 4096
stack_top:
