; Mode switches (SDM Vol. 3 10.9 "Mode switching", 10.8.5 "Initializing IA-32e mode"): real -> protected ->
; IA-32e (compatibility, then 64-bit) -> compatibility -> protected (paging and LME off) -> 16-bit protected
; -> real, then an INT through the real-mode IVT. Each mode prints a marker on COM1; checks set bits in
; `fails`, which is the isa-debug-exit value at the end (0 -> emu64 status 1).
; Run with: emu64 -bare modes.bin -start-mode real (CS:IP = 1000:0000, linear 0x10000).
org 0x10000
%define R(x) ((x) - 0x10000)     ; real-mode / 16-bit segment offsets of an absolute label (segment base 0x10000)
%define PML4 0x20000

%macro PUTS 1
    mov dx, 0x3F8
    %strlen %%len %1
    %assign %%i 1
    %rep %%len
        %substr %%c %1 %%i
        mov al, %%c
        out dx, al
        %assign %%i %%i + 1
    %endrep
    mov al, 10
    out dx, al
%endmacro

bits 16
start:
    cli
    mov ax, 0x1000
    mov ds, ax
    mov ss, ax
    mov sp, 0xF000
    PUTS "real"
    lgdt [R(gdtr)]
    mov eax, cr0
    or eax, 1                       ; CR0.PE
    mov cr0, eax
    jmp dword 0x08:pm32             ; far jump loads CS from the GDT (SDM 10.9.1 step 4)

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x9F000
    PUTS "protected32"
    ; Identity-map 2 MiB with one large page: PML4[0] -> PDPT[0] -> PD[0] = 0x83 (P, R/W, PS).
    mov edi, PML4
    mov ecx, 3 * 1024
    xor eax, eax
    rep stosd
    mov dword [PML4], PML4 + 0x1003
    mov dword [PML4 + 0x1000], PML4 + 0x2003
    mov dword [PML4 + 0x2000], 0x83
    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1 << 8                  ; EFER.LME
    wrmsr
    mov eax, cr0
    or eax, 1 << 31                 ; CR0.PG with LME: the processor sets EFER.LMA (compatibility mode)
    mov cr0, eax
    rdmsr
    test eax, 1 << 10
    jnz .lma_ok
    or byte [fails], 1
.lma_ok:
    jmp 0x18:lm64

bits 64
lm64:
    PUTS "long64"
    mov rax, 0x123456789ABCDEF0     ; a 64-bit immediate only decodes in 64-bit mode
    shr rax, 32
    cmp eax, 0x12345678
    je .wide_ok
    or byte [fails], 2
.wide_ok:
    o64 jmp far [rel compat_ptr]    ; m16:64 (REX.W) -> 32-bit code segment = compatibility mode

bits 32
compat32:
    PUTS "compat32"
    mov eax, 5
    db 0x48                         ; DEC EAX here (a REX prefix in 64-bit mode)
    cmp eax, 4
    je .dec_ok
    or byte [fails], 4
.dec_ok:
    ; Leave IA-32e mode from compatibility mode: clearing CR0.PG clears EFER.LMA; then LME may change.
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    mov ecx, 0xC0000080
    rdmsr
    test eax, 1 << 10
    jz .lma_clear
    or byte [fails], 8
.lma_clear:
    and eax, ~(1 << 8)
    wrmsr
    PUTS "protected32 again"
    jmp 0x20:R(pm16)                ; 16-bit code segment with base 0x10000 (SDM 10.9.2 step 4)

bits 16
pm16:
    mov ax, 0x28                    ; 16-bit data, limit 0xFFFF, base 0x10000
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0
    and eax, 0xFFFFFFFE
    mov cr0, eax
    jmp 0x1000:R(real_again)

real_again:
    mov ax, 0x1000
    mov ds, ax
    mov ss, ax
    xor ax, ax
    mov es, ax
    PUTS "real again"
    ; INT 0x30 through the IVT at linear 0 (SDM 20.1.4): FLAGS, CS, IP pushed; IF cleared in the handler.
    lidt [R(ivt_ptr)]
    mov word [es:0x30 * 4], R(int30)
    mov word [es:0x30 * 4 + 2], 0x1000
    sti
    int 0x30
    cmp word [R(int30_flags)], 0
    je .int_ok
    or byte [R(fails)], 16
.int_ok:
    cmp word [R(int30_seen)], 0x1234
    je .seen_ok
    or byte [R(fails)], 32
.seen_ok:
    mov al, [R(fails)]
    out 0xF4, al
    hlt

int30:
    mov word [R(int30_seen)], 0x1234
    pushf
    pop ax
    and ax, 0x200                   ; IF as seen by the handler
    mov [R(int30_flags)], ax
    iret

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08: 32-bit code, base 0, 4 GiB
    dq 0x00CF92000000FFFF           ; 0x10: data, base 0, 4 GiB
    dq 0x00AF9A000000FFFF           ; 0x18: 64-bit code
    dq 0x00009A010000FFFF           ; 0x20: 16-bit code, base 0x10000, limit 0xFFFF
    dq 0x000092010000FFFF           ; 0x28: 16-bit data, base 0x10000, limit 0xFFFF
gdtr: dw $ - gdt - 1
      dd gdt
ivt_ptr: dw 0x3FF
         dd 0
compat_ptr: dq compat32
            dw 0x08
fails: db 0
int30_seen: dw 0
int30_flags: dw 0xFFFF
