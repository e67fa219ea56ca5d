; The memslot the guest runs from is deleted under it (run with -map 0x10000000:64K -test-memslot-port; protocol in
; emu/machine/memslot_test_port.h). The code copied to slot 1 at A deletes slot 1 with an OUT in the middle of a
; block. The next instruction must be fetched from where slot 1 was: unbacked memory, which reads as all ones
; (FF FF ... is not an instruction: #UD at that instruction, exit status 4). The rest of the translated block must not
; run: it would exit through isa-debug-exit with 0x21 (status 67).
bits 64
org 0x10000
%define PORT 0x520
%define DELETE 2
%define A 0x10000000

    mov rsp, 0x80000
    mov rdi, A
    lea rsi, [rel payload]
    mov ecx, PAYLOAD_LEN
    rep movsb
    mov rax, A
    jmp rax

payload:
    mov dx, PORT
    mov eax, 1
    out dx, eax                 ; SLOT = 1
    mov dx, PORT + 0xC
    mov eax, DELETE
    out dx, eax                 ; slot 1 is gone once this instruction completes
after_delete:                   ; fetched from unbacked memory: #UD here
    mov al, 0x21
    out 0xF4, al
    hlt
PAYLOAD_LEN equ $ - payload
AFTER_DELETE equ A + (after_delete - payload)
