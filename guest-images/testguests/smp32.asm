; SMP bring-up and inter-processor interrupts (SDM Vol. 3 9.4 and 11.6), a Multiboot kernel for the PC machine run
; with -smp N and "-append N" (N = 2..8, the vCPU count it expects). The BSP:
; - starts every AP with INIT, SIPI, SIPI broadcast to all excluding self (a second SIPI must be ignored by a running
;   AP); each AP enters 32-bit protected mode from a real-mode trampoline at 0x8000 (SIPI vector 8), turns paging on
;   with the BSP's CR3, and writes its APIC ID (from the APIC's ID register) and CPUID.1:EBX[31:24] into tables;
; - checks CPUID.1:EBX[23:16] and EDX.HTT for N logical processors;
; - sends IPIs and checks exactly who received them: fixed to APIC ID 1, all excluding self, all including self,
;   self, a flat and a cluster logical destination (the odd IDs), lowest priority to the APs' logical set (one of them), NMI to the
;   last CPU; the ICR's delivery status reads idle after a send; APs wait in HLT, so each IPI also wakes a halted vCPU;
; - has every CPU add 1 to two counters 20000 times, with LOCK ADD and with a LOCK CMPXCHG loop, and 2000 times to a
;   dword that straddles a cache line with LOCK XADD (a split lock: no host instruction is atomic there): exact totals;
; - TLB shootdown: every CPU reads a page at 0x40000000 (filling its TLB), the BSP points the PTE at another page,
;   INVLPGs and sends an IPI to the others, which INVLPG and read again: all must see the new page;
; - cross-CPU self-modifying code: the APs run a function the BSP then rewrites, and must run the new code;
; - INIT and SIPI to the running AP 1 restart it (SDM Vol. 3 9.4.4: INIT puts it back into wait-for-SIPI).
%include "multiboot.inc"
%define ITER 20000
%define SPLIT_ITER 2000
%define TEST_VA 0x40000000
%define WAKE_VECTOR 0x4F
%define SHOOTDOWN_VECTOR 0x46
MULTIBOOT_ENTRY
    jmp start
%include "sys/lib32.inc"
%include "conform/feature32.inc"
%include "smp_lib32.inc"

start:
    SMP_START WAKE_VECTOR, eoi_handler
    mov ecx, 2
    mov eax, nmi_handler
    call set_gate
%assign v 0
%rep 8
    mov ecx, 0x40 + v
    mov eax, count_handler_ %+ v
    call set_gate
%assign v v + 1
%endrep
    mov ecx, SHOOTDOWN_VECTOR
    mov eax, shootdown_handler
    call set_gate

    ; Paging: 4 MiB identity pages everywhere, but 0x40000000 through a page table whose first PTE maps page_a.
    call identity_pd
    mov dword [pd + (TEST_VA >> 22) * 4], pt + 3
    mov dword [pt], page_a + 3
    mov dword [page_a], 0xAAAAAAAA
    mov dword [page_b], 0xBBBBBBBB
    call enable_paging

    call apic_setup
    call start_aps
    mov eax, [ap_count]
    CHECK "every AP started exactly once", [n_aps]
    MASK_EQ apic_ids, 1
    CHECK "every AP wrote its APIC ID", [ap_mask]
    MASK_EQ cpuid_ok, 1
    CHECK "every AP's CPUID.1:EBX[31:24] is its APIC ID", [ap_mask]
    mov eax, 1
    cpuid
    mov [cpuid1_edx], edx
    mov eax, ebx
    shr eax, 16
    and eax, 0xFF
    CHECK "CPUID.1:EBX[23:16]: N logical processors", [expected]
    mov eax, [cpuid1_edx]
    shr eax, 28
    and eax, 1
    CHECK "CPUID.1:EDX.HTT", 1

    SEND_IPI 1 << 24, 0x40          ; fixed, physical destination 1
    mov eax, [APIC + ICR_LO]
    and eax, 1 << 12
    CHECK "ICR delivery status: idle after the send", 0
    WAIT_SUM hits + 0 * 32, 1
    MASK_EQ hits + 0 * 32, 1
    CHECK "fixed IPI to APIC ID 1: only it", 2
    SEND_IPI 0, 0x000C0041          ; all excluding self
    WAIT_SUM hits + 1 * 32, [n_aps]
    MASK_EQ hits + 1 * 32, 1
    CHECK "all excluding self: every AP once", [ap_mask]
    SEND_IPI 0, 0x00080042          ; all including self
    WAIT_SUM hits + 2 * 32, [expected]
    MASK_EQ hits + 2 * 32, 1
    CHECK "all including self: every CPU once", [all_mask]
    SEND_IPI 0, 0x00040043          ; self
    WAIT_SUM hits + 3 * 32, 1
    MASK_EQ hits + 3 * 32, 1
    CHECK "self IPI: the BSP only", 1
    ; Flat logical destination: each APIC's LDR has bit (24 + ID); the odd IDs are addressed.
    mov eax, 0xAA
    and eax, [all_mask]
    mov [odd_mask], eax
    shl eax, 24
    mov ebx, [odd_mask]
    popcnt ebx, ebx
    SEND_IPI eax, 0x00000844
    WAIT_SUM hits + 4 * 32, ebx
    MASK_EQ hits + 4 * 32, 1
    CHECK "logical flat destination: the odd APIC IDs", [odd_mask]
    mov eax, [ap_mask]
    shl eax, 24
    SEND_IPI eax, 0x00000945        ; lowest priority, logical: the APs
    WAIT_SUM hits + 5 * 32, 1
    call delay
    mov esi, hits + 5 * 32
    call sum_table
    CHECK "lowest priority: delivered to one CPU", 1
    mov eax, [expected]
    dec eax
    mov ecx, eax
    shl eax, 24
    SEND_IPI eax, 0x00000400        ; NMI to the last CPU
    WAIT_SUM nmi_hits, 1
    MASK_EQ nmi_hits, 1
    mov ecx, [expected]
    dec ecx
    mov ebx, 1
    shl ebx, cl
    CHECK "NMI to the last CPU: only it", ebx

    ; Counters: phase 1 runs count_work on every CPU.
    mov dword [phase], 1
    SEND_IPI 0, 0x000C0000 | WAKE_VECTOR
    call count_work
    WAIT_SUM done_count, [n_aps]    ; one dword: the APs that finished
    mov eax, [expected]
    imul eax, ITER
    mov [total], eax
    mov eax, [lock_add]
    CHECK "LOCK ADD counter: exact total", [total]
    mov eax, [lock_cmpxchg]
    CHECK "LOCK CMPXCHG counter: exact total", [total]
    mov eax, [expected]
    imul eax, SPLIT_ITER
    mov [total], eax
    mov eax, [split_lock]
    CHECK "LOCK XADD across a cache line: exact total", [total]

    ; TLB shootdown: phase 2 reads TEST_VA on every CPU (its TLB now maps page_a).
    mov dword [done_count], 0
    mov dword [phase], 2
    SEND_IPI 0, 0x000C0000 | WAKE_VECTOR
    call read_test_page
    WAIT_SUM done_count, [n_aps]
    MASK_EQ before, 0xAAAAAAAA
    CHECK "every CPU reads the old page first", [all_mask]
    mov dword [pt], page_b + 3
    invlpg [TEST_VA]
    SEND_IPI 0, 0x000C0000 | SHOOTDOWN_VECTOR
    WAIT_SUM acks, [n_aps]
    mov eax, [TEST_VA]
    CHECK "after INVLPG the BSP reads the new page", 0xBBBBBBBB
    MASK_EQ after, 0xBBBBBBBB
    CHECK "after the shootdown IPI every AP reads the new page", [ap_mask]

    ; Cluster logical destinations: every CPU switches to the cluster model (phase 3), cluster = ID bit 0, member
    ; bit = ID >> 1; cluster 1 with every member bit addresses the odd IDs.
    mov dword [done_count], 0
    mov dword [phase], 3
    SEND_IPI 0, 0x000C0000 | WAKE_VECTOR
    call apic_cluster
    WAIT_SUM done_count, [n_aps]
    mov ebx, [odd_mask]
    popcnt ebx, ebx
    SEND_IPI 0x1F << 24, 0x00000847 ; fixed, logical: cluster 1, members 0-3
    WAIT_SUM hits + 7 * 32, ebx
    MASK_EQ hits + 7 * 32, 1
    CHECK "logical cluster destination: cluster 1, the odd APIC IDs", [odd_mask]

    ; Cross-CPU self-modifying code: the APs run smc_func (phase 4), the BSP rewrites its immediate, the APs run it
    ; again (phase 5) and must get the new value, although each had translated the old code.
    mov dword [done_count], 0
    mov dword [phase], 4
    SEND_IPI 0, 0x000C0000 | WAKE_VECTOR
    WAIT_SUM done_count, [n_aps]
    MASK_EQ smc_results, 1
    CHECK "every AP ran the original code", [ap_mask]
    mov dword [smc_func + 1], 2     ; mov eax, 1 -> mov eax, 2
    mov dword [done_count], 0
    mov dword [phase], 5
    SEND_IPI 0, 0x000C0000 | WAKE_VECTOR
    WAIT_SUM done_count, [n_aps]
    MASK_EQ smc_results + 32, 2
    CHECK "every AP runs the code the BSP rewrote", [ap_mask]

    ; INIT then SIPI to a running AP (ID 1): it goes back to wait-for-SIPI and starts again at the trampoline.
    SEND_IPI 1 << 24, 0x00004500    ; INIT, level assert, physical destination 1
    call delay
    SEND_IPI 1 << 24, 0x00004600 | (TRAMPOLINE >> 12)
    WAIT_SUM ap_started, [expected] ; N - 1 first starts and this one
    MASK_EQ ap_started, 2
    CHECK "INIT and SIPI restart a running AP: only it", 2

    jmp smp_finish

; ---- shared by the BSP and the APs ----

; The cluster model (DFR 0x0FFFFFFF): cluster ID & 1 in LDR bits 31:28, member bit ID >> 1 in bits 27:24.
apic_cluster:
    mov dword [APIC + APIC_DFR], 0x0FFFFFFF
    mov ebx, [APIC + APIC_ID]
    shr ebx, 24
    mov ecx, ebx
    shr ecx, 1
    mov eax, 1
    shl eax, cl
    and ebx, 1
    shl ebx, 4
    or eax, ebx
    shl eax, 24
    mov [APIC + APIC_LDR], eax
    ret

; Returns 1 until the BSP rewrites the immediate.
smc_func:
    mov eax, strict dword 1
    ret

; Adds 1 to lock_add ITER times with LOCK ADD and to lock_cmpxchg ITER times with a LOCK CMPXCHG loop.
count_work:
    mov ecx, ITER
.add:
    lock add dword [lock_add], 1
    dec ecx
    jnz .add
    mov ecx, ITER
.cas:
    mov eax, [lock_cmpxchg]
.retry:
    lea edx, [eax + 1]
    lock cmpxchg [lock_cmpxchg], edx
    jne .retry
    dec ecx
    jnz .cas
    mov ecx, SPLIT_ITER
    mov edx, 1
.split:
    lock xadd [split_lock], edx
    mov edx, 1
    dec ecx
    jnz .split
    ret

; before[APIC ID] <- the dword at TEST_VA.
read_test_page:
    mov ebx, [APIC + APIC_ID]
    shr ebx, 24
    mov eax, [TEST_VA]
    mov [before + ebx * 4], eax
    ret

; ---- interrupt handlers (every CPU) ----

%assign v 0
%rep 8
count_handler_ %+ v:
    push ebx
    mov ebx, [APIC + APIC_ID]
    shr ebx, 24
    lock inc dword [hits + v * 32 + ebx * 4]
    mov dword [APIC + APIC_EOI], 0
    pop ebx
    iretd
%assign v v + 1
%endrep

nmi_handler:
    push ebx
    mov ebx, [APIC + APIC_ID]
    shr ebx, 24
    lock inc dword [nmi_hits + ebx * 4]
    pop ebx
    iretd

shootdown_handler:
    push eax
    push ebx
    invlpg [TEST_VA]
    mov ebx, [APIC + APIC_ID]
    shr ebx, 24
    mov eax, [TEST_VA]
    mov [after + ebx * 4], eax
    lock inc dword [acks]
    mov dword [APIC + APIC_EOI], 0
    pop ebx
    pop eax
    iretd

eoi_handler:
    mov dword [APIC + APIC_EOI], 0
    iretd

; ---- the APs ----

; Once the AP runs paged (smp_lib32.inc's ap_entry): its APIC ID and CPUID.1:EBX[31:24] into the tables.
ap_init:
    mov dword [apic_ids + ebx * 4], 1
    push ebx
    mov eax, 1
    cpuid
    shr ebx, 24
    mov eax, ebx
    pop ebx
    cmp eax, ebx
    sete al
    movzx eax, al
    mov [cpuid_ok + ebx * 4], eax
    ret

; Waits in HLT for the BSP's phases.
ap_main:
    xor edi, edi                    ; the last phase this AP ran
.idle:
    sti
    hlt                             ; STI's shadow: an interrupt pending since the CLI below still wakes the HLT
    cli
    cmp [phase], edi
    je .idle
    mov edi, [phase]
    cmp edi, 1
    jne .not_count
    call count_work
    lock inc dword [done_count]
    jmp .idle
.not_count:
    cmp edi, 2
    jne .not_read
    call read_test_page
    lock inc dword [done_count]
    jmp .idle
.not_read:
    cmp edi, 3
    jne .not_cluster
    call apic_cluster
    lock inc dword [done_count]
    jmp .idle
.not_cluster:
    cmp edi, 4
    jb .idle
    call smc_func                   ; phases 4 and 5: smc_results[phase - 4][APIC ID] <- what it returns
    mov ebx, [APIC + APIC_ID]
    shr ebx, 24
    lea ecx, [edi - 4]
    shl ecx, 5
    mov [smc_results + ecx + ebx * 4], eax
    lock inc dword [done_count]
    jmp .idle
FLAT_END
SMP_VARS
cpuid1_edx: resd 1
odd_mask: resd 1
total: resd 1
phase: resd 1
done_count: resd MAX_CPUS          ; only the first dword counts; WAIT_SUM reads N
acks: resd MAX_CPUS                ; likewise
lock_add: resd 1
lock_cmpxchg: resd 1
alignb 64
    resb 62
split_lock: resd 1                 ; bytes 62..65 of a 64-byte line: a split lock
apic_ids: resd MAX_CPUS
cpuid_ok: resd MAX_CPUS
before: resd MAX_CPUS
after: resd MAX_CPUS
nmi_hits: resd MAX_CPUS
hits: resd 8 * MAX_CPUS
smc_results: resd 2 * MAX_CPUS
alignb 4096
pt: resb 4096
page_a: resb 4096
page_b: resb 4096
