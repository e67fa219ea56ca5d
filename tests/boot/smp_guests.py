"""The SMP Multiboot guests (issue #12), shared by conform_test.py and smp_stress_test.py: smp32 (bring-up, IPIs,
LOCK counters, TLB shootdown, cross-CPU self-modifying code, INIT-SIPI restart) and smpslot32 (a memslot MOVE, DELETE
and re-CREATE while the APs run, read and write on the slot; the -map is slot 3), each judging itself."""
from harness import self_checking_kernel


def smp_guests(cpus, threads):
    """Runs both guests with -smp cpus and -accel tcg,thread=threads (single: round-robin; multi: a thread per vCPU)."""
    smp = ["-smp", str(cpus), "-append", str(cpus)]
    # The guests' CPUs spin waiting for each other: with more vCPU threads than host cores (4 on the 2-core CI
    # machine, beside other tests) a phase may wait for a host time slice, so they get more time than the default.
    timeout_s = 120
    self_checking_kernel("smp32", 23, *smp, accel=f"thread={threads}", timeout_s=timeout_s)
    self_checking_kernel("smpslot32", 15, *smp, "-map", "0x10000000:64K", "-test-memslot-port",
                         accel=f"thread={threads}", timeout_s=timeout_s)
