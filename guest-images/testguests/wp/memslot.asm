; Memslot changes under a running guest, through the bare runner's test port (-test-memslot-port; protocol in
; emu/machine/memslot_test_port.h). Run with -map 0x10000000:1M: slot 1 holds 255 data pages and, in its last page,
; a page table the guest uses. The guest maps the slot's pages at WOLD and the new range at WNEW (4 KiB PTEs) and
; checks: an aborted change (prepare failure injected) or a refused one changes nothing (contents, mappings,
; generation, no track_remove_region); a MOVE shows the contents at the new address, while the old address - also
; through still-present virtual mappings - is unbacked (reads all-ones, writes dropped) and a walk through the page
; table left there faults; DELETE and re-CREATE (same backing: the bytes come back); the page-track client hears
; exactly one track_remove_region, for the old range, per committed DELETE or MOVE.
bits 64
org 0x10000
%define PORT 0x520
%define MOVE 1
%define DELETE 2
%define CREATE 3
%define INJECT 0x100
%define OLD 0x10000000
%define NEW 0x20000000
%define NPAGES 256
%define NDATA 255                    ; data pages; page 255 is a page table
%define SLOT 1
%define WOLD WINDOW + 0x200000       ; PD index 1: the slot's pages at OLD
%define WNEW WINDOW + 0x400000       ; PD index 2: the pages at NEW
%define WPT WINDOW + 0xA00000         ; PD index 5: through the page table in the slot's last page
%define SIG 0x51070000
%define ONES -1

    jmp start
%include "sys/lib64.inc"
%include "sys/idt64.inc"
%include "wp/pt.inc"

; COMMAND name, slot, gpa, command, expected status
%macro COMMAND 5
    mov edi, %2
    mov rsi, %3
    mov edx, %4
    call slot_cmd
    CHECK %1, %5
%endmacro
; PORT_IS name, offset, expected
%macro PORT_IS 3
    mov dx, PORT + %2
    in eax, dx
    CHECK %1, %3
%endmacro
; COUNT_SIG name, window, expected count: data pages whose first qword is SIG + index.
%macro COUNT_SIG 3
    mov rdi, %2
    xor esi, esi
    call count_pages
    CHECK %1, %3
%endmacro
; COUNT_ONES name, window, expected count: data pages whose first qword reads all-ones.
%macro COUNT_ONES 3
    mov rdi, %2
    mov esi, 1
    call count_pages
    CHECK %1, %3
%endmacro

start:
    mov rsp, 0x80000
    call pt_init
    call new_space
    mov [rel space], rax
    mov cr3, rax
    mov rdx, 0x5107
    call alloc_data
    mov [rel dpage], rax
    ; WOLD + 4K*j -> OLD + 4K*j, WNEW + 4K*j -> NEW + 4K*j.
    xor ebx, ebx
.map:
    mov rdi, [rel space]
    mov rsi, rbx
    shl rsi, 12
    mov rax, WOLD
    add rsi, rax
    mov rdx, rbx
    shl rdx, 12
    add rdx, OLD | LEAF
    call map_page
    mov rdi, [rel space]
    mov rsi, rbx
    shl rsi, 12
    mov rax, WNEW
    add rsi, rax
    mov rdx, rbx
    shl rdx, 12
    add rdx, NEW | LEAF
    call map_page
    inc ebx
    cmp ebx, NPAGES
    jb .map
    mov rcx, ADDR_MASK
    mov rax, [rel space]
    mov rax, [rax + 8]
    and rax, rcx
    mov rax, [rax]
    and rax, rcx
    mov [rel pd], rax
    ; The slot's data pages (written through WOLD), its page table (PTE 0 -> dpage) linked as PDE 5.
    mov rdi, WOLD
    xor ecx, ecx
.fill:
    lea eax, [rcx + SIG]
    mov [rdi], rax
    add rdi, 4096
    inc ecx
    cmp ecx, NDATA
    jb .fill
    mov rax, [rel dpage]
    or rax, LEAF
    mov [OLD + NDATA * 4096], rax
    mov rax, OLD + NDATA * 4096 + TABLE
    mov rdx, [rel pd]
    mov [rdx + 5 * 8], rax

    COUNT_SIG "slot readable at the old address", WOLD, NDATA
    COUNT_ONES "new range unbacked: reads all-ones", WNEW, NDATA
    READ_IS "walk through the slot's page table", WPT, 0x5107
    PORT_IS "no region removed yet", 4, 0
    mov dx, PORT + 0x10
    in eax, dx
    mov [rel gen0], rax

    ; Aborted MOVE: nothing changes.
    COMMAND "aborted move: status", SLOT, NEW, MOVE | INJECT, 1
    PORT_IS "aborted move: no remove_region", 4, 0
    PORT_IS "aborted move: generation unchanged", 0x10, [rel gen0]
    COUNT_SIG "aborted move: contents still at the old address", WOLD, NDATA
    COUNT_ONES "aborted move: new range still unbacked", WNEW, NDATA
    READ_IS "aborted move: page table in the slot still used", WPT, 0x5107
    ; Refused MOVE (onto slot 0's RAM): nothing changes.
    COMMAND "move onto RAM refused", SLOT, 0x100000, MOVE, 2
    PORT_IS "refused move: no remove_region", 4, 0
    COUNT_SIG "refused move: contents still at the old address", WOLD, NDATA

    ; MOVE to NEW.
    COMMAND "move: status", SLOT, NEW, MOVE, 0
    PORT_IS "move: one remove_region", 4, 1
    PORT_IS "move: for the old base gfn", 8, OLD >> 12
    PORT_IS "move: for the slot's pages", 0xC, NPAGES
    mov dx, PORT + 0x10
    in eax, dx
    cmp eax, [rel gen0]
    setne al
    movzx eax, al
    CHECK "move: generation changed", 1
    COUNT_SIG "move: contents at the new address", WNEW, NDATA
    COUNT_ONES "move: old address unbacked through the old mappings", WOLD, NDATA
    mov rdi, WOLD
    mov rsi, 0x1234
    call probe_write
    READ_IS "move: a write to the old address is dropped", WOLD, ONES
    READ_IS "move: and does not reach the moved page", WNEW, SIG
    READ_IS "move: old address unbacked through the identity map", OLD, ONES
    mov rdi, WPT
    call probe_read
    call fault_code
    shr rax, 48                     ; 0 unless not #PF or CR2 wrong (fault_code's markers)
    CHECK "move: walk through the page table left at the old address faults", 0
    ; PDE 5 -> the page table at its new address.
    mov rax, NEW + NDATA * 4096 + TABLE
    mov rdx, [rel pd]
    mov [rdx + 5 * 8], rax
    INVLPG_AT WPT
    READ_IS "move: page table used at its new address", WPT, 0x5107
    mov rdi, WNEW + 4096
    mov rsi, 0xAB1
    call probe_write

    ; DELETE.
    COMMAND "delete: status", SLOT, 0, DELETE, 0
    PORT_IS "delete: second remove_region", 4, 2
    PORT_IS "delete: for the new base gfn", 8, NEW >> 12
    PORT_IS "delete: for the slot's pages", 0xC, NPAGES
    COUNT_ONES "delete: the slot's pages are unbacked", WNEW, NDATA
    mov rdi, WPT
    call probe_read
    call fault_code
    shr rax, 48
    CHECK "delete: walk through the deleted page table faults", 0

    ; Re-CREATE at OLD with the same backing.
    COMMAND "create: status", SLOT, OLD, CREATE, 0
    PORT_IS "create: no remove_region", 4, 2
    READ_IS "create: the write made at the new address is there", WOLD + 4096, 0xAB1
    COUNT_SIG "create: contents back at the old address", WOLD, NDATA - 1
    COUNT_ONES "create: new range unbacked again", WNEW, NDATA
    mov rax, OLD + NDATA * 4096 + TABLE
    mov rdx, [rel pd]
    mov [rdx + 5 * 8], rax
    INVLPG_AT WPT
    READ_IS "create: page table in the slot used again", WPT, 0x5107

    ; Aborted DELETE: nothing changes.
    mov dx, PORT + 0x10
    in eax, dx
    mov [rel gen0], rax
    COMMAND "aborted delete: status", SLOT, 0, DELETE | INJECT, 1
    PORT_IS "aborted delete: no remove_region", 4, 2
    PORT_IS "aborted delete: generation unchanged", 0x10, [rel gen0]
    COUNT_SIG "aborted delete: contents still there", WOLD, NDATA - 1
    READ_IS "aborted delete: page table still used", WPT, 0x5107
    ; A second aborted change right after the first (shadow mode: the first one's speculative zap left obsolete
    ; shadow pages of this slot behind, which the second one's zap reclaims while the slot is invalid).
    COMMAND "second aborted delete: status", SLOT, 0, DELETE | INJECT, 1
    PORT_IS "second aborted delete: no remove_region", 4, 2
    COUNT_SIG "second aborted delete: contents still there", WOLD, NDATA - 1
    READ_IS "second aborted delete: page table still used", WPT, 0x5107

    ; Commands the port refuses.
    COMMAND "unknown command", SLOT, 0, 7, 3
    COMMAND "create of a slot the port did not delete", 0, 0, CREATE, 3
    COMMAND "move of a slot that does not exist", 9, NEW, MOVE, 2
    PORT_IS "no remove_region for any of them", 4, 2

    call finish

%include "wp/memslot_port.inc"

; count_pages: among the NDATA pages at window rdi, counts those whose first qword is SIG + index (esi = 0) or
; all-ones (esi = 1). rax = the count.
count_pages:
    push rbx
    push r12
    push r13
    mov r12, rdi
    mov r13d, esi
    xor ebx, ebx
    xor ecx, ecx
.next:
    push rcx
    mov rdi, rcx
    shl rdi, 12
    add rdi, r12
    call probe_read
    pop rcx
    mov rdx, ONES
    test r13d, r13d
    jnz .cmp
    lea edx, [rcx + SIG]
.cmp:
    cmp rax, rdx
    jne .skip
    inc ebx
.skip:
    inc ecx
    cmp ecx, NDATA
    jb .next
    mov eax, ebx
    pop r13
    pop r12
    pop rbx
    ret

align 8
space: dq 0
dpage: dq 0
pd: dq 0
gen0: dq 0
