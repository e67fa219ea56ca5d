; A CPU-heavy Multiboot kernel for snapshot tests (tests/boot/snapshot_test.py): with paging on (4 KiB pages, so the
; shadow MMU shadows its tables) it runs ROUNDS rounds of ITER steps, each step reading, scrambling and writing back
; one dword of a 1 MiB buffer and folding it into a sum in EBX and into the four lanes of XMM0. After each round it
; prints "round R sum S" (hex; S = EBX xor the XMM0 lanes), at the end "done sum S", then leaves through
; isa-debug-exit with status 1. ROUNDS is the last word of the Multiboot command line (decimal; -append "N"),
; default 16. The test recomputes the sums, and a run saved and restored in the middle must end with the same one.
%include "multiboot.inc"

%define BUF 0x400000            ; the buffer, identity-mapped like the rest of the first 8 MiB
%define BUFWORDS 0x40000        ; 1 MiB of dwords
%define ITER 0x10000            ; steps per round
%define GOLDEN -0x61C8864F      ; 0x9E3779B1 as a signed immediate

MULTIBOOT_ENTRY
    mov esp, stack_top
    mov ebp, 16                 ; rounds, unless the command line says otherwise
    test byte [ebx], 4          ; Multiboot flags bit 2: a command line
    jz .paging
    mov esi, [ebx + 16]
    call parse_rounds
.paging:
    mov [rounds], ebp
    mov edi, page_tables        ; 2 page tables: 0-8 MiB, 4 KiB pages, present and writable
    mov eax, 3
    mov ecx, 2048
.fill:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    loop .fill
    mov dword [page_dir], page_tables + 3
    mov dword [page_dir + 4], page_tables + 0x1000 + 3
    mov eax, page_dir
    mov cr3, eax
    mov eax, cr4
    or eax, 0x200               ; OSFXSR: SSE instructions
    mov cr4, eax
    mov eax, cr0
    and eax, ~4                 ; EM off
    or eax, 0x80000002          ; PG, MP
    mov cr0, eax
    mov edi, BUF
    mov ecx, BUFWORDS
    xor eax, eax
    rep stosd
    mov esi, msg_started
    call puts
    pxor xmm0, xmm0
    xor ebx, ebx                ; the sum
    xor ebp, ebp                ; the round
.round:
    xor ecx, ecx                ; the step
.step:
    imul edi, ecx, 7919         ; the dword: (step * 7919 + round) mod BUFWORDS
    add edi, ebp
    and edi, BUFWORDS - 1
    mov eax, [BUF + edi * 4]
    imul eax, eax, GOLDEN
    add eax, ecx
    add eax, ebp
    rol eax, 13
    mov [BUF + edi * 4], eax
    add ebx, eax
    movd xmm1, eax              ; into lane 0, then the lanes rotate
    paddd xmm0, xmm1
    pshufd xmm0, xmm0, 0x39
    inc ecx
    cmp ecx, ITER
    jne .step
    mov esi, msg_round
    call puts
    mov eax, ebp
    call puthex
    mov esi, msg_sum
    call puts
    call sum
    call puthex
    mov esi, msg_newline
    call puts
    inc ebp
    cmp ebp, [rounds]
    jne .round
    mov esi, msg_done
    call puts
    call sum
    call puthex
    mov esi, msg_newline
    call puts
    mov al, 0
    out 0xF4, al                ; isa-debug-exit: status 1
.hang:
    hlt
    jmp .hang

; EAX = EBX xor the four lanes of XMM0.
sum:
    pshufd xmm2, xmm0, 0x4E
    pxor xmm2, xmm0
    pshufd xmm3, xmm2, 0xB1
    pxor xmm2, xmm3
    movd eax, xmm2
    xor eax, ebx
    ret

; EBP = the decimal number that ends the NUL-terminated string at ESI (unchanged if there is none).
parse_rounds:
    xor edx, edx                ; the number being read
    xor ecx, ecx                ; digits in it
.char:
    lodsb
    test al, al
    jz .end
    sub al, '0'
    cmp al, 9
    ja .other
    imul edx, edx, 10
    movzx eax, al
    add edx, eax
    inc ecx
    jmp .char
.other:
    xor edx, edx
    xor ecx, ecx
    jmp .char
.end:
    test ecx, ecx
    jz .keep
    test edx, edx
    jz .keep
    mov ebp, edx
.keep:
    ret

; Prints EAX as 8 hex digits on COM1.
puthex:
    mov edx, 0x3F8
    mov ecx, 8
.digit:
    rol eax, 4
    push eax
    and eax, 0xF
    mov al, [hex_digits + eax]
    out dx, al
    pop eax
    loop .digit
    ret

DEFINE_PUTS

section .data
msg_started: db "started", 10, 0
msg_round: db "round ", 0
msg_sum: db " sum ", 0
msg_done: db "done sum ", 0
msg_newline: db 10, 0
hex_digits: db "0123456789abcdef"

section .bss
alignb 4096
page_dir: resb 4096
page_tables: resb 8192
rounds: resd 1
alignb 16
stack: resb 4096
stack_top:
