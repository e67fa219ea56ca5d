; A Multiboot kernel linked at 0x1000 whose image and BSS cover low memory (0x1000 to beyond 0xA000), where loaders
; used to put their GDT and the multiboot_info block after loading the image. It checks that its own bytes survived
; (a fill pattern in .text over 0x2000-0xB000, its code at 0x1000), that the multiboot_info block, the command line,
; the module list and the module lie outside [image start, BSS end), prints the command line, and exits through
; isa-debug-exit: 0x10 (status 33) when all holds, 0x7F (status 255) if not, with a line naming the failed check.
%include "multiboot.inc"
bits 32
section .text
image_start:
MULTIBOOT_HEADER
global _start
_start:
    mov esp, stack_top
    cmp eax, 0x2BADB002
    jne bad
    mov ebp, ebx
    mov esi, fill_start
.fill:
    cmp dword [esi], 0xA5A5A5A5
    jne bad_fill
    add esi, 4
    cmp esi, fill_end
    jb .fill
    mov eax, ebp                ; multiboot_info
    call outside_image
    mov eax, [ebp + 16]         ; cmdline
    call outside_image
    mov eax, [ebp + 48]         ; mmap_addr
    call outside_image
    cmp dword [ebp + 20], 1     ; mods_count
    jne .print
    mov ebx, [ebp + 24]         ; mods_addr
    mov eax, ebx
    call outside_image
    mov eax, [ebx]              ; mod_start
    call outside_image
    mov eax, [ebx + 4]          ; mod_end - 1
    dec eax
    call outside_image
    mov eax, ebp                ; the information must not lie inside the module either
    cmp eax, [ebx]
    jb .print
    cmp eax, [ebx + 4]
    jb bad_place
.print:
    mov esi, s_cmdline
    call puts
    mov esi, [ebp + 16]
    call puts
    mov al, 10
    out dx, al
    mov al, 0x10
    out 0xF4, al
    hlt

; EAX must lie outside [image_start, bss_end).
outside_image:
    cmp eax, image_start
    jb .ok
    cmp eax, bss_end
    jb bad_place
.ok:
    ret

bad_fill:
    mov esi, s_fill
    jmp report
bad_place:
    mov esi, s_place
report:
    call puts
bad:
    mov al, 0x7F
    out 0xF4, al
    hlt

DEFINE_PUTS

s_cmdline: db "cmdline=", 0
s_fill: db "FAIL image bytes overwritten", 10, 0
s_place: db "FAIL boot information inside the image", 10, 0

align 4096
fill_start:
    times 0x9000 db 0xA5        ; to 0xB000 and beyond: over the old 0x9000-0x9FFF information page
fill_end:

section .bss
align 16
    resb 0x4000
stack_top:
bss_end:
