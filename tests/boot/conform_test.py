#!/usr/bin/env python3
"""Conformance guests (issue #17): behaviours of real hardware stated by the SDM and the AMD APM that emu64 got
wrong, each in a guest that judges itself against the manual (guest-images/testguests/conform/*.asm and the
Multiboot kernels named below), on each backend (harness.py).

usage: conform_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
from harness import finish, for_each_backend, self_checking, self_checking_kernel
from smp_guests import smp_guests


def checks():
    # 1. Interrupt windows opened by STI (after the next instruction), POPF and IRET, inside straight-line code.
    self_checking_kernel("intwin32", 6)
    # 2. A fault while delivering INT n / INT3 is the instruction's: its own RIP is saved, and a retry works.
    self_checking("conform_softint64", 11)
    # Status flags carried from a block into the next (the JIT defers them at conditional exits): SDM values.
    self_checking("conform_flags64", 21)
    # 6. QEMU's pc-testdev I/O memory window at 0xFF000000 (64 KiB that reads back what was written).
    self_checking("conform_testdev32", 10, "-start-mode", "prot32")
    # 8 and 10. Vendor-dependent behaviour (SYSENTER in 64-bit mode, SYSCALL in compatibility mode, far JMP m16:64
    # with REX.W, 16-bit SHLD/SHRD by 17-31) under the default model (Intel), an Intel model and two AMD models.
    for model in [[], ["-cpu", "Skylake-Client"], ["-cpu", "EPYC"], ["-cpu", "qemu64"], ["-cpu", "max,vendor=amd"]]:
        self_checking("conform_vendor64", 7, *model)
    # 11. UMIP: advertised by max (and host CPUs that have it), not by the named models QEMU gives none; -umip drops it.
    for model, has in [([], 1), (["-cpu", "max,-umip"], 0), (["-cpu", "Skylake-Client"], 0), (["-cpu", "EPYC"], 0)]:
        self_checking("conform_umip64", 11, "-reg", f"r14={has}", *model)
    # 11. FSGSBASE: max and the models QEMU gives it (Skylake-Client, EPYC); not qemu64, not after -fsgsbase.
    for model, has in [([], 1), (["-cpu", "Skylake-Client"], 1), (["-cpu", "EPYC"], 1), (["-cpu", "qemu64"], 0),
                       (["-cpu", "max,-fsgsbase"], 0)]:
        self_checking("conform_fsgsbase64", 11 if has else 4, "-reg", f"r14={has}", *model)
    # 11. SMEP and SMAP: max and the models QEMU gives them (Skylake-Client, EPYC); not qemu64, not after -smep,-smap.
    for model, has in [([], 1), (["-cpu", "Skylake-Client"], 1), (["-cpu", "EPYC"], 1), (["-cpu", "qemu64"], 0),
                       (["-cpu", "max,-smep,-smap"], 0)]:
        self_checking("conform_smep64", 12 if has else 4, "-reg", f"r14={has}", *model)
    # 11. SSE4.1 and SSE4.2: max and the models QEMU gives them (Skylake-Client, EPYC); not qemu64, not after -sse4_*.
    for model, has in [([], 1), (["-cpu", "Skylake-Client"], 1), (["-cpu", "EPYC"], 1), (["-cpu", "qemu64"], 0),
                       (["-cpu", "max,-sse4_1,-sse4_2"], 0)]:
        self_checking("conform_sse4_64", 11 if has else 5, "-reg", f"r14={has}", *model)
    # 11. PCID and INVPCID: max and Skylake-Client (QEMU's table); not EPYC or qemu64, not after -pcid,-invpcid.
    for model, has in [([], 1), (["-cpu", "Skylake-Client"], 1), (["-cpu", "EPYC"], 0), (["-cpu", "qemu64"], 0),
                       (["-cpu", "max,-pcid,-invpcid"], 0)]:
        self_checking("conform_pcid64", 18 if has else 4, "-reg", f"r14={has}", *model)
    # 11. x2APIC and the TSC-deadline timer: max and Skylake-Client (QEMU's table); not EPYC or qemu64, not after
    # -x2apic,-tsc_deadline_timer.
    for model, has in [([], 1), (["-cpu", "Skylake-Client"], 1), (["-cpu", "EPYC"], 0), (["-cpu", "qemu64"], 0),
                       (["-cpu", "max,-x2apic,-tsc_deadline_timer"], 0)]:
        self_checking_kernel("x2apic32", 28 if has else 3, "-append", str(has), *model)
        self_checking_kernel("tscdl32", 12 if has else 2, "-append", str(has), *model)
    # Protection keys (PKU, OSPKE, XSAVE component 9): max only (none of the named models has them; this AMD host's
    # CPUID does not show them either), not after -pku.
    for model, has in [([], 1), (["-cpu", "Skylake-Client"], 0), (["-cpu", "EPYC"], 0), (["-cpu", "qemu64"], 0),
                       (["-cpu", "max,-pku"], 0)]:
        self_checking("conform_pku64", 42 if has else 3, "-reg", f"r14={has}", *model)
    # 7. Every extension decoded by the model's CPUID: SSE3, SSSE3, CX16, MOVBE, POPCNT, ADX, RDPID, LAHF-SAHF in 64-bit
    # mode, ABM (LZCNT as BSR without it), RDTSCP, as the bits of r14 (ext64.asm lists them).
    none = "max," + ",".join("-" + f for f in ["sse3", "ssse3", "cx16", "movbe", "popcnt", "adx", "rdpid", "lahf_lm",
                                                 "abm", "rdtscp"])
    for model, mask in [([], 0x3FF), (["-cpu", "qemu64"], 0x85), (["-cpu", "Opteron_G1"], 0x1),
                        (["-cpu", "EPYC"], 0x3BF), (["-cpu", none], 0)]:
        self_checking("conform_ext64", 15, "-reg", f"r14={mask}", *model)
    # 11. Hardware task switching (32-bit): JMP/CALL to a TSS, task gates in the GDT and IDT, IRET with NT, busy bits,
    # back links, CR0.TS, LDTR/CR3 from the TSS, #TS in the new task, #DF through a task gate, the T bit.
    self_checking("conform_task32", 43, "-start-mode", "prot32")
    # SMP (issue #12): INIT-SIPI-SIPI bring-up of every AP, IPIs of each kind (fixed, shorthands, flat and cluster
    # logical, lowest priority, NMI), LOCK ADD and LOCK CMPXCHG counters from every CPU, a TLB shootdown, cross-CPU
    # self-modifying code and the INIT-SIPI restart of a running AP (smp32); a memslot MOVE, DELETE and re-CREATE
    # while the APs run, read and write on the slot (smpslot32). With 2 and 4 vCPUs, each with a host thread per vCPU
    # (thread=multi, the default) and on the round-robin runner (thread=single); smp_stress_test.py repeats them.
    for n in [2, 4]:
        for threads in ["multi", "single"]:
            smp_guests(n, threads)


for_each_backend(checks)
finish()
