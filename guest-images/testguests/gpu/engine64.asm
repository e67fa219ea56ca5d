; A Multiboot v1 kernel (ELF32) for the PC machine with -gpu-engine: exercises the GPU's copy/fill engine
; (devices/gpu/engine: regs.h, gpu_pt.h) and its shadow of the GPU page tables, from long mode.
; Checks: bind tracks every table page; FILL / COPY / BLIT byte for byte, the fence, INT_STATUS and the PCI interrupt
; status; live leaf-entry edits by 8-, 4-, 2- and 1-byte, misaligned and REP STOSQ stores seen by the next batch; a
; table page mapped as ordinary data and rewritten by the engine itself; bad entries in the fault register; one page
; that is both a CPU page directory and a GPU table (both trackers on one gfn); engine writes onto translated code
; and onto a CPU page directory in use, which the CPU must see (they reach page-track like CPU stores).
;   Then memslot changes under a bound context through the memslot test port (-test-memslot-port): with -m 64M and
; -map 0x10000000:64K, that map is slot 3 (after the layout's three RAM ranges); a second context's tables live there.
; An aborted DELETE tells the engine nothing and the context keeps working; a MOVE and a DELETE are told at commit
; (regions removed + 1), the next batch faults with Removed, a rebind uses the new place (MOVE) or fails (DELETE).
; Prints "ok <check>" / "FAIL <check>" on COM1 and "done", then writes the failure count to isa-debug-exit (0xF4).
; Output is the same in every MMU mode; the raw page-track counts of the shared page are left in R12 (bound),
; R13 (unbound) and R14 (after the CPU stopped using it as a table) for the harness, since they depend on the mode.
%include "multiboot.inc"

PML4    equ 0x300000            ; CPU tables: identity map of 4 GiB with 2 MiB pages
PDPT    equ 0x301000
PD0     equ 0x302000            ; PD0..PD3 at 0x302000..0x305000
PD3     equ 0x305000            ; also the GPU's shared leaf table (its entries 0..15 are GPU entries)
PML4B   equ 0x306000            ; a second CPU hierarchy whose 3-4 GiB directory is a copy of PD3
PDPTB   equ 0x307000
PD3B    equ 0x308000
G4      equ 0x310000            ; GPU tables: root, level 3, level 2, and a leaf table of its own
G3      equ 0x311000
G2      equ 0x312000
G1      equ 0x313000
BATCH   equ 0x330000
FENCE   equ 0x331000
DATA    equ 0x400000            ; GPU data pages, 0x400000..0x420FFF
GV      equ 0x200000            ; gva of G1's first page (G2 entry 1)
P_W     equ 3                   ; GPU entry: present | writable

; engine registers (regs.h)
R_ID    equ 0x000
R_ROOT  equ 0x008
R_CTL   equ 0x010
R_CTXST equ 0x014
R_BATCH equ 0x018
R_COUNT equ 0x020
R_DOOR  equ 0x024
R_FADDR equ 0x028
R_FVAL  equ 0x030
R_FAULT equ 0x040
R_FCMD  equ 0x044
R_FGVA  equ 0x048
R_INTST equ 0x050
R_INTEN equ 0x054
R_TRACK equ 0x060
R_WRITES equ 0x064
R_QGFN  equ 0x080
R_QCNT  equ 0x088
R_QGPU  equ 0x08C
R_REMOVED equ 0x078
SLOTA   equ 0x10000000          ; the -map slot (id 3): the second context's tables
SLOTB   equ 0x20000000          ; where MOVE puts it
PORT    equ 0x520               ; memslot test port: SLOT, GPA_LO, GPA_HI, COMMAND; reads STATUS, REMOVALS

; The first command of the batch: opcode, a, b, c (regs.h GpuCommand; immediates must fit in 32 signed bits).
%macro CMD1 4
    mov dword [BATCH], %1
    mov qword [BATCH + 8], %2
    mov qword [BATCH + 16], %3
    mov qword [BATCH + 24], %4
%endmacro

; A 4-byte FILL at gva %3 must fault with reason %2; reports check %1.
%macro FAULT_CHECK 3
    mov esi, %1
    mov edi, %2
    mov rdx, %3
    call fault_check
    call report
%endmacro

bits 32
section .text
MULTIBOOT_HEADER
global _start
_start:
    mov esp, stack_top
    lgdt [gdtr]
    jmp 0x08:.flat
.flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    ; zero 0x300000..0x340000 (CPU and GPU tables, batch, fence)
    mov edi, PML4
    xor eax, eax
    mov ecx, 0x40000 / 4
    rep stosd
    mov dword [PML4], PDPT | 3
    mov ecx, 0
.pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, PD0 + 3
    mov [PDPT + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jne .pdpt
    xor ecx, ecx
.pd:                            ; 2048 entries: 2 MiB page ecx, present | writable | PS
    mov eax, ecx
    shl eax, 21
    or eax, 0x83
    mov [PD0 + ecx * 8], eax
    inc ecx
    cmp ecx, 2048
    jne .pd
    ; the second hierarchy: PD0..PD2 shared, PD3B a copy of PD3 (before PD3 gets its GPU entries)
    mov dword [PML4B], PDPTB | 3
    mov dword [PDPTB], PD0 | 3
    mov dword [PDPTB + 8], (PD0 + 0x1000) | 3
    mov dword [PDPTB + 16], (PD0 + 0x2000) | 3
    mov dword [PDPTB + 24], PD3B | 3
    mov esi, PD3
    mov edi, PD3B
    mov ecx, 1024
    rep movsd
    ; long mode
    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1 << 8
    wrmsr
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax
    jmp 0x18:long_mode

bits 64
long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, stack_top
    call find_gpu
    mov esi, c_found
    cmp dword [rbx + R_ID], 0x45555047
    call report

    ; GPU tables. G2 entry 0 -> PD3 (the shared page), entry 1 -> G1.
    mov qword [G4], G3 | 1
    mov qword [G3], G2 | 1
    mov qword [G2], PD3 | 1
    mov qword [G2 + 8], G1 | 1
    mov qword [PD3], (DATA + 0x20000) | P_W    ; gva 0 -> DATA + 0x20000, through the shared page
    xor ecx, ecx
.g1:                                        ; G1 entries 0..5 -> DATA + i pages
    mov rax, rcx
    shl rax, 12
    add rax, DATA | P_W
    mov [G1 + rcx * 8], rax
    inc ecx
    cmp ecx, 6
    jne .g1
    mov qword [G1 + 7 * 8], G1 | P_W        ; gva GV + 7 pages: G1 itself, as data
    mov qword [G1 + 9 * 8], (DATA + 0x10000) | P_W
    mov rax, (1 << 60) | DATA | P_W         ; reserved bit 60
    mov [G1 + 11 * 8], rax
    mov qword [G1 + 12 * 8], 0              ; not present
    mov rax, 0x7000000000 | P_W             ; no memslot there
    mov [G1 + 13 * 8], rax
    mov qword [G1 + 14 * 8], (DATA + 0x11000) | 1  ; read-only
    mov qword [G1 + 15 * 8], (DATA + 0x12000) | P_W
    mov qword [G1 + 16 * 8], (DATA + 0x21000) | P_W  ; a code page
    mov qword [G1 + 17 * 8], PD0 | P_W              ; the CPU's first page directory

    ; --- bind: five table pages tracked
    mov dword [rbx + R_ROOT], G4
    mov dword [rbx + R_ROOT + 4], 0
    mov dword [rbx + R_CTL], 1
    mov esi, c_bind
    cmp dword [rbx + R_CTXST], 1
    call report
    mov esi, c_tracked
    cmp dword [rbx + R_TRACK], 5
    call report
    mov dword [rbx + R_INTEN], 1

    ; --- FILL gva GV + 3, 5000 bytes of 0x11223344 (crosses into the second page)
    CMD1 1, GV + 3, 5000, 0x11223344
    call submit1
    mov esi, c_fill
    call check_fill
    call report
    mov esi, c_fence
    mov eax, [fence_value]
    cmp [FENCE], eax
    call report
    mov esi, c_irq
    call check_irq
    call report

    ; --- COPY those 5000 bytes to gva GV + 0x3001 (pages 3 and 4)
    CMD1 2, GV + 3, GV + 0x3001, 5000
    call submit1
    mov esi, DATA + 3
    mov edi, DATA + 0x3001
    mov ecx, 5000
    repe cmpsb
    mov esi, c_copy
    call report

    ; --- BLIT 4x2 pixels from gva GV + 15 pages (pitch 16) to (2, 1) of a 64x32x32 mode
    call set_mode
    xor ecx, ecx
.px:
    lea eax, [rcx + 0x100]
    mov [DATA + 0x12000 + rcx * 4], eax
    inc ecx
    cmp ecx, 8
    jne .px
    mov dword [BATCH], 3
    mov qword [BATCH + 8], GV + 15 * 4096
    mov qword [BATCH + 16], 16
    mov rax, (2 << 48) | (4 << 32) | (1 << 16) | 2
    mov [BATCH + 24], rax
    call submit1
    mov esi, c_blit
    call check_blit
    call report

    ; --- live leaf-entry edits, each seen by the next batch
    mov qword [G1], (DATA + 0x8000) | P_W          ; 8 bytes
    mov esi, c_edit8
    mov edi, DATA + 0x8000
    call fill_gv_check
    call report
    mov dword [G1], (DATA + 0x9000) | P_W          ; 4 bytes
    mov esi, c_edit4
    mov edi, DATA + 0x9000
    call fill_gv_check
    call report
    mov word [G1], 0xA000 | P_W                    ; 2 bytes: frame bits 15:12
    mov esi, c_edit2
    mov edi, DATA + 0xA000
    call fill_gv_check
    call report
    mov byte [G1], 0                               ; 1 byte: not present
    call fill_gv
    mov esi, c_edit1
    cmp eax, 2
    call report
    mov byte [G1], P_W
    ; misaligned 8 bytes over entries 0 and 1: entry 0's high half, entry 1's low half -> DATA + 0xB000
    mov rax, ((DATA + 0xB000) | P_W) << 32
    mov [G1 + 4], rax
    mov dword [G1 + 12], 0
    CMD1 1, GV + 0x1000, 8, 0x5A5A5A5A
    call submit1
    mov esi, c_misaligned
    mov rax, 0x5A5A5A5A5A5A5A5A
    cmp [DATA + 0xB000], rax
    call report
    ; REP STOSQ over entries 2..5 -> DATA + 0xC000
    mov rax, (DATA + 0xC000) | P_W
    mov rdi, G1 + 16
    mov ecx, 4
    rep stosq
    CMD1 1, GV + 0x5000, 4, 0x6B6B6B6B
    call submit1
    mov esi, c_stosq
    cmp dword [DATA + 0xC000], 0x6B6B6B6B
    call report

    ; --- the table as data: the engine COPYs an entry into G1 (through gva GV + 7 pages), the next command uses it
    mov qword [DATA + 0x10000], (DATA + 0xD000) | P_W
    CMD1 2, GV + 9 * 4096, GV + 7 * 4096 + 10 * 8, 8
    mov dword [BATCH + 32], 1
    mov qword [BATCH + 40], GV + 10 * 4096
    mov qword [BATCH + 48], 4
    mov qword [BATCH + 56], 0x7C7C7C7C
    mov ecx, 2
    call submit
    mov esi, c_as_data
    mov rax, (DATA + 0xD000) | P_W
    cmp [G1 + 10 * 8], rax
    jne .as_data_done
    cmp dword [DATA + 0xD000], 0x7C7C7C7C
.as_data_done:
    call report

    ; --- the engine writes translated code: the next call runs the new bytes (mov eax, 1 -> mov eax, 2)
    mov dword [DATA + 0x21000], 0x000001B8
    mov word [DATA + 0x21004], 0xC300
    mov eax, DATA + 0x21000
    call rax
    mov r15d, eax
    CMD1 1, GV + 16 * 4096, 4, 0x000002B8
    call submit1
    mov eax, DATA + 0x21000
    call rax
    mov esi, c_code
    cmp r15d, 1
    jne .code_done
    cmp eax, 2
.code_done:
    call report
    ; --- the engine rewrites a CPU page-directory entry in use: 0x30000000 (2 MiB, no RAM there) -> physical 0;
    ; after INVLPG the CPU reads the Multiboot header at 0x30100000 (the shadow MMU must have heard the write)
    mov eax, [0x30100000]
    mov r15d, eax
    mov qword [DATA + 0x10000], 0x83                ; present | writable | 2 MiB, frame 0
    CMD1 2, GV + 9 * 4096, GV + 17 * 4096 + 384 * 8, 8
    call submit1
    invlpg [0x30100000]
    mov esi, c_cpu_pde
    cmp r15d, 0x1BADB002
    je .pde_done                                    ; the header must not have been there before
    cmp dword [0x30100000], 0x1BADB002
.pde_done:
    call report

    ; --- faults: reason and gva
    FAULT_CHECK c_bad_entry, 4, GV + 11 * 4096
    FAULT_CHECK c_not_present, 2, GV + 12 * 4096
    FAULT_CHECK c_not_ram, 5, GV + 13 * 4096
    FAULT_CHECK c_read_only, 3, GV + 14 * 4096

    ; --- the shared page: a CPU page directory and a GPU leaf table
    CMD1 1, 0, 4, 0x3D3D3D3D
    call submit1
    mov esi, c_shared_gpu
    cmp dword [DATA + 0x20000], 0x3D3D3D3D
    call report
    mov dword [rbx + R_QGFN], PD3 >> 12
    mov dword [rbx + R_QGFN + 4], 0
    mov r12d, [rbx + R_QCNT]
    mov esi, c_shared_bound
    cmp dword [rbx + R_QGPU], 1
    call report
    mov dword [rbx + R_CTL], 2                  ; unbind
    mov r13d, [rbx + R_QCNT]
    mov esi, c_unbind
    cmp dword [rbx + R_TRACK], 0
    call report
    mov esi, c_shared_unbound
    lea eax, [r13 + 1]
    cmp eax, r12d
    call report
    ; the CPU stops using PD3 (the other hierarchy), then rewrites it as data: an unused shadowed directory
    ; written again and again stops being shadowed (page-track.md flow 1, write flooding)
    mov rax, PML4B
    mov cr3, rax
    mov ecx, 8
.flood:
    mov [PD3 + 20 * 8], rcx
    loop .flood
    mov r14d, [rbx + R_QCNT]
    mov esi, c_no_batch_unbound
    call fill_gv
    cmp eax, 1                                  ; NotBound
    call report

    call memslot_checks
    mov esi, s_done
    call puts
    mov eax, [fails]
    out 0xF4, al
    hlt

; Tables at RDI (root, level 3, level 2, leaf on four pages): gva 0 -> DATA + 0x14000.
build_slot_tables:
    lea rax, [rdi + 0x1001]
    mov [rdi], rax
    lea rax, [rdi + 0x2001]
    mov [rdi + 0x1000], rax
    lea rax, [rdi + 0x3001]
    mov [rdi + 0x2000], rax
    mov qword [rdi + 0x3000], (DATA + 0x14000) | P_W
    ret

; Binds the context whose root is at EDI; EAX = CTX_STATUS.
bind_at:
    mov [rbx + R_ROOT], edi
    mov dword [rbx + R_ROOT + 4], 0
    mov dword [rbx + R_CTL], 1
    mov eax, [rbx + R_CTXST]
    ret

; Runs memslot test port command EAX on slot 3 with GPA ESI; EAX = STATUS.
slot_cmd:
    push rax
    mov dx, PORT
    mov eax, 3
    out dx, eax
    mov dx, PORT + 4
    mov eax, esi
    out dx, eax
    mov dx, PORT + 8
    xor eax, eax
    out dx, eax
    mov dx, PORT + 12
    pop rax
    out dx, eax
    mov dx, PORT
    in eax, dx
    ret

; FILL 4 bytes of 0x1F1F1F1F at gva 0 of the current context; EAX = fault reason.
fill_zero:
    mov dword [DATA + 0x14000], 0
    CMD1 1, 0, 4, 0x1F1F1F1F
    jmp submit1

memslot_checks:
    mov rax, PML4                               ; back to the hierarchy that maps everything (PD3 is data now)
    mov cr3, rax
    mov edi, SLOTA
    call build_slot_tables
    mov edi, SLOTA
    call bind_at
    mov esi, c_slot_bind
    cmp eax, 1
    jne .bind_done
    cmp dword [rbx + R_TRACK], 4
.bind_done:
    call report
    ; aborted DELETE: status 1, nobody told, the context still works
    mov eax, 2 | 0x100
    xor esi, esi
    call slot_cmd
    mov esi, c_slot_abort
    cmp eax, 1
    jne .abort_done
    cmp dword [rbx + R_REMOVED], 0
    jne .abort_done
    call fill_zero
    test eax, eax
    jnz .abort_done
    cmp dword [DATA + 0x14000], 0x1F1F1F1F
.abort_done:
    mov esi, c_slot_abort
    call report
    ; MOVE to SLOTB: told once, the next batch faults (Removed), a rebind at the new place works
    mov eax, 1
    mov esi, SLOTB
    call slot_cmd
    mov esi, c_slot_move
    test eax, eax
    jnz .move_done
    cmp dword [rbx + R_REMOVED], 1
    jne .move_done
    call fill_zero
    cmp eax, 6
.move_done:
    call report
    mov edi, SLOTB
    call build_slot_tables
    mov edi, SLOTB
    call bind_at
    mov esi, c_slot_rebind
    cmp eax, 1
    jne .rebind_done
    mov dword [rbx + R_QGFN], SLOTB >> 12
    cmp dword [rbx + R_QCNT], 1
    jne .rebind_done
    call fill_zero
    test eax, eax
    jnz .rebind_done
    cmp dword [DATA + 0x14000], 0x1F1F1F1F
.rebind_done:
    call report
    ; DELETE: told once more, the next batch faults, unbind balances, a rebind finds no root
    mov eax, 2
    xor esi, esi
    call slot_cmd
    mov esi, c_slot_delete
    test eax, eax
    jnz .delete_done
    cmp dword [rbx + R_REMOVED], 2
    jne .delete_done
    call fill_zero
    cmp eax, 6
.delete_done:
    call report
    mov dword [rbx + R_CTL], 2
    mov esi, c_slot_unbind
    cmp dword [rbx + R_TRACK], 0
    jne .unbind_done
    mov edi, SLOTB
    call bind_at
    cmp eax, 2
.unbind_done:
    call report
    ret

; RBX = the engine's BAR4 base: the first function of bus 0 with the bochs-display IDs.
find_gpu:
    xor ecx, ecx
.next:
    mov eax, ecx
    shl eax, 11
    or eax, 0x80000000
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    cmp eax, 0x11111234
    je .found
    inc ecx
    cmp ecx, 32
    jne .next
    mov esi, s_no_gpu
    call puts
    mov al, 0xFF
    out 0xF4, al
    hlt
.found:
    mov [gpu_dev], ecx
    mov eax, ecx
    shl eax, 11
    or eax, 0x80000020                  ; BAR4
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    and eax, ~0xF
    mov ebx, eax
    mov eax, [gpu_dev]                  ; BAR0 (VRAM) and BAR2 (dispi registers) for the BLIT check
    shl eax, 11
    or eax, 0x80000010
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    and eax, ~0xF
    mov [vram], eax
    mov eax, [gpu_dev]
    shl eax, 11
    or eax, 0x80000018
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    and eax, ~0xF
    mov [dispi], eax
    ret

; 64x32, 32 bpp, enabled with the linear framebuffer (dispi registers at BAR2 + 0x500 + 2 * index).
set_mode:
    mov edi, [dispi]
    mov word [rdi + 0x500 + 2 * 4], 0           ; ENABLE off while changing
    mov word [rdi + 0x500 + 2 * 1], 64
    mov word [rdi + 0x500 + 2 * 2], 32
    mov word [rdi + 0x500 + 2 * 3], 32
    mov word [rdi + 0x500 + 2 * 4], 0x41        ; ENABLED | LFB
    ret

; ZF = the 4x2 rectangle of pixels 0x100 + i is at (2, 1) of VRAM (pitch 256), and (1, 1) is untouched.
check_blit:
    mov edi, [vram]
    xor ecx, ecx
.row:
    xor edx, edx
.col:
    mov eax, ecx
    shl eax, 2
    add eax, edx
    add eax, 0x100
    mov r8d, ecx
    inc r8d
    shl r8d, 8                                  ; (y + row) * 256
    lea r9d, [rdx + 2]
    lea r8d, [r8 + r9 * 4]
    cmp [rdi + r8], eax
    jne .out
    inc edx
    cmp edx, 4
    jne .col
    inc ecx
    cmp ecx, 2
    jne .row
    cmp dword [rdi + 256 + 4], 0
.out:
    ret

; ZF = DATA + 3 .. DATA + 5003 hold the pattern 0x11223344 from byte 0, and DATA + 2, DATA + 5003 are zero.
check_fill:
    xor ecx, ecx
.next:
    mov r10d, ecx
    and r10d, 3
    shl r10d, 3
    xchg ecx, r10d
    mov edx, 0x11223344
    shr edx, cl
    xchg ecx, r10d
    cmp [DATA + 3 + rcx], dl
    jne .out
    inc ecx
    cmp ecx, 5000
    jne .next
    cmp byte [DATA + 2], 0
    jne .out
    cmp byte [DATA + 5003], 0
.out:
    ret

; ZF = INT_STATUS has DONE and the PCI status shows the interrupt; both clear after the write-1-to-clear.
check_irq:
    cmp dword [rbx + R_INTST], 1
    jne .out
    call pci_status
    test eax, 0x8
    jz .bad
    mov dword [rbx + R_INTST], 3
    call pci_status
    test eax, 0x8
.out:
    ret
.bad:
    or eax, 1                                   ; ZF = 0
    ret

pci_status:
    mov eax, [gpu_dev]
    shl eax, 11
    or eax, 0x80000004
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    shr eax, 16
    ret

; FILL 8 bytes of 0x4E4E4E4E at gva GV; EAX = fault reason.
fill_gv:
    CMD1 1, GV, 8, 0x4E4E4E4E
    jmp submit1

; fill_gv, then ZF = no fault and the pattern is at EDI.
fill_gv_check:
    push rdi
    call fill_gv
    pop rdi
    test eax, eax
    jnz .out
    cmp dword [rdi], 0x4E4E4E4E
.out:
    ret

; FILL 4 bytes at gva RDX; ZF = fault reason EDI at gva RDX.
fault_check:
    mov dword [BATCH], 1
    mov [BATCH + 8], rdx
    mov qword [BATCH + 16], 4
    mov qword [BATCH + 24], 0
    push rdx
    call submit1
    pop rdx
    cmp eax, edi
    jne .out
    cmp [rbx + R_FGVA], edx
.out:
    ret

submit1:
    mov ecx, 1
; Runs ECX commands at BATCH with a new fence value; EAX = FAULT_REASON. A missing fence write fails "fence".
submit:
    mov dword [rbx + R_BATCH], BATCH
    mov dword [rbx + R_BATCH + 4], 0
    mov [rbx + R_COUNT], ecx
    mov dword [rbx + R_FADDR], FENCE
    mov dword [rbx + R_FADDR + 4], 0
    inc dword [fence_value]
    mov eax, [fence_value]
    mov [rbx + R_FVAL], eax
    mov dword [rbx + R_FVAL + 4], 0
    mov dword [rbx + R_DOOR], 1
    mov eax, [fence_value]
    cmp [FENCE], eax
    je .fenced
    push rsi
    mov esi, c_fence
    or eax, 1                                   ; ZF = 0
    call report
    pop rsi
.fenced:
    mov eax, [rbx + R_FAULT]
    ret

; ZF set: "ok <name at RSI>", else "FAIL <name>" and one more failure.
report:
    push rsi
    jz .ok
    inc dword [fails]
    mov esi, s_fail
    jmp .print
.ok:
    mov esi, s_ok
.print:
    call puts
    pop rsi
    call puts
    mov esi, s_nl
    jmp puts

DEFINE_PUTS

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; 0x08: 32-bit code
    dq 0x00CF92000000FFFF       ; 0x10: data
    dq 0x00AF9A000000FFFF       ; 0x18: 64-bit code
gdtr:
    dw gdtr - gdt - 1
    dd gdt
fails:       dd 0
fence_value: dd 0
gpu_dev:     dd 0
vram:        dd 0
dispi:       dd 0
s_ok:    db "ok ", 0
s_fail:  db "FAIL ", 0
s_nl:    db 10, 0
s_done:  db "done", 10, 0
s_no_gpu: db "FAIL no GPU (run with -gpu-engine)", 10, 0
c_found: db "engine found", 0
c_bind: db "bind", 0
c_tracked: db "bind tracks 5 table pages", 0
c_fill: db "fill", 0
c_fence: db "fence", 0
c_irq: db "interrupt status and PCI INTx", 0
c_copy: db "copy", 0
c_blit: db "blit", 0
c_edit8: db "edit 8-byte", 0
c_edit4: db "edit 4-byte", 0
c_edit2: db "edit 2-byte", 0
c_edit1: db "edit 1-byte (not present)", 0
c_misaligned: db "edit misaligned", 0
c_stosq: db "edit rep stosq", 0
c_as_data: db "table as data, written by the engine", 0
c_code: db "engine write onto translated code is run", 0
c_cpu_pde: db "engine write onto a CPU page directory is seen", 0
c_bad_entry: db "fault bad entry", 0
c_not_present: db "fault not present", 0
c_not_ram: db "fault not RAM", 0
c_read_only: db "fault read-only", 0
c_shared_gpu: db "shared page as GPU table", 0
c_shared_bound: db "shared page tracked by the GPU", 0
c_unbind: db "unbind drops all tracking", 0
c_shared_unbound: db "shared page count drops by one at unbind", 0
c_no_batch_unbound: db "batch after unbind faults", 0
c_slot_bind: db "context in the test slot bound", 0
c_slot_abort: db "aborted DELETE: not told, context works", 0
c_slot_move: db "MOVE: told at commit, next batch faults (removed)", 0
c_slot_rebind: db "rebind at the moved place works", 0
c_slot_delete: db "DELETE: told at commit, next batch faults (removed)", 0
c_slot_unbind: db "unbind after DELETE balances; rebind finds no root", 0

section .bss
align 16
    resb 4096
stack_top:
