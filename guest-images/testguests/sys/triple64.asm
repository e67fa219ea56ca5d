; Triple fault (SDM Vol. 3 6.15, interrupt 8: "If another exception occurs while the processor is attempting
; to call the double-fault handler, the processor enters shutdown mode"). The IDT holds only vector 0, so #UD
; finds its gate beyond the IDT limit (#GP, benign -> delivered serially), the #GP gate is beyond the limit too
; (contributory after contributory: #DF), and #DF's gate is beyond the limit: shutdown. emu64 reports it with
; exit status 6; reaching the HLT (status 0) or the debug-exit port would mean the guest kept running.
bits 64
org 0x10000
    lidt [rel idtr]
    ud2
    mov al, 0x7F
    out 0xF4, al
    hlt
idtr: dw 15                     ; one 16-byte gate: vector 0 only
      dq 0x30000
