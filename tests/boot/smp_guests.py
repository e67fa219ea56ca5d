"""The SMP Multiboot guests (issue #12), shared by conform_test.py and smp_stress_test.py: smp32 (bring-up, IPIs,
LOCK counters, TLB shootdown, cross-CPU self-modifying code, INIT-SIPI restart) and smpslot32 (a memslot MOVE, DELETE
and re-CREATE while the APs run, read and write on the slot; the -map is slot 3), each judging itself."""
from harness import self_checking_kernel


def smp_guests(cpus, threads):
    """Runs both guests with -smp cpus and -accel tcg,thread=threads (single: round-robin; multi: a thread per vCPU)."""
    smp = ["-smp", str(cpus), "-append", str(cpus)]
    self_checking_kernel("smp32", 22, *smp, accel=f"thread={threads}")
    self_checking_kernel("smpslot32", 15, *smp, "-map", "0x10000000:64K", "-test-memslot-port",
                         accel=f"thread={threads}")
