; Many address spaces (4-level paging, SDM Vol. 3 4.10.4.1: MOV CR3 invalidates every non-global translation):
; 64 PML4s each map TEST_VA to their own data page and TEST_VA + 4 KiB to their own code page (MOV EAX, i+1; RET).
; Eight rounds visit every space in a different order; each visit reads the data page, runs the code page and
; increments a counter in the data page. After four rounds every space's data PTE is rewritten while another
; space is current (space i then maps the data page of space i+1): the next visit must see it. Checked: every
; read and call, a checksum of all reads, the counters through the identity map, and A/D in each space's tables.
; Run with: emu64 -bare asid64.bin (long mode, the runner's identity map at CR3).
bits 64
org 0x10000
%define SPACES 64
%define ROUNDS 8
%define SPACE(i) (0x300000 + (i) * 0x4000)   ; PML4, PDPT, PD, PT
%define PAGES 0x600000                       ; space i: data page at PAGES + i * 0x2000, code page 4 KiB above
%define TEST_VA 0x8000000000
%define GOLDEN 0x9E3779B97F4A7C15
%define P 1
%define RW 2
%define US 4

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"

; VAL rax <- the data value of space rcx: (rcx + 1) * GOLDEN. Clobbers rdx.
%macro VAL 0
    lea rax, [rcx + 1]
    mov rdx, GOLDEN
    imul rax, rdx
%endmacro

start:
    mov rsp, 0x80000
    call setup_idt
    mov rax, cr3
    mov [rel runner_cr3], rax
    mov rax, [rax]
    mov [rel identity_pml4e], rax
    xor ecx, ecx
.build:
    mov rdi, rcx
    shl rdi, 14
    add rdi, SPACE(0)
    push rcx
    push rdi
    mov ecx, 4 * 512
    xor eax, eax
    rep stosq
    pop rdi
    pop rcx
    mov rax, [rel identity_pml4e]
    mov [rdi], rax
    lea rax, [rdi + 0x1000 + (P | RW | US)]
    mov [rdi + 8], rax
    lea rax, [rdi + 0x2000 + (P | RW | US)]
    mov [rdi + 0x1000], rax
    lea rax, [rdi + 0x3000 + (P | RW | US)]
    mov [rdi + 0x2000], rax
    mov rsi, rcx
    shl rsi, 13
    add rsi, PAGES                  ; data page
    lea rax, [rsi + (P | RW | US)]
    mov [rdi + 0x3000], rax
    lea rax, [rsi + 0x1000 + (P | US)]
    mov [rdi + 0x3008], rax
    VAL
    mov [rsi], rax
    add [rel expected_sum], rax
    mov qword [rsi + 8], 0
    lea rax, [rcx + 1]
    shl rax, 8
    or rax, 0xB8                    ; MOV EAX, imm32
    mov rdx, 0xC3 << 40             ; RET
    or rax, rdx
    mov [rsi + 0x1000], rax
    inc ecx
    cmp ecx, SPACES
    jb .build

    xor r13d, r13d                  ; round
.round:
    cmp r13d, ROUNDS / 2
    jne .order
    call remap_all                  ; from a space that is current, rewrite everyone's data PTE
.order:
    xor r14d, r14d                  ; visit number
.visit:
    lea eax, [r13 * 2 + 1]          ; space = (visit * (2 * round + 1) + round) mod SPACES: a permutation
    imul eax, r14d
    add eax, r13d
    and eax, SPACES - 1
    mov ecx, eax
    call visit
    inc r14d
    cmp r14d, SPACES
    jb .visit
    inc r13d
    cmp r13d, ROUNDS
    jb .round

    mov rax, [rel runner_cr3]
    mov cr3, rax
    mov rax, [rel data_bad]
    CHECK "every data read in every space", 0
    mov rax, [rel code_bad]
    CHECK "every code page in every space", 0
    mov rax, [rel expected_sum]
    imul rax, rax, ROUNDS
    mov rcx, rax
    mov rax, [rel sum]
    CHECK "checksum of all reads", rcx
    ; Counters through the identity map, and A/D: data PTE A and D, code PTE A only, PML4E A.
    xor ecx, ecx
    xor r8d, r8d
    xor r9d, r9d
.verify:
    mov rsi, rcx
    shl rsi, 13
    add rsi, PAGES
    cmp qword [rsi + 8], ROUNDS
    je .count_ok
    inc r8d
.count_ok:
    mov rdi, rcx
    shl rdi, 14
    add rdi, SPACE(0)
    mov rax, [rdi + 0x3000]
    and eax, 0x60
    cmp eax, 0x60
    jne .ad_bad
    mov rax, [rdi + 0x3008]
    and eax, 0x60
    cmp eax, 0x20
    jne .ad_bad
    mov rax, [rdi + 8]
    and eax, 0x60
    cmp eax, 0x20
    je .ad_ok
.ad_bad:
    inc r9d
.ad_ok:
    inc ecx
    cmp ecx, SPACES
    jb .verify
    mov eax, r8d
    CHECK "every counter incremented once per round", 0
    mov eax, r9d
    CHECK "A/D bits in every space", 0
    call finish

; visit: space ecx becomes current; read, call, count.
visit:
    mov rax, rcx
    shl rax, 14
    add rax, SPACE(0)
    mov cr3, rax
    mov rbx, TEST_VA
    mov rsi, [rbx]
    add [rel sum], rsi
    push rcx
    add ecx, [rel shift]            ; after the remap, space i shows the data of space i + 1
    and ecx, SPACES - 1
    VAL
    pop rcx
    cmp rax, rsi
    je .data_ok
    inc qword [rel data_bad]
.data_ok:
    inc qword [rbx + 8]
    push rcx
    mov rax, TEST_VA + 0x1000
    call rax
    pop rcx
    lea edx, [ecx + 1]
    cmp eax, edx
    je .code_ok
    inc qword [rel code_bad]
.code_ok:
    ret

; remap_all: space i's data PTE -> the data page of space i + 1 (mod SPACES), written through the identity map.
remap_all:
    xor ecx, ecx
.next:
    lea eax, [rcx + 1]
    and eax, SPACES - 1
    shl rax, 13
    add rax, PAGES + (P | RW | US)
    mov rdi, rcx
    shl rdi, 14
    mov [rdi + SPACE(0) + 0x3000], rax
    inc ecx
    cmp ecx, SPACES
    jb .next
    mov dword [rel shift], 1
    ret

align 8
runner_cr3: dq 0
identity_pml4e: dq 0
expected_sum: dq 0
sum: dq 0
data_bad: dq 0
code_bad: dq 0
shift: dd 0
