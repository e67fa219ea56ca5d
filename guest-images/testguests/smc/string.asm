; Code written by REP string instructions (SDM Vol. 3 11.6): one instruction that stores many bytes, on the
; helper path of both backends. A code template is copied with REP MOVSB/MOVSQ (forwards and, with DF = 1,
; backwards) over code that already ran, a buffer is filled with NOPs by REP STOSB/STOSQ, and each then runs;
; REP MOVSB and REP STOSB also write the instructions that follow them in their own block. The copies include a
; two-page routine (1500 ADDs, blocks chained throughout), a copy whose second page alone changes the bytes of an
; instruction that crosses the boundary, and stores that start on a data page and run on into code.
bits 64
org 0x10000
%define LONG_N 1500                 ; ADDs in the two-page routine

    jmp start
%include "sys/lib64.inc"
%include "smc/smc.inc"

; COPY dst_label, src_label, bytes: REP MOVSB forwards.
%macro COPY 3
    lea rdi, [rel %1]
    lea rsi, [rel %2]
    mov ecx, %3
    rep movsb
%endmacro

start:
    mov rsp, 0x80000
    cld

    ; buf holds MOV EAX, 0x1111; NOP x3; RET. It runs, then REP MOVSB puts the 0x2222 version over it.
    xor r14d, r14d
    call buf
    PACK16 rax
    call buf
    PACK16 rax
    COPY buf, t_2222, T_LEN
    call buf
    PACK16 rax
    mov rax, r14
    CHECK "REP MOVSB a template over code that ran", 0x111111112222
    ; REP STOSB: NOPs over the MOV (EAX keeps what the caller put there), then REP STOSQ after a fresh copy.
    xor r14d, r14d
    call buf
    PACK16 rax
    lea rdi, [rel buf]
    mov ecx, 5
    mov al, 0x90
    rep stosb
    mov eax, 0x4444
    call buf
    PACK16 rax
    COPY buf, t_3333, T_LEN
    mov eax, 0x5555
    call buf
    PACK16 rax
    lea rdi, [rel buf]
    mov ecx, 1
    mov rax, 0x9090909090909090
    rep stosq
    mov eax, 0x5555
    call buf
    PACK16 rax
    mov rax, r14
    CHECK "REP STOSB / REP STOSQ NOPs over code that ran", 0x2222444433335555
    ; Backwards: DF = 1, from the last byte down.
    xor r14d, r14d
    COPY buf, t_2222, T_LEN
    call buf
    PACK16 rax
    lea rdi, [rel buf + T_LEN - 1]
    lea rsi, [rel t_3333 + T_LEN - 1]
    mov ecx, T_LEN
    std
    rep movsb
    cld
    call buf
    PACK16 rax
    mov rax, r14
    CHECK "REP MOVSB with DF = 1 over code that ran", 0x22223333

    ; The same block: the string instruction writes the instruction right after it. Three runs with new bytes each
    ; (the second and third find the target translated by the run before).
    xor r14d, r14d
    xor r13d, r13d
s1_run:
    lea rdi, [rel s1 + 1]
    lea eax, [r13 + 0x41]
    mov ecx, 2
    rep stosb
s1: mov eax, STALE
    PACK16 rax
    inc r13d
    cmp r13d, 3
    jb s1_run
    mov rax, r14
    CHECK "REP STOSB into the next instruction, 3 runs", 0x414142424343
    xor r14d, r14d
    xor r13d, r13d
s2_run:
    lea rdi, [rel s2]
    lea rsi, [rel t_2222]
    lea rax, [rel t_3333]
    test r13d, 1
    cmovnz rsi, rax
    mov ecx, 5
    rep movsb
s2: mov eax, STALE
    PACK16 rax
    inc r13d
    cmp r13d, 3
    jb s2_run
    mov rax, r14
    CHECK "REP MOVSB over the next instruction, 3 runs", 0x222233332222
    xor r14d, r14d
    xor r13d, r13d
s3_run:
    lea rdi, [rel s3 + 4]
    lea rsi, [rel t_3333 + 4]
    lea rax, [rel t_2222 + 4]
    test r13d, 1
    cmovnz rsi, rax
    mov ecx, 5
    std
    rep movsb
    cld
s3: mov eax, STALE
    PACK16 rax
    inc r13d
    cmp r13d, 3
    jb s3_run
    mov rax, r14
    CHECK "REP MOVSB with DF = 1 over an instruction after it, 3 runs", 0x333322223333

    ; Two pages of ADD EAX, 2 (chained blocks) replaced by two pages of ADD EAX, 1 with REP MOVSQ.
    xor r14d, r14d
    call long_buf
    PACK16 rax
    call long_buf
    PACK16 rax
    lea rdi, [rel long_buf]
    lea rsi, [rel long_new]
    mov ecx, (LONG_LEN + 7) / 8
    rep movsq
    call long_buf
    PACK16 rax
    mov rax, r14
    CHECK "REP MOVSQ two pages of code over two pages that ran", ((2 * LONG_N) << 32) | ((2 * LONG_N) << 16) | LONG_N
    ; A copy over an instruction crossing a page boundary that changes only its bytes on the second page.
    xor r14d, r14d
    call cross_buf
    PACK32 eax
    COPY cross_buf, t_cross, 6
    call cross_buf
    PACK32 eax
    mov rax, r14
    CHECK "REP MOVSB across a page boundary into a crossing instruction", 0x4433221188772211

    ; A string store that starts on a page nothing runs from and ends on one whose code ran: REP STOSB over the
    ; whole data page and the first five bytes of the code page, then a REP MOVSB of ten bytes across the boundary.
    xor r14d, r14d
    call spill_code
    PACK16 rax
    call spill_code
    PACK16 rax
    lea rdi, [rel spill_data]
    mov ecx, 4096 + 5
    mov al, 0x90
    rep stosb
    mov eax, 0x4444
    call spill_code
    PACK16 rax
    COPY spill_code - 5, t_spill, 10
    call spill_code
    PACK16 rax
    mov rax, r14
    CHECK "REP STOSB / MOVSB from a data page into code that ran", 0x1111111144442222

    call finish

; Templates: read, never run. t_2222 and t_3333 have the layout of buf.
CODE_PAGE
t_2222:
    mov eax, 0x2222
    nop
    nop
    nop
    ret
T_LEN equ $ - t_2222
t_3333:
    mov eax, 0x3333
    nop
    nop
    nop
    ret
t_spill:
    times 5 db 0xCC                 ; (lands on spill_data)
    mov eax, 0x2222
t_cross:
    db 0xB8, 0x11, 0x22, 0x77, 0x88, 0xC3   ; MOV EAX, 0x88772211; RET
long_new:
    xor eax, eax
    times LONG_N add eax, 1
    ret
LONG_LEN equ $ - long_new

CODE_PAGE
buf:
    mov eax, 0x1111
    nop
    nop
    nop
    ret

CODE_PAGE
long_buf:
    xor eax, eax
    times LONG_N add eax, 2
    ret
    times 8 db 0xCC                 ; REP MOVSQ rounds the copy up to qwords

CODE_PAGE
cross_page:
    PAD_TO cross_page, 4096 - 3
cross_buf:
    db 0xB8, 0x11, 0x22, 0x33, 0x44, 0xC3   ; MOV EAX, 0x44332211; RET across the boundary

CODE_PAGE
spill_data:                         ; a page nothing runs from...
    times 4096 db 0
spill_code:                         ; ... and the next one, whose code runs
    mov eax, 0x1111
    ret
