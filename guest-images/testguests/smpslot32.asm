; Memslot MOVE and DELETE while other CPUs run on the slot (issue #12, acceptance 2), a Multiboot kernel for the PC
; machine run with -smp N -append N -map 0x10000000:64K -test-memslot-port (the map is slot 3, after the layout's
; three RAM ranges; the port's protocol is in emu/machine/memslot_test_port.h). Paging maps all 4 GiB with identity
; 4 MiB pages, so each CPU's TLB caches the slot's pages. The slot holds code (MOV EAX, MARKER; RET), a data dword,
; a counter per CPU and a scratch dword.
; - Phase 1: every AP calls the code at A (0x10000000), reads the data and increments its counter there, round after
;   round; once each has run enough rounds the BSP has the port MOVE the slot to B (0x20000000) under them.
; - Phase 2, after the MOVE (an AP learns of it from [phase], which the BSP writes after its OUT completed, so the
;   change happened before): A is no longer RAM: a call into it fetches all-ones bytes (FF FF: #UD), reads return
;   all ones, writes are dropped (memslot_test_port.h, as unclaimed MMIO). No AP may run its translated block of A's
;   code again. B holds the slot: its code runs, its data and every counter increment made at A are there (a MOVE
;   remaps the same backing; only an AP's last increment may race with the MOVE and be dropped).
; - Phase 3: the APs run at B; the BSP DELETEs the slot under them. Phase 4: neither A nor B is RAM on any CPU.
; - Phase 5: the BSP re-CREATEs the slot at A (the port restores the deleted backing): every AP runs and reads it again,
;   and the counters hold every increment but the ones that raced with the MOVE and the DELETE.
%include "multiboot.inc"
%define SLOT 3
%define A 0x10000000
%define B 0x20000000
%define DATA 0x1000                 ; offsets in the slot (its code is at offset 0)
%define COUNTS 0x2000
%define SCRATCH 0x3000              ; a dword per CPU
%define MARKER 0x51075107           ; what the slot's code returns
%define DATA_VALUE 0xDA7A0001
%define UD_MARK 0x0BAD0BAD          ; what a call that raised #UD returns (ud_handler)
%define MIN_ROUNDS 500              ; rounds each AP runs on the slot before the BSP changes it
%define PROBES 16                   ; how often each AP checks each phase's view
%define ALL_HELD 0x3F               ; two probes of three checks each (a failed check shows which bits did not hold)
%define PORT 0x520
%define MOVE 1
%define DELETE 2
%define CREATE 3
MULTIBOOT_ENTRY
    jmp start
%include "sys/lib32.inc"
%include "conform/feature32.inc"
%include "smp_lib32.inc"

; COMMAND name, command, gpa: runs a memslot test port command on SLOT and checks that it was done (status 0).
%macro COMMAND 3
    mov ecx, %2
    mov edi, %3
    call slot_cmd
    CHECK %1, 0
%endmacro

; NEXT_PHASE n: the APs' done count and rounds back to 0 (none touches them between phases), then [phase] = n, which
; starts them on it.
%macro NEXT_PHASE 1
    mov dword [done_count], 0
    xor eax, eax
    mov edi, rounds
    mov ecx, MAX_CPUS
    rep stosd
    mov dword [phase], %1
%endmacro

; AP_PROBES table, probe1, base1, probe2, base2: PROBES times, probe1 on base1 (result bits 2:0) and probe2 on base2
; (bits 5:3); table[APIC ID] <- the bits that held every time. Then counts the AP as done.
%macro AP_PROBES 5
    mov dword [%1 + ebx * 4], ALL_HELD
    mov ebp, PROBES
%%again:
    mov esi, %3
    call %2
    mov edi, eax
    mov esi, %5
    call %4
    shl eax, 3
    or eax, edi
    and [%1 + ebx * 4], eax
    dec ebp
    jnz %%again
    lock inc dword [done_count]
%endmacro

start:
    SMP_START 6, ud_handler
    call identity_pd
    call enable_paging
    ; The slot's contents: code, data; its counters start at 0 (fresh RAM).
    mov esi, slot_code
    mov edi, A
    mov ecx, SLOT_CODE_LEN
    rep movsb
    mov dword [A + DATA], DATA_VALUE

    call apic_setup
    mov dword [phase], 1            ; the APs start on phase 1 as soon as they are up
    call start_aps
    mov eax, [ap_count]
    CHECK "every AP started exactly once", [n_aps]
    call wait_rounds
    CHECK "every AP runs, reads and writes the slot at A", [ap_mask]

    COMMAND "MOVE the slot to B while the APs run on it", MOVE, B
    mov eax, [A + DATA]
    CHECK "after the MOVE the BSP reads all ones at A", 0xFFFFFFFF
    mov eax, [B + DATA]
    CHECK "after the MOVE the BSP reads the slot's data at B", DATA_VALUE
    NEXT_PHASE 2
    WAIT_SUM done_count, [n_aps]
    mov esi, after_move
    call and_aps
    CHECK "after the MOVE every AP: A is not RAM (#UD, all ones, writes dropped), B runs and holds the slot", ALL_HELD
    mov esi, B + COUNTS
    mov edx, 1
    call mask_counted
    CHECK "every AP's increments made at A are at B (but one racing with the MOVE)", [ap_mask]

    NEXT_PHASE 3
    call wait_rounds
    CHECK "every AP runs, reads and writes the slot at B", [ap_mask]
    COMMAND "DELETE the slot while the APs run on it", DELETE, 0
    mov eax, [B + DATA]
    CHECK "after the DELETE the BSP reads all ones at B", 0xFFFFFFFF
    NEXT_PHASE 4
    WAIT_SUM done_count, [n_aps]
    mov esi, after_delete
    call and_aps
    CHECK "after the DELETE every AP: neither B nor A is RAM (#UD, all ones, writes dropped)", ALL_HELD

    COMMAND "re-CREATE the slot at A", CREATE, A
    mov eax, [A + DATA]
    CHECK "after the CREATE the BSP reads the slot's data at A", DATA_VALUE
    NEXT_PHASE 5
    WAIT_SUM done_count, [n_aps]
    mov esi, after_create
    call and_aps
    CHECK "after the CREATE every AP runs and reads A again (and writes it), B stays unbacked", ALL_HELD
    mov esi, A + COUNTS
    mov edx, 2
    call mask_counted
    CHECK "the slot kept every AP's increments (but one racing with each of MOVE and DELETE)", [ap_mask]

    jmp smp_finish

; Copied to the slot: what a CPU runs there.
slot_code:
    mov eax, MARKER
    ret
SLOT_CODE_LEN equ $ - slot_code

; slot_cmd: the memslot test port runs command ECX on SLOT with GPA EDI. Returns EAX = STATUS.
slot_cmd:
    mov dx, PORT
    mov eax, SLOT
    out dx, eax
    mov dx, PORT + 4
    mov eax, edi
    out dx, eax
    mov dx, PORT + 8
    xor eax, eax
    out dx, eax
    mov dx, PORT + 0xC
    mov eax, ecx
    out dx, eax
    mov dx, PORT
    in eax, dx
    ret

; wait_rounds: waits (bounded) until every AP has run MIN_ROUNDS rounds in this phase. Returns EAX = the mask of
; the APs that did.
wait_rounds:
    mov ebp, 1 << 30
.again:
    mov esi, rounds
    mov edx, MIN_ROUNDS
    mov edi, is_ge
    call mask_cpus
    and eax, [ap_mask]
    cmp eax, [ap_mask]
    je .done
    pause
    dec ebp
    jnz .again
.done:
    ret

; is_ge: CF <- the dword at ESI + 4 * ECX is at least EDX.
is_ge:
    cmp [esi + ecx * 4], edx
    cmc
    ret

; and_aps: EAX <- the AND of the APs' dwords at ESI (their probes' bits that held on every AP).
and_aps:
    mov eax, -1
    mov ecx, 1
.next:
    and eax, [esi + ecx * 4]
    inc ecx
    cmp ecx, [expected]
    jb .next
    ret

; mask_counted: EAX <- bit i set for each AP i whose counter at ESI + 4 * i is its increments minus 0 to EDX (the
; ones that may have raced with a slot change and been dropped).
mask_counted:
    mov edi, is_counted
    call mask_cpus
    and eax, [ap_mask]
    ret

is_counted:
    push ebx
    mov ebx, [increments + ecx * 4]
    sub ebx, [esi + ecx * 4]
    cmp edx, ebx                    ; CF: more than EDX increments are missing
    cmc
    pop ebx
    ret

; ---- the APs (interrupts off throughout) ----

ap_init:
    ret

ap_main:
    mov esi, A
    mov edi, 1
    call run_slot
    AP_PROBES after_move, probe_gone, A, probe_there, B
    mov esi, B
    mov edi, 3
    call wait_phase
    call run_slot
    AP_PROBES after_delete, probe_gone, B, probe_gone, A
    mov edi, 5
    call wait_phase
    AP_PROBES after_create, probe_there, A, probe_gone, B
.park:
    hlt
    jmp .park

; wait_phase: waits until [phase] is EDI.
wait_phase:
    pause
    cmp [phase], edi
    jne wait_phase
    ret

; run_slot: rounds on the slot at ESI while [phase] is EDI: call its code, read its data, increment this CPU's
; counter there (counting in increments[] and rounds[]). After a round that finds the slot gone (the code or the
; data differ: it changed under this CPU), only waits for the next phase.
run_slot:
    cmp [phase], edi
    jne .done
    call esi
    cmp eax, MARKER
    jne .gone
    cmp dword [esi + DATA], DATA_VALUE
    jne .gone
    inc dword [esi + COUNTS + ebx * 4]
    inc dword [increments + ebx * 4]
    inc dword [rounds + ebx * 4]
    jmp run_slot
.gone:
    pause
    cmp [phase], edi
    je .gone
.done:
    ret

; probe_there: EAX <- bit 0: the code at ESI returns MARKER, bit 1: the data there is DATA_VALUE, bit 2: a dword
; written to its scratch reads back.
probe_there:
    xor edx, edx
    call esi
    cmp eax, MARKER
    jne .code
    or edx, 1
.code:
    cmp dword [esi + DATA], DATA_VALUE
    jne .data
    or edx, 2
.data:
    mov [esi + SCRATCH + ebx * 4], ebx  ; each CPU its own dword: the APs probe at once
    cmp [esi + SCRATCH + ebx * 4], ebx
    jne .write
    or edx, 4
.write:
    mov eax, edx
    ret

; probe_gone: EAX <- bit 0: a call to ESI raises #UD (all-ones bytes), bit 1: the data there reads all ones, bit 2: a
; dword written to its scratch is dropped (reads all ones).
probe_gone:
    xor edx, edx
    call esi
    cmp eax, UD_MARK
    jne .code
    or edx, 1
.code:
    cmp dword [esi + DATA], 0xFFFFFFFF
    jne .data
    or edx, 2
.data:
    mov [esi + SCRATCH + ebx * 4], ebx
    cmp dword [esi + SCRATCH + ebx * 4], 0xFFFFFFFF
    jne .write
    or edx, 4
.write:
    mov eax, edx
    ret

; #UD from code fetched from unbacked memory at A or B (at the call's target, or at the RET when the slot changed
; between the two): returns UD_MARK to the caller of the slot's code. Any other #UD is unexpected.
ud_handler:
    push eax
    mov eax, [esp + 4]
    sub eax, A
    cmp eax, SLOT_CODE_LEN
    jb .slot
    mov eax, [esp + 4]
    sub eax, B
    cmp eax, SLOT_CODE_LEN
    jae unexpected
.slot:
    pop eax
    add esp, 12                     ; EIP, CS, EFLAGS (interrupts stay off: the APs run with them off)
    mov eax, UD_MARK
    ret

FLAT_END
SMP_VARS
phase: resd 1
done_count: resd MAX_CPUS           ; only the first dword counts; WAIT_SUM reads N
rounds: resd MAX_CPUS               ; per AP, in this phase
increments: resd MAX_CPUS           ; per AP, of its counter in the slot, over every phase
after_move: resd MAX_CPUS
after_delete: resd MAX_CPUS
after_create: resd MAX_CPUS
