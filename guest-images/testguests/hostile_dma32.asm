; A hostile Multiboot kernel for the PC machine (issue #16, tests/boot/hostile_test.py): every DMA-capable device is
; pointed outside guest RAM. Run with -m 64M, a virtio-net, virtio-blk, virtconsole and virtio-rng, and -gpu-engine.
; Bad places: above RAM (256 MiB), far above it (448 GiB), the I/O APIC, the device's own BAR, the top of the
; address space (with a length that wraps 2^64 back into RAM) and a range across the end of RAM.
;   virtio (virtio 1.2, 2.1.1): each device's rings at each bad place (queue_enable then DRIVER_OK), then rings in RAM
;     with one descriptor whose buffer is at each bad place, notified: the device status must show DEVICE_NEEDS_RESET;
;     a reset (status 0) must clear it.
;   GPU copy engine (devices/gpu/engine/regs.h): a root table at each bad place (bind fails, CTX_STATUS 2), a batch
;     at each (BadBatch), leaf entries naming each (a FILL faults NotRam), a fence at each (the batch completes
;     without a fault and nothing is written), then a FILL in RAM must still work.
; Prints "ok NAME" / "FAIL NAME" and "done" on COM1, then writes the failure count to isa-debug-exit (0xF4).
%include "multiboot.inc"

RAM_END   equ 0x4000000             ; -m 64M
DESC      equ 0x200000              ; a queue in RAM: descriptor table, available ring, used ring
AVAIL     equ 0x210000
USED      equ 0x220000
G4        equ 0x300000              ; GPU tables and pages in RAM
G3        equ 0x301000
G2        equ 0x302000
G1        equ 0x303000
BATCH     equ 0x304000
DATA      equ 0x305000
; virtio common configuration (4.1.4.3) and the BAR layout of devices/virtio/regs.h
V_DFSEL   equ 0x08
V_DF      equ 0x0C
V_STATUS  equ 0x14
V_QSEL    equ 0x16
V_QSIZE   equ 0x18
V_QENABLE equ 0x1C
V_QDESC   equ 0x20
V_QDRIVER equ 0x28
V_QDEVICE equ 0x30
V_NOTIFY  equ 0x3000
NEEDS_RESET equ 64
; GPU engine registers
E_ROOT    equ 0x008
E_CTL     equ 0x010
E_CTXST   equ 0x014
E_BATCH   equ 0x018
E_COUNT   equ 0x020
E_DOOR    equ 0x024
E_FADDR   equ 0x028
E_FVAL    equ 0x030
E_FAULT   equ 0x040
NUM_BAD   equ 6
OWN_BAR   equ 1                     ; a bad place's low dword: the device's own BAR

MULTIBOOT_ENTRY
    mov esp, stack_top
    xor ecx, ecx                    ; device number on bus 0
.scan:
    push ecx
    mov eax, ecx
    shl eax, 11
    call cfg_read
    pop ecx
    push ecx
    cmp ax, 0x1AF4
    jne .not_virtio
    shr eax, 16
    mov [dev_id], eax
    call virtio_device
    jmp .scan_next
.not_virtio:
    cmp eax, 0x11111234
    jne .scan_next
    call gpu_device
.scan_next:
    pop ecx
    inc ecx
    cmp ecx, 32
    jne .scan
    mov esi, s_done
    call puts
    mov eax, [fails]
    out 0xF4, al
    cli
    hlt

; cfg_read: EAX = device << 11 | register; returns the dword of bus 0 function 0.
cfg_read:
    or eax, 0x80000000
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    ret

; bad_place: ECX = index; EAX:EDX = low:high of the place (OWN_BAR: [bar]).
bad_place:
    mov eax, [bad_places + ecx * 8]
    mov edx, [bad_places + ecx * 8 + 4]
    cmp eax, OWN_BAR
    jne .done
    mov eax, [bar]
.done:
    ret

; put_bad: ECX = index, EDI = register offset: the place's 64 bits into the register pair at [EBX + EDI].
put_bad:
    call bad_place
    mov [ebx + edi], eax
    mov [ebx + edi + 4], edx
    ret

; ---------------------------------------------------------------------------------------------------------------- virtio
; ECX = device number, [dev_id] its PCI device ID (0x1041 net, 0x1042 blk, 0x1043 console, 0x1044 rng).
virtio_device:
    mov eax, ecx
    shl eax, 11
    or eax, 0x10                    ; BAR0
    call cfg_read
    and eax, ~0xF
    mov ebx, eax
    mov [bar], eax
    mov eax, [dev_id]
    sub eax, 0x1041
    mov eax, [virtio_names + eax * 4]
    mov [dev_name], eax
    ; the queue a driver fills first: net's and the console's transmit queue (1), blk's and rng's request queue (0)
    mov dword [queue], 0
    cmp dword [dev_id], 0x1041
    je .txq
    cmp dword [dev_id], 0x1043
    jne .rings
.txq:
    mov dword [queue], 1

.rings:                             ; rings at each bad place
    xor ecx, ecx
.ring_case:
    push ecx
    call virtio_features
    mov edi, V_QDESC
    call put_bad
    mov edi, V_QDRIVER
    call put_bad
    mov edi, V_QDEVICE
    call put_bad
    mov word [ebx + V_QENABLE], 1
    mov byte [ebx + V_STATUS], 1 | 2 | 8 | 4
    test byte [ebx + V_STATUS], NEEDS_RESET
    pop ecx
    push ecx
    mov edi, s_ring
    call report_needs_reset
    pop ecx
    inc ecx
    cmp ecx, NUM_BAD
    jne .ring_case

    xor ecx, ecx                    ; rings in RAM, one buffer at each bad place
.buffer_case:
    push ecx
    call virtio_features
    mov edi, DESC                   ; clear the rings
    xor eax, eax
    mov ecx, (USED + 0x10000 - DESC) / 4
    rep stosd
    mov dword [ebx + V_QDESC], DESC
    mov dword [ebx + V_QDESC + 4], 0
    mov dword [ebx + V_QDRIVER], AVAIL
    mov dword [ebx + V_QDRIVER + 4], 0
    mov dword [ebx + V_QDEVICE], USED
    mov dword [ebx + V_QDEVICE + 4], 0
    mov word [ebx + V_QENABLE], 1
    mov byte [ebx + V_STATUS], 1 | 2 | 8 | 4
    mov ecx, [esp]
    call bad_place
    mov [DESC], eax                 ; descriptor 0: addr, len 0x2000, no flags
    mov [DESC + 4], edx
    mov dword [DESC + 8], 0x2000
    mov dword [DESC + 12], 0
    mov word [AVAIL + 4], 0         ; ring[0] = descriptor 0
    mov word [AVAIL + 2], 1         ; idx = 1
    mov eax, [queue]
    mov [ebx + V_NOTIFY + eax * 4], ax
    mov ecx, 20000000               ; device threads (blk, net) see it a little later
.poll:
    test byte [ebx + V_STATUS], NEEDS_RESET
    jnz .polled
    pause
    dec ecx
    jnz .poll                       ; falls through with ZF = 1: never came
.polled:
    pop ecx
    push ecx
    mov edi, s_buffer
    call report_needs_reset
    pop ecx
    inc ecx
    cmp ecx, NUM_BAD
    jne .buffer_case

    mov byte [ebx + V_STATUS], 0    ; a reset clears DEVICE_NEEDS_RESET
    cmp byte [ebx + V_STATUS], 0
    mov esi, [dev_name]
    mov edi, s_reset
    mov ecx, -1
    jmp report

; Resets the device and negotiates VERSION_1 only (ACKNOWLEDGE, DRIVER, FEATURES_OK); selects [queue].
virtio_features:
    mov byte [ebx + V_STATUS], 0
    mov byte [ebx + V_STATUS], 1 | 2
    mov dword [ebx + V_DFSEL], 1
    mov dword [ebx + V_DF], 1       ; bit 32: VIRTIO_F_VERSION_1
    mov dword [ebx + V_DFSEL], 0
    mov dword [ebx + V_DF], 0
    mov byte [ebx + V_STATUS], 1 | 2 | 8
    mov eax, [queue]
    mov [ebx + V_QSEL], ax
    ret

; ZF from `test status, NEEDS_RESET` (ZF = 0: set) -> report with ZF = 1 for ok. EDI = case, ECX = place index.
report_needs_reset:
    jnz .set
    or eax, 1                       ; ZF = 0: FAIL
    jmp .go
.set:
    xor eax, eax                    ; ZF = 1: ok
.go:
    mov esi, [dev_name]
    jmp report

; ------------------------------------------------------------------------------------------------------------ GPU engine
gpu_device:
    mov eax, ecx
    shl eax, 11
    or eax, 0x20                    ; BAR4: the engine
    call cfg_read
    and eax, ~0xF
    mov ebx, eax
    mov [bar], eax
    mov dword [dev_name], s_gpu

    xor ecx, ecx                    ; a root table at each bad place: the bind fails
.root_case:
    cmp ecx, 4                      ; a root is a page: one across the end of RAM is the last page of RAM
    je .root_next
    push ecx
    mov edi, E_ROOT
    call put_bad
    mov dword [ebx + E_CTL], 1
    cmp dword [ebx + E_CTXST], 2
    pop ecx
    mov edi, s_root
    call report
.root_next:
    inc ecx
    cmp ecx, NUM_BAD
    jne .root_case

    ; tables in RAM: gva 0 -> DATA; gva 0x1000 * (k + 1) -> bad place k (k < 5: a table entry cannot name the last one)
    mov edi, G4
    xor eax, eax
    mov ecx, (DATA + 0x1000 - G4) / 4
    rep stosd
    mov dword [G4], G3 | 1
    mov dword [G3], G2 | 1
    mov dword [G2], G1 | 1
    mov dword [G1], DATA | 3
    xor ecx, ecx
.entries:
    call bad_place
    and eax, ~0xFFF
    or eax, 3
    mov [G1 + 8 + ecx * 8], eax
    mov [G1 + 8 + ecx * 8 + 4], edx
    inc ecx
    cmp ecx, 5
    jne .entries
    mov dword [G1 + 8 + 4 * 8], RAM_END | 3  ; the fifth: the first page past RAM (entries name whole pages)
    mov dword [G1 + 8 + 4 * 8 + 4], 0
    mov dword [ebx + E_ROOT], G4
    mov dword [ebx + E_ROOT + 4], 0
    mov dword [ebx + E_CTL], 1
    cmp dword [ebx + E_CTXST], 1
    mov edi, s_bind
    mov ecx, -1
    call report

    xor ecx, ecx                    ; a batch of 4096 commands at each bad place
.batch_case:
    push ecx
    mov edi, E_BATCH
    call put_bad
    mov dword [ebx + E_COUNT], 4096
    mov dword [ebx + E_FADDR], 0
    mov dword [ebx + E_FADDR + 4], 0
    mov dword [ebx + E_DOOR], 1
    cmp dword [ebx + E_FAULT], 9    ; BadBatch
    pop ecx
    mov edi, s_batch
    call report
    inc ecx
    cmp ecx, NUM_BAD
    jne .batch_case

    xor ecx, ecx                    ; a FILL through each bad leaf entry
.entry_case:
    push ecx
    mov dword [BATCH], 1            ; FILL a = gva, b = 4 bytes, c = pattern
    lea eax, [ecx + 1]
    shl eax, 12
    mov [BATCH + 8], eax
    mov dword [BATCH + 12], 0
    mov dword [BATCH + 16], 4
    mov dword [BATCH + 20], 0
    mov dword [BATCH + 24], 0x5A5A5A5A
    mov dword [BATCH + 28], 0
    call run_one
    cmp dword [ebx + E_FAULT], 5    ; NotRam
    pop ecx
    mov edi, s_entry
    call report
    inc ecx
    cmp ecx, 5
    jne .entry_case

    mov dword [BATCH], 0            ; a NOP batch with its fence at each bad place: no fault, no write
    xor ecx, ecx
.fence_case:
    push ecx
    mov edi, E_FADDR
    call put_bad
    mov dword [ebx + E_FVAL], 0x12345678
    mov dword [ebx + E_FVAL + 4], 0
    mov dword [ebx + E_BATCH], BATCH
    mov dword [ebx + E_BATCH + 4], 0
    mov dword [ebx + E_COUNT], 1
    mov dword [ebx + E_DOOR], 1
    cmp dword [ebx + E_FAULT], 0
    pop ecx
    mov edi, s_fence
    call report
    inc ecx
    cmp ecx, NUM_BAD
    jne .fence_case

    mov dword [BATCH], 1            ; still working: FILL gva 0 (DATA), 8 bytes
    mov dword [BATCH + 8], 0
    mov dword [BATCH + 12], 0
    mov dword [BATCH + 16], 8
    mov dword [BATCH + 24], 0xC0FFEE11
    call run_one
    cmp dword [DATA + 4], 0xC0FFEE11
    mov edi, s_after
    mov ecx, -1
    jmp report

; Runs the one command at BATCH without a fence.
run_one:
    mov dword [ebx + E_BATCH], BATCH
    mov dword [ebx + E_BATCH + 4], 0
    mov dword [ebx + E_COUNT], 1
    mov dword [ebx + E_FADDR], 0
    mov dword [ebx + E_FADDR + 4], 0
    mov dword [ebx + E_DOOR], 1
    ret

; ----------------------------------------------------------------------------------------------------------- reporting
; ZF = 1: "ok", else "FAIL" (counted); then [dev_name], EDI's case and, for ECX >= 0, the bad place's name.
report:
    pushf
    push ecx
    push edi
    mov esi, s_ok
    jz .print
    inc dword [fails]
    mov esi, s_fail
.print:
    call puts
    mov esi, [dev_name]
    call puts
    pop esi
    call puts
    pop ecx
    cmp ecx, 0
    jl .end
    mov esi, [place_names + ecx * 4]
    call puts
.end:
    mov esi, s_nl
    call puts
    popf
    ret

DEFINE_PUTS

section .data
align 4
bad_places:
    dd 0x10000000, 0                ; above RAM
    dd 0, 0x70                      ; far above RAM (448 GiB)
    dd 0xFEC00000, 0                ; the I/O APIC
    dd OWN_BAR, 0                   ; the device's own registers
    dd RAM_END - 4, 0               ; across the end of RAM
    dd 0xFFFFFFFC, 0xFFFFFFFF       ; the last bytes: a ring, a buffer, a batch or a fence there wraps 2^64 into RAM
place_names: dd p0, p1, p2, p3, p4, p5
virtio_names: dd s_net, s_blk, s_con, s_rng
p0: db " above RAM", 0
p1: db " far above RAM", 0
p2: db " in the I/O APIC", 0
p3: db " in its own BAR", 0
p4: db " across the end of RAM", 0
p5: db " wrapping 2^64", 0
s_net: db "virtio-net", 0
s_blk: db "virtio-blk", 0
s_con: db "virtio-console", 0
s_rng: db "virtio-rng", 0
s_gpu: db "gpu-engine", 0
s_ring: db " rings", 0
s_buffer: db " buffer", 0
s_reset: db " reset clears DEVICE_NEEDS_RESET", 0
s_root: db " root table", 0
s_bind: db " bind in RAM", 0
s_batch: db " batch", 0
s_entry: db " leaf entry", 0
s_fence: db " fence", 0
s_after: db " FILL in RAM afterwards", 0
s_ok: db "ok ", 0
s_fail: db "FAIL ", 0
s_nl: db 10, 0
s_done: db "done", 10, 0
fails: dd 0

section .bss
dev_id: resd 1
dev_name: resd 1
bar: resd 1
queue: resd 1
alignb 16
    resb 4096
stack_top:
