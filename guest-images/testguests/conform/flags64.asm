; Status flags carried from one basic block into the next (SDM Vol. 1 3.4.3 and each instruction's "Flags Affected"):
; a block ending in CMP/SUB/DEC/INC + Jcc hands its flags to the block it branches to, which may branch on them
; again, read them (PUSHF, LAHF, SETcc, CMOVcc, ADC), change some (ROR, INC in memory, SHL by CL = 0 changes
; nothing), fault, or raise INT3 (both push RFLAGS). The JIT defers such flags at block exits
; (emu/cpu/jit/x64: JitContext::deferred_flags), so every one of these paths must see exactly the SDM's values.
; Expected values are worked out from the SDM here, not taken from a run. Every test branches at a block end. The
; tests run three times from a page of their own (the exception handler's variables share a page with other code):
; the first time every exit goes through the dispatcher to be chained, the later times blocks jump straight into
; each other, which is where flags stay deferred. Each test counts the passes that saw another value; the counts
; are checked at the end.
; Prints "ok <name>" / "FAIL <name> ..." on COM1 and exits through isa-debug-exit with the failure count.
bits 64
org 0x10000
%include "sys/guest64.inc"
    jmp tests

%define STATUS 0x8D5                    ; OF SF ZF AF PF CF
; cmp 5, 7 (32-bit): 0xFFFFFFFE; CF (5 < 7), AF (borrow from bit 4), SF; PF clear (seven ones); no overflow.
%define CMP_5_7 0x91
; cmp 0x7FFFFFFF, -1: 0x80000000; CF, OF (positive minus negative gave a negative), SF, PF (low byte 0).
%define CMP_MAX_M1 0x885

%assign TESTS 0
; EXPECT name, value: rax should be `value`; a pass that sees another counts against test `name` (reported at the end).
%macro EXPECT 2
    cmp rax, %2
    je %%same
    inc qword [rel mismatches + 8 * TESTS]
    mov [rel seen + 8 * TESTS], rax
%%same:
    %xdefine TEST_NAME_%[TESTS] %1
    %xdefine TEST_WANT_%[TESTS] %2
    %assign TESTS TESTS + 1
%endmacro

; FLAGS_ARE name, status: the status flags now are `status` (RFLAGS read by PUSHF in a block of its own).
%macro FLAGS_ARE 2
    jmp %%read                          ; a block boundary before the read
%%read:
    pushfq
    pop rax
    and eax, STATUS
    EXPECT %1, %2
%endmacro

; CLEAR_CARRY: CF = 0 in a block of its own, so that a CF of 1 later is the one carried from a CMP.
%macro CLEAR_CARRY 0
    clc
    jmp %%cleared
%%cleared:
%endmacro

; CMP_5_7_THEN: cmp 5, 7 ending a block with a taken Jcc (to the next label), CF clear before it.
%macro CMP_5_7_THEN 0
    CLEAR_CARRY
    mov eax, 5
    mov ebx, 7
    cmp eax, ebx
    jne %%next
    jmp fail_path
%%next:
%endmacro

align 4096
tests:
    mov r15d, 3
next_pass:
    ; 1. Flags of CMP read by PUSHF in the block the JNE goes to, then through a block that does not touch them.
    CMP_5_7_THEN
    FLAGS_ARE "cmp then jne: pushf in the target block", CMP_5_7
    CLEAR_CARRY
    mov eax, 0x7FFFFFFF
    mov ebx, -1
    cmp eax, ebx
    jne .t1
    jmp fail_path
.t1:
    mov ecx, 3                          ; a block that neither reads nor writes flags
    jmp .t1b
.t1b:
    FLAGS_ARE "cmp then two blocks: pushf", CMP_MAX_M1

    ; 2. Blocks made of one Jcc each, reading OF, CF, SF, PF, ZF, signed and unsigned orders of that CMP.
    CLEAR_CARRY
    mov eax, 0x7FFFFFFF
    mov ebx, -1
    cmp eax, ebx
    jne .t2
    jmp fail_path
.t2:
    xor r8d, r8d                        ; (xor sets flags: the Jcc blocks below must not see these)
    mov eax, 0x7FFFFFFF
    cmp eax, -1
    jno .t2_bad
    jnc .t2_bad
    jns .t2_bad
    jnp .t2_bad
    je .t2_bad
    jbe .t2_good1                       ; CF = 1: below or equal
    jmp .t2_bad
.t2_good1:
    jl .t2_bad                          ; SF == OF: not less (signed 0x7FFFFFFF > -1)
    jg .t2_good2
    jmp .t2_bad
.t2_good2:
    mov eax, 1
    jmp .t2_done
.t2_bad:
    mov eax, 0
.t2_done:
    EXPECT "one-Jcc blocks on carried flags", 1

    ; 3. DEC ending a block keeps the CF of the CMP before it (DEC does not write CF); ADC reads it two blocks later.
    CMP_5_7_THEN
    mov ecx, 1
    dec ecx
    jz .t3                              ; ZF = 1
    jmp fail_path
.t3:
    mov eax, 10
    adc eax, 0                          ; CF = 1 from the CMP
    EXPECT "cmp, dec+jz, adc: the cmp's CF", 11
    CMP_5_7_THEN
    mov ecx, 1
    dec ecx
    jz .t3b
    jmp fail_path
.t3b:
    FLAGS_ARE "cmp, dec+jz: pushf", 0x44 | 1    ; DEC: ZF PF (0), SF OF AF clear; CF from the CMP

    ; 4. The same with CF = 0 set by CLC two blocks before, and INC wrapping to 0 (ZF AF PF).
    clc
    jmp .t4a
.t4a:
    mov edx, 0xFFFFFFFF
    inc edx
    jnz fail_path
    jmp .t4b
.t4b:
    FLAGS_ARE "clc, inc+jnz: pushf", 0x54
    stc
    jmp .t4c
.t4c:
    mov edx, 1
    dec edx
    jnz fail_path                       ; (falls through)
    mov edx, -1
    inc edx
    jnz fail_path
    FLAGS_ARE "stc, dec+jnz, inc+jnz: CF kept through both", 0x54 | 1

    ; 5. ROR then DEC in the next block: CF and OF of the ROR (count 1) are replaced, then DEC replaces all but CF.
    CMP_5_7_THEN
    mov eax, 1
    ror eax, 1                          ; 0x80000000: CF = 1 (the bit rotated in), OF = 1 ^ 0 = 1
    mov ecx, 1
    dec ecx
    jz .t5
    jmp fail_path
.t5:
    FLAGS_ARE "cmp, ror+dec+jz: CF of the ror, the rest of the dec", 0x44 | 1
    mov eax, 5
    cmp eax, 5                          ; CF = 0 ... ZF PF = 1
    jz .t5b
    jmp fail_path
.t5b:
    mov eax, 1
    ror eax, 1                          ; CF = OF = 1 from a block whose own flags were carried in
    jmp .t5c
.t5c:
    FLAGS_ARE "cmp+jz, ror: CF OF of the ror, ZF PF of the cmp", 0x801 | 0x44

    ; 6. A read-modify-write INC in memory after the carried flags: all but CF replaced, CF of the CMP.
    CMP_5_7_THEN
    inc dword [rel counter]             ; 0 -> 1: ZF SF OF AF clear, PF clear (one bit set)
    jmp .t6
.t6:
    FLAGS_ARE "cmp, inc [mem]: CF of the cmp", 1
    mov eax, [rel counter]
    EXPECT "inc [mem] stored", 1

    ; 7. SHL by CL = 0 changes no flag (SDM SAL/SAR/SHL/SHR: a count of 0 affects none).
    CLEAR_CARRY
    xor ecx, ecx                        ; (flags written here, before the cmp below)
    mov eax, 0x7FFFFFFF
    mov ebx, -1
    cmp eax, ebx
    jne .t7
    jmp fail_path
.t7:
    mov edx, 0x12345678
    shl edx, cl
    jmp .t7b
.t7b:
    FLAGS_ARE "cmp, shl by cl = 0: the cmp's flags", CMP_MAX_M1

    ; 8. LAHF, SETcc and CMOVcc in the block after the CMP.
    CMP_5_7_THEN
    lahf
    movzx eax, ah
    EXPECT "cmp, lahf: SF ZF AF PF CF and bit 1", (CMP_5_7 & 0xD5) | 2
    CMP_5_7_THEN
    setb al
    movzx eax, al
    EXPECT "cmp, setb", 1
    CMP_5_7_THEN
    mov eax, 1
    mov edx, 2
    cmovl eax, edx                      ; 5 < 7 signed
    EXPECT "cmp, cmovl", 2

    ; 9. A fault in the next block saves the CMP's flags in its frame (SDM 6.12.1: RFLAGS as before the fault).
    ARM .t9_after
    CMP_5_7_THEN
    mov rdx, 0x8000000000000000         ; not canonical: #GP(0)
    mov rax, [rdx]
.t9_after:
    mov rbx, [rel last_rsp]
    mov rax, [rbx + 32]                 ; vector, error code, RIP, CS, RFLAGS
    and eax, STATUS
    EXPECT "cmp, #GP in the next block: saved RFLAGS", CMP_5_7
    mov rax, [rel last_vec]
    EXPECT "cmp, #GP in the next block: vector", 13

    ; 10. A #GP after a ROR in the next block: the ROR's CF and OF, the CMP's other flags.
    ARM .t10a_after
    CMP_5_7_THEN
    mov eax, 1
    ror eax, 1                          ; CF = OF = 1
    mov rdx, 0x8000000000000000
    mov rax, [rdx]
    mov ecx, 1
    dec ecx
    jz .t10a_after
.t10a_after:
    mov rbx, [rel last_rsp]
    mov rax, [rbx + 32]
    and eax, STATUS
    EXPECT "cmp, ror, #GP: saved RFLAGS", CMP_5_7 | 0x801

    ; 11. INT3 in the next block (a trap: the handler returns after it) pushes the CMP's flags too.
    ARM .t10_after
    CLEAR_CARRY
    mov eax, 0x7FFFFFFF
    mov ebx, -1
    cmp eax, ebx
    jne .t10
    jmp fail_path
.t10:
    int3
.t10_after:
    mov rbx, [rel last_rsp]
    mov rax, [rbx + 32]
    and eax, STATUS
    EXPECT "cmp, int3 in the next block: saved RFLAGS", CMP_MAX_M1

    ; 12. POPF in the next block replaces the carried flags entirely.
    CMP_5_7_THEN
    push qword 0x2 | 0x40               ; ZF only
    popfq
    jmp .t11
.t11:
    FLAGS_ARE "cmp, popf: popf's flags", 0x40

    ; 13. A loop whose body ends in DEC+JNZ, with CF set before the loop and ADC inside it adding CF each time.
    stc
    mov ecx, 5
    xor eax, eax                        ; CF = 0 again: the loop adds nothing ...
    stc                                 ; ... until STC sets it: 5 iterations of adc eax, 0 with CF = 1
    jmp .t12
.t12:
    adc eax, 0                          ; CF = 0 after the first add (no carry out)
    stc
    dec ecx
    jnz .t12
    EXPECT "loop of adc, stc, dec+jnz", 5
    mov dword [rel counter], 0
    dec r15d
    jnz next_pass
    jmp report

fail_path:
    mov eax, 0
    CHECK "a Jcc went the wrong way", 1
    jmp finish

; Each test: the value a pass saw that was not the expected one, or the expected one; then finish.
%macro REPORT_ONE 1
    mov rax, TEST_WANT_%1
    cmp qword [rel mismatches + 8 * %1], 0
    je %%fine
    mov rax, [rel seen + 8 * %1]
%%fine:
    CHECK TEST_NAME_%1, TEST_WANT_%1
%endmacro
report:
%assign t 0
%rep TESTS
    REPORT_ONE t
%assign t t + 1
%endrep
    jmp finish

align 4096
counter: dd 0
align 8
mismatches: times 64 dq 0
seen: times 64 dq 0
