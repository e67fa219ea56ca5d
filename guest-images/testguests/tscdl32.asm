; The TSC-deadline timer (SDM Vol. 3 11.5.4.1), a Multiboot kernel for the PC machine. With "-append 1" (the model
; advertises tsc_deadline_timer, CPUID.1:ECX[24]) it checks, in LVT timer mode 2: IA32_TSC_DEADLINE (0x6E0) reads 0
; while disarmed; a deadline 2 ms after RDTSC raises the timer's vector once, not before the TSC passed the deadline
; (the handler's RDTSC) and within a second, and disarms (the MSR reads 0 again); writing 0 disarms an armed timer;
; a deadline already passed fires at once; leaving TSC-deadline mode disarms; writes outside the mode are ignored;
; after WRMSR(IA32_TSC) the deadline is compared with the new TSC. With "-append 0" IA32_TSC_DEADLINE is #GP.
%include "multiboot.inc"
%define APIC 0xFEE00000
%define VECTOR 0x41
%define LVT_DEADLINE (2 << 17)
%define DELAY 2000000               ; TSC ticks (CPUID leaf 0x15: 1 GHz): 2 ms
%define FAR_DELAY 100000000         ; 100 ms: the disarm tests must write before the deadline
%define LIMIT 1000000000            ; 1 s
MULTIBOOT_ENTRY
    jmp start
%include "sys/lib32.inc"
%include "conform/feature32.inc"

start:
    FEATURE_START VECTOR, timer_handler

    CHECK_CPUID1_ECX 24, "CPUID.1:ECX.TSC_DEADLINE as the model says"
    cmp dword [expected], 0
    jne .has
    GP_RDMSR 0x6E0
    CHECK "IA32_TSC_DEADLINE without the feature: GP", 1
    jmp finish
.has:
    mov dword [APIC + 0xF0], 0x1FF      ; SVR: software-enabled
    mov dword [APIC + 0x80], 0          ; TPR 0
    mov dword [APIC + 0x320], VECTOR    ; one-shot mode first
    rdtsc
    add eax, DELAY
    adc edx, 0
    mov ecx, 0x6E0
    wrmsr
    rdmsr
    or eax, edx
    CHECK "IA32_TSC_DEADLINE write outside the mode is ignored", 0
    mov dword [APIC + 0x320], VECTOR | LVT_DEADLINE
    mov ecx, 0x6E0
    rdmsr
    or eax, edx
    CHECK "disarmed: reads 0", 0

    ; Armed 2 ms ahead: one interrupt, after the deadline.
    call arm_ahead
    call wait_interrupt
    mov eax, [count]
    CHECK "the deadline raised the timer vector once", 1
    call fired_after_deadline
    CHECK "not before the TSC passed the deadline", 1
    mov ecx, 0x6E0
    rdmsr
    or eax, edx
    CHECK "fired: disarmed, reads 0", 0

    ; Armed far ahead, then 0 written: nothing arrives.
    call arm_far
    xor eax, eax
    xor edx, edx
    mov ecx, 0x6E0
    wrmsr
    call extra_interrupts
    CHECK "writing 0 disarms", 0

    ; A deadline in the past fires at once.
    mov eax, [count]
    mov [base], eax
    rdtsc
    sub eax, 1000
    sbb edx, 0
    mov ecx, 0x6E0
    wrmsr
    call wait_interrupt
    mov eax, [count]
    sub eax, [base]
    CHECK "a passed deadline fires at once", 1

    ; Leaving TSC-deadline mode disarms.
    call arm_far
    mov dword [APIC + 0x320], VECTOR
    mov dword [APIC + 0x320], VECTOR | LVT_DEADLINE
    call extra_interrupts
    CHECK "a mode change disarms", 0

    ; WRMSR(IA32_TSC): the timer compares with the new TSC.
    mov edx, 0x1000
    xor eax, eax
    mov ecx, 0x10
    wrmsr
    call arm_ahead
    mov eax, [deadline + 4]
    CHECK "deadline after WRMSR TSC is on the new counter", 0x1000
    call wait_interrupt
    mov eax, [count]
    sub eax, [base]
    CHECK "the deadline on the new TSC fires", 1
    call fired_after_deadline
    CHECK "not before the new TSC passed it", 1
    jmp finish

; arm_ahead / arm_far: [deadline] <- TSC + DELAY / FAR_DELAY, written to IA32_TSC_DEADLINE; [base] <- [count].
arm_far:
    rdtsc
    add eax, FAR_DELAY
    jmp arm
arm_ahead:
    rdtsc
    add eax, DELAY
arm:
    adc edx, 0
    mov ebx, [count]
    mov [base], ebx
    mov [deadline], eax
    mov [deadline + 4], edx
    mov ecx, 0x6E0
    wrmsr
    ret

; wait_interrupt: IF = 1 until [count] changes or LIMIT TSC ticks pass.
wait_interrupt:
    mov ebx, [count]
    rdtsc
    mov [start_tsc], eax
    mov [start_tsc + 4], edx
    sti
.spin:
    cmp [count], ebx
    jne .out
    call elapsed
    cmp eax, LIMIT
    jb .spin
.out:
    cli
    ret

; extra_interrupts, right after disarming: EAX <- the interrupts taken from [base] until 20 ms past [deadline], or 0
; if the disarm came after the deadline (the host held the vCPU back past FAR_DELAY: nothing to judge).
extra_interrupts:
    rdtsc
    sub eax, [deadline]
    sbb edx, [deadline + 4]
    setns [late]
    call wait_past_deadline
    mov eax, [count]
    sub eax, [base]
    cmp byte [late], 0
    je .done
    xor eax, eax
.done:
    ret

; wait_past_deadline: IF = 1 until the TSC is 20 ms past [deadline] (no interrupt expected).
wait_past_deadline:
    sti
.spin:
    rdtsc
    sub eax, [deadline]
    sbb edx, [deadline + 4]
    js .spin                        ; still before the deadline
    cmp eax, 20000000
    jb .spin
    cli
    ret

; elapsed: EAX <- low 32 bits of TSC - [start_tsc] (EDX clobbered).
elapsed:
    rdtsc
    sub eax, [start_tsc]
    ret

; fired_after_deadline: EAX <- 1 if the handler's TSC >= [deadline].
fired_after_deadline:
    mov eax, [handler_tsc]
    mov edx, [handler_tsc + 4]
    sub eax, [deadline]
    sbb edx, [deadline + 4]
    setns al
    movzx eax, al
    ret

timer_handler:
    push eax
    push edx
    rdtsc
    mov [handler_tsc], eax
    mov [handler_tsc + 4], edx
    inc dword [count]
    mov dword [APIC + 0xB0], 0      ; EOI
    pop edx
    pop eax
    iretd

FLAT_END
alignb 8
deadline: resq 1
start_tsc: resq 1
handler_tsc: resq 1
count: resd 1
base: resd 1
late: resb 1
alignb 4
expected: resd 1
gp_count: resd 1
