; A Multiboot kernel that resets the machine forever: a short loop, then a fast reset through system control port A
; (0x92, bit 0). Without -no-reboot every reset boots it again; -timeout and -max-insns must still end the run.
%include "multiboot.inc"
MULTIBOOT_ENTRY
    mov ecx, 1000               ; about 1,000 instructions per boot
.spin:
    loop .spin
    mov al, 1
    out 0x92, al                ; fast reset
    jmp $
