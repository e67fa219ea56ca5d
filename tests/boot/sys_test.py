#!/usr/bin/env python3
"""Runs the system-architecture guests (guest-images/testguests/sys/*.asm) through `emu64 -bare`.

Each guest checks its own results against the SDM values stated in its comments, prints "ok <name>" or
"FAIL <name> ..." lines on COM1 and leaves through isa-debug-exit with the failure count v (status (v << 1) | 1),
so a clean run ends with status 1. This script checks the status, that no FAIL line appeared and that the
expected number of checks ran (a guest that stops early cannot pass), on each backend (harness.py).

usage: sys_test.py EMU64 TESTGUEST_DIR [-mmu MODE]
"""
from harness import check, finish, for_each_backend, run_guest, self_checking


def checks():
    # 64-bit exceptions, #DF on IST, MSR and CR faults (its #GP example is CR4.PCIDE on a CPU without PCID).
    self_checking("sys_exc64", 33, "-cpu", "max,-pcid")
    # CPL 3 <-> CPL 0 through IRETQ, INT 0x80, SYSCALL/SYSRET, SWAPGS; privileged instructions at CPL 3.
    self_checking("sys_user64", 21)
    # 32-bit protected mode: #OF, #BR, segment-load faults, ring 3 through a 32-bit TSS.
    self_checking("sys_exc32", 18, "-start-mode", "prot32")

    # Mode switches; the guest prints a marker per mode and exits with a bit mask of failed checks.
    proc = run_guest("sys_modes", "-start-mode", "real")
    markers = ["real", "protected32", "long64", "compat32", "protected32 again", "real again"]
    check("modes status", proc.returncode == 1, f"status {proc.returncode} (mask {(proc.returncode - 1) >> 1:#x}); "
          f"stderr {proc.stderr!r}")
    check("modes markers in order", proc.stdout.decode(errors="replace").splitlines() == markers, proc.stdout)

    # #UD -> #GP -> #DF -> shutdown: the runner's triple-fault status (6) and message.
    proc = run_guest("sys_triple64")
    check("triple fault status", proc.returncode == 6, f"status {proc.returncode}; stderr {proc.stderr!r}")
    check("triple fault message", b"triple fault" in proc.stderr, proc.stderr)


for_each_backend(checks)
finish()
