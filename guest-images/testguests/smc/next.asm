; Self-modifying code inside one straight-line block (SDM Vol. 3 11.6: a store to the code that follows it takes
; effect before that code runs, even if the processor had prefetched or translated it). Each check stores into an
; instruction that comes after the store in the same run of straight-line code, so that both are translated
; together; the old bytes hold a marker (STALE and the like) that a stale translation would produce instead.
;   - stores of every width and kind (immediate, register, RMW, locked, string without REP, PUSH, POP m, x87, SSE,
;     CMPXCHG8B) into the next instruction;
;   - a store that turns the next instruction into another one: the registers and flags the instructions before
;     it wrote must be there (a pass that dropped them because the old next instruction overwrote them is wrong);
;   - STORE_AHEAD: 0..33 NOPs before the store, or 1..33 instructions (ADDs) between it and its target, so that the
;     store is anywhere in its block and the target in the same block or, past emu64's 32-instruction limit, the
;     next one; each runs four times (twice storing to SCRATCH, so that the blocks are translated and, on the JIT,
;     chained; then twice into the target).
bits 64
org 0x10000

    jmp start
%include "sys/lib64.inc"
%include "smc/smc.inc"

; STORE_AHEAD before, between: see above. The four results are packed: STALE, STALE, then 0xA002 and 0xA003 (the
; values stored into the target's immediate in runs 3 and 4).
%macro STORE_AHEAD 2
%push store_ahead
%defstr %$before %1
%defstr %$between %2
%strcat %$name %$before, " NOPs, store, ", %$between, " ADDs, target: 4 runs"
    xor r14d, r14d
    xor r13d, r13d
%$run:
    mov edi, SCRATCH
    lea rax, [rel %$target + 1]
    cmp r13d, 2
    cmovae rdi, rax
    lea r12d, [r13 + 0xA000]
    jmp %$block
%$block:
    times %1 nop
    mov [rdi], r12d
    times %2 add ecx, 1
%$target:
    mov eax, STALE
    PACK16 rax
    inc r13d
    cmp r13d, 4
    jb %$run
    mov rax, r14
    CHECK %$name, (STALE << 48) | (STALE << 32) | 0xA002A003
%pop
%endmacro

start:
    mov rsp, 0x80000
    fninit

    ; The very next instruction, by a dword and by a byte immediate store.
    mov dword [rel n1 + 1], 0x12345678
n1: mov eax, 0xDEADBEEF
    CHECK "dword store into the next instruction's immediate", 0x12345678
    mov byte [rel n2 + 2], 0x5A
n2: mov eax, 0x11223344
    CHECK "byte store into the next instruction's immediate", 0x11225A44
    ; Two, three and four instructions later.
    mov dword [rel n3 + 1], 0x3333
    add ecx, 1
n3: mov eax, STALE
    CHECK "store into the instruction 2 later", 0x3333
    mov dword [rel n4 + 1], 0x4444
    add ecx, 1
    add edx, 1
n4: mov eax, STALE
    CHECK "store into the instruction 3 later", 0x4444
    mov word [rel n5 + 1], 0x5555
    add ecx, 1
    add edx, 1
    nop
n5: mov eax, STALE
    CHECK "word store into the instruction 4 later", 0x5555

    ; The same straight line run three times, each storing a new immediate (the first run's block holds the
    ; original bytes, the later runs' blocks the previous run's).
    xor r14d, r14d
    mov r12d, 0x1111
r1: mov [rel r1t + 1], r12d
    add ecx, 1
r1t: mov eax, STALE
    PACK16 rax
    add r12d, 0x1111
    cmp r12d, 0x3333
    jbe r1
    mov rax, r14
    CHECK "three runs, a new immediate each", 0x111122223333

    ; The opcode changes: MOV EAX, imm32 (B8) becomes MOV ECX, imm32 (B9). EAX must keep what the instruction
    ; before the store wrote (0x1111), not the old next instruction's value nor the one before the block (0x7777).
    mov eax, 0x7777
    mov ecx, 0x5555
    xor r14d, r14d
    jmp o1
o1: mov eax, 0x1111
    mov byte [rel o1t], 0xB9
o1t: mov eax, 0x2222
    PACK16 rax
    PACK16 rcx
    mov rax, r14
    CHECK "opcode store: MOV EAX becomes MOV ECX", 0x11112222
    ; CMP EAX, EAX (39 C0) becomes MOV EAX, EAX (89 C0), which writes no flags: the flags must be those of the XOR
    ; that stored (0x89: SF = 1, ZF = PF = CF = 0), not CMP's (ZF = PF = 1) nor the ADD's before it (CF = PF = ZF = 1).
    mov ecx, -1
    jmp f1
f1: add ecx, 1
    xor byte [rel f1t], 0x39 ^ 0x89
f1t: db 0x39, 0xC0
    pushfq
    pop rax
    and eax, 0xC5                   ; SF ZF PF CF
    CHECK "opcode store: flags of the storing XOR survive", 0x80

    ; Every kind of store, into the immediate of MOV EAX, STALE right after it.
    add dword [rel kind1 + 1], 0x100
kind1: mov eax, STALE
    CHECK "ADD m32, imm into the next instruction", STALE + 0x100
    inc byte [rel kind2 + 1]
kind2: mov eax, STALE
    CHECK "INC m8 into the next instruction", STALE + 1
    lock sub dword [rel kind3 + 1], 0x10
kind3: mov eax, STALE
    CHECK "LOCK SUB into the next instruction", STALE - 0x10
    mov ecx, 0x1234
    xchg [rel kind4 + 1], ecx
kind4: mov eax, STALE
    CHECK "XCHG into the next instruction", 0x1234
    mov ecx, 0x10
    lock xadd [rel kind5 + 1], ecx
kind5: mov eax, STALE
    CHECK "LOCK XADD into the next instruction", STALE + 0x10
    mov eax, STALE
    mov ecx, 0x4321
    lock cmpxchg [rel kind6 + 1], ecx
kind6: mov eax, STALE
    CHECK "LOCK CMPXCHG into the next instruction", 0x4321
    mov eax, STALE
    mov edx, 0x90909090
    mov ebx, 0x8888
    mov ecx, 0x90909090
    lock cmpxchg8b [rel kind7 + 1]
kind7: mov eax, STALE
    nop
    nop
    nop
    nop
    CHECK "LOCK CMPXCHG8B into the next instruction", 0x8888
    bts dword [rel kind8 + 1], 16
kind8: mov eax, STALE
    CHECK "BTS m32 into the next instruction", STALE | 0x10000
    stc
    setc byte [rel kind9 + 2]
kind9: mov eax, STALE
    CHECK "SETC m8 into the next instruction", 0x01AD
    mov cx, 0x7A7A
    mov [rel kind10 + 1], cx
kind10: mov eax, STALE
    CHECK "MOV m16, r16 into the next instruction", 0x7A7A
    lea rdi, [rel kind12 + 1]
    mov eax, 0x6161
    stosd
kind12: mov eax, STALE
    CHECK "STOSD into the next instruction", 0x6161
    mov dword [SCRATCH], 0x6262
    mov esi, SCRATCH
    lea rdi, [rel kind13 + 1]
    movsd
kind13: mov eax, STALE
    CHECK "MOVSD (string) into the next instruction", 0x6262
    ; PUSH with RSP just past the target: the qword holds the new immediate and four NOPs.
    mov rcx, 0x9090909000007070
    mov rbx, rsp
    lea rsp, [rel kind14 + 1 + 8]
    push rcx
kind14: mov eax, STALE
    nop
    nop
    nop
    nop
    mov rsp, rbx
    CHECK "PUSH into the next instruction", 0x7070
    mov rcx, 0x9090909000007171
    push rcx
    pop qword [rel kind15 + 1]
kind15: mov eax, STALE
    nop
    nop
    nop
    nop
    CHECK "POP m64 into the next instruction", 0x7171
    mov dword [SCRATCH], 0x8181
    fild dword [SCRATCH]
    fistp dword [rel kind16 + 1]
kind16: mov eax, STALE
    CHECK "FISTP m32 into the next instruction", 0x8181
    fnstsw [rel kind17 + 1]            ; FSW = 0 after FNINIT and the exact FILD/FISTP
kind17: mov eax, STALE
    CHECK "FNSTSW m16 into the next instruction", 0
    mov ecx, 0x9191
    movd xmm1, ecx
    movd [rel kind18 + 1], xmm1
kind18: mov eax, STALE
    CHECK "MOVD m32, xmm into the next instruction", 0x9191
    ; MOVDQU: 16 bytes, the next instruction with a new immediate and the 11 NOPs after it.
    mov byte [SCRATCH], 0xB8
    mov dword [SCRATCH + 1], 0xA1A1
    mov rcx, 0x9090909090909090
    mov [SCRATCH + 5], rcx
    mov [SCRATCH + 8], rcx
    movdqu xmm0, [SCRATCH]
    movdqu [rel kind19], xmm0
kind19: mov eax, STALE
    times 11 nop
    CHECK "MOVDQU m128 over the next instruction", 0xA1A1
    ; One qword store into two instructions: the first one's immediate, the second one's opcode (kept) and the
    ; low three bytes of its immediate.
    mov rcx, 0x002222BA00001111
    mov [rel kind20 + 1], rcx
kind20: mov eax, STALE
    mov edx, 0xBEEF
    xor r14d, r14d
    PACK16 rax
    PACK16 rdx
    mov rax, r14
    CHECK "one qword store into the next two instructions", 0x11112222

    ; Stores before and after the 32-instruction block limit.
%assign K 0
%rep 34
    STORE_AHEAD K, 0
%assign K K + 1
%endrep
%assign K 1
%rep 33
    STORE_AHEAD 0, K
%assign K K + 1
%endrep

    call finish
